/**
 * A JobStore kept in SQLite (@effect/sql-sqlite-node), so that jobs outlive the process.
 *
 * The file is opened in WAL mode with a busy timeout, so several processes can share it; its
 * schema is created and upgraded by numbered migrations, and a file written by a newer
 * cluster-api (a migration this one does not know) is refused rather than misread.
 *
 * Every job is one row of `jobs`: the columns queries filter on, its owner, when its end was
 * delivered, and the whole record as JSON (encoded by the JobRecord Schema). Every status change
 * is also a row of `transitions`, with its time. `modify` reads, applies and writes in one
 * transaction; its changes are published to this process's subscribers after the commit, in
 * write order.
 *
 * Each open store is an owner (`host:pid:random`), a row of `owners` with a heartbeat renewed
 * every 15 s and deleted when the store's scope closes. An owner whose row is gone, whose
 * heartbeat is a minute old, or whose process no longer runs on this host is dead, and its jobs
 * may be adopted.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import * as Migrator from "@effect/sql/Migrator"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import { NodeContext } from "@effect/platform-node"
import { Cause, Clock, Data, Duration, Effect, Either, Layer, Option, PubSub, Schedule, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { FailureReason, JobRecord, JobStatus, isTerminal } from "./Domain.js"
import { StoreError } from "./Errors.js"
import { globToSqlite } from "./Glob.js"
import type { Holder } from "./internal/sqlite/errors.js"
import { busyDetail, decodeProblem, describeStoreFailure, storeError } from "./internal/sqlite/errors.js"
import { directoryProblem, privateStoreFile } from "./internal/sqlite/file.js"
import type { JobChange, JobFilter, JobKey, JobStoreShape, SubmitIntent, TransitionEntry } from "./JobStore.js"
import { applyModify, JobStore, keyString } from "./JobStore.js"

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
  })
}

/** How often an open store renews its owner row, and how old a heartbeat makes its owner dead. */
export const heartbeatEvery = Duration.seconds(15)
export const ownerDeadAfter = Duration.minutes(1)

/** Whether a process runs on this host (a pid that exists but is not ours still counts). */
const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The host part of an owner id (`host:pid:random`). */
const hostOf = (owner: string): string => owner.split(":").slice(0, -2).join(":")

const TransitionRow = Schema.Struct({
  at: Schema.Number,
  from_status: Schema.NullOr(JobStatus),
  to_status: JobStatus,
  reason: Schema.NullOr(Schema.parseJson(FailureReason))
})
const decodeTransition = Schema.decodeUnknown(TransitionRow)

const migrationTable = "cluster_api_migrations"

const encode = Schema.encodeSync(Schema.parseJson(JobRecord))
const decode = Schema.decodeUnknownEither(Schema.parseJson(JobRecord))

interface Row {
  readonly executor: string
  readonly job_id: string
  readonly record: string
}

interface IntentRow {
  readonly token: string
  readonly executor: string
  readonly name: string
  readonly at: number
  readonly record: string
}

interface OwnedRow extends Row {
  readonly owner: string | null
  readonly active: number
}

/** At most this many ids in one `IN (…)` (SQLite's variable limit is 32,766). */
const idsPerQuery = 500

/** Rows per multi-row INSERT: at most ten columns each, so 2,000 parameters a statement. */
const rowsPerStatement = 200

/** Keys grouped by executor, each group's ids in `idsPerQuery` parts: one `IN (…)` per part. */
const byExecutor = (keys: ReadonlyArray<JobKey>): Array<readonly [string, ReadonlyArray<string>]> => {
  const groups = new Map<string, Array<string>>()
  for (const k of keys) {
    const ids = groups.get(k.executor)
    if (ids === undefined) groups.set(k.executor, [k.jobId])
    else ids.push(k.jobId)
  }
  return Array.from(groups, ([executor, ids]) => chunks(ids, idsPerQuery).map((part) => [executor, part] as const)).flat()
}

