/**
 * The JobStore contract, run against both stores (in memory and SQLite), and what only the SQLite
 * store promises: records outlive the process, two processes can share a file, and a file that is
 * not a store, or comes from a newer cluster-api, is refused with a clear error.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Config, ConfigProvider, Effect, Option, Queue, TestClock } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as ClusterApi from "../src/ClusterApi.js"
import * as CommandRunnerNode from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import type { StoreError } from "../src/Errors.js"
import type { JobFilter } from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { jobRecord, slurmJob } from "./support/Records.js"
import { removeDir } from "./support/TempDirs.js"

const dir = mkdtempSync(join(tmpdir(), "capi-store-"))
afterAll(() => removeDir(dir))
let files = 0
const freshFile = () => join(dir, `store-${++files}.db`)

/** Records with a counter in their metadata, for the concurrent-write test. */
const record = (jobId: string, over: Partial<JobRecord> = {}): JobRecord => jobRecord(jobId, { metadata: { n: 0 }, ...over })

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<JobStore, StoreError>]> = [
  ["in memory", () => JobStore.layerMemory],
  ["SQLite", () => SqliteJobStore.layer(freshFile())]
]

describe.each(stores)("JobStore (%s)", (_, makeLayer) => {
  it.scoped("inserts, gets, lists and filters", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.insert([record("1"), record("2", { status: "Done", finishTime: new Date(1) }), record("3")])
      expect(Option.getOrThrow(yield* store.get(slurmJob("1")))).toEqual(record("1"))
      expect(yield* store.get(slurmJob("nope"))).toEqual(Option.none())
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["1", "2", "3"])
      expect((yield* store.list({ active: false })).map((r) => r.jobId)).toEqual(["2"])
      expect((yield* store.active).map((r) => r.jobId)).toEqual(["1", "3"])
      yield* store.remove([slurmJob("1")])
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["2", "3"])
    }).pipe(Effect.provide(makeLayer())))

  it.scoped("modify applies to the current record, skips unchanged ones, and publishes status changes in order", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const feed = yield* store.subscribe
      yield* store.insert([record("1"), record("2")])
      const changes = yield* store.modify([slurmJob("1"), slurmJob("2"), slurmJob("missing")], (r) =>
        r.jobId === "1" ? { ...r, status: "Running" } : r)
      expect(changes.map((c) => [c.before?.status, c.after.status])).toEqual([["Pending", "Running"]])
      // A write that changes no status is stored but not published.
      yield* store.modify([slurmJob("1")], (r) => ({ ...r, execHost: "n1" }))
      yield* store.modify([slurmJob("1")], (r) => ({ ...r, status: "Done" }))
      const seen = Chunk.toArray(yield* Queue.takeAll(feed))
      expect(seen.map((c) => `${c.after.jobId}:${c.before?.status ?? "-"}>${c.after.status}`)).toEqual([
        "1:->Pending",
        "2:->Pending",
        "1:Pending>Running",
        "1:Running>Done"
      ])
      expect(Option.getOrThrow(yield* store.get(slurmJob("1"))).execHost).toBe("n1")
      expect((yield* store.active).map((r) => r.jobId)).toEqual(["2"])
    }).pipe(Effect.provide(makeLayer())))

  it.scoped("filters by status, executor, name glob, ids, submission time, and keeps the newest with a limit", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const at = (h: number) => new Date(Date.UTC(2026, 10, 20, h))
      yield* store.insert([
        record("1", { name: "capi-train-a", executor: "local", submitTime: at(1) }),
        record("2", { name: "capi-train-b", executor: "local", status: "Failed", submitTime: at(2), finishTime: at(3) }),
        record("3", { name: "capi-eval", executor: "slurm", status: "Done", submitTime: at(4), finishTime: at(5) }),
        record("4", { name: "capi-train-[x]", executor: "local", status: "Done", submitTime: at(6), finishTime: at(7) })
      ])
      const ids = (filter: JobFilter) => store.list(filter).pipe(Effect.map((rs) => rs.map((r) => r.jobId)))
      expect(yield* ids({ status: ["Done", "Failed"] })).toEqual(["2", "3", "4"])
      expect(yield* ids({ executor: "slurm" })).toEqual(["3"])
      expect(yield* ids({ names: ["capi-train-?"] })).toEqual(["1", "2"])
      expect(yield* ids({ names: ["*-[!a]"] })).toEqual(["2"])
      expect(yield* ids({ names: ["capi-train-[[]x]"] })).toEqual(["4"])
      expect(yield* ids({ names: ["capi-eval", "*-a"] })).toEqual(["1", "3"])
      expect(yield* ids({ ids: ["4", "1", "nope"] })).toEqual(["1", "4"])
      expect(yield* ids({ submittedAfter: at(2), submittedBefore: at(6) })).toEqual(["2", "3"])
      expect(yield* ids({ limit: 2 })).toEqual(["3", "4"])
      expect(yield* ids({ active: false, limit: 1 })).toEqual(["4"])
      expect(yield* ids({ owned: true })).toEqual(["1", "2", "3", "4"])
      expect(yield* ids({ status: [] })).toEqual([])
    }).pipe(Effect.provide(makeLayer())))

  it.scoped("keeps every status change of a job with its time and reason", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.insert([record("1")])
      yield* TestClock.adjust("1 minute")
      yield* store.modify([slurmJob("1")], (r) => ({ ...r, status: "Running" }))
      yield* store.modify([slurmJob("1")], (r) => ({ ...r, execHost: "n1" }))
      yield* TestClock.adjust("1 minute")
      yield* store.modify([slurmJob("1")], (r) => ({ ...r, status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 2 } }))
      expect(yield* store.transitions(slurmJob("1"))).toEqual([
        { at: new Date(0), from: undefined, to: "Pending", reason: undefined },
        { at: new Date(60_000), from: "Pending", to: "Running", reason: undefined },
        { at: new Date(120_000), from: "Running", to: "Failed", reason: { _tag: "NonZeroExit", exitCode: 2 } }
      ])
      expect(yield* store.transitions(slurmJob("nope"))).toEqual([])
    }).pipe(Effect.provide(makeLayer())))

  it.scoped("restore writes jobs with their history and leaves ids already present alone", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.insert([record("1", { name: "mine" })])
      const history = [{ at: new Date(5), to: "Pending" as const }, { at: new Date(9), from: "Pending" as const, to: "Done" as const }]
      const written = yield* store.restore([
        { record: record("1", { name: "imported" }), transitions: [] },
        { record: record("2", { status: "Done", finishTime: new Date(9) }), transitions: history }
      ])
      expect(written).toEqual([slurmJob("2")])
      expect(Option.getOrThrow(yield* store.get(slurmJob("1"))).name).toBe("mine")
      expect((yield* store.transitions(slurmJob("2"))).map((t) => [t.at.getTime(), t.from, t.to])).toEqual([
        [5, undefined, "Pending"],
        [9, "Pending", "Done"]
      ])
      // Imported history is not news: nothing to adopt or announce.
      expect(yield* store.adopt({ executor: "local", sameHostOnly: true })).toEqual({ active: [], undelivered: [] })
    }).pipe(Effect.provide(makeLayer())))

  it.scoped("concurrent modifies never lose a write", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.insert([record("1")])
      yield* Effect.all(
        Array.from({ length: 50 }, () =>
          store.modify([slurmJob("1")], (r) => ({ ...r, metadata: { n: (r.metadata.n as number) + 1 } }))),
        { concurrency: "unbounded" }
      )
      expect(Option.getOrThrow(yield* store.get(slurmJob("1"))).metadata.n).toBe(50)
    }).pipe(Effect.provide(makeLayer())))
})

