/**
 * New jobs that arrive together are written in one transaction (group commit). Each `insert` and
 * `settleIntent` queues its write and waits for the store's lock; whoever gets the lock first
 * commits every write queued by then, in the order they came, and publishes their changes after
 * the commit. Submits made together (an array, a pipeline, several fibers) thus share one commit,
 * and the table and index pages they touch are written once, instead of once per job.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Deferred, Effect } from "effect"
import type { JobRecord } from "../../Domain.js"
import type { JobChange } from "../../JobStore.js"
import type { StoreContext } from "./context.js"
import { chunks, idsPerQuery } from "./rows.js"

interface Queued {
  /** The submission in flight this write settles (its intent is deleted in the same transaction). */
  readonly token: string | undefined
  readonly records: ReadonlyArray<JobRecord>
  readonly done: Deferred.Deferred<void, SqlError>
}

/**
 * A function that writes new jobs (and settles the intent `token`), sharing the transaction of
 * whatever other such writes are waiting for the lock at the same time. When that transaction
 * fails, every write in it fails with the same error.
 */
export const makeNewJobWriter = (ctx: StoreContext) => {
  let queue: Array<Queued> = []

  /** Every queued write in one transaction. Run under the lock, uninterrupted: others wait on it. */
  const commit = Effect.suspend(() => {
    const batch = queue
    queue = []
    if (batch.length === 0) return Effect.void
    const records = batch.flatMap((q) => q.records)
    const tokens = batch.flatMap((q) => (q.token === undefined ? [] : [q.token]))
    const out = records.map((after): JobChange => ({ before: undefined, after }))
    return Clock.currentTimeMillis.pipe(
      Effect.flatMap((at) =>
        ctx.transaction(Effect.gen(function*() {
          for (const part of chunks(tokens, idsPerQuery)) {
            yield* ctx.sql`DELETE FROM intents WHERE ${ctx.sql.in("token", part)}`
          }
          // A job written again under the same id is read anew.
          ctx.cache.forget(records)
          yield* ctx.writeNew(records)
          yield* ctx.writeTransitions(out, at)
        }))
      ),
      Effect.zipLeft(ctx.publish(out)),
      Effect.exit,
      Effect.flatMap((exit) => Effect.forEach(batch, (q) => Deferred.done(q.done, exit), { discard: true }))
    )
  })

  return (token: string | undefined, records: ReadonlyArray<JobRecord>): Effect.Effect<void, SqlError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void, SqlError>()
        const mine: Queued = { token, records, done }
        queue.push(mine)
        // Interrupted while waiting: withdrawn, unless a commit has already taken it.
        yield* restore(ctx.lock.withPermits(1)(Effect.uninterruptible(commit))).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              queue = queue.filter((q) => q !== mine)
            })
          )
        )
        return yield* Deferred.await(done)
      })
    )
}
