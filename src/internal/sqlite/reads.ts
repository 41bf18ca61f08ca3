/**
 * The SQLite job store's reads: one job, a filtered list, the active jobs, a job's status changes.
 *
 * `list`, `active` and `get` take the records of active jobs from the cache of decoded records
 * (cache.ts) when no other program has committed since they were read: `list` asks SQLite only
 * which rows match (their rowids), and reads and decodes only the rows the cache does not hold. They run
 * under the store's lock, so that no write of this program falls between the keys and the records.
 */
import { Effect, Either, Option } from "effect"
import type { JobRecord } from "../../Domain.js"
import { StoreError } from "../../Errors.js"
import type { JobFilter, JobStoreShape, TransitionEntry } from "../../JobStore.js"
import { globToSqlite } from "../glob.js"
import { keyString } from "../store.js"
import type { StoreContext } from "./context.js"
import { decodeProblem } from "./errors.js"
import type { Row, RowWithId } from "./rows.js"
import { decode, decodeTransition } from "./rows.js"

/** The SQL condition of a JobFilter (`owned` is judged against this program's owner id). */
const where = (ctx: StoreContext, filter: JobFilter | undefined) => {
  const { me, sql } = ctx
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

/** The rows a filter selects, with their records, in the order `list` returns them. */
const filteredRows = (ctx: StoreContext, filter: JobFilter | undefined) =>
  filter?.limit === undefined
    ? ctx.sql<Row>`SELECT executor, job_id, record FROM jobs WHERE ${where(ctx, filter)} ORDER BY rowid`
    : ctx.sql<Row>`SELECT executor, job_id, record FROM (
        SELECT rowid AS r, executor, job_id, record FROM jobs WHERE ${
      where(ctx, filter)
    } ORDER BY rowid DESC LIMIT ${filter.limit}
      ) ORDER BY r`

/**
 * The rowids of the rows a filter selects, in the same order: one row holding a JSON array, built
 * by SQLite (100,000 rows as objects cost more than their query).
 */
const filteredRowids = (ctx: StoreContext, filter: JobFilter | undefined) =>
  (filter?.limit === undefined
    ? ctx.sql<{ ids: string }>`SELECT json_group_array(rowid ORDER BY rowid) AS ids FROM jobs WHERE ${where(ctx, filter)}`
    : ctx.sql<{ ids: string }>`SELECT json_group_array(r ORDER BY r) AS ids FROM (
        SELECT rowid AS r FROM jobs WHERE ${where(ctx, filter)} ORDER BY rowid DESC LIMIT ${filter.limit}
      )`).pipe(Effect.map((rows): ReadonlyArray<number> => JSON.parse(rows[0]?.ids ?? "[]")))

/** The rows `rowids`, with their records. */
const rowsById = (ctx: StoreContext, rowids: ReadonlyArray<number>) =>
  ctx.sql<RowWithId>`SELECT rowid, executor, job_id, record FROM jobs
    WHERE rowid IN (SELECT value FROM json_each(${JSON.stringify(rowids)}))`

/**
 * The records a filter selects: the rowids from SQLite, the records from the cache, and the rows
 * the cache does not hold read and decoded. When another program committed while this ran, the
 * rows are read again in one statement.
 */
const cachedList = (ctx: StoreContext, filter: JobFilter | undefined) =>
  Effect.gen(function*() {
    const { cache } = ctx
    const version = yield* ctx.dataVersion
    cache.sync(version)
    const rowids = yield* filteredRowids(ctx, filter)
    // Plain loops: these run over every active job on every tick.
    const missing: Array<number> = []
    const kept: Array<JobRecord> = []
    for (const rowid of rowids) {
      const record = cache.byRowid(rowid)
      if (record === undefined) missing.push(rowid)
      else kept.push(record)
    }
    const rows = missing.length === 0 ? [] : yield* rowsById(ctx, missing)
    if ((yield* ctx.dataVersion) !== version) {
      cache.clear()
      return yield* Effect.flatMap(filteredRows(ctx, filter), ctx.rowsToRecords)
    }
    if (missing.length === 0) return kept
    const read = new Map<number, JobRecord>()
    for (const [row, record] of yield* ctx.readable(rows)) {
      read.set(row.rowid, record)
      cache.keep(row.rowid, record)
    }
    const out: Array<JobRecord> = []
    for (const rowid of rowids) {
      const record = cache.byRowid(rowid) ?? read.get(rowid)
      if (record !== undefined) out.push(record)
    }
    return out
  })

/** The store's reads: one job, a filtered list, the active jobs, a job's status changes. */
export const readOperations = (ctx: StoreContext): Pick<JobStoreShape, "get" | "list" | "active" | "transitions"> => {
  const { cache, failed, file, lock, sql } = ctx

  const get: JobStoreShape["get"] = (key) =>
    lock.withPermits(1)(Effect.gen(function*() {
      cache.sync(yield* ctx.dataVersion)
      const hit = cache.get(keyString(key))
      if (hit !== undefined) return Option.some(hit)
      return yield* sql<Row>`SELECT executor, job_id, record FROM jobs WHERE executor = ${key.executor} AND job_id = ${key.jobId}`
    })).pipe(
      Effect.catchAll(failed("get")),
      Effect.flatMap((found) => {
        if (Option.isOption(found)) return Effect.succeed(found)
        const row = found[0]
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
    )

  const list: JobStoreShape["list"] = (filter) =>
    lock.withPermits(1)(cachedList(ctx, filter)).pipe(Effect.catchAll(failed("list")))

  const active: JobStoreShape["active"] = lock.withPermits(1)(cachedList(ctx, { active: true })).pipe(
    Effect.catchAll(failed("active"))
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

  return { get, list, active, transitions }
}
