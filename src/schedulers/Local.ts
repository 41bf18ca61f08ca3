/**
 * The local "scheduler": jobs are processes on this machine. This file holds its pure parts: the
 * script it runs and how a process's state reads as an observation.
 */
import type { ElementObservation, FailureReason, JobStatus } from "../Domain.js"
import type { ConfigOptions } from "../Config.js"
import type { PreparedJob } from "../Executor.js"
import { renderScript, skipDirectives } from "../Script.js"

/** The environment variable that holds an array element's index in a local array job. */
export const arrayIndexVariable = "ARRAY_INDEX"

/** The script a local job runs: no directives, a comment naming the job, the config's extra lines. */
export const renderLocalScript = (job: PreparedJob, options: ConfigOptions): string =>
  renderScript({
    shebang: options.shebang,
    header: [
      ...skipDirectives([`# cluster-api local job: ${job.name}`], options.directives_skip),
      ...options.extra_directives
    ],
    env: job.spec.env,
    prologue: [...options.script_prologue, ...(job.spec.prologue ?? [])],
    command: job.spec.command,
    epilogue: [...options.script_epilogue, ...(job.spec.epilogue ?? [])]
  })

/**
 * Default log file names: `stdout.{id}.log`, or `stdout.{id}.{index}.log` for array elements (an
 * array's record shows the literal `{index}` in that place).
 */
export const logFileName = (stream: "stdout" | "stderr", jobId: string, index?: number | "{index}"): string =>
  index === undefined ? `${stream}.${jobId}.log` : `${stream}.${jobId}.${index}.log`

/** One local process as the executor tracks it. */
export type ProcessState =
  | { readonly _tag: "Queued"; readonly queuedAt: Date }
  | { readonly _tag: "Running"; readonly pid: number; readonly startTime: Date; readonly host: string }
  | {
    readonly _tag: "Exited"
    readonly pid: number
    readonly startTime: Date
    readonly finishTime: Date
    readonly host: string
    readonly exitCode?: number | undefined
    readonly signal?: string | undefined
    /** The executor ended it because it ran past its walltime. */
    readonly timedOut: boolean
  }
  | { readonly _tag: "NotStarted"; readonly finishTime: Date; readonly message: string }

/** How a process state reads as an element observation (the index is the caller's). */
export const observe = (state: ProcessState, index = 0): ElementObservation => {
  switch (state._tag) {
    case "Queued":
      return { index, status: "Pending" }
    case "Running":
      return { index, status: "Running", startTime: state.startTime, execHost: state.host }
    case "NotStarted":
      return {
        index,
        status: "Failed",
        reason: { _tag: "SubmitFailed", message: state.message },
        finishTime: state.finishTime
      }
    case "Exited": {
      let status: JobStatus = "Done"
      let reason: FailureReason | undefined
      if (state.timedOut) {
        status = "Failed"
        reason = { _tag: "Timeout" }
      } else if (state.signal !== undefined) {
        status = "Failed"
        reason = { _tag: "Signalled", signal: state.signal }
      } else if (state.exitCode !== 0) {
        status = "Failed"
        reason = { _tag: "NonZeroExit", exitCode: state.exitCode ?? -1 }
      }
      return {
        index,
        status,
        reason,
        exitCode: state.exitCode,
        startTime: state.startTime,
        finishTime: state.finishTime,
        execHost: state.host
      }
    }
  }
}