const chunks = <A>(xs: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

/** How long a write waits for another program's write lock before it fails Busy, unless told. */
export const defaultBusyTimeout = Duration.seconds(10)

export interface MakeOptions {
  /** The store's file, named in errors and warnings. */
  readonly path: string
  /** false: a read-only store (no owner row, no heartbeat); every write fails ReadOnly. */
  readonly writable: boolean
  /** The busy timeout the connection was given, told in Busy errors. */
  readonly busyTimeout: Duration.Duration
}

/**
 * Fails with a StoreError saying what is true of the store `file`; when it is busy, names the
 * programs (other than `me`) that have it open.
 */
const failWith = (sql: SqlClient.SqlClient, me: string, options: MakeOptions) =>
(operation: string) =>
(e: unknown): Effect.Effect<never, StoreError> => {
  const error = storeError(operation, options.path)(e)
  if (error.reason !== "Busy") return Effect.fail(error)
  // The programs that showed a sign of life within the last minute (a dead one holds no lock).
  return Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) =>
      sql<Holder>`SELECT host, pid, started FROM owners
        WHERE owner <> ${me} AND heartbeat >= ${now - Duration.toMillis(ownerDeadAfter)} ORDER BY started`
    ),
    Effect.map((rows): ReadonlyArray<Holder> | undefined => rows),
    Effect.orElseSucceed(() => undefined),
    Effect.flatMap((holders) =>
      Effect.fail(
        new StoreError({
          operation,
          reason: "Busy",
          path: options.path,
          detail: busyDetail(options.busyTimeout, holders, describeStoreFailure(e)),
          cause: e
        })
      )
    )
  )
}

/**
 * `sql.withTransaction`, except that when SQLite has already rolled the transaction back (a full
 * disk, an I/O error) the failure that did it is kept, rather than the ROLLBACK that then fails
 * (which @effect/sql turns into a defect); a COMMIT that fails is a failure too.
 */
const transactionOf = (sql: SqlClient.SqlClient) =>
<A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.suspend(() => {
    let failure: Option.Option<E> = Option.none()
    return sql.withTransaction(Effect.tapError(body, (e) => Effect.sync(() => (failure = Option.some(e))))).pipe(
      Effect.catchAllDefect((defect): Effect.Effect<never, E | SqlError> =>
        Option.isSome(failure)
          ? Effect.fail(failure.value)
          : defect instanceof SqlError
          ? Effect.fail(defect)
          : Effect.die(defect)
      )
    )
  })

/**
 * The records of rows that decode. A row that does not (written by another version, or edited by
 * hand) is skipped, with one warning per job for the life of `warned`.
 */
const readableRows = (file: string, warned: Set<string>) => <R extends Row>(rows: ReadonlyArray<R>) =>
  Effect.gen(function*() {
    const out: Array<readonly [R, JobRecord]> = []
    for (const row of rows) {
      const decoded = decode(row.record)
      if (Either.isRight(decoded)) {
        out.push([row, decoded.right])
      } else if (!warned.has(`${row.executor}:${row.job_id}`)) {
        warned.add(`${row.executor}:${row.job_id}`)
        yield* Effect.logWarning(
          `${row.executor} job ${row.job_id} in the job store ${file} is unreadable and was skipped: ${
            decodeProblem(decoded.left)
          } (written by another version of cluster-api, or edited by hand)`
        )
      }
    }
    return out
  })

