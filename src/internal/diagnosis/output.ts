/** A job's stdout or stderr, whole or its last lines, for `logs` and `Diagnosis.readOutput`. */
import type { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either, Option } from "effect"
import type { JobRecord, JobStatus } from "../../Domain.js"
import { isTerminal, isTerminalStatus } from "../../Domain.js"
import { OutputNotFound } from "../../Errors.js"
import { Schedulers } from "../../Scheduler.js"
import { fileSize, readRange, tailStart } from "./tail.js"
import { logPath, statusOf } from "../queries/files.js"

export interface ReadOutputOptions {
  /** Only the last N lines (default: the whole file). */
  readonly tail?: number | undefined
  /** The array element whose output to read (array jobs need one, single jobs take none). */
  readonly index?: number | undefined
}

/** Whether a job, or the element `index` of it, has ended (so its logs will not grow). */
export const endedAt = (record: JobRecord, index: number | undefined): boolean => {
  const status = statusOf(record, index)
  return isTerminal(record) || (status !== undefined && isTerminalStatus(status))
}

const missingProblem = (record: JobRecord, index: number | undefined): string => {
  const status: JobStatus = statusOf(record, index) ?? record.status
  const who = index === undefined ? "the job" : `element ${index}`
  return endedAt(record, index)
    ? `${who} ended ${isTerminalStatus(status) ? status : record.status} and the file is not there: it was never written, or was deleted`
    : `not written yet: ${who} has not ended (it is ${status}); try again once it runs`
}

/**
 * A job's stdout or stderr (of array element `index` for an array job), the last `tail` lines
 * when asked: hpc-runner's `read_stdout(tail=20)` / `read_stderr`. Fails with OutputNotFound when
 * the job has no such log recorded, the index is missing or not one of its elements, or the file
 * is not there (not written yet, or deleted once the job ended).
 */
export const readOutput: (
  record: JobRecord,
  stream: "stdout" | "stderr",
  options?: ReadOutputOptions
) => Effect.Effect<string, OutputNotFound | PlatformError, FileSystem.FileSystem | Schedulers> = Effect.fn(
  "Diagnosis.readOutput"
)(function*(record: JobRecord, stream: "stdout" | "stderr", options: ReadOutputOptions = {}) {
  const { index, tail } = options
  const found = logPath(yield* Schedulers, record, stream, index)
  if (Either.isLeft(found)) return yield* new OutputNotFound({ jobId: record.jobId, stream, problem: found.left })
  const file = found.right
  const size = yield* fileSize(file)
  if (Option.isNone(size)) {
    return yield* new OutputNotFound({ jobId: record.jobId, stream, path: file, problem: missingProblem(record, index) })
  }
  const start = tail === undefined ? 0 : yield* tailStart(file, size.value, Math.max(0, Math.floor(tail)))
  return yield* readRange(file, start, size.value)
})
