/**
 * What the SQLite store says when the file is busy, read-only, full or damaged, that one
 * unreadable job never makes the store unusable, and that the store's files are private.
 *
 * Each condition is a real one SQLite reports: a write lock held by another connection
 * (`BEGIN EXCLUSIVE`), a file made immutable with chattr (the tests run as root, which file modes
 * do not stop), a connection opened read-only, a page limit (`PRAGMA max_page_count`), a file that
 * is not a database, and a row rewritten by hand with better-sqlite3.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, Option, TestClock } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { hostname, tmpdir } from "node:os"
import * as path from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { StoreError } from "../src/Errors.js"
import { JobStore } from "../src/JobStore.js"
import { storeError } from "../src/internal/sqlite/errors.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { jobRecord, slurmJob } from "./support/Records.js"
import { NodeContext } from "@effect/platform-node"
import { removeDir } from "./support/TempDirs.js"

interface RawStatement {
  run(...params: ReadonlyArray<unknown>): unknown
}
interface RawDb {
  exec(sql: string): void
  prepare(sql: string): RawStatement
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new(
  file: string,
  options?: { readonly readonly?: boolean }
) => RawDb

const dir = fs.mkdtempSync(path.join(tmpdir(), "capi-store-errors-"))
const immutable: Array<string> = []
afterAll(() => {
  for (const f of immutable) execFileSync("chattr", ["-i", f])
  removeDir(dir)
})
let files = 0
const freshFile = () => path.join(dir, `store-${++files}.db`)

const mode = (f: string) => fs.statSync(f).mode & 0o777

/** A store file holding `records`, written and closed. */
const storeWith = (records: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    const file = freshFile()
    yield* Effect.flatMap(JobStore, (s) => s.insert(records)).pipe(
      Effect.scoped,
      Effect.provide(SqliteJobStore.layer(file))
    )
    return file
  })

/** The store a layer builds, open for the rest of the test's scope. */
const open = <E, R>(layer: Layer.Layer<JobStore, E, R>) => Effect.map(Layer.build(layer), Context.get(JobStore))

/** Runs `self` with a logger that keeps every message, returned beside its result. */
const withLogs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => {
      lines.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    return self.pipe(
      Effect.map((a) => [a, lines] as const),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  })

