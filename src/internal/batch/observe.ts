/**
 * A batch executor's poll, read-only: one status command for every tracked job (by id while the
 * ids fit one command line, past it one listing of the user's jobs; split only when the scheduler
 * has no such listing), one more to explain failures the status does not explain, and one
 * accounting command for the jobs that left the live queue (or the scheduler's fallback when the
 * cluster keeps no accounting).
 */
import { Effect, Ref } from "effect"
import type { ConfigOptions } from "../../Config.js"
import type { JobRecord, Observation } from "../../Domain.js"
import { isTerminalStatus } from "../../Domain.js"
import type { ExecutorShape } from "../../Executor.js"
import type { PollError } from "../../Errors.js"
import type { CommandAnswer, Dialect, Invocation, StatusContext } from "../../Scheduler.js"
import type { BatchContext } from "./context.js"
import { answerOf, call, commandPollError, parsed, pollError } from "./context.js"

/**
 * A scheduler that says only that a job's dependency can never be met (not which) gets the job's
 * dependencies named from its record.
 */
export const nameDependencies = (
  jobs: ReadonlyArray<JobRecord>,
  observations: ReadonlyArray<Observation>
): ReadonlyArray<Observation> => {
  // Most polls have no such observation: then no map of the jobs is built and the answer is kept.
  const unnamed = (o: Observation) => o.reason?._tag === "DependencyFailed" && o.reason.dependencies.length === 0
  if (!observations.some(unnamed)) return observations
  const byId = new Map(jobs.map((j) => [j.jobId, j] as const))
  return observations.map((o) => {
    const deps = byId.get(o.jobId)?.dependsOn
    if (o.reason?._tag !== "DependencyFailed" || o.reason.dependencies.length > 0 || deps === undefined) return o
    return { ...o, reason: { _tag: "DependencyFailed", dependencies: deps.map((d) => d.jobId) } }
  })
}

/** Status commands are split so that no argv passes this many characters. */
export const argvBudget = 100_000

