/**
 * Retries: whether a failed job is submitted again, when, and with what (pure), a job submitted
 * again by hand (`retry`), and the chain of attempts a job belongs to.
 *
 * An attempt is a job of its own, with its own id: the scheduler gives a resubmitted job a new
 * one. The store links each attempt to the one before (`retryOf`) and after (`retriedBy`), and
 * numbers them (`attempt`); the Monitor follows the links, so awaiting or calling back on the
 * first attempt gets the last one's end.
 */
import { Duration, Effect, Either, Option } from "effect"
import type { ConfigOptions } from "./Config.js"
import { ClusterConfig } from "./Config.js"
import type { FailureKind, JobRecord, JobSpec, RetryPolicy } from "./Domain.js"
import { attemptOf, isTerminal } from "./Domain.js"
import { JobNotFound, RetryRefused } from "./Errors.js"
import type { StoreError } from "./Errors.js"
import type { SubmitFailure } from "./Executor.js"
import { Executor } from "./Executor.js"
import { memoryBytesOf, walltimeOf } from "./internal/prepare.js"
import { JobStore } from "./JobStore.js"
import type { JobKey } from "./JobStore.js"
import { formatHMS, memoryInMegabytes } from "./Units.js"

/** What a retry policy retries when it names no kinds: every failure but these. */
export const notRetriedByDefault: ReadonlyArray<FailureKind> = ["Cancelled", "DependencyFailed", "NoArrayElements"]

/** The next attempt of a failed job: its number, how long to wait first, and what to submit. */
export interface RetryPlan {
  readonly attempt: number
  readonly delayMillis: number
  readonly spec: JobSpec
  /** What was raised for this attempt, for people: "memory 8 GiB → 16 GiB". */
  readonly escalated: ReadonlyArray<string>
}

/** How long to wait before attempt `attempt` (2 for the first retry). */
export const backoffMillis = (policy: RetryPolicy, attempt: number): number => {
  const first = (policy.backoffSeconds ?? 0) * 1000
  const wait = first * (policy.backoffFactor ?? 2) ** Math.max(0, attempt - 2)
  const cap = policy.maxBackoffSeconds === undefined ? Infinity : policy.maxBackoffSeconds * 1000
  return Math.min(wait, cap)
}

/** Whether a policy retries a failure of this kind (no reason recorded: a failure the scheduler did not explain). */
export const retriesKind = (policy: RetryPolicy, kind: FailureKind | undefined): boolean => {
  const k = kind ?? "SchedulerFailure"
  return policy.on === undefined ? !notRetriedByDefault.includes(k) : policy.on.includes(k)
}

/**
 * The spec of the next attempt after a failure: memory × `memoryFactor` after OutOfMemory,
 * walltime × `walltimeFactor` after Timeout (from the job's own value, else the config's; a job
 * with neither keeps asking for none). Values are written in MB and H:MM:SS.
 */
export const escalate = (
  spec: JobSpec,
  policy: RetryPolicy,
  kind: FailureKind | undefined,
  options: ConfigOptions
): { readonly spec: JobSpec; readonly escalated: ReadonlyArray<string> } => {
  const resources = { ...spec.resources }
  const escalated: Array<string> = []
  const memory = resources.memory ?? options.memory
  if (kind === "OutOfMemory" && policy.memoryFactor !== undefined && memory !== undefined) {
    const bytes = memoryBytesOf(spec.resources, options)
    if (Either.isRight(bytes) && bytes.right !== undefined) {
      resources.memory = `${memoryInMegabytes(bytes.right * policy.memoryFactor)} MB`
      escalated.push(`memory ${memory} → ${resources.memory}`)
    }
  }
  const walltime = resources.walltime ?? options.walltime
  if (kind === "Timeout" && policy.walltimeFactor !== undefined && walltime !== undefined) {
    const wall = walltimeOf(spec.resources, options)
    if (Either.isRight(wall) && wall.right !== undefined) {
      resources.walltime = formatHMS(Duration.times(wall.right, policy.walltimeFactor))
      escalated.push(`walltime ${walltime} → ${resources.walltime}`)
    }
  }
  return { spec: escalated.length === 0 ? spec : { ...spec, resources }, escalated }
}

/**
 * Whether the Monitor submits a job that just ended again, and how: only a Failed job whose
 * spec has a retry policy with retries left, whose failure is of a kind the policy retries, and
 * that no attempt followed yet.
 */
