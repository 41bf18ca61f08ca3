/**
 * The local "scheduler": jobs are processes on this machine. This file holds its pure parts: the
 * script it runs, the wrapper that starts it and the files that wrapper leaves, how a process's
 * end reads as an outcome, and what those files say about a job taken over from another program.
 */
import type { ElementObservation, FailureReason, JobStatus } from "../Domain.js"
import type { ConfigOptions } from "../Config.js"
import type { PreparedJob } from "../Executor.js"
import { renderScript, skipDirectives } from "../internal/script.js"
import { arrayIndexVariable } from "../Scheduler.js"
import { signalOfStatus } from "../internal/signals.js"

/** The environment variable that holds an array element's index in a local array job. */
export { arrayIndexVariable } from "../Scheduler.js"

/** The variables cluster-api gives each local process: its job id, and an element's index. */
export const jobEnvironment = (jobId: string, index: number | undefined): Record<string, string> =>
  index === undefined
    ? { CLUSTER_API_JOB_ID: jobId }
    : { CLUSTER_API_JOB_ID: jobId, [arrayIndexVariable]: String(index) }

/**
 * The line a local script carries when its job must not inherit this process's environment, so a
 * program that takes the job over (and starts it) knows it too.
 */
export const cleanEnvMarker = "# cluster-api local job: inherit_env false"

/** Whether a local job script asks to start from a minimal environment (see `cleanEnvMarker`). */
export const wantsCleanEnv = (script: string): boolean => script.split("\n", 8).includes(cleanEnvMarker)

/** Identity variables a job that inherits no environment still gets, when this process has them. */
export const identityVariables = ["HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR"] as const

/** The PATH of a job that inherits no environment. */
export const cleanPath = "/usr/local/bin:/usr/bin:/bin"

/** The whole environment of a job that inherits none: identity variables from `from`, and a fixed PATH. */
export const cleanEnvironment = (from: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const name of identityVariables) {
    const value = from[name]
    if (value !== undefined) env[name] = value
  }
  env.PATH = cleanPath
  return env
}

/**
 * The script a local job runs: no directives, a comment naming the job (and one saying it inherits
 * no environment), the config's extra lines. Lines holding any of `directives_skip` are left out,
 * the config's extra lines included (never the no-environment line: it is not a directive). A login
 * shell is the shebang's `-l`.
 */
export const renderLocalScript = (job: PreparedJob, options: ConfigOptions): string =>
  renderScript({
    shebang: job.loginShell?.shebang ?? options.shebang,
    header: [
      ...skipDirectives([`# cluster-api local job: ${job.name}`], options.directives_skip),
      ...(job.inheritEnv ? [] : [cleanEnvMarker]),
      ...skipDirectives(options.extra_directives, options.directives_skip)
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

/**
 * The log file one process of a job writes, from the path its record shows. An array's default
 * log name carries the literal `{index}` (see `logFileName`), replaced here by the element's
 * index; a path the job named itself is used as given, as when the job was submitted.
 */
export const processLogPath = (
  recorded: string,
  stream: "stdout" | "stderr",
  jobId: string,
  index?: number
): string => {
  const template = logFileName(stream, jobId, "{index}")
  return index !== undefined && recorded.endsWith(`/${template}`)
    ? `${recorded.slice(0, -template.length)}${logFileName(stream, jobId, index)}`
    : recorded
}

/**
 * The files the wrapper leaves beside a job script (in the script's directory, where the default
 * logs go): `job.{id}.pid` and `job.{id}.exit`, or `job.{id}.{index}.pid` / `.exit` for an array
 * element.
 */
export const statusFileName = (kind: "pid" | "exit", jobId: string, index?: number): string =>
  index === undefined ? `job.${jobId}.${kind}` : `job.${jobId}.${index}.${kind}`

/**
 * The shell text of the wrapper every local job process is started through. It takes its paths as
 * positional parameters (`$1` the pid file, `$2` the exit file, `$3` the job script), so no path
 * is ever parsed as shell. It writes its own pid (it leads the job's process group) to the pid
 * file, runs the script, writes the script's exit status to the exit file, and exits with that
 * status. Both files are written whole: to a temporary file in the same directory, then renamed.
 * A wrapper killed with its group (a cancel, a walltime) writes no exit file.
 */
export const wrapperScript =
  `echo $$ > "$1.tmp" && mv -f "$1.tmp" "$1"; "$3"; s=$?; echo $s > "$2.tmp" && mv -f "$2.tmp" "$2"; exit $s`

/** The argv that starts a job script through the wrapper (`$0` names it in the shell's own messages). */
export const wrapperArgv = (script: string, pidFile: string, exitFile: string): ReadonlyArray<string> => [
  "/bin/sh",
  "-c",
  wrapperScript,
  "cluster-api-job",
  pidFile,
  exitFile,
  script
]

/** Reads the number a pid or exit file holds; undefined unless it is one non-negative integer. */
export const parseStatusFile = (text: string): number | undefined => {
  const t = text.trim()
  return /^\d{1,10}$/.test(t) ? Number(t) : undefined
}

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
