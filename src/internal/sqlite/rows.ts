/**
 * The rows of the SQLite job store: how a JobRecord is written as a row of `jobs` (its query
 * columns and the whole record as JSON) and each status change as a row of `transitions`, and how
 * rows are read back (a row that does not decode is skipped, with a warning).
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Either, Schema } from "effect"
import { FailureReason, JobRecord, JobStatus, isTerminal } from "../../Domain.js"
import type { JobChange, JobKey } from "../../JobStore.js"
import { decodeProblem } from "./errors.js"

const TransitionRow = Schema.Struct({
  at: Schema.Number,
  from_status: Schema.NullOr(JobStatus),
  to_status: JobStatus,
  reason: Schema.NullOr(Schema.parseJson(FailureReason))
})
export const decodeTransition = Schema.decodeUnknown(TransitionRow)

export const encode = Schema.encodeSync(Schema.parseJson(JobRecord))
export const decode = Schema.decodeUnknownEither(Schema.parseJson(JobRecord))

export interface Row {
  readonly executor: string
  readonly job_id: string
  readonly record: string
}

/** A row of `jobs` with its rowid (the cache of decoded records knows rows by it). */
export interface RowWithId extends Row {
  readonly rowid: number
}

export interface IntentRow {
  readonly token: string
  readonly executor: string
  readonly name: string
  readonly at: number
  readonly record: string
}

export interface OwnedRow extends Row {
  readonly owner: string | null
  readonly active: number
}

/** At most this many ids in one `IN (…)` (SQLite's variable limit is 32,766). */
export const idsPerQuery = 500

/** Rows per multi-row INSERT: at most ten columns each, so 2,000 parameters a statement. */
const rowsPerStatement = 200

/** Keys grouped by executor, each group's ids in `idsPerQuery` parts: one `IN (…)` per part. */
export const byExecutor = (keys: ReadonlyArray<JobKey>): Array<readonly [string, ReadonlyArray<string>]> => {
  const groups = new Map<string, Array<string>>()
  for (const k of keys) {
    const ids = groups.get(k.executor)
    if (ids === undefined) groups.set(k.executor, [k.jobId])
    else ids.push(k.jobId)
  }
  return Array.from(groups, ([executor, ids]) => chunks(ids, idsPerQuery).map((part) => [executor, part] as const)).flat()
}

export const chunks = <A>(xs: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

/**
 * The records of rows that decode. A row that does not (written by another version, or edited by
 * hand) is skipped, with one warning per job for the life of `warned`.
 */
export const readableRows = (file: string, warned: Set<string>) => <R extends Row>(rows: ReadonlyArray<R>) =>
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

/** New jobs of owner `me` (replacing any with the same key), a statement per `rowsPerStatement`. */
export const writeNew = (sql: SqlClient.SqlClient, me: string) => (records: ReadonlyArray<JobRecord>) =>
  Effect.forEach(chunks(records, rowsPerStatement), (part) =>
    sql`INSERT INTO jobs ${sql.insert(part.map((r) => ({ ...jobRow(r), owner: me })))}
      ON CONFLICT (executor, job_id) DO UPDATE SET name = excluded.name,
        status = excluded.status, active = excluded.active, submit_time = excluded.submit_time,
        finish_time = excluded.finish_time, record = excluded.record, owner = excluded.owner,
        delivered_at = NULL`, { discard: true })

/**
 * New states of jobs already stored (their owner and delivery record stay). `before` gives a job's
 * stored record: a job whose indexed columns (`active`, `submit_time`) keep their values is written
 * by a statement that does not set them, so SQLite leaves those indexes' pages alone (it rewrites an
 * index entry for every column a statement sets, equal or not).
 */
export const writeUpdated = (sql: SqlClient.SqlClient) =>
(records: ReadonlyArray<JobRecord>, before: (record: JobRecord) => JobRecord | undefined) => {
  const same: Array<JobRecord> = []
  const moved: Array<JobRecord> = []
  // A plain loop: this runs over every changed job of a tick.
  for (const r of records) {
    const b = before(r)
    const keeps = b !== undefined && isTerminal(b) === isTerminal(r) && b.submitTime?.getTime() === r.submitTime?.getTime()
    ;(keeps ? same : moved).push(r)
  }
  return Effect.zipRight(
    Effect.forEach(chunks(same, rowsPerStatement), (part) =>
      sql`INSERT INTO jobs ${sql.insert(part.map(jobRow))}
        ON CONFLICT (executor, job_id) DO UPDATE SET name = excluded.name, status = excluded.status,
          finish_time = excluded.finish_time, record = excluded.record`, { discard: true }),
    Effect.forEach(chunks(moved, rowsPerStatement), (part) =>
      sql`INSERT INTO jobs ${sql.insert(part.map(jobRow))}
        ON CONFLICT (executor, job_id) DO UPDATE SET name = excluded.name, status = excluded.status,
          active = excluded.active, submit_time = excluded.submit_time, finish_time = excluded.finish_time,
          record = excluded.record`, { discard: true })
  )
}

/** A row of `transitions` for each change that changed a status, all at time `at`. */
export const writeTransitions = (sql: SqlClient.SqlClient) => (changes: ReadonlyArray<JobChange>, at: number) =>
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

/** The rows of jobs `keys` (those that exist). */
export const select = (sql: SqlClient.SqlClient) => (keys: ReadonlyArray<JobKey>) =>
  Effect.forEach(byExecutor(keys), ([executor, part]) =>
    sql<RowWithId>`SELECT rowid, executor, job_id, record FROM jobs WHERE executor = ${executor} AND ${
      sql.in("job_id", part)
    }`).pipe(
      Effect.map((r) => r.flat())
    )