export const planRetry = (record: JobRecord, options: ConfigOptions): Option.Option<RetryPlan> => {
  const policy = record.spec?.retry
  if (record.status !== "Failed" || record.spec === undefined || policy === undefined) return Option.none()
  if (record.retriedBy !== undefined) return Option.none()
  const attempt = attemptOf(record) + 1
  if (attempt - 1 > policy.maxRetries) return Option.none()
  const kind = record.reason?._tag
  if (!retriesKind(policy, kind)) return Option.none()
  const next = escalate(record.spec, policy, kind, options)
  return Option.some({ attempt, delayMillis: backoffMillis(policy, attempt), ...next })
}

/** The attempts linked from `record` along `link` (`retryOf` back, `retriedBy` on), nearest first. */
const linked = (record: JobRecord, link: "retryOf" | "retriedBy") =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const seen = new Set([record.jobId])
    const found: Array<JobRecord> = []
    let next = record[link]
    while (next !== undefined && !seen.has(next)) {
      seen.add(next)
      const r = yield* store.get({ executor: record.executor, jobId: next })
      if (Option.isNone(r)) break
      found.push(r.value)
      next = r.value[link]
    }
    return found
  })

/** The last attempt of the job `record` is (the job itself when it was never retried). */
export const lastAttemptOf = (record: JobRecord): Effect.Effect<JobRecord, StoreError, JobStore> =>
  Effect.map(linked(record, "retriedBy"), (later) => later.at(-1) ?? record)

const lookup = (key: JobKey) =>
  Effect.flatMap(JobStore, (store) => store.get(key)).pipe(
    Effect.flatMap(Option.match({
      onNone: () =>
        Effect.fail(new JobNotFound({ jobId: key.jobId, hint: `the job store has no ${key.executor} job of that id` })),
      onSome: Effect.succeed
    }))
  )

/** Every attempt of the job `key` is one of, first to last (following `retryOf` and `retriedBy`). */
export const attempts = (
  key: JobKey
): Effect.Effect<ReadonlyArray<JobRecord>, JobNotFound | StoreError, JobStore> =>
  Effect.gen(function*() {
    const record = yield* lookup(key)
    const before = yield* linked(record, "retryOf")
    const after = yield* linked(record, "retriedBy")
    return [...before.reverse(), record, ...after]
  })

/** The last attempt of the job `key` is one of (the job itself when it was never retried). */
export const latestAttempt = (key: JobKey): Effect.Effect<JobRecord, JobNotFound | StoreError, JobStore> =>
  Effect.flatMap(lookup(key), lastAttemptOf)

/**
 * Submits an ended job again, by hand, as its next attempt: the spec it was submitted with
 * (escalated as its retry policy says for the way it failed), linked to it in the store. Refused
 * for a job that has not ended, one already retried (retry its last attempt), and one whose
 * spec is not known (tracked from elsewhere). A retry by hand ignores `maxRetries`. A bare id is a
 * job of this program's executor.
 */
export const retry = (
  job: string | JobKey
): Effect.Effect<JobRecord, RetryRefused | JobNotFound | SubmitFailure, ClusterConfig | Executor | JobStore> =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const { options } = yield* ClusterConfig
    const record = yield* lookup(typeof job === "string" ? { executor: executor.kind, jobId: job } : job)
    const jobId = record.jobId
    if (!isTerminal(record)) {
      return yield* new RetryRefused({ jobId, problem: `it is ${record.status}; wait for it to end, or cancel it first` })
    }
    if (record.retriedBy !== undefined) {
      return yield* new RetryRefused({
        jobId,
        problem: `it was retried already as job ${record.retriedBy}; retry the last attempt instead`
      })
    }
    if (record.spec === undefined) {
      return yield* new RetryRefused({
        jobId,
        problem: "the job store does not hold the spec it was submitted with (it was tracked, not submitted here); submit it anew"
      })
    }
    if (record.executor !== executor.kind) {
      return yield* new RetryRefused({
        jobId,
        problem: `it ran on ${record.executor}, and this program submits to ${executor.kind}; use a config or profile for ${record.executor}`
      })
    }
    const policy = record.spec.retry
    const spec = policy === undefined ? record.spec : escalate(record.spec, policy, record.reason?._tag, options).spec
    return yield* submitAttempt(record, spec, attemptOf(record) + 1)
  })

/**
 * Submits `spec` as attempt `attempt` of the ended job `previous`, and links the two in the
 * store. Returns the new attempt's record.
 */
export const submitAttempt = (
  previous: JobRecord,
  spec: JobSpec,
  attempt: number
): Effect.Effect<JobRecord, SubmitFailure, Executor | JobStore> =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const executor = yield* Executor
    const submitted = yield* executor.submit(spec)
    const link = (r: JobRecord): JobRecord => ({ ...r, attempt, retryOf: previous.jobId })
    yield* store.modify([submitted], link)
    yield* store.modify([previous], (r) => ({ ...r, retriedBy: submitted.jobId }))
    return link(submitted)
  })
