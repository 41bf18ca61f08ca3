/**
 * New jobs that arrive together are written in one transaction (group commit). Each `insert`,
 * `addIntent` and `settleIntent` queues its write and waits for it; one fiber of the store takes
 * every write queued by then and commits them, in the order they came, in one transaction under
 * the store's lock, and publishes their changes after the commit; writes queued meanwhile go in
 * the next transaction. Submits made together (an array, a pipeline, several fibers) thus share one commit,
 * and the table and index pages they touch are written once, instead of once per job.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { Scope } from "effect"
import { Chunk, Clock, Deferred, Effect, Queue } from "effect"
import type { JobRecord } from "../../Domain.js"
import type { JobChange, SubmitIntent } from "../../JobStore.js"
import type { StoreContext } from "./context.js"
import { chunks, encode, idsPerQuery } from "./rows.js"

/** Rows per multi-row INSERT of intents (six columns each). */
const intentsPerStatement = 200

interface Queued {
  /** A submission in flight to write. */
  readonly intent: SubmitIntent | undefined
  /** The submission in flight this write settles (its intent is deleted in the same transaction). */
  readonly token: string | undefined
  readonly records: ReadonlyArray<JobRecord>
  readonly done: Deferred.Deferred<void, SqlError>
  /** Set when its caller was interrupted before a transaction took it: it is not written. */
  withdrawn: boolean
}

/**
 * A function that writes new jobs (and settles the intent `token`), sharing the transaction of
 * whatever other such writes are waiting for the lock at the same time. When that transaction
 * fails, every write in it fails with the same error.
 */
export const makeNewJobWriter = (ctx: StoreContext): Effect.Effect<NewJobWriter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Queued>()
    // The writes queued by the time the first one has been taken: the fibers that were ready to
    // run when it was queued (other submits made at the same time) have had their turn by then.
    const next = Queue.take(queue).pipe(
      Effect.flatMap((first) =>
        Effect.map(Queue.takeAll(queue), (more) => [first, ...Chunk.toReadonlyArray(more)].filter((q) => !q.withdrawn))
      )
    )
    // Interrupted (the store closing) only while waiting: a batch taken is committed and answered.
    yield* Effect.uninterruptibleMask((restore) =>
      restore(next).pipe(Effect.flatMap((batch) => ctx.lock.withPermits(1)(commit(ctx, batch))))
    ).pipe(Effect.forever, Effect.forkScoped)
    // The store closing: writes not yet taken are not written, and their callers are interrupted
    // (as are those that queue one later) rather than left waiting.
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(queue).pipe(
        Effect.flatMap((left) => Effect.forEach(left, (q) => Deferred.interrupt(q.done), { discard: true })),
        Effect.zipRight(Queue.shutdown(queue))
      )
    )
    return (write) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const done = yield* Deferred.make<void, SqlError>()
          const mine: Queued = { intent: write.intent, token: write.token, records: write.records ?? [], done, withdrawn: false }
          yield* Queue.offer(queue, mine)
          return yield* restore(Deferred.await(done)).pipe(
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                mine.withdrawn = true
              })
            )
          )
        })
      )
  })

/** Writes new jobs (and the intent they settle, or a new intent), in the transaction of the writes queued with it. */
export type NewJobWriter = (
  write: { readonly intent?: SubmitIntent; readonly token?: string; readonly records?: ReadonlyArray<JobRecord> }
) => Effect.Effect<void, SqlError>

/** Every write of `batch` in one transaction. Run under the lock, uninterrupted: their callers wait on it. */
const commit = (ctx: StoreContext, batch: ReadonlyArray<Queued>) =>
  Effect.suspend(() => {
    if (batch.length === 0) return Effect.void
    const records = batch.flatMap((q) => q.records)
    const tokens = batch.flatMap((q) => (q.token === undefined ? [] : [q.token]))
    const intents = batch.flatMap((q) => (q.intent === undefined ? [] : [q.intent]))
    const out = records.map((after): JobChange => ({ before: undefined, after }))
    return Clock.currentTimeMillis.pipe(
      Effect.flatMap((at) =>
        ctx.transaction(Effect.gen(function*() {
          for (const part of chunks(intents, intentsPerStatement)) {
            yield* ctx.sql`INSERT INTO intents ${
              ctx.sql.insert(part.map((i) => ({
                token: i.token,
                executor: i.executor,
                name: i.name,
                at: i.at.getTime(),
                owner: ctx.me,
                record: encode(i.draft)
              })))
            }`
          }
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
