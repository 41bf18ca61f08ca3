/** Everything known about how a job ended, with the evidence from its logs and outputs. */
import type { FileSystem, Path } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import type { ConfigOptions } from "../../Config.js"
import type { ArrayElement, FailureReason, JobRecord, JobStatus, StaleOutput } from "../../Domain.js"
import { arrayIndices, attemptOf, describeReason, failedElementIndices } from "../../Domain.js"
import { Schedulers } from "../../Scheduler.js"
import { expectedOutputs } from "./expected.js"
import { logFiles, scanFiles, scanSettings } from "./logs.js"
import { readTail } from "./tail.js"
import { logPath } from "../queries/files.js"

/**
 * Everything known about how a job ended, for people and tools (housekeeper's `failure_info`).
 * Plain data: `JSON.stringify` gives a complete document (its dates, a Vanished reason's `lastSeen`
 * and a stale output's times, as ISO strings); fields that do not apply are left out.
 */
export interface FailureInfo {
  readonly jobId: string
  readonly name: string
  readonly status: JobStatus
  readonly attempt: number
  readonly reason?: FailureReason | undefined
  /** The reason in words ("exit code 3", "out of memory"). */
  readonly summary?: string | undefined
  readonly exitCode?: number | undefined
  /** The signal that ended it ("SIGKILL"), from a Signalled reason. */
  readonly signal?: string | undefined
  /**
   * When the scheduler (not the command) ended it: "timeout", "out_of_memory", "node_failure",
   * "preempted", "cancelled" (or "cancelled by {who}"), "vanished" or "scheduler_failure".
   */
  readonly schedulerReason?: string | undefined
  /** An array job's elements that ended Failed or Killed. */
  readonly failedElements?: ReadonlyArray<number> | undefined
  /** For an array job: the element whose logs are shown (the first failed one, else the first). */
  readonly element?: number | undefined
  readonly stdoutPath?: string | undefined
  readonly stderrPath?: string | undefined
  /** The last lines of the log (undefined when the file is not there). */
  readonly stdoutTail?: string | undefined
  readonly stderrTail?: string | undefined
  /** Error lines of the logs (the job's logCheck settings, else the config's): the first 50. */
  readonly errorLines: ReadonlyArray<string>
  /** How many error lines in all. */
  readonly errorCount: number
  /**
   * The spec's expectedOutputs that the job did not produce: matching no file, or only files older
   * than the job (only when it has some).
   */
  readonly missingOutputs?: ReadonlyArray<string> | undefined
  /** Those of `missingOutputs` that only older files match: which files, and when they were written. */
  readonly staleOutputs?: ReadonlyArray<StaleOutput> | undefined
}

export interface FailureInfoOptions {
  /** How many lines of each log to show (default 20). */
  readonly tail?: number | undefined
}

/** A plain word for a failure the scheduler (not the job's command) decided, undefined otherwise. */
export const schedulerReasonOf = (reason: FailureReason | undefined): string | undefined => {
  switch (reason?._tag) {
    case "Timeout":
      return "timeout"
    case "OutOfMemory":
      return "out_of_memory"
    case "NodeFailure":
      return "node_failure"
    case "Preempted":
      return "preempted"
    case "Cancelled":
      return reason.by === undefined ? "cancelled" : `cancelled by ${reason.by}`
    case "Vanished":
      return "vanished"
    case "SchedulerFailure":
      return "scheduler_failure"
    case "NoArrayElements":
      return "no_array_elements"
    default:
      return undefined
  }
}

/** Drops the keys whose value is undefined (so the object prints as it reads). */
const defined = <A extends object>(a: A): A =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as A

/**
 * How a job ended, with the evidence: its reason in words, exit code or signal, what the
 * scheduler said, the last `tail` lines (default 20) of its logs, the error lines in them and the
 * expected outputs that are missing (or stale: only files older than the job match). For an array job the logs are the first failed element's
 * (named in `element`), and `failedElements` lists every failed one. Never fails: what cannot be
 * read is left out.
 */
export const failureInfo: (
  record: JobRecord,
  options: ConfigOptions,
  infoOptions?: FailureInfoOptions
) => Effect.Effect<FailureInfo, never, FileSystem.FileSystem | Path.Path | Schedulers> = Effect.fn("Diagnosis.failureInfo")(
  function*(record: JobRecord, options: ConfigOptions, infoOptions: FailureInfoOptions = {}) {
    const tail = Math.max(0, Math.floor(infoOptions.tail ?? 20))
    const failed = record.array === undefined ? undefined : failedElementIndices(record)
    const element = record.array === undefined ? undefined : failed?.[0] ?? arrayIndices(record.array)[0]
    const elementRecord: ArrayElement | undefined = element === undefined
      ? undefined
      : record.elements?.find((e) => e.index === element)
    // The job's own reason; for an array, its element's where the job's says less.
    const reason = record.reason
    const detail = reason === undefined || reason._tag === "ElementsFailed" ? elementRecord?.reason ?? reason : reason
    const schedulers = yield* Schedulers
    const path = (stream: "stdout" | "stderr") => Either.getOrUndefined(logPath(schedulers, record, stream, element))
    const stdoutPath = path("stdout")
    const stderrPath = path("stderr")
    const tailOf = (file: string | undefined) =>
      file === undefined
        ? Effect.succeed(undefined)
        : readTail(file, tail).pipe(Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
    const settings = yield* scanSettings(record.spec?.logCheck, options)
    const scanned = yield* scanFiles(logFiles(schedulers, record, element), settings)
    const expected = record.spec?.expectedOutputs
    const outputs = expected === undefined ? undefined : yield* expectedOutputs(record, expected)
    const exitCode = record.exitCode ?? (detail?._tag === "NonZeroExit" ? detail.exitCode : elementRecord?.exitCode)
    return defined<FailureInfo>({
      jobId: record.jobId,
      name: record.name,
      status: record.status,
      attempt: attemptOf(record),
      reason,
      summary: reason === undefined ? undefined : describeReason(reason),
      exitCode,
      signal: detail?._tag === "Signalled" ? detail.signal : undefined,
      schedulerReason: schedulerReasonOf(detail),
      failedElements: failed,
      element,
      stdoutPath,
      stderrPath,
      stdoutTail: yield* tailOf(stdoutPath),
      stderrTail: yield* tailOf(stderrPath),
      errorLines: scanned.lines,
      errorCount: scanned.count,
      missingOutputs: outputs?.missing,
      staleOutputs: outputs === undefined || outputs.stale.length === 0 ? undefined : outputs.stale
    })
  }
)
