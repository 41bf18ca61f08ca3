/**
 * The JobStore on an open SQLite connection: reads (get, list, active, transitions), writes
 * (insert, modify, restore, remove, markDelivered), adoption and intents, over one StoreContext.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Either, Option, PubSub } from "effect"
import { isTerminal } from "../../Domain.js"
import { StoreError } from "../../Errors.js"
import { globToSqlite } from "../glob.js"
import type { JobChange, JobFilter, JobKey, JobStoreShape, TransitionEntry } from "../../JobStore.js"
import { applyModify, keyString } from "../store.js"
import type { MakeOptions, StoreContext } from "./context.js"
import { makeContext } from "./context.js"
import { decodeProblem } from "./errors.js"
import { intentOperations } from "./intents.js"
import { adopt, becomeOwner } from "./owners.js"
import type { Row } from "./rows.js"
import { byExecutor, decode, decodeTransition, encode } from "./rows.js"

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

/** The store's reads: one job, a filtered list, the active jobs, a job's status changes. */
const readOperations = (ctx: StoreContext): Pick<JobStoreShape, "get" | "list" | "active" | "transitions"> => {
  const { failed, file, rowsToRecords, sql } = ctx

  const get: JobStoreShape["get"] = (key) =>
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
    )

  const list: JobStoreShape["list"] = (filter) =>
    (filter?.limit === undefined
      ? sql<Row>`SELECT executor, job_id, record FROM jobs WHERE ${where(ctx, filter)} ORDER BY rowid`
      : sql<Row>`SELECT executor, job_id, record FROM (
          SELECT rowid AS r, executor, job_id, record FROM jobs WHERE ${
        where(ctx, filter)
      } ORDER BY rowid DESC LIMIT ${filter.limit}
        ) ORDER BY r`).pipe(
        Effect.catchAll(failed("list")),
        Effect.flatMap(rowsToRecords)
      )

  const active: JobStoreShape["active"] = sql<Row>`SELECT executor, job_id, record FROM jobs WHERE active = 1 ORDER BY rowid`
    .pipe(
      Effect.catchAll(failed("active")),
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

  return { get, list, active, transitions }
}

/** The store's writes: each under the lock, in one transaction, its changes published after the commit. */
const writeOperations = (
  ctx: StoreContext
): Pick<JobStoreShape, "insert" | "modify" | "restore" | "remove" | "markDelivered"> => {
  const { failed, lock, lockFile, publish, sql, transaction } = ctx

  const insert: JobStoreShape["insert"] = (batch) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = batch.map((after): JobChange => ({ before: undefined, after }))
      yield* transaction(Effect.zipRight(ctx.writeNew(batch), ctx.writeTransitions(out, at)))
      yield* publish(out)
    })).pipe(Effect.catchAll(failed("insert")))

  const modify: JobStoreShape["modify"] = (keys, f) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = yield* transaction(Effect.gen(function*() {
        yield* lockFile
        const current = yield* ctx.rowsToRecords(yield* ctx.select(keys))
        const { changes: changed, updated } = applyModify(keys, new Map(current.map((r) => [keyString(r), r] as const)), f)
        yield* ctx.writeUpdated(updated)
        yield* ctx.writeTransitions(changed, at)
        return changed
      }))
      yield* publish(out)
      return out
    })).pipe(Effect.catchAll(failed("modify")))

  const restore: JobStoreShape["restore"] = (jobs) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return yield* transaction(Effect.gen(function*() {
        yield* lockFile
        const present = new Set((yield* ctx.select(jobs.map((j) => j.record))).map((r) => `${r.executor}:${r.job_id}`))
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

  const remove: JobStoreShape["remove"] = (keys) =>
    lock.withPermits(1)(
      transaction(Effect.forEach(byExecutor(keys), ([executor, part]) =>
        Effect.zipRight(
          sql`DELETE FROM jobs WHERE executor = ${executor} AND ${sql.in("job_id", part)}`,
          sql`DELETE FROM transitions WHERE executor = ${executor} AND ${sql.in("job_id", part)}`
        ), { discard: true }))
    ).pipe(Effect.catchAll(failed("remove")))

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

  return { insert, modify, restore, remove, markDelivered }
}

/** Builds the store on an open SqliteClient (migrations already run), as a new owner when writable. */
export const make = (options: MakeOptions) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ctx = yield* makeContext(sql, options)
    if (options.writable) yield* becomeOwner(ctx)
    const shape: JobStoreShape = {
      persistent: true,
      ...readOperations(ctx),
      ...writeOperations(ctx),
      adopt: adopt(ctx),
      ...intentOperations(ctx),
      subscribe: PubSub.subscribe(ctx.changes)
    }
    return shape
  })
