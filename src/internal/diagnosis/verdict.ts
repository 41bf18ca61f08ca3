/**
 * Whether a job that ended Done really succeeded (its expected outputs, its log check), and the
 * poll step that fails those that did not.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import type { ConfigOptions } from "../../Config.js"
import type { FailureReason, JobRecord, Observation } from "../../Domain.js"
import { LogErrors, MissingOutput } from "../../Domain.js"
import { applyObservation } from "../transition.js"
import { expectedOutputs } from "./expected.js"
import { checkLogs } from "./logs.js"
import { verdictLines } from "./scan.js"
import type { Schedulers } from "../../Scheduler.js"
import { hasDoneChecks } from "../jobRules.js"

/**
 * Whether a job that just ended Done really succeeded, judged from the spec it was submitted
 * with: MissingOutput when `expectedOutputs` has patterns matching no file, or only files older
 * than the job (see {@link expectedOutputs}; those are named in its `stale`); else LogErrors (the
 * count and the first 5 lines) when it has a `logCheck` that may fail it (`fail` not false) and
 * its logs hold error lines; else undefined. A record without spec, or a spec asking for neither,
 * is undefined without touching any file.
 */
export const doneVerdict: (
  record: JobRecord,
  options: ConfigOptions
) => Effect.Effect<FailureReason | undefined, never, FileSystem.FileSystem | Path.Path | Schedulers> = Effect.fn(
  "Diagnosis.doneVerdict"
)(function*(record: JobRecord, options: ConfigOptions) {
  const spec = record.spec
  if (spec === undefined) return undefined
  if (spec.expectedOutputs !== undefined && spec.expectedOutputs.length > 0) {
    const { missing, stale } = yield* expectedOutputs(record, spec.expectedOutputs)
    if (missing.length > 0) return MissingOutput.make(stale.length === 0 ? { missing } : { missing, stale })
  }
  if (spec.logCheck !== undefined && spec.logCheck.fail !== false) {
    const found = yield* checkLogs(record, spec.logCheck, options)
    if (found.count > 0) return LogErrors.make({ count: found.count, lines: found.lines.slice(0, verdictLines) })
  }
  return undefined
})

/**
 * What a poll's observations (`seen`, by job id) make of `records`, with the Done checks: each job
 * an observation ends Done whose spec asks for checks (expected outputs, log errors) is checked
 * now, once. Returns the step to apply inside the store's `modify`: the record an observation
 * makes of the current one, Failed by its verdict where its checks fail.
 */
export const observedWithChecks = (
  records: ReadonlyArray<JobRecord>,
  seen: ReadonlyMap<string, Observation>,
  at: Date,
  options: ConfigOptions
) =>
  Effect.gen(function*() {
    const verdicts = new Map<string, FailureReason>()
    for (const record of records) {
      if (!hasDoneChecks(record.spec)) continue
      const o = seen.get(record.jobId)
      if (o === undefined) continue
      const next = applyObservation(record, o, at)
      if (next.status !== "Done") continue
      const verdict = yield* doneVerdict(next, options)
      if (verdict !== undefined) verdicts.set(record.jobId, verdict)
    }
    // Usually no job is failed by its checks: then the step is the observation's alone.
    if (verdicts.size === 0) return (current: JobRecord, o: Observation): JobRecord => applyObservation(current, o, at)
    return (current: JobRecord, o: Observation): JobRecord => {
      const next = applyObservation(current, o, at)
      const verdict = verdicts.get(current.jobId)
      return verdict !== undefined && next.status === "Done" && current.status !== "Done"
        ? { ...next, status: "Failed", reason: verdict }
        : next
    }
  })
