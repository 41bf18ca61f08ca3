/**
 * The SQLite job store's schema: numbered migrations, run when a store is opened for writing, and
 * the checks that refuse a file written by a newer cluster-api (or, read-only, by an older one).
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { SqliteMigrator } from "@effect/sql-sqlite-node"
import { Data, Duration, Effect, Schedule } from "effect"
import { StoreError } from "../../Errors.js"

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
  }),
  "0002_owners": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE jobs ADD COLUMN owner TEXT`
    yield* sql`ALTER TABLE jobs ADD COLUMN delivered_at INTEGER`
    yield* sql`CREATE INDEX jobs_owner ON jobs (owner, active)`
    yield* sql`CREATE TABLE owners (
      owner TEXT PRIMARY KEY,
      host TEXT NOT NULL,
      pid INTEGER NOT NULL,
      started INTEGER NOT NULL,
      heartbeat INTEGER NOT NULL
    )`
  }),
  "0003_intents": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Submissions in flight: `record` is the draft JobRecord (JSON), `owner` the program submitting.
    yield* sql`CREATE TABLE intents (
      token TEXT PRIMARY KEY,
      executor TEXT NOT NULL,
      name TEXT NOT NULL,
      at INTEGER NOT NULL,
      owner TEXT,
      record TEXT NOT NULL
    )`
  }),
  "0004_keys": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // A job is its executor and its id (ids of different schedulers may be equal). SQLite cannot
    // change a primary key in place: the table is copied in its order (rowid is submission order).
    yield* sql`CREATE TABLE jobs_by_key (
      executor TEXT NOT NULL,
      job_id TEXT NOT NULL,
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      active INTEGER NOT NULL,
      submit_time INTEGER,
      finish_time INTEGER,
      record TEXT NOT NULL,
      owner TEXT,
      delivered_at INTEGER,
      PRIMARY KEY (executor, job_id)
    )`
    yield* sql`INSERT INTO jobs_by_key
      (executor, job_id, name, status, active, submit_time, finish_time, record, owner, delivered_at)
      SELECT executor, job_id, name, status, active, submit_time, finish_time, record, owner, delivered_at
      FROM jobs ORDER BY rowid`
    yield* sql`DROP TABLE jobs`
    yield* sql`ALTER TABLE jobs_by_key RENAME TO jobs`
    yield* sql`CREATE INDEX jobs_active ON jobs (active, executor)`
    yield* sql`CREATE INDEX jobs_submit ON jobs (submit_time)`
    yield* sql`CREATE INDEX jobs_owner ON jobs (owner, active)`
    yield* sql`CREATE INDEX jobs_id ON jobs (job_id)`
    // Until now a job id was one job, so each status change belongs to the job of its id.
    yield* sql`ALTER TABLE transitions ADD COLUMN executor TEXT NOT NULL DEFAULT ''`
    yield* sql`UPDATE transitions SET executor = COALESCE(
      (SELECT executor FROM jobs WHERE jobs.job_id = transitions.job_id), '')`
    yield* sql`DROP INDEX transitions_job`
    yield* sql`CREATE INDEX transitions_job ON transitions (executor, job_id, id)`
  }),
  "0005_owner_index": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The Monitor's question every tick (this program's active jobs of one executor) answered from
    // the index alone, in rowid order, without reading the rows (their records are most of the file).
    yield* sql`DROP INDEX jobs_owner`
    yield* sql`CREATE INDEX jobs_owner ON jobs (owner, active, executor)`
  })
}

const migrationTable = "cluster_api_migrations"

/** Another program is creating the store's schema in the same file right now. */
export class MigrationsUnderWay extends Data.TaggedError("MigrationsUnderWay") {
  override get message(): string {
    return "another program was still creating its tables"
  }
}

/** The number of the newest migration this cluster-api knows. */
const newestMigration = Math.max(...Object.keys(migrations).map((k) => Number(k.split("_")[0])))

/** The newest migration recorded in the file (0 when none is). */
const recordedMigration = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${migrationTable}`
  if (tables.length === 0) return 0
  const rows = yield* sql<{ id: number | null }>`SELECT MAX(migration_id) AS id FROM ${sql(migrationTable)}`
  return rows[0]?.id ?? 0
})

/** Fails when the file was written by a newer cluster-api (a migration this one does not know). */
export const refuseNewer = (filename: string) =>
  Effect.gen(function*() {
    const found = yield* recordedMigration
    if (found > newestMigration) {
      return yield* new StoreError({
        operation: "open",
        reason: "Version",
        path: filename,
        detail:
          `it was written by a newer cluster-api (schema ${found}, this one knows up to ${newestMigration}); upgrade cluster-api or point state_path elsewhere`
      })
    }
  })

/** Fails when a store opened read-only lacks tables this cluster-api reads (creating them needs write access). */
export const refuseOlder = (filename: string) =>
  Effect.gen(function*() {
    const found = yield* recordedMigration
    if (found < newestMigration) {
      return yield* new StoreError({
        operation: "open",
        reason: found === 0 ? "Corrupt" : "Version",
        path: filename,
        detail: found === 0
          ? "it holds no cluster-api tables, and this program may not write it to create them"
          : `it was written by an older cluster-api (schema ${found}, this one uses ${newestMigration}) and must be upgraded, which needs write access: run any cluster-api command on it once as a user who may write it`
      })
    }
  })

/**
 * Creates and upgrades the tables. Two programs opening a new file at once: the Migrator of the
 * second sees the first one's migrations under way, skips them and returns as if done. So check,
 * and try again until the first has committed (or the busy timeout's worth of tries has passed).
 */
export const migrate = (filename: string, busyTimeout: Duration.Duration, busy: (e: unknown) => boolean) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* refuseNewer(filename)
    yield* SqliteMigrator.run({ loader: Migrator.fromRecord(migrations), table: migrationTable })
    if ((yield* recordedMigration) < newestMigration) return yield* new MigrationsUnderWay()
    // Gathers planner statistics for tables that never had them (cheap; limited work per open).
    yield* sql`PRAGMA optimize = 0x10002`
  }).pipe(
    Effect.retry({
      while: (e) => e._tag === "MigrationsUnderWay" || (e._tag !== "StoreError" && busy(e)),
      schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo(busyTimeout))
    })
  )