describe("SQLite store", () => {
  it.effect("layerConfig opens the file its Config names; a layer on the same file reads what it wrote", () =>
    Effect.gen(function*() {
      const file = freshFile()
      yield* Effect.flatMap(JobStore, (s) => s.insert([record("9")])).pipe(
        Effect.provide(SqliteJobStore.layerConfig({ filename: Config.string("JOBS_DB") })),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["JOBS_DB", file]])))
      )
      const back = yield* Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.provide(SqliteJobStore.layer(file)))
      expect(back.map((r) => r.jobId)).toEqual(["9"])
      const missing = yield* Effect.flatMap(JobStore, (s) => s.list()).pipe(
        Effect.provide(SqliteJobStore.layerConfig({ filename: Config.string("JOBS_DB") })),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map())),
        Effect.flip
      )
      expect(missing._tag).toBe("ConfigError")
    }))

  it.effect("records outlive the layer: a new one on the same file reads them back whole", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const full = record("7", {
        status: "Failed",
        reason: { _tag: "NonZeroExit", exitCode: 3 },
        exitCode: 3,
        finishTime: new Date("2026-11-21T12:05:00.000Z"),
        array: { start: 1, end: 2 },
        elements: [{ index: 1, status: "Done", exitCode: 0 }, { index: 2, status: "Failed", exitCode: 3 }],
        dependsOn: [{ type: "afterok", jobId: "6" }]
      })
      yield* Effect.flatMap(JobStore, (s) => s.insert([full, record("8")])).pipe(
        Effect.provide(SqliteJobStore.layer(file))
      )
      const back = yield* Effect.flatMap(JobStore, (s) => Effect.all([s.get(slurmJob("7")), s.active])).pipe(
        Effect.provide(SqliteJobStore.layer(file))
      )
      expect(Option.getOrThrow(back[0])).toEqual(full)
      expect(back[1].map((r) => r.jobId)).toEqual(["8"])
    }))

  it.effect("two stores on one file (as two processes would) both write without corrupting it", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const writer = (prefix: string) =>
        Effect.flatMap(JobStore, (s) =>
          Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => s.insert([record(`${prefix}${i}`)]))).pipe(
            Effect.provide(SqliteJobStore.layer(file))
          )
      // The first opens (and creates) the file; then both write at once.
      yield* Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.provide(SqliteJobStore.layer(file)))
      yield* Effect.all([writer("a"), writer("b")], { concurrency: 2 })
      const all = yield* Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.provide(SqliteJobStore.layer(file)))
      expect(all).toHaveLength(200)
      const check = spawnSync("node", ["-e", `
        const D = require("better-sqlite3"); const db = new D(${JSON.stringify(file)});
        console.log(db.pragma("integrity_check", { simple: true }), db.pragma("journal_mode", { simple: true }))`], {
        encoding: "utf8",
        cwd: process.cwd()
      })
      expect(check.stdout.trim()).toBe("ok wal")
    }))

  const writer = fileURLToPath(new URL("../dist/test/support/StoreWriter.js", import.meta.url))
  /** Runs the StoreWriter program: `times` rounds over `ids` on `file`. */
  const runWriter = (file: string, times: number, ids: ReadonlyArray<string>, startAt = 0) =>
    Effect.async<{ code: number | null; output: string }>((resume) => {
      const child = spawn(process.execPath, [writer, file, String(times), ...ids], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, START_AT: String(startAt) }
      })
      let output = ""
      child.stdout.on("data", (d: Buffer) => (output += d.toString()))
      child.stderr.on("data", (d: Buffer) => (output += d.toString()))
      child.on("close", (code) => resume(Effect.succeed({ code, output })))
    })

  it.live("three processes creating one new store file at once all open it", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 3; round++) {
        const file = freshFile()
        // All three open the file in the same millisecond, well after node has started.
        const startAt = Date.now() + 2_500
        const results = yield* Effect.all([1, 2, 3].map(() => runWriter(file, 1, [], startAt)), { concurrency: 3 })
        for (const r of results) expect([r.code, r.output.trim()], r.output).toEqual([0, "ok"])
      }
    }), 60_000)

  it.live("two processes modifying the same jobs at once lose no write and fail none", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const ids = ["a", "b", "c"]
      yield* Effect.flatMap(JobStore, (s) => s.insert(ids.map((id) => record(id)))).pipe(
        Effect.scoped,
        Effect.provide(SqliteJobStore.layer(file))
      )
      const results = yield* Effect.all([runWriter(file, 150, ids), runWriter(file, 150, ids)], { concurrency: 2 })
      for (const r of results) expect([r.code, r.output.trim()], r.output).toEqual([0, "ok"])
      const all = yield* Effect.flatMap(JobStore, (s) => s.list()).pipe(
        Effect.scoped,
        Effect.provide(SqliteJobStore.layer(file))
      )
      expect(all.filter((r) => ids.includes(r.jobId)).map((r) => r.metadata.n)).toEqual([300, 300, 300])
      expect(all).toHaveLength(3 + 300)
    }), 60_000)

  it.effect("a file that is not a store is refused with a clear error, and left as it was", () =>
    Effect.gen(function*() {
      const file = freshFile()
      writeFileSync(file, "these are not the bytes of a SQLite database, just some text in a file\n".repeat(20))
      const error = yield* Effect.flip(Effect.flatMap(JobStore, (s) => s.list()).pipe(
        Effect.provide(SqliteJobStore.layer(file))
      ))
      expect(error._tag).toBe("StoreError")
      expect(error.reason).toBe("Corrupt")
      expect(error.message).toContain(file)
      expect(error.message).toContain("is damaged or is not a cluster-api store")
      expect(error.message).toContain("Move it aside")
    }))

  it.effect("a store written by a newer cluster-api is refused, not misread", () =>
    Effect.gen(function*() {
      const file = freshFile()
      yield* Effect.flatMap(JobStore, (s) => s.insert([record("1")])).pipe(Effect.provide(SqliteJobStore.layer(file)))
      const bump = spawnSync("node", ["-e", `
        const D = require("better-sqlite3"); const db = new D(${JSON.stringify(file)});
        db.prepare("INSERT INTO cluster_api_migrations (migration_id, name) VALUES (99, 'from_the_future')").run()`], {
        encoding: "utf8"
      })
      expect(bump.status, bump.stderr).toBe(0)
      const error = yield* Effect.flip(Effect.flatMap(JobStore, (s) => s.list()).pipe(
        Effect.provide(SqliteJobStore.layer(file))
      ))
      expect(error.reason).toBe("Version")
      expect(error.message).toContain("newer cluster-api")
    }))
})

describe("SQLite store under the Monitor", () => {
  it.live("local jobs run to their end with every transition written to the file", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const logs = mkdtempSync(join(dir, "logs-"))
      const services = ClusterApi.compose({
        config: ClusterConfig.layerTest({ poll_interval: 0.1, log_directory: logs }),
        runner: CommandRunnerNode.layerNode,
        store: SqliteJobStore.layer(file)
      })
      const ids = yield* Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const jobs = yield* Effect.forEach(["true", "exit 4"], (command, i) => executor.submit({ name: `j${i}`, command }))
        yield* monitor.awaitAll(jobs, { timeout: "20 seconds" })
        return jobs.map((j) => j.jobId)
      }).pipe(Effect.scoped, Effect.provide(services))
      const back = yield* Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.provide(SqliteJobStore.layer(file)))
      expect(back.map((r) => [r.jobId, r.status, r.exitCode])).toEqual([[ids[0], "Done", 0], [ids[1], "Failed", 4]])
    }))
})
