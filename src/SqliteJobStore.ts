/**
 * A JobStore kept in SQLite (@effect/sql-sqlite-node), so that jobs outlive the process.
 *
 * The file is opened in WAL mode with a busy timeout, so several processes can share it; its
 * schema is created and upgraded by numbered migrations, and a file written by a newer
 * cluster-api (a migration this one does not know) is refused rather than misread.
 *
 * Every job is one row of `jobs`: the columns queries filter on, and the whole record as JSON
 * (encoded by the JobRecord Schema). Every status change is also a row of `transitions`, with its
 * time. `modify` reads, applies and writes in one transaction; its changes are published to
 * this process's subscribers after the commit, in write order.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import * as Migrator from "@effect/sql/Migrator"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import { NodeContext } from "@effect/platform-node"
import { Cause, Clock, Effect, Layer, Option, PubSub, Schema } from "effect"
import { JobRecord, isTerminal } from "./Domain.js"
import { StoreError } from "./Errors.js"
import type { JobChange, JobStoreShape } from "./JobStore.js"
import { isStatusChange, JobStore } from "./JobStore.js"

/** The migrations, by number. Add new ones at the end; never change one that has shipped. */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_jobs": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE jobs (
      job_id TEXT PRIMARY KEY,
      executor TEXT NOT NULL,
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      active INTEGER NOT NULL,
      submit_time INTEGER,
      finish_time INTEGER,
      record TEXT NOT NULL
    )`
    yield* sql`CREATE INDEX jobs_active ON jobs (active, executor)`
    yield* sql`CREATE INDEX jobs_submit ON jobs (submit_time)`
    yield* sql`CREATE TABLE transitions (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id TEXT NOT NULL,
      at INTEGER NOT NULL,
      from_status TEXT,
      to_status TEXT NOT NULL,
      reason TEXT
    )`
    yield* sql`CREATE INDEX transitions_job ON transitions (job_id, id)`
  })
}

const migrationTable = "cluster_api_migrations"

const encode = Schema.encodeSync(Schema.parseJson(JobRecord))
const decode = Schema.decodeUnknown(Schema.parseJson(JobRecord))

interface Row {
  readonly job_id: string
  readonly record: string
}

const storeError = (operation: string) => (e: unknown) =>
  new StoreError({
    operation,
    detail: e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
  })

/** At most this many ids in one `IN (…)` (SQLite's variable limit is 32,766). */
const idsPerQuery = 500

const chunks = <A>(xs: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

/** Builds the store on an open SqliteClient (migrations already run). */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const changes = yield* PubSub.unbounded<JobChange>()
  const lock = yield* Effect.makeSemaphore(1)

  const rowsToRecords = (operation: string) => (rows: ReadonlyArray<Row>) =>
    Effect.forEach(rows, (row) =>
      decode(row.record).pipe(
        Effect.mapError((e) => new StoreError({ operation, detail: `job ${row.job_id} is unreadable: ${e.message}` }))
      ))

  const write = (record: JobRecord) =>
    sql`INSERT INTO jobs (job_id, executor, name, status, active, submit_time, finish_time, record)
      VALUES (${record.jobId}, ${record.executor}, ${record.name}, ${record.status}, ${isTerminal(record) ? 0 : 1},
        ${record.submitTime?.getTime() ?? null}, ${record.finishTime?.getTime() ?? null}, ${encode(record)})
      ON CONFLICT (job_id) DO UPDATE SET executor = excluded.executor, name = excluded.name,
        status = excluded.status, active = excluded.active, submit_time = excluded.submit_time,
        finish_time = excluded.finish_time, record = excluded.record`

  const transition = (change: JobChange, at: number) =>
    change.before?.status === change.after.status
      ? Effect.void
      : sql`INSERT INTO transitions (job_id, at, from_status, to_status, reason)
          VALUES (${change.after.jobId}, ${at}, ${change.before?.status ?? null}, ${change.after.status},
            ${change.after.reason === undefined ? null : JSON.stringify(change.after.reason)})`

  const select = (ids: ReadonlyArray<string>) =>
    Effect.forEach(chunks(ids, idsPerQuery), (part) =>
      sql<Row>`SELECT job_id, record FROM jobs WHERE ${sql.in("job_id", part)}`).pipe(Effect.map((r) => r.flat()))

  const publish = (out: ReadonlyArray<JobChange>) =>
    out.length === 0 ? Effect.void : PubSub.publishAll(changes, out).pipe(Effect.asVoid)

  const insert: JobStoreShape["insert"] = (batch) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = batch.map((after): JobChange => ({ before: undefined, after }))
      yield* sql.withTransaction(Effect.forEach(out, (c) => Effect.zipRight(write(c.after), transition(c, at)), {
        discard: true
      }))
      yield* publish(out)
    })).pipe(Effect.mapError(storeError("insert")))

  const modify: JobStoreShape["modify"] = (jobIds, f) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = yield* sql.withTransaction(Effect.gen(function*() {
        const current = yield* rowsToRecords("modify")(yield* select(jobIds))
        const byId = new Map(current.map((r) => [r.jobId, r] as const))
        const changed: Array<JobChange> = []
        for (const id of jobIds) {
          const before = byId.get(id)
          if (before === undefined) continue
          const after = f(before)
          if (after === before) continue
          yield* write(after)
          if (isStatusChange(before, after)) {
            const change = { before, after }
            yield* transition(change, at)
            changed.push(change)
          }
        }
        return changed
      }))
      yield* publish(out)
      return out
    })).pipe(Effect.mapError((e) => e instanceof StoreError ? e : storeError("modify")(e)))

  const shape: JobStoreShape = {
    insert,
    get: (jobId) =>
      sql<Row>`SELECT job_id, record FROM jobs WHERE job_id = ${jobId}`.pipe(
        Effect.mapError(storeError("get")),
        Effect.flatMap(rowsToRecords("get")),
        Effect.map((r) => Option.fromNullable(r[0]))
      ),
    list: (filter) =>
      (filter?.active === undefined
        ? sql<Row>`SELECT job_id, record FROM jobs ORDER BY rowid`
        : sql<Row>`SELECT job_id, record FROM jobs WHERE active = ${filter.active ? 1 : 0} ORDER BY rowid`).pipe(
          Effect.mapError(storeError("list")),
          Effect.flatMap(rowsToRecords("list"))
        ),
    active: sql<Row>`SELECT job_id, record FROM jobs WHERE active = 1 ORDER BY rowid`.pipe(
      Effect.mapError(storeError("active")),
      Effect.flatMap(rowsToRecords("active"))
    ),
    modify,
    remove: (jobIds) =>
      lock.withPermits(1)(
        sql.withTransaction(Effect.forEach(chunks(jobIds, idsPerQuery), (part) =>
          Effect.zipRight(
            sql`DELETE FROM jobs WHERE ${sql.in("job_id", part)}`,
            sql`DELETE FROM transitions WHERE ${sql.in("job_id", part)}`
          ), { discard: true }))
      ).pipe(Effect.mapError(storeError("remove"))),
    subscribe: PubSub.subscribe(changes)
  }
  return shape
})

/** Fails when the file was written by a newer cluster-api (a migration this one does not know). */
const refuseNewer = (filename: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${migrationTable}`
    if (tables.length === 0) return
    const known = Object.keys(migrations).map((k) => Number(k.split("_")[0]))
    const newest = Math.max(...known)
    const rows = yield* sql<{ id: number }>`SELECT MAX(migration_id) AS id FROM ${sql(migrationTable)}`
    const found = rows[0]?.id ?? 0
    if (found > newest) {
      return yield* new StoreError({
        operation: "open",
        detail:
          `${filename} was written by a newer cluster-api (schema ${found}, this one knows up to ${newest}); upgrade cluster-api or point state_path elsewhere`
      })
    }
  })

/**
 * The SQLite store in `filename` (created with its directory's parent existing). Fails with a
 * StoreError saying what to do when the file is not a readable cluster-api store.
 */
export const layer = (filename: string): Layer.Layer<JobStore, StoreError> => {
  const unusable = (detail: string) =>
    new StoreError({
      operation: "open",
      detail: `${filename} is not a usable cluster-api store (${detail}); move it aside or point state_path elsewhere`
    })
  const client = SqliteClient.layer({ filename })
  const setup = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA busy_timeout = 10000`
      yield* refuseNewer(filename)
      yield* SqliteMigrator.run({ loader: Migrator.fromRecord(migrations), table: migrationTable })
    }).pipe(
      Effect.mapError((e: SqlError | Migrator.MigrationError | StoreError) =>
        e._tag === "StoreError" ? e : unusable(e.message)
      ),
      Effect.provide(NodeContext.layer)
    )
  )
  return Layer.effect(JobStore, make).pipe(
    Layer.provide(Layer.provideMerge(setup, client)),
    Layer.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && failure.value instanceof StoreError) return Layer.fail(failure.value)
      return Layer.fail(unusable(Cause.pretty(cause).split("\n")[0] ?? "it could not be opened"))
    })
  )
}
