/**
 * The JobStore on an open SQLite connection: reads (get, list, active, transitions), writes
 * (insert, modify, restore, remove, markDelivered), adoption and intents, over one StoreContext.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, PubSub } from "effect"
import type { JobRecord } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import type { JobKey, JobStoreShape } from "../../JobStore.js"
import { applyModify, keyString } from "../store.js"
import type { RecordCache } from "./cache.js"
import type { MakeOptions, StoreContext } from "./context.js"
import { makeContext } from "./context.js"
import type { NewJobWriter } from "./group.js"
import { makeNewJobWriter } from "./group.js"
import { intentOperations } from "./intents.js"
import { adopt, becomeOwner } from "./owners.js"
import { readOperations } from "./reads.js"
import { byExecutor, encode } from "./rows.js"

/**
 * What `applyModify` reads as the current records: the rows read in this transaction, else the
 * cache's — a view of the cache rather than a copy of it (one lookup per job, not two and a write).
 */
class CurrentRecords extends Map<string, JobRecord> {
  constructor(private readonly cache: RecordCache) {
    super()
  }
  override get(key: string): JobRecord | undefined {
    return super.get(key) ?? this.cache.get(key)
  }
  override has(key: string): boolean {
    return super.has(key) || this.cache.get(key) !== undefined
  }
}

/**
 * The current records of jobs `keys`, inside a write transaction (the file's lock held, so no
 * other program writes until the commit): from the cache when no other program has committed
 * since it was filled, the others read and decoded (and cached when active).
 */
const currentRecords = (ctx: StoreContext, keys: ReadonlyArray<JobKey>) =>
  Effect.gen(function*() {
    const { cache } = ctx
    cache.sync(yield* ctx.dataVersion)
    const current = new CurrentRecords(cache)
    const missing: Array<JobKey> = []
    // A plain loop: this runs over every active job on every tick.
    for (const key of keys) {
      if (!cache.holds(key) && cache.get(keyString(key)) === undefined) missing.push(key)
    }
    if (missing.length === 0) return current
    for (const [row, record] of yield* ctx.readable(yield* ctx.select(missing))) {
      current.set(keyString(record), record)
      cache.keep(row.rowid, record)
    }
    return current
  })

/** The store's writes: each under the lock, in one transaction, its changes published after the commit. */
const writeOperations = (
  ctx: StoreContext,
  writeNewJobs: NewJobWriter
): Pick<JobStoreShape, "insert" | "modify" | "restore" | "remove" | "markDelivered"> => {
  const { failed, lock, lockFile, publish, sql, transaction } = ctx

  const insert: JobStoreShape["insert"] = (batch) => writeNewJobs({ records: batch }).pipe(Effect.catchAll(failed("insert")))

  const modify: JobStoreShape["modify"] = (keys, f) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const out = yield* transaction(Effect.gen(function*() {
        yield* lockFile
        // The stored record of each job `f` changed, so its row is written with only what changed.
        const stored = new Map<string, JobRecord>()
        const { changes: changed, updated } = applyModify(keys, yield* currentRecords(ctx, keys), (before) => {
          const after = f(before)
          if (after !== before) stored.set(keyString(before), before)
          return after
        })
        // Records `f` left as they were are neither encoded nor written.
        ctx.cache.forget(updated)
        yield* ctx.writeUpdated(updated, (r) => stored.get(keyString(r)))
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
      Effect.suspend(() => {
        ctx.cache.forget(keys)
        return transaction(Effect.forEach(byExecutor(keys), ([executor, part]) =>
        Effect.zipRight(
          sql`DELETE FROM jobs WHERE executor = ${executor} AND ${sql.in("job_id", part)}`,
          sql`DELETE FROM transitions WHERE executor = ${executor} AND ${sql.in("job_id", part)}`
        ), { discard: true }))
      })
    ).pipe(Effect.catchAll(failed("remove")))

  // One statement per executor and `idsPerQuery` ids; several are one transaction (one commit).
  const markDelivered: JobStoreShape["markDelivered"] = (keys) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => {
        const parts = byExecutor(keys)
        const marks = Effect.forEach(parts, ([executor, part]) =>
          sql`UPDATE jobs SET delivered_at = ${now} WHERE executor = ${executor} AND ${sql.in("job_id", part)}`, {
            discard: true
          })
        return parts.length > 1 ? transaction(marks) : marks
      }),
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
    const writeNewJobs = yield* makeNewJobWriter(ctx)
    const shape: JobStoreShape = {
      persistent: true,
      ...readOperations(ctx),
      ...writeOperations(ctx, writeNewJobs),
      adopt: adopt(ctx),
      ...intentOperations(ctx, writeNewJobs),
      subscribe: PubSub.subscribe(ctx.changes)
    }
    return shape
  })
