/**
 * A batch executor's cancels, written through the JobStore: by id, by name (the scheduler's own
 * cancel by name when it has one), all of this program's jobs; and what the Monitor's gate asks
 * of held jobs: release them, or withdraw (cancel) those whose dependencies can never be met.
 */
import { Effect, Either, Option } from "effect"
import type { JobRecord } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import { CancelError, HoldError, JobNotFound } from "../../Errors.js"
import type { CommandError } from "../../Errors.js"
import type { CancelOptions, ExecutorShape } from "../../Executor.js"
import * as JobName from "../../JobName.js"
import type { CancelOutcome, CancelRefusal, Dialect, Invocation } from "../../Scheduler.js"
import { cancelled } from "../transition.js"
import type { BatchContext } from "./context.js"
import { answerOf, call, commandCancelError, commandFailureReason, keyOf } from "./context.js"

/** Records the given jobs as cancelled (Killed, or Done with `done`). */
const recordCancelled = (ctx: BatchContext, ids: ReadonlyArray<string>, cancelOptions?: CancelOptions) =>
  Effect.gen(function*() {
    if (ids.length === 0) return []
    const at = yield* ctx.now
    const changes = yield* ctx.store.modify(
      ids.map((id) => keyOf(ctx, id)),
      (r) => cancelled(r, at, cancelOptions?.done === true)
    )
    return changes.map((c) => c.after)
  })

/**
 * Cancels jobs by id in one command. Each job the scheduler cancelled is recorded so; one that
 * had already ended keeps its true end (the next poll reads it). Jobs the scheduler refused are
 * reported with the jobs that were cancelled, so one refusal never loses the others' ends.
 */
const cancelJobs = (ctx: BatchContext, records: ReadonlyArray<JobRecord>, cancelOptions?: CancelOptions) =>
  Effect.gen(function*() {
    const { dialect } = ctx
    const open = records.filter((r) => !isTerminal(r))
    if (open.length === 0) return { changed: [], refused: [] }
    const ids = open.map((r) => r.jobId)
    const answer = yield* answerOf(
      ctx,
      dialect.cancel(ids, cancelOptions?.done === true),
      () => dialect.cancelOutcome !== undefined
    ).pipe(Effect.mapError((e) => commandCancelError(ids.join(","), e)))
    const outcome = dialect.cancelOutcome?.(ids, answer) ?? Either.right<CancelOutcome>({ ended: [], refused: [] })
    if (Either.isLeft(outcome)) {
      return yield* new CancelError({ jobId: ids.join(","), detail: outcome.left, reason: "Failed", cause: answer.failure })
    }
    const { ended, refused } = outcome.right
    const untouched = new Set([...ended, ...refused.map((r) => r.jobId)])
    const changed = yield* recordCancelled(ctx, ids.filter((id) => !untouched.has(id)), cancelOptions)
    return { changed, refused }
  })

/** The refusals as one error, after the cancelled jobs were recorded. */
const refusalError = (refused: ReadonlyArray<CancelRefusal>) =>
  new CancelError({
    jobId: refused.map((r) => r.jobId).join(","),
    detail: refused.map((r) => `job ${r.jobId}: ${r.detail}`).join("; "),
    reason: "Refused"
  })

/** The scheduler's own cancel by name, reaching every job of this user whose name matches. */
const cancelNamed = (
  ctx: BatchContext,
  byName: NonNullable<Dialect["cancelByName"]>,
  invocation: Invocation,
  tracked: ReadonlyArray<JobRecord>,
  cancelOptions?: CancelOptions
) =>
  Effect.gen(function*() {
    const jobId = invocation.argv.join(" ")
    const answer = yield* answerOf(ctx, invocation, () => true).pipe(
      Effect.mapError((e) => commandCancelError(jobId, e))
    )
    const ids = byName.cancelled(answer)
    if (Either.isLeft(ids)) {
      return yield* new CancelError({ jobId, detail: ids.left, reason: "Failed", cause: answer.failure })
    }
    // Tracked jobs the command did not name had already ended: they keep their true end.
    const named = new Set(ids.right)
    return yield* recordCancelled(ctx, tracked.filter((r) => named.has(r.jobId)).map((r) => r.jobId), cancelOptions)
  })

