/**
 * Submissions in flight in the SQLite job store: an intent is written before a job is handed to
 * its scheduler and settled (replaced by its jobs) after; the intents of a program that died are
 * adopted by the next one, which finds out what became of them.
 */
import { Clock, Duration, Effect, Either } from "effect"
import { StoreError } from "../../Errors.js"
import type { JobStoreShape, SubmitIntent } from "../../JobStore.js"
import type { StoreContext } from "./context.js"
import type { NewJobWriter } from "./group.js"
import { liveOwners, ownerDeadAfter } from "./owners.js"
import type { IntentRow } from "./rows.js"
import { chunks, decode, idsPerQuery } from "./rows.js"

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

export const intentOperations = (
  ctx: StoreContext,
  writeNewJobs: NewJobWriter
): Pick<JobStoreShape, "addIntent" | "settleIntent" | "intents" | "adoptIntents"> => {
  const { lock, me, sql } = ctx

  // Intents and new jobs written at the same time share one transaction (group.ts).
  const addIntent: JobStoreShape["addIntent"] = (intent) =>
    writeNewJobs({ intent }).pipe(Effect.catchAll(ctx.failed("addIntent")))

  const settleIntent: JobStoreShape["settleIntent"] = (token, records) =>
    writeNewJobs({ token, records }).pipe(Effect.catchAll(ctx.failed("settleIntent")))

  const intents: JobStoreShape["intents"] = sql<IntentRow>`SELECT token, executor, name, at, record FROM intents
    ORDER BY at, rowid`.pipe(
      Effect.catchAll(ctx.failed("intents")),
      Effect.flatMap(Effect.forEach(intentOf))
    )

  /** Takes over, in one transaction, the intents of `executor` whose owner is gone (as `adopt` judges owners). */
  const adoptIntents: JobStoreShape["adoptIntents"] = (executor) =>
    lock.withPermits(1)(Effect.gen(function*() {
      // Almost always none: then no write lock is taken, and opening a store costs nothing more.
      const any = yield* sql`SELECT 1 FROM intents WHERE executor = ${executor} LIMIT 1`
      if (any.length === 0) return []
      const deadBefore = (yield* Clock.currentTimeMillis) - Duration.toMillis(ownerDeadAfter)
      const rows = yield* ctx.transaction(Effect.gen(function*() {
        yield* ctx.lockFile
        const { alive } = yield* liveOwners(ctx, deadBefore)
        const taken = (yield* sql<IntentRow & { owner: string | null }>`SELECT token, executor, name, at, owner, record
          FROM intents WHERE executor = ${executor} ORDER BY at, rowid`).filter((r) => r.owner === null || !alive.has(r.owner))
        for (const part of chunks(taken.map((r) => r.token), idsPerQuery)) {
          yield* sql`UPDATE intents SET owner = ${me} WHERE ${sql.in("token", part)}`
        }
        return taken
      }))
      return yield* Effect.forEach(rows, intentOf)
    })).pipe(Effect.catchAll((e) => e instanceof StoreError ? Effect.fail(e) : ctx.failed("adoptIntents")(e)))

  return { addIntent, settleIntent, intents, adoptIntents }
}
