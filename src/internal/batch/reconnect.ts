/**
 * Taking over jobs a batch executor did not submit, or whose submitting program died: jobs of
 * this user found by their name prefix (reconnect), one job by its id (track), and submissions
 * interrupted between their intent and their record (recoverSubmits).
 */
import { Effect, Option } from "effect"
import type { JobRecord, Observation } from "../../Domain.js"
import { isTerminalStatus } from "../../Domain.js"
import { JobNotFound } from "../../Errors.js"
import type { ExecutorShape } from "../../Executor.js"
import * as JobName from "../../JobName.js"
import type { SubmitIntent } from "../../JobStore.js"
import { applyObservation } from "../transition.js"
import type { BatchContext } from "./context.js"
import { answerOf, commandPollError, keyOf, parsed, pollError } from "./context.js"
import { poll } from "./observe.js"
import { submittedRecord } from "./submit.js"

/** Whether what the scheduler shows of a job says it has ended (an array: every element it shows). */
export const hasEnded = (observation: Observation): boolean => {
  const elements = observation.elements ?? []
  if (elements.length > 0) return elements.every((e) => isTerminalStatus(e.status))
  return observation.status !== undefined && isTerminalStatus(observation.status)
}

/**
 * A record for a job this program did not submit, from what the scheduler shows of it: its
 * command is unknown, and an array's range is rebuilt from the elements shown.
 */
export const recordFrom = (
  executor: string,
  jobId: string,
  name: string,
  observation: Observation,
  at: Date,
  metadata?: JobRecord["metadata"]
): JobRecord => {
  const indices = (observation.elements ?? []).map((e) => e.index)
  const base: JobRecord = {
    jobId,
    name,
    command: "",
    executor,
    status: "Pending",
    lastSeen: at,
    metadata: { ...metadata, reconnected: true },
    ...(indices.length === 0 ? {} : { array: { start: Math.min(...indices), end: Math.max(...indices) } })
  }
  return applyObservation(base, observation, at)
}

/**
 * The record of a submission whose program died while submitting and whose job the scheduler
 * does not show: Failed(SubmitFailed), under the submission's token for an id.
 */
export const lostSubmission = (intent: SubmitIntent, at: Date): JobRecord => ({
  ...intent.draft,
  jobId: `unsubmitted-${intent.token}`,
  status: "Failed",
  reason: {
    _tag: "SubmitFailed",
    message:
      `the program ended during the submit and ${intent.executor} has no such job (no job of yours carries its token ${intent.token}; a job that ended long ago may have left the scheduler's memory)`
  },
  finishTime: at,
  lastSeen: at
})


/** The executor's `reconnect`: this user's unfinished jobs carrying the name prefix, recorded. */
export const reconnect = (ctx: BatchContext) =>
  Effect.gen(function*() {
    const { dialect, options, store } = ctx
    const list = dialect.list
    if (list === undefined) return []
    const prefix = options.job_name_prefix
    if (prefix === undefined || prefix.length === 0) {
      return yield* pollError(
        ctx,
        "reconnect finds jobs by their name prefix: set job_name_prefix (it was empty, and every job of yours would match)",
        "Config"
      )
    }
    const invocation = list.command(options, ctx.statusContext)
    const noJobs = list.noJobs
    const answer = yield* answerOf(ctx, invocation, (a) => noJobs?.(a) === true).pipe(
      Effect.mapError((e) => commandPollError(ctx, e))
    )
    // A failed listing only got here by saying there are no jobs.
    const stdout = answer.exitCode === 0 ? answer.stdout : ""
    const listing = stdout.trim() === "" ? [] : yield* parsed(ctx, invocation, list.parse(stdout))
    const tracked = new Set(
      (yield* store.list({ ids: listing.map((l) => l.jobId), executor: dialect.kind })).map((r) => r.jobId)
    )
    const at = yield* ctx.now
    const found: Array<JobRecord> = []
    for (const { jobId, name, observation } of listing) {
      if (!JobName.isOurs(prefix, name) || tracked.has(jobId) || hasEnded(observation)) continue
      if (observation.unreadable !== undefined) {
        yield* Effect.logWarning(
          `${dialect.kind} job ${jobId} not taken over: what ${dialect.kind} says of it is unreadable (${observation.unreadable})`
        )
        continue
      }
      found.push(recordFrom(dialect.kind, jobId, name, observation, at))
    }
    if (found.length > 0) yield* store.insert(found)
    return found
  }).pipe(Effect.withSpan(`${ctx.dialect.kind}.reconnect`))