/** The executor's `cancel`: one span per call, named after the scheduler. */
export const cancel = (ctx: BatchContext) =>
  Effect.fn(`${ctx.dialect.kind}.cancel`)(function*(jobId: string, cancelOptions?: CancelOptions) {
    const found = yield* ctx.store.get(keyOf(ctx, jobId))
    if (Option.isNone(found)) return yield* new JobNotFound({ jobId })
    const { changed, refused } = yield* cancelJobs(ctx, [found.value], cancelOptions)
    if (refused.length > 0) return yield* refusalError(refused)
    if (changed[0] !== undefined) return changed[0]
    return Option.getOrElse(yield* ctx.store.get(found.value), () => found.value)
  })

/** This scheduler's active jobs, as the store knows them. */
const mine = (ctx: BatchContext) => ctx.store.list({ active: true, executor: ctx.dialect.kind })

export const cancelByName = (ctx: BatchContext): ExecutorShape["cancelByName"] => (pattern, cancelOptions) =>
  Effect.gen(function*() {
    const { dialect, options } = ctx
    const active = yield* mine(ctx)
    const matches = JobName.matcher(options.job_name_prefix, pattern)
    const matching = active.filter((r) => matches(r.name))
    const byName = dialect.cancelByName
    const invocation = byName?.command(
      JobName.withPrefix(options.job_name_prefix, pattern),
      cancelOptions?.done === true,
      options,
      ctx.statusContext
    )
    if (byName !== undefined && invocation !== undefined) {
      return yield* cancelNamed(ctx, byName, invocation, active, cancelOptions)
    }
    const { changed, refused } = yield* cancelJobs(ctx, matching, cancelOptions)
    if (refused.length > 0) {
      yield* Effect.logWarning(`${refusalError(refused).message}; the other matching jobs were cancelled`)
      return yield* refusalError(refused)
    }
    return changed
  })

export const cancelAll = (ctx: BatchContext): ExecutorShape["cancelAll"] => (cancelOptions) =>
  Effect.gen(function*() {
    const { changed, refused } = yield* cancelJobs(ctx, yield* mine(ctx), cancelOptions).pipe(
      Effect.catchTag("CancelError", (e) => Effect.logWarning(e.message).pipe(Effect.as({ changed: [], refused: [] })))
    )
    if (refused.length > 0) yield* Effect.logWarning(refusalError(refused).message)
    return changed
  })

/** A HoldError for a release or withdraw command that failed, timed out or could not be run. */
const holdError = (ctx: BatchContext, action: "release" | "withdraw", jobIds: ReadonlyArray<string>) =>
(e: CommandError) =>
  new HoldError({
    executor: ctx.dialect.kind,
    action,
    jobIds,
    detail: e.message,
    reason: commandFailureReason(e),
    cause: e
  })

/** Dependencies the scheduler only orders by (see `Dialect.gate`), left to the Monitor's gate. */
export const gatedDependencies = (ctx: BatchContext): ExecutorShape["gatedDependencies"] => (job) => {
  const gate = ctx.dialect.gate
  return gate === undefined ? [] : (job.dependsOn ?? []).filter(gate.gated)
}

export const release = (ctx: BatchContext): ExecutorShape["release"] => (jobIds) => {
  const gate = ctx.dialect.gate
  if (gate === undefined || jobIds.length === 0) return Effect.void
  return call(ctx, gate.release(jobIds)).pipe(Effect.asVoid, Effect.mapError(holdError(ctx, "release", jobIds)))
}

/** Held jobs whose dependencies can never be met are cancelled at the scheduler. */
export const withdraw = (ctx: BatchContext): ExecutorShape["withdraw"] => (jobs) => {
  const ids = jobs.map((j) => j.jobId)
  if (ids.length === 0) return Effect.void
  return answerOf(ctx, ctx.dialect.cancel(ids, false), () => true).pipe(
    Effect.asVoid,
    Effect.mapError(holdError(ctx, "withdraw", ids))
  )
}
