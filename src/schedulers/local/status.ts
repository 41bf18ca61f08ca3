/**
 * How a local job process's end reads as an outcome, the states the executor tracks a process in,
 * and what the files beside a job script say about a job taken over from another program.
 */
import type { ElementObservation, FailureReason, JobStatus } from "../../Domain.js"
import { signalOfStatus } from "../../internal/signals.js"

/** How a job process ended, as far as an outcome goes. */
export interface ExitOutcome {
  readonly status: "Done" | "Failed"
  readonly reason?: FailureReason | undefined
  readonly exitCode?: number | undefined
}

/**
 * How a job process's end reads: 0 is Done, another code Failed(NonZeroExit), a signal
 * Failed(Signalled). Used for what this program sees when a wrapper it started ends, and for the
 * status a wrapper recorded in its exit file, so both read alike.
 *
 * The wrapper reports its script's end the way a shell does: a script killed by signal N exits
 * with status 128+N, so 137 reads as SIGKILL and 143 as SIGTERM. A script that itself runs
 * `exit 137` cannot be told apart from one killed by SIGKILL, here as in every shell. Only
 * statuses naming a signal this platform knows read as one; any other code is NonZeroExit.
 */
export const exitOutcome = (
  end: { readonly exitCode?: number | undefined; readonly signal?: string | undefined }
): ExitOutcome => {
  if (end.signal !== undefined) return { status: "Failed", reason: { _tag: "Signalled", signal: end.signal } }
  const code = end.exitCode
  if (code === 0) return { status: "Done", exitCode: 0 }
  if (code === undefined) return { status: "Failed", reason: { _tag: "NonZeroExit", exitCode: -1 } }
  const signal = signalOfStatus(code)
  if (signal !== undefined) return { status: "Failed", reason: { _tag: "Signalled", signal } }
  return { status: "Failed", reason: { _tag: "NonZeroExit", exitCode: code }, exitCode: code }
}

/**
 * One local process as the executor tracks it:
 * - `Held`: not started, and not waiting for a slot either: its job waits for its dependencies
 *   (`dependsOn`) to be met. It becomes `Queued` once they all are.
 * - `Queued`: waiting for a slot (or, for a job taken over, never started: it will be started).
 * - `Running`: started by this program, which waits for its end.
 * - `Watching`: started by another program; this one checks its pid and exit files.
 * - `Exited`: ended, with the status this program saw or the wrapper recorded.
 * - `Vanished`: gone without recording a status (killed with its wrapper, or its files lost).
 * - `NotStarted`: could not be started.
 * - `Withdrawn`: cancelled (by another program sharing the store) before it started.
 * - `Unmet`: never to be started: a dependency of its job can never be met (`dependencies` names them).
 */
export type ProcessState =
  | { readonly _tag: "Held"; readonly heldAt: Date }
  | { readonly _tag: "Queued"; readonly queuedAt: Date }
  | { readonly _tag: "Running"; readonly pid: number; readonly startTime: Date; readonly host: string }
  | { readonly _tag: "Watching"; readonly pid: number; readonly startTime: Date; readonly host: string }
  | {
    readonly _tag: "Exited"
    readonly pid?: number | undefined
    readonly startTime?: Date | undefined
    readonly finishTime: Date
    readonly host: string
    readonly exitCode?: number | undefined
    readonly signal?: string | undefined
    /** The executor ended it because it ran past its walltime. */
    readonly timedOut: boolean
  }
  | {
    readonly _tag: "Vanished"
    readonly lastSeen: Date
    readonly finishTime: Date
    readonly startTime?: Date | undefined
    readonly host?: string | undefined
  }
  | { readonly _tag: "NotStarted"; readonly finishTime: Date; readonly message: string }
  | { readonly _tag: "Withdrawn"; readonly finishTime: Date }
  | { readonly _tag: "Unmet"; readonly finishTime: Date; readonly dependencies: ReadonlyArray<string> }

