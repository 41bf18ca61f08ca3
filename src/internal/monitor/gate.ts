/**
 * The Monitor's gate: held jobs waiting on dependencies their scheduler does not judge (every
 * dependency of a local job; SGE's `-hold_jid` on a job that must end Done) are judged after each
 * tick's store write, from what the job store holds of the jobs they depend on. A job whose
 * dependencies are all met is released (`Executor.release`); one with a dependency that can never
 * be met is given up (`Executor.withdraw`) and recorded Failed(DependencyFailed), naming those
 * dependencies; the others stay held, with one warning for a dependency the store does not hold.
 * `poll` itself never starts, releases or cancels anything.
 */
import { Effect } from "effect"
import type { ConfigOptions } from "../../Config.js"
import type { Dependency, JobRecord, Observation } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import type { ExecutorShape } from "../../Executor.js"
import type { JobChange, JobStoreShape } from "../../JobStore.js"
import { JobStore } from "../../JobStore.js"
import { judgeDependencies, withAttempts, withObservations } from "../dependencies.js"
import { applyObservation } from "../transition.js"

/** A held job and the dependencies the gate judges for it. */
export interface Waiting {
  readonly job: JobRecord
  readonly dependsOn: ReadonlyArray<Dependency>
}

/** What the gate decided for the jobs it judged. */
export interface Verdicts {
  /** Jobs whose gated dependencies are all met. */
  readonly ready: ReadonlyArray<string>
  /** Jobs with a dependency that can never be met, and those dependencies. */
  readonly never: ReadonlyMap<string, ReadonlyArray<string>>
  /** Jobs left held because a dependency names a job the store does not hold, and those ids. */
  readonly unknown: ReadonlyMap<string, ReadonlyArray<string>>
}

/**
 * The jobs among `jobs` the gate judges: not ended, reported held by this tick's poll, with
 * gated dependencies.
 */
export const waitingJobs = (
  executor: Pick<ExecutorShape, "gatedDependencies">,
  jobs: Iterable<JobRecord>,
  seen: ReadonlyMap<string, Observation>
): ReadonlyArray<Waiting> => {
  const out: Array<Waiting> = []
  for (const job of jobs) {
    if (isTerminal(job) || seen.get(job.jobId)?.held !== true) continue
    const dependsOn = executor.gatedDependencies(job)
    if (dependsOn.length > 0) out.push({ job, dependsOn })
  }
  return out
}

/** Judges each waiting job against the records of the jobs it depends on (pure). */
export const judge = (
  waiting: ReadonlyArray<Waiting>,
  records: ReadonlyMap<string, JobRecord>,
  options: ConfigOptions
): Verdicts => {
  const ready: Array<string> = []
  const never = new Map<string, ReadonlyArray<string>>()
  const unknown = new Map<string, ReadonlyArray<string>>()
  for (const { dependsOn, job } of waiting) {
    const judged = judgeDependencies(dependsOn, records, options)
    if (judged.never.length > 0) never.set(job.jobId, judged.never)
    else if (judged.ready) ready.push(job.jobId)
    else if (judged.unknown.length > 0) unknown.set(job.jobId, judged.unknown)
  }
  return { ready, never, unknown }
}

/** An observation of a job whose dependencies `unmet` can never be met: it ended Failed without running. */
export const dependencyFailed = (o: Observation, unmet: ReadonlyArray<string>): Observation => {
  const reason = { _tag: "DependencyFailed" as const, dependencies: unmet }
  return {
    ...o,
    status: "Failed",
    reason,
    held: false,
    ...(o.elements === undefined ? {} : { elements: o.elements.map((e) => ({ ...e, status: "Failed" as const, reason })) })
  }
}

/** The warning for a job left held on a dependency the store does not hold. */
export const unknownWarning = (kind: string, jobId: string, unknown: ReadonlyArray<string>): string =>
  `${kind} job ${jobId} stays held: it depends on ${unknown.join(", ")}, which the job store does not hold (a mistyped id, or a job recorded in another store), so how it ended is unknown; track that job (cluster-api track ID), or cancel job ${jobId} and submit it again depending on jobs this store holds`

/** What one run of the gate did. */
export interface GateReport {
  /** The changes it wrote (jobs recorded Failed(DependencyFailed)). */
  readonly changes: ReadonlyArray<JobChange>
  /** Jobs it warned about now (a dependency the store does not hold). */
  readonly warned: ReadonlyArray<string>
  /** Jobs it gave up (withdrawn). */
  readonly givenUp: ReadonlyArray<string>
}

/** A run that did nothing. */
export const nothing: GateReport = { changes: [], warned: [], givenUp: [] }

/**
 * Runs the gate over `jobs` (the records this tick polled, as the store now holds them), with
 * this tick's observations. `warned` says which jobs were warned about already. A store that
 * cannot be read leaves every job held until the next tick; a release or withdraw that fails is
 * logged and tried again then.
 */
export const run = (args: {
  readonly executor: ExecutorShape
  readonly store: JobStoreShape
  readonly options: ConfigOptions
  readonly jobs: Iterable<JobRecord>
  readonly seen: ReadonlyMap<string, Observation>
  readonly at: Date
  readonly warned: (jobId: string) => boolean
}): Effect.Effect<GateReport> =>
  Effect.gen(function*() {
    const { at, executor, seen, store, warned } = args
    const waiting = waitingJobs(executor, args.jobs, seen)
    if (waiting.length === 0) return nothing
    const targets = Array.from(new Set(waiting.flatMap((w) => w.dependsOn.map((d) => d.jobId))))
    const scope = executor.dependencyLookup === "own" ? { only: executor.kind } : { prefer: executor.kind }
    const read = yield* withAttempts(scope, targets).pipe(
      Effect.provideService(JobStore, store),
      Effect.map((records) => withObservations(records, (id) => seen.get(id), at)),
      Effect.catchAll((e) =>
        Effect.logWarning(
          `could not read the dependencies of held ${executor.kind} jobs (they stay held until the next tick): ${e.message}`
        ).pipe(Effect.as(undefined))
      )
    )
    if (read === undefined) return nothing
    const verdicts = judge(waiting, read, args.options)
    const warnedNow: Array<string> = []
    for (const [jobId, unknown] of verdicts.unknown) {
      if (warned(jobId)) continue
      warnedNow.push(jobId)
      yield* Effect.logWarning(unknownWarning(executor.kind, jobId, unknown))
    }
    if (verdicts.ready.length > 0) {
      yield* executor.release(verdicts.ready).pipe(
        Effect.catchAll((e) => Effect.logWarning(`${e.message} (tried again after the next tick)`))
      )
    }
    if (verdicts.never.size === 0) return { ...nothing, warned: warnedNow }
    const doomed = Array.from(verdicts.never, ([jobId, unmet]) => ({ jobId, unmet }))
    yield* executor.withdraw(doomed).pipe(Effect.catchAll((e) => Effect.logWarning(e.message)))
    const changes = yield* store.modify(
      doomed.map(({ jobId }) => ({ executor: executor.kind, jobId })),
      (current) => {
        const unmet = verdicts.never.get(current.jobId)
        if (unmet === undefined || isTerminal(current)) return current
        return applyObservation(current, dependencyFailed(seen.get(current.jobId) ?? { jobId: current.jobId }, unmet), at)
      }
    ).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning(
          `could not record jobs ${doomed.map((d) => d.jobId).join(", ")} Failed (a dependency can never be met): ${e.message}`
        ).pipe(Effect.as([] as ReadonlyArray<JobChange>))
      )
    )
    return { changes, warned: warnedNow, givenUp: doomed.map((d) => d.jobId) }
  })