/**
 * Submissions whose program died between writing the intent and recording the job: the
 * scheduler is asked once (its listing of this user's jobs with their tokens); a job found is
 * recorded from the intent's draft, one not found as Failed(SubmitFailed).
 */
export const recoverSubmits = (ctx: BatchContext) =>
  Effect.gen(function*() {
    const { dialect, options, store } = ctx
    const carrier = dialect.token
    if (carrier === undefined) return []
    const intents = yield* store.adoptIntents(dialect.kind)
    if (intents.length === 0) return []
    const invocation = carrier.command(options, ctx.statusContext)
    const answer = yield* answerOf(ctx, invocation, (a) => carrier.noJobs?.(a) === true).pipe(
      Effect.mapError((e) => commandPollError(ctx, e, "could not look for the jobs of interrupted submissions: "))
    )
    const stdout = answer.exitCode === 0 ? answer.stdout : ""
    const listing = stdout.trim() === "" ? [] : yield* parsed(ctx, invocation, carrier.parse(stdout))
    const byToken = new Map(listing.map((l) => [l.token, l.jobId] as const))
    const known = new Set(
      (yield* store.list({ ids: listing.map((l) => l.jobId), executor: dialect.kind })).map((r) => r.jobId)
    )
    const at = yield* ctx.now
    const recorded: Array<JobRecord> = []
    for (const intent of intents) {
      const jobId = byToken.get(intent.token)
      // A job tracked meanwhile (`cluster-api track ID`) keeps its record.
      if (jobId !== undefined && known.has(jobId)) {
        yield* store.settleIntent(intent.token, [])
        continue
      }
      const record = jobId === undefined ? lostSubmission(intent, at) : submittedRecord(dialect, intent.draft, jobId)
      yield* store.settleIntent(intent.token, [record])
      recorded.push(record)
    }
    const found = recorded.filter((r) => r.status !== "Failed").length
    yield* Effect.logInfo(
      `settled ${intents.length} ${dialect.kind} submission(s) a program left unfinished: ${found} job(s) found, ${recorded.length - found} recorded as failed to submit`
    )
    return recorded
  }).pipe(Effect.withSpan(`${ctx.dialect.kind}.recoverSubmits`))

/** The executor's `track`: a job by its id, recorded from what the scheduler says of it. */
export const track = (ctx: BatchContext): ExecutorShape["track"] =>
  Effect.fn(`${ctx.dialect.kind}.track`)(function*(jobId, trackOptions) {
    const { dialect, store } = ctx
    const known = yield* store.get(keyOf(ctx, jobId))
    if (Option.isSome(known)) return known.value
    // An id: `123`, `123.server`, or a PBS array's `123[].server`.
    if (!/^[\w.-]+(?:\[\])?[\w.-]*$/.test(jobId)) {
      return yield* new JobNotFound({ jobId, hint: "a job id is the number the scheduler printed at submit" })
    }
    const at = yield* ctx.now
    const stub: JobRecord = {
      jobId,
      name: jobId,
      command: "",
      executor: dialect.kind,
      status: "Pending",
      lastSeen: at,
      metadata: {}
    }
    const [observation] = (yield* poll(ctx)([stub])).filter((o) => o.jobId === jobId)
    if (observation === undefined) {
      return yield* new JobNotFound({
        jobId,
        hint: `${dialect.kind} does not know it (any more): check the id, and that it is yours or poll_all_users is set`
      })
    }
    if (observation.unreadable !== undefined) {
      return yield* pollError(
        ctx,
        `what ${dialect.kind} says of job ${jobId} is unreadable (${observation.unreadable}); track it again once it reads`,
        "Unreadable"
      )
    }
    const record = recordFrom(
      dialect.kind,
      jobId,
      trackOptions?.name ?? observation.name ?? jobId,
      observation,
      at,
      trackOptions?.metadata
    )
    yield* store.insert([record])
    return record
  })