/** Builds the store on an open SqliteClient (migrations already run), as a new owner when writable. */
export const make = (options: MakeOptions) => Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const changes = yield* PubSub.unbounded<JobChange>()
  const lock = yield* Effect.makeSemaphore(1)
  const host = hostname()
  const me = `${host}:${process.pid}:${randomBytes(4).toString("hex")}`
  const file = options.path
  const failed = failWith(sql, me, options)
  const transaction = transactionOf(sql)
  const readable = readableRows(file, new Set<string>())
  const rowsToRecords = (rows: ReadonlyArray<Row>) =>
    Effect.map(readable(rows), (pairs) => pairs.map(([, record]) => record))

  if (options.writable) {
    const started = yield* Clock.currentTimeMillis
    yield* sql`INSERT INTO owners (owner, host, pid, started, heartbeat)
      VALUES (${me}, ${host}, ${process.pid}, ${started}, ${started})`.pipe(Effect.catchAll(failed("open")))
    // On close: give up ownership, and let SQLite refresh the statistics its query planner uses
    // (without them a time-range query scans the table instead of using jobs_submit).
    yield* Effect.addFinalizer(() =>
      sql`DELETE FROM owners WHERE owner = ${me}`.pipe(Effect.zipRight(sql`PRAGMA optimize`), Effect.ignore)
    )
    yield* Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => sql`UPDATE owners SET heartbeat = ${now} WHERE owner = ${me}`),
      Effect.catchAll((e) =>
        Effect.logWarning(`could not renew this program's heartbeat in the job store: ${describeStoreFailure(e)}`)
      ),
      Effect.repeat(Schedule.spaced(heartbeatEvery)),
      Effect.forkScoped
    )
  }

  const jobRow = (record: JobRecord) => ({
    job_id: record.jobId,
    executor: record.executor,
    name: record.name,
    status: record.status,
    active: isTerminal(record) ? 0 : 1,
    submit_time: record.submitTime?.getTime() ?? null,
    finish_time: record.finishTime?.getTime() ?? null,
    record: encode(record)
  })

  /** New jobs of this owner (replacing any with the same key), a statement per `rowsPerStatement`. */
  const writeNew = (records: ReadonlyArray<JobRecord>) =>
    Effect.forEach(chunks(records, rowsPerStatement), (part) =>
      sql`INSERT INTO jobs ${sql.insert(part.map((r) => ({ ...jobRow(r), owner: me })))}
        ON CONFLICT (executor, job_id) DO UPDATE SET name = excluded.name,
          status = excluded.status, active = excluded.active, submit_time = excluded.submit_time,
          finish_time = excluded.finish_time, record = excluded.record, owner = excluded.owner,
          delivered_at = NULL`, { discard: true })

  /** New states of jobs already stored (their owner and delivery record stay). */
  const writeUpdated = (records: ReadonlyArray<JobRecord>) =>
    Effect.forEach(chunks(records, rowsPerStatement), (part) =>
      sql`INSERT INTO jobs ${sql.insert(part.map(jobRow))}
        ON CONFLICT (executor, job_id) DO UPDATE SET name = excluded.name, status = excluded.status,
          active = excluded.active, submit_time = excluded.submit_time, finish_time = excluded.finish_time,
          record = excluded.record`, { discard: true })

  const writeTransitions = (changes: ReadonlyArray<JobChange>, at: number) =>
    Effect.forEach(
      chunks(changes.filter((c) => c.before?.status !== c.after.status), rowsPerStatement),
      (part) =>
        sql`INSERT INTO transitions ${
          sql.insert(part.map((c) => ({
            executor: c.after.executor,
            job_id: c.after.jobId,
            at,
            from_status: c.before?.status ?? null,
            to_status: c.after.status,
            reason: c.after.reason === undefined ? null : JSON.stringify(c.after.reason)
          })))
        }`,
      { discard: true }
    )

  /**
   * Takes the file's write lock first, waiting up to the busy timeout: a transaction that read
   * first and wrote second would fail outright if another program wrote in between.
   */
  const lockFile = sql`UPDATE owners SET heartbeat = heartbeat WHERE owner = ${me}`

  const select = (keys: ReadonlyArray<JobKey>) =>
    Effect.forEach(byExecutor(keys), ([executor, part]) =>
      sql<Row>`SELECT executor, job_id, record FROM jobs WHERE executor = ${executor} AND ${sql.in("job_id", part)}`).pipe(
        Effect.map((r) => r.flat())
      )

  const publish = (out: ReadonlyArray<JobChange>) =>
    out.length === 0 ? Effect.void : PubSub.publishAll(changes, out).pipe(Effect.asVoid)

  const insert: JobStoreShape["insert"] = (batch) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = batch.map((after): JobChange => ({ before: undefined, after }))
      yield* transaction(Effect.zipRight(writeNew(batch), writeTransitions(out, at)))
      yield* publish(out)
    })).pipe(Effect.catchAll(failed("insert")))

  const modify: JobStoreShape["modify"] = (keys, f) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = yield* transaction(Effect.gen(function*() {
        yield* lockFile
        const current = yield* rowsToRecords(yield* select(keys))
        const { changes: changed, updated } = applyModify(keys, new Map(current.map((r) => [keyString(r), r] as const)), f)
        yield* writeUpdated(updated)
        yield* writeTransitions(changed, at)
        return changed
      }))
      yield* publish(out)
      return out
    })).pipe(Effect.catchAll(failed("modify")))

  const where = (filter: JobFilter | undefined) => {
    const f = filter ?? {}
    const clauses = []
    if (f.active !== undefined) clauses.push(sql`active = ${f.active ? 1 : 0}`)
    if (f.status !== undefined) clauses.push(f.status.length === 0 ? sql`0` : sql.in("status", f.status))
    if (f.executor !== undefined) clauses.push(sql`executor = ${f.executor}`)
    if (f.names !== undefined) {
      clauses.push(f.names.length === 0 ? sql`0` : sql.or(f.names.map((g) => sql`name GLOB ${globToSqlite(g)}`)))
    }
    if (f.ids !== undefined) {
      // Many ids go through a temporary JSON array rather than thousands of parameters.
      clauses.push(sql`job_id IN (SELECT value FROM json_each(${JSON.stringify(f.ids)}))`)
    }
    if (f.submittedAfter !== undefined) clauses.push(sql`submit_time >= ${f.submittedAfter.getTime()}`)
    if (f.submittedBefore !== undefined) clauses.push(sql`submit_time < ${f.submittedBefore.getTime()}`)
    if (f.owned !== undefined) clauses.push(f.owned ? sql`owner = ${me}` : sql`(owner IS NULL OR owner <> ${me})`)
    return sql.and(clauses)
  }

  const list: JobStoreShape["list"] = (filter) =>
    (filter?.limit === undefined
      ? sql<Row>`SELECT executor, job_id, record FROM jobs WHERE ${where(filter)} ORDER BY rowid`
      : sql<Row>`SELECT executor, job_id, record FROM (
          SELECT rowid AS r, executor, job_id, record FROM jobs WHERE ${where(filter)} ORDER BY rowid DESC LIMIT ${filter.limit}
        ) ORDER BY r`).pipe(
        Effect.catchAll(failed("list")),
        Effect.flatMap(rowsToRecords)
      )

  const transitions: JobStoreShape["transitions"] = (key) =>
    sql`SELECT at, from_status, to_status, reason FROM transitions
      WHERE executor = ${key.executor} AND job_id = ${key.jobId} ORDER BY id`.pipe(
      Effect.catchAll(failed("transitions")),
      Effect.flatMap(Effect.forEach((row) =>
        decodeTransition(row).pipe(
          Effect.mapError((e) =>
            new StoreError({
              operation: "transitions",
              reason: "Unreadable",
              path: file,
              detail: `a status change of ${key.executor} job ${key.jobId} is unreadable: ${decodeProblem(e)}`,
              cause: e
            })
          ),
          Effect.map((t): TransitionEntry => ({
            at: new Date(t.at),
            from: t.from_status ?? undefined,
            to: t.to_status,
            reason: t.reason ?? undefined
          }))
        )
      ))
    )

  const restore: JobStoreShape["restore"] = (jobs) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return yield* transaction(Effect.gen(function*() {
        yield* lockFile
        const present = new Set((yield* select(jobs.map((j) => j.record))).map((r) => `${r.executor}:${r.job_id}`))
        const written: Array<JobKey> = []
        for (const { record, transitions: history } of jobs) {
          if (present.has(keyString(record))) continue
          present.add(keyString(record))
          // Imported jobs are history: their ends are not news to announce.
          yield* sql`INSERT INTO jobs (job_id, executor, name, status, active, submit_time, finish_time, record, owner, delivered_at)
            VALUES (${record.jobId}, ${record.executor}, ${record.name}, ${record.status}, ${isTerminal(record) ? 0 : 1},
              ${record.submitTime?.getTime() ?? null}, ${record.finishTime?.getTime() ?? null}, ${encode(record)}, NULL,
              ${isTerminal(record) ? now : null})`
          for (const t of history) {
            yield* sql`INSERT INTO transitions (executor, job_id, at, from_status, to_status, reason)
              VALUES (${record.executor}, ${record.jobId}, ${t.at.getTime()}, ${t.from ?? null}, ${t.to},
                ${t.reason === undefined ? null : JSON.stringify(t.reason)})`
          }
          written.push({ executor: record.executor, jobId: record.jobId })
        }
        return written
      }))
    })).pipe(Effect.catchAll(failed("restore")))

  const adopt: JobStoreShape["adopt"] = (adoptOptions) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const deadBefore = now - Duration.toMillis(ownerDeadAfter)
      const rows = yield* transaction(Effect.gen(function*() {
        yield* lockFile
        const owners = yield* sql<{ owner: string; host: string; pid: number; heartbeat: number }>`
          SELECT owner, host, pid, heartbeat FROM owners`
        const alive = new Set(
          owners.filter((o) =>
            o.owner === me || (o.heartbeat >= deadBefore && (o.host !== host || processAlive(o.pid)))
          ).map((o) => o.owner)
        )
        const dead = owners.filter((o) => !alive.has(o.owner)).map((o) => o.owner)
        if (dead.length > 0) yield* sql`DELETE FROM owners WHERE ${sql.in("owner", dead)}`
        const candidates = yield* sql<OwnedRow>`SELECT executor, job_id, record, owner, active FROM jobs
          WHERE executor = ${adoptOptions.executor} AND (active = 1 OR delivered_at IS NULL)
            AND (owner IS NULL OR owner <> ${me}) ORDER BY rowid`
        const only = adoptOptions.ids === undefined ? undefined : new Set(adoptOptions.ids)
        // A job that cannot be read cannot be watched: it is left to its owner (or to none).
        const taken = yield* readable(candidates.filter((r) =>
          (r.owner === null || !alive.has(r.owner)) &&
          (!adoptOptions.sameHostOnly || r.owner === null || hostOf(r.owner) === host) &&
          (only === undefined || only.has(r.job_id))
        ))
        for (const part of chunks(taken.map(([r]) => r.job_id), idsPerQuery)) {
          yield* sql`UPDATE jobs SET owner = ${me} WHERE executor = ${adoptOptions.executor} AND ${sql.in("job_id", part)}`
        }
        return taken
      }))
      const records = rows.map(([, record]) => record)
      return {
        active: records.filter((r) => !isTerminal(r)),
        undelivered: records.filter((r) => isTerminal(r))
      }
    })).pipe(Effect.catchAll(failed("adopt")))

  const intentOf = (row: IntentRow): Either.Either<SubmitIntent, StoreError> =>
    Either.map(decode(row.record), (draft) => ({
      token: row.token,
      executor: row.executor,
      name: row.name,
      at: new Date(row.at),
      draft
    })).pipe(Either.mapLeft((e) =>
      new StoreError({
        operation: "intents",
        reason: "Unreadable",
        detail: `the submission ${row.token} is unreadable: ${e.message}`,
        cause: e
      })
    ))

  const addIntent: JobStoreShape["addIntent"] = (intent) =>
    sql`INSERT INTO intents (token, executor, name, at, owner, record) VALUES (${intent.token}, ${intent.executor},
      ${intent.name}, ${intent.at.getTime()}, ${me}, ${encode(intent.draft)})`.pipe(
      Effect.asVoid,
      Effect.mapError(storeError("addIntent"))
    )

  const settleIntent: JobStoreShape["settleIntent"] = (token, records) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = records.map((after): JobChange => ({ before: undefined, after }))
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`DELETE FROM intents WHERE token = ${token}`
        yield* writeNew(records)
        yield* writeTransitions(out, at)
      }))
      yield* publish(out)
    })).pipe(Effect.mapError(storeError("settleIntent")))

  const intents: JobStoreShape["intents"] = sql<IntentRow>`SELECT token, executor, name, at, record FROM intents
    ORDER BY at, rowid`.pipe(
      Effect.mapError(storeError("intents")),
      Effect.flatMap(Effect.forEach(intentOf))
    )

  /** Takes over, in one transaction, the intents of `executor` whose owner is gone (as `adopt` judges owners). */
  const adoptIntents: JobStoreShape["adoptIntents"] = (executor) =>
    lock.withPermits(1)(Effect.gen(function*() {
      // Almost always none: then no write lock is taken, and opening a store costs nothing more.
      const any = yield* sql`SELECT 1 FROM intents WHERE executor = ${executor} LIMIT 1`
      if (any.length === 0) return []
      const deadBefore = (yield* Clock.currentTimeMillis) - Duration.toMillis(ownerDeadAfter)
      const rows = yield* sql.withTransaction(Effect.gen(function*() {
        yield* lockFile
        const alive = new Set((yield* sql<{ owner: string; host: string; pid: number; heartbeat: number }>`
          SELECT owner, host, pid, heartbeat FROM owners`).filter((o) =>
            o.owner === me || (o.heartbeat >= deadBefore && (o.host !== host || processAlive(o.pid)))
          ).map((o) => o.owner))
        const taken = (yield* sql<IntentRow & { owner: string | null }>`SELECT token, executor, name, at, owner, record
          FROM intents WHERE executor = ${executor} ORDER BY at, rowid`).filter((r) => r.owner === null || !alive.has(r.owner))
        for (const part of chunks(taken.map((r) => r.token), idsPerQuery)) {
          yield* sql`UPDATE intents SET owner = ${me} WHERE ${sql.in("token", part)}`
        }
        return taken
      }))
      return yield* Effect.forEach(rows, intentOf)
    })).pipe(Effect.mapError((e) => e instanceof StoreError ? e : storeError("adoptIntents")(e)))

  const markDelivered: JobStoreShape["markDelivered"] = (keys) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) =>
        Effect.forEach(byExecutor(keys), ([executor, part]) =>
          sql`UPDATE jobs SET delivered_at = ${now} WHERE executor = ${executor} AND ${sql.in("job_id", part)}`, {
            discard: true
          })
      ),
      Effect.catchAll(failed("markDelivered"))
    )

  const shape: JobStoreShape = {
    persistent: true,
    insert,
    get: (key) =>
      sql<Row>`SELECT executor, job_id, record FROM jobs WHERE executor = ${key.executor} AND job_id = ${key.jobId}`.pipe(
        Effect.catchAll(failed("get")),
        Effect.flatMap((rows) => {
          const row = rows[0]
          if (row === undefined) return Effect.succeed(Option.none())
          const decoded = decode(row.record)
          if (Either.isRight(decoded)) return Effect.succeed(Option.some(decoded.right))
          return Effect.fail(
            new StoreError({
              operation: "get",
              reason: "Unreadable",
              path: file,
              detail: `${key.executor} job ${key.jobId} is unreadable: ${
                decodeProblem(decoded.left)
              }. It was written by another version of cluster-api or edited by hand; it was left as it is, and list, status and the Monitor skip it (a newer cluster-api may read it).`,
              cause: decoded.left
            })
          )
        })
      ),
    list,
    active: sql<Row>`SELECT executor, job_id, record FROM jobs WHERE active = 1 ORDER BY rowid`.pipe(
      Effect.catchAll(failed("active")),
      Effect.flatMap(rowsToRecords)
    ),
    transitions,
    modify,
    restore,
    adopt,
    addIntent,
    settleIntent,
    intents,
    adoptIntents,
    markDelivered,
    remove: (keys) =>
      lock.withPermits(1)(
        transaction(Effect.forEach(byExecutor(keys), ([executor, part]) =>
          Effect.zipRight(
            sql`DELETE FROM jobs WHERE executor = ${executor} AND ${sql.in("job_id", part)}`,
            sql`DELETE FROM transitions WHERE executor = ${executor} AND ${sql.in("job_id", part)}`
          ), { discard: true }))
      ).pipe(Effect.catchAll(failed("remove"))),
    subscribe: PubSub.subscribe(changes)
  }
  return shape
})