describe("SQLite store errors say what is true", () => {
  it.scoped("busy: a write that waited out the busy timeout says so and names the programs that have the store open", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      const layer = SqliteJobStore.layer(file, { busyTimeout: "200 millis" })
      yield* open(layer) // another program that has the store open
      const store = yield* open(layer)
      const lock = new Database(file)
      // A program that died long ago without removing its row is not named.
      lock.prepare("INSERT INTO owners (owner, host, pid, started, heartbeat) VALUES ('ghost:1:x', 'ghost-host', 1, 0, 0)").run()
      yield* TestClock.adjust("2 minutes")
      lock.exec("BEGIN EXCLUSIVE")
      const error = yield* Effect.flip(store.insert([jobRecord("2")])).pipe(
        Effect.ensuring(Effect.sync(() => {
          lock.exec("ROLLBACK")
          lock.close()
        }))
      )
      expect(error.reason).toBe("Busy")
      expect(error.message).toContain(`The job store ${file} is busy`)
      expect(error.message).toContain("busy timeout (200ms)")
      expect(error.message).toContain(`pid ${process.pid} on ${hostname()}`)
      expect(error.message).not.toContain("ghost-host")
      expect(error.message).toContain("Nothing was lost")
      expect(error.message).not.toContain("not a usable")
      expect(error.cause).toBeDefined()
      // Once the lock is gone the same store writes again.
      yield* store.insert([jobRecord("2")])
      expect(Option.isSome(yield* store.get(slurmJob("2")))).toBe(true)
    }))

  it.scoped("busy: a submission's intent, written or settled, says so as every other write does (the store, who has it open)", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      const layer = SqliteJobStore.layer(file, { busyTimeout: "200 millis" })
      yield* open(layer) // another program that has the store open
      const store = yield* open(layer)
      const draft = jobRecord("2")
      const intent = { token: "0123456789abcdef", executor: draft.executor, name: draft.name, at: new Date(0), draft }
      const lock = new Database(file)
      lock.exec("BEGIN EXCLUSIVE")
      const errors = yield* Effect.all([
        Effect.flip(store.addIntent(intent)),
        Effect.flip(store.settleIntent(intent.token, [draft]))
      ]).pipe(
        Effect.ensuring(Effect.sync(() => {
          lock.exec("ROLLBACK")
          lock.close()
        }))
      )
      for (const error of errors) {
        expect(error.reason).toBe("Busy")
        expect(error.message).toContain(`The job store ${file} is busy`)
        expect(error.message).toContain(`pid ${process.pid} on ${hostname()}`)
      }
      // Once the lock is gone the same submission is written and settled.
      yield* store.addIntent(intent)
      yield* store.settleIntent(intent.token, [draft])
      expect(Option.isSome(yield* store.get(draft))).toBe(true)
      expect(yield* store.intents).toEqual([])
    }))

  it.scopedLive("busy at open: a store locked by a tool that is no cluster-api program is called busy, not unusable", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      const lock = new Database(file)
      lock.exec("BEGIN EXCLUSIVE")
      const error = yield* Effect.flip(
        Effect.flatMap(JobStore, (s) => s.list()).pipe(
          Effect.provide(SqliteJobStore.layer(file, { busyTimeout: "200 millis" }))
        )
      ).pipe(Effect.ensuring(Effect.sync(() => {
        lock.exec("ROLLBACK")
        lock.close()
      })))
      expect(error.reason).toBe("Busy")
      expect(error.message).toContain("busy timeout (200ms)")
      expect(error.message).not.toContain("not a usable")
    }))

  it.scoped("read-only on request: reads work, a write fails ReadOnly and says reading still works", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1"), jobRecord("2")])
      const store = yield* open(SqliteJobStore.layer(file, { readonly: true }))
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["1", "2"])
      expect(Option.isSome(yield* store.get(slurmJob("1")))).toBe(true)
      const error = yield* Effect.flip(store.insert([jobRecord("3")]))
      expect(error.reason).toBe("ReadOnly")
      expect(error.message).toContain(`The job store ${file} is read-only for this program, so insert cannot write it`)
      expect(error.message).toContain("Reading it still works")
      expect(error.message).toContain("SQLITE_READONLY")
    }))

  it.scoped("read-only file (immutable, as a 0444 file is to its reader): opened read-only by itself; lists, then writes fail ReadOnly", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      execFileSync("chattr", ["+i", file])
      immutable.push(file)
      const store = yield* open(SqliteJobStore.layer(file))
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["1"])
      expect((yield* store.active).map((r) => r.jobId)).toEqual(["1"])
      const error = yield* Effect.flip(store.modify([slurmJob("1")], (r) => ({ ...r, status: "Running" })))
      expect(error.reason).toBe("ReadOnly")
      expect(error.message).toContain("Reading it still works")
    }))

  it.effect("a store in a directory no one may write, that no program has open, says why SQLite cannot read it", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      const roDir = path.join(dir, `ro-${files}`)
      fs.mkdirSync(roDir)
      const moved = path.join(roDir, "cluster-api.db")
      fs.renameSync(file, moved)
      execFileSync("chattr", ["+i", roDir])
      immutable.push(roDir)
      const error = yield* Effect.flip(
        Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.provide(SqliteJobStore.layer(moved)))
      )
      expect(error.reason).toBe("CantOpen")
      expect(error.message).toContain(`The job store ${moved} cannot be opened`)
      expect(error.message).toContain(`its directory ${roDir} is not writable by this user`)
      expect(error.message).not.toContain("not a usable")
    }))

  it.scoped("full: a write past the space SQLite may use says the disk is full and to free space", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      // The store on a connection allowed no more pages than the file has: the next page is "disk full".
      const limited = Layer.scoped(
        JobStore,
        SqliteJobStore.make({ path: file, writable: true, busyTimeout: Duration.seconds(1) })
      ).pipe(
        Layer.provide(Layer.effectDiscard(Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [pages] = yield* sql<{ page_count: number }>`PRAGMA page_count`
          yield* sql.unsafe(`PRAGMA max_page_count = ${pages!.page_count}`)
        })).pipe(Layer.provideMerge(SqliteClient.layer({ filename: file }))))
      )
      const store = yield* open(limited)
      const big = jobRecord("2", { metadata: { blob: "x".repeat(200_000) } })
      const error = yield* Effect.flip(store.insert([big]))
      expect(error.reason).toBe("Full")
      expect(error.message).toContain("the disk holding it is full")
      expect(error.message).toContain("Free space there")
      expect(error.message).toContain("SQLITE_FULL")
      // What was written before is intact.
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["1"])
    }))

  it.effect("corrupt only when SQLite says so: a file that is not a database", () =>
    Effect.gen(function*() {
      const file = freshFile()
      fs.writeFileSync(file, "not a database, just text\n".repeat(100))
      const error = yield* Effect.flip(
        Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.provide(SqliteJobStore.layer(file)))
      )
      expect(error.reason).toBe("Corrupt")
      expect(error.message).toContain("SQLITE_NOTADB")
    }))

  it("classifies SQLite's own errors, bare or wrapped as @effect/sql wraps them", () => {
    const file = path.join(dir, "raw.db")
    const db = new Database(file)
    db.exec("CREATE TABLE t (x)")
    db.close()
    const raise = (f: () => void): unknown => {
      try {
        f()
      } catch (e) {
        return e
      }
      throw new Error("expected an error")
    }
    const readonly = raise(() => {
      const ro = new Database(file, { readonly: true })
      try {
        ro.exec("INSERT INTO t VALUES (1)")
      } finally {
        ro.close()
      }
    })
    const full = raise(() => {
      const d = new Database(file)
      try {
        d.exec("PRAGMA max_page_count = 2; CREATE TABLE big (x); INSERT INTO big VALUES (zeroblob(100000))")
      } finally {
        d.close()
      }
    })
    const classify = (e: unknown) => storeError("insert", file)(e).reason
    expect(classify(readonly)).toBe("ReadOnly")
    expect(classify({ _tag: "SqlError", message: "Failed to execute statement", cause: readonly })).toBe("ReadOnly")
    expect(classify(full)).toBe("Full")
    expect(classify(new Error("something else"))).toBe("Unknown")
    expect(storeError("insert", file)(full)).toBeInstanceOf(StoreError)
  })
})