/** Splits jobs into groups whose ids fit in one command line. */
export const chunkJobs = (jobs: ReadonlyArray<JobRecord>, budget = argvBudget): Array<Array<JobRecord>> => {
  // The usual case, every id in one command: measured first, then one copy (no push per job).
  let total = 0
  for (let i = 0; i < jobs.length && total <= budget; i++) total += jobs[i]!.jobId.length + 1
  if (total <= budget) return jobs.length === 0 ? [] : [jobs.slice()]
  const chunks: Array<Array<JobRecord>> = []
  let current: Array<JobRecord> = []
  let size = 0
  for (const job of jobs) {
    const cost = job.jobId.length + 1
    if (current.length > 0 && size + cost > budget) {
      chunks.push(current)
      current = []
      size = 0
    }
    current.push(job)
    size += cost
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/**
 * How one poll asks the live queue about `jobs`: every id in one command while they fit the
 * budget; past it, one command listing the user's jobs when the dialect has one
 * (`statusByUser`, or a status command that always lists them all: `statusListsAll`), else the
 * ids split into commands that each fit.
 *
 * The threshold is the budget itself. Within it both forms are one call, and the id form answers
 * for the tracked jobs only, where a listing also carries every other job of the user (other
 * programs, other prefixes, finished jobs the scheduler still shows) for this process to read
 * and drop. Past it the id form costs a second call and more (squeue's filter compares every
 * queued job with every id asked for), while the listing stays one call, for one user
 * (`squeue --me` asks the controller for that user's jobs only).
 */
export type StatusPlan =
  | { readonly _tag: "Ids"; readonly chunks: ReadonlyArray<ReadonlyArray<JobRecord>> }
  | {
    readonly _tag: "Listing"
    readonly invocation: Invocation
    readonly noJobs?: ((answer: CommandAnswer) => boolean) | undefined
  }

export const statusPlan = (
  dialect: Dialect,
  jobs: ReadonlyArray<JobRecord>,
  options: ConfigOptions,
  context: StatusContext,
  budget = argvBudget
): StatusPlan => {
  if (dialect.statusListsAll === true) return { _tag: "Listing", invocation: dialect.status(jobs, options, context) }
  const chunks = chunkJobs(jobs, budget)
  const byUser = dialect.statusByUser
  if (chunks.length <= 1 || byUser === undefined) return { _tag: "Ids", chunks }
  return { _tag: "Listing", invocation: byUser.command(jobs, options, context), noJobs: byUser.noJobs }
}

/**
 * The observations of tracked jobs only: a listing of the user's jobs also shows jobs this
 * executor does not track, which are none of its business.
 */
export const trackedOnly = (
  jobs: ReadonlyArray<JobRecord>,
  observations: ReadonlyArray<Observation>
): ReadonlyArray<Observation> => {
  const tracked = new Set<string>()
  for (const j of jobs) tracked.add(j.jobId)
  return observations.filter((o) => tracked.has(o.jobId))
}

/**
 * Whether a job needs the accounting tool: the live queue did not show it, or it is an array
 * whose known unfinished elements the live queue no longer shows (they ended since).
 */
export const needsAccounting = (record: JobRecord, live: Observation | undefined): boolean => {
  if (live === undefined) return true
  if (record.array === undefined || record.elements === undefined) return false
  const shown = new Set((live.elements ?? []).map((e) => e.index))
  return record.elements.some((e) => !isTerminalStatus(e.status) && !shown.has(e.index))
}

/**
 * One observation per job: where the live queue and the accounting tool both spoke of an array,
 * its elements are merged, the live queue's word winning for an element both mention.
 */
export const mergeObservations = (
  live: ReadonlyArray<Observation>,
  later: ReadonlyArray<Observation>
): ReadonlyArray<Observation> => {
  const byId = new Map(live.map((o) => [o.jobId, o] as const))
  for (const o of later) {
    const current = byId.get(o.jobId)
    if (current === undefined) {
      byId.set(o.jobId, o)
      continue
    }
    const elements = new Map((o.elements ?? []).map((e) => [e.index, e] as const))
    for (const e of current.elements ?? []) elements.set(e.index, e)
    byId.set(o.jobId, {
      ...current,
      elements: Array.from(elements.values()).sort((a, b) => a.index - b.index),
      // What either answer could not read about the job keeps it unread.
      ...(o.unreadable !== undefined ? { unreadable: o.unreadable } : {})
    })
  }
  return Array.from(byId.values())
}

/** Runs one status command and reads its answer (`noJobs`: an answer that only says there are none). */
const runStatusCommand = (
  ctx: BatchContext,
  invocation: Invocation,
  noJobs?: (answer: CommandAnswer) => boolean
): Effect.Effect<ReadonlyArray<Observation>, PollError> => {
  const { dialect } = ctx
  const usable = dialect.statusUsableOnFailure
  const none = (a: CommandAnswer) => noJobs?.(a) === true
  return answerOf(ctx, invocation, (a) => none(a) || usable?.(a.exitCode, a.stdout, a.stderr) === true).pipe(
    Effect.mapError((e) => commandPollError(ctx, e)),
    Effect.flatMap((answer) => none(answer) ? Effect.succeed([]) : parsed(ctx, invocation, dialect.parseStatus(answer.stdout)))
  )
}

/** What the live queue says of `jobs`, asked as `statusPlan` says: observations of tracked jobs only. */
const runStatus = (ctx: BatchContext, jobs: ReadonlyArray<JobRecord>) => {
  const { dialect, options, statusContext } = ctx
  const plan = statusPlan(dialect, jobs, options, statusContext)
  if (plan._tag === "Listing") {
    return Effect.map(runStatusCommand(ctx, plan.invocation, plan.noJobs), (observations) => trackedOnly(jobs, observations))
  }
  return Effect.map(
    Effect.forEach(plan.chunks, (chunk) => runStatusCommand(ctx, dialect.status(chunk, options, statusContext))),
    (answers) => answers.flat()
  )
}

const runAccounting = (
  ctx: BatchContext,
  accounting: NonNullable<Dialect["accounting"]>,
  jobs: ReadonlyArray<JobRecord>
) =>
  Effect.gen(function*() {
    const invocation = accounting.command(jobs, ctx.options, ctx.statusContext)
    const answer = yield* call(ctx, invocation).pipe(
      Effect.map((r) => ({ failure: undefined, stdout: r.stdout, stderr: r.stderr })),
      Effect.catchTag("CommandFailed", (e) => Effect.succeed({ failure: e, stdout: e.stdout, stderr: e.stderr })),
      Effect.mapError((e) => commandPollError(ctx, e))
    )
    const fallback = accounting.fallback
    if (accounting.unavailable?.(answer.stdout, answer.stderr) === true) {
      if (fallback === undefined) {
        return yield* pollError(
          ctx,
          `${invocation.argv[0]} says accounting is disabled: ${answer.stderr.trim()}`,
          "Unavailable",
          answer.failure
        )
      }
      return { unavailable: true as const }
    }
    if (answer.failure !== undefined) {
      const failed: CommandAnswer = { exitCode: answer.failure.exitCode, stdout: answer.stdout, stderr: answer.stderr }
      if (accounting.noRecord?.(failed) !== true) return yield* commandPollError(ctx, answer.failure)
      return { unavailable: false as const, observations: [] }
    }
    const at = yield* ctx.now
    return {
      unavailable: false as const,
      observations: yield* parsed(ctx, invocation, accounting.parse(answer.stdout, jobs, at))
    }
  })

/**
 * Tracked jobs the status answer says failed without saying why get the scheduler's reason,
 * from one more command (asked once: the job is then recorded Failed and no longer polled).
 */
const explained = (ctx: BatchContext, jobs: ReadonlyArray<JobRecord>, observations: ReadonlyArray<Observation>) =>
  Effect.gen(function*() {
    const explain = ctx.dialect.explain
    if (explain === undefined) return observations
    const asked = observations.filter((o) => explain.wanted(o))
    if (asked.length === 0) return observations
    const tracked = new Set(jobs.map((j) => j.jobId))
    const wanted = asked.filter((o) => tracked.has(o.jobId)).map((o) => o.jobId)
    if (wanted.length === 0) return observations
    const invocation = explain.command(wanted)
    const reasons = yield* answerOf(ctx, invocation, (a) => a.stdout.trim() !== "").pipe(
      Effect.map((a) => explain.parse(a.stdout)),
      Effect.catchAll((e) =>
        Effect.logWarning(`${invocation.argv[0]} could not say why jobs ${wanted.join(", ")} failed: ${e.message}`).pipe(
          Effect.as(new Map<string, string>())
        )
      )
    )
    return observations.map((o) => {
      const why = reasons.get(o.jobId)
      if (why === undefined || o.reason?._tag !== "SchedulerFailure") return o
      return { ...o, reason: { _tag: "SchedulerFailure" as const, detail: `${o.reason.detail}: ${why}` } }
    })
  })

const observe = (ctx: BatchContext, jobs: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    if (jobs.length === 0) return []
    const { dialect, options } = ctx
    const live = yield* explained(ctx, jobs, yield* runStatus(ctx, jobs))
    const accounting = dialect.accounting
    if (accounting === undefined) return live
    const seen = new Map(live.map((o) => [o.jobId, o] as const))
    const missing = jobs.filter((j) => needsAccounting(j, seen.get(j.jobId)))
    if (missing.length === 0) return live
    const answers = yield* Effect.forEach(chunkJobs(missing), (chunk) => runAccounting(ctx, accounting, chunk))
    const later: Array<Observation> = []
    let unavailable = false
    for (const a of answers) {
      if (a.unavailable) unavailable = true
      else later.push(...a.observations)
    }
    if (unavailable && accounting.fallback !== undefined) {
      if (!(yield* Ref.getAndSet(ctx.warnedUnavailable, true))) {
        yield* Effect.logWarning(
          `${dialect.kind}: the cluster keeps no accounting; jobs that left the queue are read from the controller while it still holds them`
        )
      }
      const answered = new Set(later.map((o) => o.jobId))
      const rest = missing.filter((j) => !answered.has(j.jobId))
      const invocation = accounting.fallback.command(rest, options)
      const result = yield* call(ctx, invocation).pipe(Effect.mapError((e) => commandPollError(ctx, e)))
      later.push(...(yield* parsed(ctx, invocation, accounting.fallback.parse(result.stdout, rest))))
    }
    return mergeObservations(live, later)
  }).pipe(Effect.withSpan(`${ctx.dialect.kind}.poll`))

/** The executor's `poll`: what the scheduler says of `jobs`, changing nothing. */
export const poll = (ctx: BatchContext): ExecutorShape["poll"] => (jobs) =>
  observe(ctx, jobs).pipe(Effect.map((observations) => nameDependencies(jobs, observations)))