/** Another program is creating the store's schema in the same file right now. */
class MigrationsUnderWay extends Data.TaggedError("MigrationsUnderWay") {
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
const refuseNewer = (filename: string) =>
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
const refuseOlder = (filename: string) =>
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

export interface LayerOptions {
  /**
   * Open for reading only: nothing is written (no owner row, no heartbeat) and every write fails
   * with a ReadOnly StoreError. Without it, a store this program may read but not write is opened
   * this way by itself.
   */
  readonly readonly?: boolean | undefined
  /** How long a write waits for another program's write lock before failing Busy (default 10 s). */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

/** An open error that is none of the store's own: the file could not be opened or read as SQLite. */
const openError = (filename: string, cause: Cause.Cause<unknown>): StoreError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof StoreError) return failure.value
  const error = storeError("open", filename)(Option.getOrElse(failure, () => Cause.squash(cause)))
  const dir = error.reason === "CantOpen" ? directoryProblem(filename) : undefined
  return dir === undefined ? error : new StoreError({
    operation: error.operation,
    reason: error.reason,
    path: filename,
    detail: `${error.detail}; ${dir}`,
    cause: error.cause
  })
}

/** The store on `filename`, opened read-write (creating and upgrading its tables) or read-only. */
const open = (filename: string, busyTimeout: Duration.Duration, writable: boolean): Layer.Layer<JobStore, StoreError> => {
  const client = Layer.unwrapEffect(
    Effect.as(
      writable ? privateStoreFile(filename) : Effect.void,
      SqliteClient.layer({ filename, readonly: !writable, disableWAL: !writable })
    )
  )
  const busy = (e: unknown) => storeError("open", filename)(e).reason === "Busy"
  const setup = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${Math.round(Duration.toMillis(busyTimeout))}`)
      if (!writable) {
        yield* refuseNewer(filename)
        return yield* refuseOlder(filename)
      }
      // Two programs opening a new file at once: the Migrator of the second sees the first one's
      // migrations under way, skips them and returns as if done. So check, and try again until
      // the first has committed (or the busy timeout's worth of tries has passed).
      yield* Effect.gen(function*() {
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
    }).pipe(
      Effect.mapError((e: SqlError | Migrator.MigrationError | StoreError | MigrationsUnderWay) =>
        e._tag === "StoreError"
          ? e
          : busy(e)
          ? new StoreError({
            operation: "open",
            reason: "Busy",
            path: filename,
            detail: busyDetail(busyTimeout, undefined, describeStoreFailure(e)),
            cause: e
          })
          : storeError("open", filename)(e)
      ),
      Effect.provide(NodeContext.layer)
    )
  )
  return Layer.scoped(JobStore, make({ path: filename, writable, busyTimeout })).pipe(
    Layer.provide(Layer.provideMerge(setup, client)),
    Layer.catchAllCause((cause) => Layer.fail(openError(filename, cause)))
  )
}

/**
 * The SQLite store in `filename` (created 0600 if missing; its directory must exist). A store this
 * program may read but not write is opened read-only: reads work, writes fail ReadOnly. Fails
 * with a StoreError whose `reason` says what is true (Busy, ReadOnly, Full, Corrupt, CantOpen,
 * Version, …) and whose message says what to do.
 */
export const layer = (filename: string, options: LayerOptions = {}): Layer.Layer<JobStore, StoreError> => {
  const busyTimeout = Duration.decode(options.busyTimeout ?? defaultBusyTimeout)
  if (options.readonly === true) return open(filename, busyTimeout, false)
  return open(filename, busyTimeout, true).pipe(
    Layer.catchAll((error) =>
      error.reason === "ReadOnly" || error.reason === "CantOpen"
        ? open(filename, busyTimeout, false).pipe(
          Layer.tap(() =>
            Effect.logDebug(`the job store ${filename} is opened read-only: ${error.detail}`)
          ),
          Layer.orElse(() => Layer.fail(error))
        )
        : Layer.fail(error)
    )
  )
}