describe("one unreadable job never makes the store unusable", () => {
  /** A store with jobs 1, 2 and 3, where job 2's row was rewritten by hand into something no cluster-api wrote. */
  const storeWithBadRow = Effect.gen(function*() {
    const file = yield* storeWith([jobRecord("1"), jobRecord("2"), jobRecord("3", { status: "Done", finishTime: new Date(9) })])
    const db = new Database(file)
    db.prepare(`UPDATE jobs SET record = json_set(record, '$.status', 'Exploded'), owner = NULL WHERE job_id = '2'`).run()
    db.close()
    return file
  })

  it.scoped("list, active and adopt skip it with a warning naming the job and the problem; get says it is unreadable", () =>
    Effect.gen(function*() {
      const file = yield* storeWithBadRow
      const store = yield* open(SqliteJobStore.layer(file))
      const [listed, logs] = yield* withLogs(store.list())
      expect(listed.map((r) => r.jobId)).toEqual(["1", "3"])
      expect(logs.join("\n")).toContain(`job 2 in the job store ${file} is unreadable and was skipped: status:`)
      expect(logs.join("\n")).toContain("Exploded")
      expect((yield* store.active).map((r) => r.jobId)).toEqual(["1"])
      const adopted = yield* store.adopt({ executor: "slurm", sameHostOnly: false })
      expect(adopted.active.map((r) => r.jobId)).toEqual(["1"])
      expect(yield* store.modify([slurmJob("1"), slurmJob("2")], (r) => ({ ...r, status: "Running" }))).toHaveLength(1)
      const error = yield* Effect.flip(store.get(slurmJob("2")))
      expect(error.reason).toBe("Unreadable")
      expect(error.message).toContain("job 2 is unreadable: status:")
      expect(error.message).toContain("edited by hand")
      expect(error.cause).toBeDefined()
    }))
})

describe("the store's files are private", () => {
  it.scoped("a new store file and its -wal and -shm are 0600", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const store = yield* open(SqliteJobStore.layer(file))
      yield* store.insert([jobRecord("1", { spec: { name: "x", command: "true", env: { DB_PASSWORD: "hunter2" } } })])
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect([f, mode(f).toString(8)]).toEqual([f, "600"])
    }))

  it.scoped("an existing store that others may read is made private, with a warning", () =>
    Effect.gen(function*() {
      const file = yield* storeWith([jobRecord("1")])
      fs.chmodSync(file, 0o644)
      const [, logs] = yield* withLogs(open(SqliteJobStore.layer(file)))
      expect(mode(file).toString(8)).toBe("600")
      expect(logs.join("\n")).toContain(`the job store file ${file} was readable by other users (mode 0644); made it private (0600)`)
    }))

  it.scoped("the directory the store creates is 0700", () =>
    Effect.gen(function*() {
      const logs = path.join(dir, "new-logs", "deeper")
      yield* open(ClusterApi.layerStore).pipe(
        Effect.provide(ClusterConfig.layerTest({ state_path: path.join(logs, "cluster-api.db") })),
        Effect.provide(NodeContext.layer)
      )
      expect(mode(logs).toString(8)).toBe("700")
      expect(mode(path.join(logs, "cluster-api.db")).toString(8)).toBe("600")
    }))
})