/** Whether a process in this state has ended (or never will start). */
export const hasEnded = (state: ProcessState): boolean =>
  state._tag === "Exited" || state._tag === "Vanished" || state._tag === "NotStarted" ||
  state._tag === "Withdrawn" || state._tag === "Unmet"

/** How a process state reads as an element observation (the index is the caller's). */
export const observe = (state: ProcessState, index = 0): ElementObservation => {
  switch (state._tag) {
    case "Held":
    case "Queued":
      return { index, status: "Pending" }
    case "Running":
    case "Watching":
      return { index, status: "Running", startTime: state.startTime, execHost: state.host }
    case "NotStarted":
      return {
        index,
        status: "Failed",
        reason: { _tag: "SubmitFailed", message: state.message },
        finishTime: state.finishTime
      }
    case "Withdrawn":
      return { index, status: "Killed", reason: { _tag: "Cancelled" }, finishTime: state.finishTime }
    case "Unmet":
      return {
        index,
        status: "Failed",
        reason: { _tag: "DependencyFailed", dependencies: state.dependencies },
        finishTime: state.finishTime
      }
    case "Vanished":
      return {
        index,
        status: "Failed",
        reason: { _tag: "Vanished", lastSeen: state.lastSeen },
        startTime: state.startTime,
        finishTime: state.finishTime,
        execHost: state.host
      }
    case "Exited": {
      const outcome: ExitOutcome = state.timedOut
        ? { status: "Failed", reason: { _tag: "Timeout" }, exitCode: state.exitCode }
        : exitOutcome(state)
      return {
        index,
        status: outcome.status,
        reason: outcome.reason,
        exitCode: outcome.exitCode,
        startTime: state.startTime,
        finishTime: state.finishTime,
        execHost: state.host
      }
    }
  }
}

/** What the files beside a job script say about one process of a job taken over from another program. */
export interface Findings {
  /** The exit file: the status the wrapper recorded, and when (the file's mtime). */
  readonly exit?: { readonly status: number; readonly at: Date } | undefined
  /**
   * The pid file: the wrapper's pid, when it started (the file's mtime), and whether that process
   * still runs and is the job's (not another process that got the same pid).
   */
  readonly pid?: { readonly pid: number; readonly at: Date; readonly alive: boolean } | undefined
}

/** What the job's record knows of the process (the record's own fields, or its element's). */
export interface RecordedProcess {
  readonly status: JobStatus
  readonly startTime?: Date | undefined
  readonly execHost?: string | undefined
  /** When a program last saw it: the Vanished reason's `lastSeen`. */
  readonly lastSeen: Date
}

/**
 * The state of one process of a job taken over from another program, from its files: an exit file
 * means it ended with that status; a pid file whose process still runs means it is running (watch
 * it); a pid file whose process is gone, with no exit file, means it vanished (its wrapper was
 * killed). With neither file a job the record shows Pending never started (`Queued`: start it
 * now), and one it shows Running vanished.
 */
export const resumedState = (found: Findings, known: RecordedProcess, now: Date, host: string): ProcessState => {
  const startTime = known.startTime ?? found.pid?.at
  const execHost = known.execHost ?? host
  if (found.exit !== undefined) {
    return {
      _tag: "Exited",
      pid: found.pid?.pid,
      startTime,
      finishTime: found.exit.at,
      host: execHost,
      exitCode: found.exit.status,
      timedOut: false
    }
  }
  if (found.pid?.alive === true) {
    return { _tag: "Watching", pid: found.pid.pid, startTime: startTime ?? now, host: execHost }
  }
  if (found.pid === undefined && known.status === "Pending") return { _tag: "Queued", queuedAt: now }
  return {
    _tag: "Vanished",
    lastSeen: known.lastSeen,
    finishTime: now,
    startTime,
    host: found.pid === undefined ? known.execHost : execHost
  }
}
