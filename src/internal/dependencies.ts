/**
 * Judging dependencies: the records of the jobs a held job depends on (followed to their last
 * attempts), with what a poll just observed, and the verdict on each dependency. The Monitor's
 * gate and the local executor's check at submit use it.
 */
import { Effect, Option } from "effect"
import type { ConfigOptions } from "../Config.js"
import type { Dependency, JobRecord, Observation } from "../Domain.js"
import { isTerminal } from "../Domain.js"
import type { StoreError } from "../Errors.js"
import { JobStore } from "../JobStore.js"
import { planRetry } from "../Retry.js"
import { applyObservation } from "./transition.js"
import { dependencyVerdict, hasDoneChecks } from "./jobRules.js"

/**
 * The records of `jobIds` and of every later attempt of theirs, by id (one store read per
 * generation of attempts): what gating a dependency needs. A failed read gives what was read.
 * `only`: jobs of that executor (a batch scheduler's dependencies are its own jobs); `prefer`:
 * jobs of any executor, that executor's own where two share an id (a local job may wait for a
 * Slurm job the store tracks).
 */
export const withAttempts = (
  scope: { readonly only: string } | { readonly prefer: string },
  jobIds: ReadonlyArray<string>
): Effect.Effect<ReadonlyMap<string, JobRecord>, StoreError, JobStore> =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const records = new Map<string, JobRecord>()
    const preferred = "prefer" in scope ? scope.prefer : undefined
    for (let wanted = [...new Set(jobIds)]; wanted.length > 0;) {
      const found = yield* store.list({ ids: wanted, ...("only" in scope ? { executor: scope.only } : {}) })
      for (const r of found) {
        const seen = records.get(r.jobId)
        if (seen === undefined || (seen.executor !== preferred && r.executor === preferred)) records.set(r.jobId, r)
      }
      wanted = found.flatMap((r) => r.retriedBy !== undefined && !records.has(r.retriedBy) ? [r.retriedBy] : [])
    }
    return records
  })

/**
 * The records with what this poll observed applied (`observed` by id), for deciding
 * dependencies in the same poll that sees a job end: a job seen ending Done whose spec asks for
 * checks counts as still running until the Monitor has recorded their verdict.
 */
export const withObservations = (
  records: ReadonlyMap<string, JobRecord>,
  observed: (jobId: string) => Observation | undefined,
  at: Date
): ReadonlyMap<string, JobRecord> => {
  const out = new Map(records)
  for (const [jobId, record] of records) {
    const o = observed(jobId)
    if (o === undefined) continue
    const next = applyObservation(record, o, at)
    out.set(jobId, next.status === "Done" && record.status !== "Done" && hasDoneChecks(record.spec) ? record : next)
  }
  return out
}

/**
 * How a job another one depends on stands, for deciding that dependency: the status the store
 * holds (after the Monitor's checks of a Done job, which may have made it Failed) of its last
 * attempt, and Pending for a failed job its retry policy will submit again. Undefined: not known.
 */
export const dependencyStatus = (
  jobId: string,
  records: ReadonlyMap<string, JobRecord>,
  options: ConfigOptions
): JobRecord["status"] | undefined => {
  let record = records.get(jobId)
  const seen = new Set<string>()
  while (record?.retriedBy !== undefined && !seen.has(record.retriedBy)) {
    seen.add(record.retriedBy)
    const next = records.get(record.retriedBy)
    // The next attempt exists but was not read: it has not ended as far as this read knows.
    if (next === undefined) return "Pending"
    record = next
  }
  if (record === undefined) return undefined
  return isTerminal(record) && Option.isSome(planRetry(record, options)) ? "Pending" : record.status
}

/** How a job's dependencies stand, judged together (see {@link dependencyStatus}). */
export interface DependencyJudgement {
  /** The dependencies that can never be met (each id once). */
  readonly never: ReadonlyArray<string>
  /** Every dependency is met: the job may start. */
  readonly ready: boolean
  /** The dependencies on jobs the records do not hold (each id once). */
  readonly unknown: ReadonlyArray<string>
}

/** Judges a held job's dependencies against the records of the jobs it depends on. */
export const judgeDependencies = (
  dependsOn: ReadonlyArray<Dependency>,
  records: ReadonlyMap<string, JobRecord>,
  options: ConfigOptions
): DependencyJudgement => {
  const verdicts = dependsOn.map((d) => ({
    jobId: d.jobId,
    verdict: dependencyVerdict(d.type, dependencyStatus(d.jobId, records, options))
  }))
  const ids = (verdict: string) => Array.from(new Set(verdicts.filter((v) => v.verdict === verdict).map((v) => v.jobId)))
  return { never: ids("never"), ready: verdicts.every((v) => v.verdict === "met"), unknown: ids("unknown") }
}
