/**
 * The job model shared by every executor, the store and the monitor.
 *
 * Everything here is a Schema so that records can be printed as JSON by the CLI, stored by a
 * persistent JobStore and decoded back without loss.
 */
import { Schema } from "effect"
import { resourceDefaultFields } from "./internal/resourceFields.js"

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

export const JobStatus = Schema.Literal("Pending", "Running", "Done", "Failed", "Killed", "Unknown")
export type JobStatus = typeof JobStatus.Type

export const terminalStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>(["Done", "Failed", "Killed"])

export const isTerminalStatus = (status: JobStatus): boolean => terminalStatuses.has(status)

// ---------------------------------------------------------------------------------------------
// Why a job did not succeed
// ---------------------------------------------------------------------------------------------

/** The job's command exited with a non-zero code. */
export const NonZeroExit = Schema.TaggedStruct("NonZeroExit", { exitCode: Schema.Int })
/** The job's process was ended by a signal it did not ask for. */
export const Signalled = Schema.TaggedStruct("Signalled", { signal: Schema.String })
/** The job ran past its walltime. */
export const Timeout = Schema.TaggedStruct("Timeout", {})
/** The job used more memory than it asked for. */
export const OutOfMemory = Schema.TaggedStruct("OutOfMemory", {})
/** A node the job ran on failed. */
export const NodeFailure = Schema.TaggedStruct("NodeFailure", {})
/** The scheduler preempted the job for another one. */
export const Preempted = Schema.TaggedStruct("Preempted", {})
/** The job was cancelled, by this library or by someone else (`by` names whom when known). */
export const Cancelled = Schema.TaggedStruct("Cancelled", { by: Schema.optional(Schema.String) })
/** The scheduler stopped reporting the job and nothing said how it ended (zombie timeout). */
export const Vanished = Schema.TaggedStruct("Vanished", { lastSeen: Schema.Date })
/** The job was never accepted by the scheduler. */
export const SubmitFailed = Schema.TaggedStruct("SubmitFailed", { message: Schema.String })
/** A job this one depends on ended in a way that means this one can never run. */
export const DependencyFailed = Schema.TaggedStruct("DependencyFailed", {
  dependencies: Schema.Array(Schema.String)
})
/** One or more elements of an array job failed (their indices). */
export const ElementsFailed = Schema.TaggedStruct("ElementsFailed", { indices: Schema.Array(Schema.Int) })
/**
 * An array job ended with none of its `elements` (how many were asked for) ever reported: the
 * scheduler ran it as one plain job (its array request was not applied) or reported no element.
 */
export const NoArrayElements = Schema.TaggedStruct("NoArrayElements", { elements: Schema.Int })
/** The scheduler reported a failure it gave no more detail about. */
export const SchedulerFailure = Schema.TaggedStruct("SchedulerFailure", { detail: Schema.String })
/**
 * An expected output that is there but was last written before the job ran: left by an earlier
 * run. `file` is the newest file matching `pattern` (as the pattern names it: relative to the work
 * directory when the pattern is), `lastWritten` its modification time, and `since` the time it had
 * to be written at or after: the job's (or its array element's) start, or its submit time when the
 * start is not known (`from` says which).
 */
export const StaleOutput = Schema.Struct({
  pattern: Schema.String,
  file: Schema.String,
  lastWritten: Schema.Date,
  since: Schema.Date,
  from: Schema.Literal("start", "submit")
})
export type StaleOutput = typeof StaleOutput.Type

/**
 * The job's command succeeded but files it was expected to write are not there: the patterns of
 * its `expectedOutputs` that this run did not produce. Those matched only by files older than the
 * job are also in `stale`, which says which files and when they were written.
 */
export const MissingOutput = Schema.TaggedStruct("MissingOutput", {
  missing: Schema.Array(Schema.String),
  stale: Schema.optional(Schema.Array(StaleOutput))
})
/**
 * The job's command succeeded but its logs hold error lines (a `logCheck` pattern matched and no
 * whitelist entry did): how many, and the first few.
 */
export const LogErrors = Schema.TaggedStruct("LogErrors", { count: Schema.Int, lines: Schema.Array(Schema.String) })

export const FailureReason = Schema.Union(
  NonZeroExit,
  Signalled,
  Timeout,
  OutOfMemory,
  NodeFailure,
  Preempted,
  Cancelled,
  Vanished,
  SubmitFailed,
  DependencyFailed,
  ElementsFailed,
  NoArrayElements,
  SchedulerFailure,
  MissingOutput,
  LogErrors
)
export type FailureReason = typeof FailureReason.Type

/** The kinds of failure by name (`FailureReason`'s tags), as a retry policy selects them. */
export const FailureKind = Schema.Literal(
  "NonZeroExit",
  "Signalled",
  "Timeout",
  "OutOfMemory",
  "NodeFailure",
  "Preempted",
  "Cancelled",
  "Vanished",
  "SubmitFailed",
  "DependencyFailed",
  "ElementsFailed",
  "NoArrayElements",
  "SchedulerFailure",
  "MissingOutput",
  "LogErrors"
)
export type FailureKind = typeof FailureKind.Type

/**
 * A stale output in words: "output.fits exists but was last written before the job started (mtime
 * 2026-12-07T09:14:03.120Z, started 2026-12-07T10:02:11.000Z)".
 */
export const describeStaleOutput = (stale: StaleOutput): string => {
  const when = stale.from === "start" ? "started" : "submitted"
  return `${stale.file} exists but was last written before the job ${stale.from === "start" ? "started" : "was submitted"} (mtime ${stale.lastWritten.toISOString()}, ${when} ${stale.since.toISOString()})`
}

/** One line for people: "exit code 3", "out of memory", "cancelled by 1001". */
export const describeReason = (reason: FailureReason): string => {
  switch (reason._tag) {
    case "NonZeroExit":
      return `exit code ${reason.exitCode}`
    case "Signalled":
      return `killed by signal ${reason.signal}`
    case "Timeout":
      return "ran past its walltime"
    case "OutOfMemory":
      return "out of memory"
    case "NodeFailure":
      return "node failure"
    case "Preempted":
      return "preempted"
    case "Cancelled":
      return reason.by === undefined ? "cancelled" : `cancelled by ${reason.by}`
    case "Vanished":
      return `vanished from the scheduler (last seen ${reason.lastSeen.toISOString()})`
    case "SubmitFailed":
      return `submit failed: ${reason.message}`
    case "DependencyFailed":
      return `dependency failed: ${reason.dependencies.join(", ")}`
    case "ElementsFailed":
      return `array elements failed: ${reason.indices.join(", ")}`
    case "NoArrayElements":
      return `the scheduler reported none of its ${reason.elements} array elements: it ran the job as one plain job or not at all (its array request was not applied)`
    case "SchedulerFailure":
      return reason.detail
    case "MissingOutput":
      return `missing output: ${reason.missing.join(", ")}${
        (reason.stale ?? []).map((stale) => `; ${describeStaleOutput(stale)}`).join("")
      }`
    case "LogErrors":
      return `${reason.count} error line${reason.count === 1 ? "" : "s"} in its logs${
        reason.lines.length > 0 ? `, first: ${reason.lines[0]}` : ""
      }`
  }
}

// ---------------------------------------------------------------------------------------------
// What a job asks for
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/**
 * Resources for one job. Every field is optional: what a job leaves out comes from the config.
 * `memory` ("8 GB", "512M", "2TiB") and `walltime` ("04:00", "1:30:00", "2-00:00:00", "90m")
 * are parsed when the job is submitted; a value that cannot be parsed fails the submit with a
 * typed error.
 */
export const ResourceSpec = Schema.Struct({
  ...resourceDefaultFields,
  /** Where the job runs (its current directory). Default: the current directory. */
  workDir: Schema.optional(Schema.String),
  /** Where the job's stdout goes. Default: `stdout.{id}.log` beside the script. */
  stdoutPath: Schema.optional(Schema.String),
  /** Where the job's stderr goes. Default: `stderr.{id}.log` beside the script. */
  stderrPath: Schema.optional(Schema.String),
  /** Scheduler directives without their prefix: `"-P proj"` becomes `#BSUB -P proj`. */
  extraDirectives: Schema.optional(Schema.Array(Schema.String)),
  /** Arguments appended to the submit command line after the config's `extra_args`. */
  extraArgs: Schema.optional(Schema.Array(Schema.String))
})
export type ResourceSpec = typeof ResourceSpec.Type

/** An array job: elements `start..end` (inclusive) stepping by `step`, at most `maxConcurrent` at once. */
export const ArraySpec = Schema.Struct({
  start: NonNegativeInt,
  end: NonNegativeInt,
  step: Schema.optional(PositiveInt),
  maxConcurrent: Schema.optional(PositiveInt)
})
export type ArraySpec = typeof ArraySpec.Type

/** How many elements an array spec covers (counted, not listed). */
export const arraySize = (array: ArraySpec): number =>
  array.end < array.start ? 0 : Math.floor((array.end - array.start) / (array.step ?? 1)) + 1

/** The most elements one array job may have. */
export const maxArraySize = 1_000_000

/** The indices an array spec covers, in order. */
export const arrayIndices = (array: ArraySpec): ReadonlyArray<number> => {
  const out: Array<number> = []
  const step = array.step ?? 1
  for (let i = array.start; i <= array.end; i += step) out.push(i)
  return out
}

/** Renders `1-10`, `1-10:2`, `1-10%3`, `1-10:2%3`. */
export const formatArraySpec = (array: ArraySpec): string =>
  `${array.start}-${array.end}${array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""}${
    array.maxConcurrent !== undefined ? `%${array.maxConcurrent}` : ""
  }`

/**
 * One dependency: this job may start only once `jobId` has ended, and only as `type` says —
 * `afterok` (it succeeded), `afternotok` (it failed) or `afterany` (it ended either way). A
 * dependency that can never be met ends the dependent Failed(DependencyFailed).
 */
export const Dependency = Schema.Struct({
  type: Schema.Literal("afterok", "afternotok", "afterany"),
  jobId: Schema.String
})
export type Dependency = typeof Dependency.Type

const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.positive())

/**
 * When and how a failed job is submitted again (by the Monitor, as a new job: a new attempt).
 * Every attempt stays in the store, linked to the one before (`retryOf`) and after (`retriedBy`).
 */
export const RetryPolicy = Schema.Struct({
  /** How many times a failed job is submitted again (0: never). */
  maxRetries: NonNegativeInt,
  /**
   * Only failures of these kinds are retried. Default: every kind but Cancelled and
   * DependencyFailed (a job someone cancelled, or one that could never run, is not retried).
   */
  on: Schema.optional(Schema.Array(FailureKind)),
  /** Seconds to wait before the first retry (default 0). */
  backoffSeconds: Schema.optional(Schema.Number.pipe(Schema.finite(), Schema.nonNegative())),
  /** Each later retry waits this many times longer than the one before (default 2). */
  backoffFactor: Schema.optional(Schema.Number.pipe(Schema.finite(), Schema.greaterThanOrEqualTo(1))),
  /** The longest wait between attempts, in seconds (default: no bound). */
  maxBackoffSeconds: Schema.optional(PositiveNumber),
  /** After OutOfMemory, the next attempt asks for this many times the memory (e.g. 2). */
  memoryFactor: Schema.optional(PositiveNumber),
  /** After Timeout, the next attempt asks for this many times the walltime (e.g. 1.5). */
  walltimeFactor: Schema.optional(PositiveNumber)
})
export type RetryPolicy = typeof RetryPolicy.Type

/**
 * Scanning a job's stdout and stderr for error lines once it ends Done: a line is an error line
 * when one of `patterns` (regular expressions, case-insensitive) matches it and no `whitelist`
 * entry does. With `fail` (the default) error lines turn the job Failed(LogErrors).
 */
export const LogCheck = Schema.Struct({
  /** Default: the config's `error_patterns`. */
  patterns: Schema.optional(Schema.Array(Schema.String)),
  /** Default: the config's `error_whitelist`. */
  whitelist: Schema.optional(Schema.Array(Schema.String)),
  /**
   * How many words a line must share with a whitelist entry for the entry to match it; an entry
   * of fewer words must have all of them. Default: the config's `whitelist_threshold`.
   */
  threshold: Schema.optional(PositiveInt),
  /** false: only report the error lines (in failure info), never change the job's status. */
  fail: Schema.optional(Schema.Boolean)
})
export type LogCheck = typeof LogCheck.Type

/**
 * Your own data on a job. A key may not be `__proto__`: an object built from it would take it as
 * its prototype rather than keep it (a submit refuses it; a stored record read back drops it).
 */
export const Metadata = Schema.Record({
  key: Schema.String.pipe(Schema.filter((k) => k !== "__proto__", { message: () => `"__proto__" cannot be a metadata key; use another name` })),
  value: Schema.Unknown
})
export type Metadata = typeof Metadata.Type

/** What to run. `command` is a shell command line, run by the script's shell exactly as written. */
export const JobSpec = Schema.Struct({
  command: Schema.String,
  name: Schema.String,
  resources: Schema.optional(ResourceSpec),
  /**
   * Environment variables exported in the job script; names must be shell identifiers, and not
   * `__proto__` (an object built from it would take it as its prototype rather than keep it).
   */
  env: Schema.optional(Schema.Record({
    key: Schema.String.pipe(Schema.filter((k) => k !== "__proto__", { message: () => `"__proto__" cannot be an env name; use another name` })),
    value: Schema.String
  })),
  /** Lines run before the command, after the config's `script_prologue`. */
  prologue: Schema.optional(Schema.Array(Schema.String)),
  /** Lines run after the command, after the config's `script_epilogue`. */
  epilogue: Schema.optional(Schema.Array(Schema.String)),
  metadata: Schema.optional(Metadata),
  array: Schema.optional(ArraySpec),
  /** Jobs (by id) that must end first; all of them must be met. */
  dependsOn: Schema.optional(Schema.Array(Dependency)),
  /**
   * false: the job starts from a minimal environment (identity variables and a fixed PATH) plus
   * its own `env`, not the submitting process's. Default: the config's `inherit_env` (true).
   */
  inheritEnv: Schema.optional(Schema.Boolean),
  /** true: the job script runs in a login shell (profile, modules). Default: the config's `login_shell`. */
  loginShell: Schema.optional(Schema.Boolean),
  /**
   * A template from the config's `templates`: its options are merged under this spec's (the
   * spec's own values win; lists are joined, the template's first; env and metadata merged).
   */
  template: Schema.optional(Schema.String),
  /** When and how the job is submitted again if it fails. */
  retry: Schema.optional(RetryPolicy),
  /**
   * Files the job must leave (globs, relative to its work directory; `{index}` is an array
   * element's index): once it ends Done, a pattern matching no file, or only files last written
   * before the job started (an earlier run's), turns it Failed(MissingOutput).
   */
  expectedOutputs: Schema.optional(Schema.Array(Schema.String)),
  /** Scan the job's logs for error lines once it ends Done (see LogCheck). */
  logCheck: Schema.optional(LogCheck)
})
export type JobSpec = typeof JobSpec.Type

// ---------------------------------------------------------------------------------------------
// What is known about a job
// ---------------------------------------------------------------------------------------------

/** What is known of how a job (or an array element) is doing or ended. */
const outcomeFields = {
  status: JobStatus,
  reason: Schema.optional(FailureReason),
  exitCode: Schema.optional(Schema.Int),
  execHost: Schema.optional(Schema.String),
  /** Peak resident memory in bytes, when the scheduler reports it. */
  maxMem: Schema.optional(Schema.Number),
  submitTime: Schema.optional(Schema.Date),
  startTime: Schema.optional(Schema.Date),
  finishTime: Schema.optional(Schema.Date)
}

export const ArrayElement = Schema.Struct({ index: Schema.Int, ...outcomeFields })
export type ArrayElement = typeof ArrayElement.Type

/** The executors cluster-api knows by name. Records carry any executor's name as a string. */
export const ExecutorKind = Schema.Literal("local", "slurm", "lsf", "sge", "pbs")
export type ExecutorKind = typeof ExecutorKind.Type

export const JobRecord = Schema.Struct({
  jobId: Schema.String,
  /** The name the scheduler knows: `{job_name_prefix}-{name}` with unsafe characters replaced. */
  name: Schema.String,
  command: Schema.String,
  /** The executor that submitted the job ("local", "slurm", …). */
  executor: Schema.String,
  ...outcomeFields,
  /** When the scheduler last reported this job; the zombie timeout counts from here. */
  lastSeen: Schema.Date,
  workDir: Schema.optional(Schema.String),
  scriptPath: Schema.optional(Schema.String),
  stdoutPath: Schema.optional(Schema.String),
  stderrPath: Schema.optional(Schema.String),
  metadata: Metadata,
  array: Schema.optional(ArraySpec),
  dependsOn: Schema.optional(Schema.Array(Dependency)),
  /** Array elements seen so far, by index. */
  elements: Schema.optional(Schema.Array(ArrayElement)),
  /**
   * The spec the job was submitted with (its template merged in): what a retry or a pipeline's
   * re-run submits again. Absent for jobs tracked from elsewhere.
   */
  spec: Schema.optional(JobSpec),
  /** Which attempt this is: 1 for the first submission (also when absent), 2 for the first retry, … */
  attempt: Schema.optional(PositiveInt),
  /** The attempt before this one (the failed job this one retries). */
  retryOf: Schema.optional(Schema.String),
  /** The attempt after this one (the job that retried this failed one). */
  retriedBy: Schema.optional(Schema.String)
})
export type JobRecord = typeof JobRecord.Type

/** Which attempt a record is (1 when it says nothing). */
export const attemptOf = (record: JobRecord): number => record.attempt ?? 1

export const isTerminal = (record: { readonly status: JobStatus }): boolean => isTerminalStatus(record.status)

/** Indices of array elements that ended Failed or Killed. */
export const failedElementIndices = (record: JobRecord): ReadonlyArray<number> =>
  (record.elements ?? []).filter((e) => e.status === "Failed" || e.status === "Killed").map((e) => e.index)

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export const JobSubmitted = Schema.TaggedStruct("JobSubmitted", { record: JobRecord, at: Schema.Date })
export const JobStatusChanged = Schema.TaggedStruct("JobStatusChanged", {
  from: JobStatus,
  to: JobStatus,
  record: JobRecord,
  at: Schema.Date
})
export const ArrayElementChanged = Schema.TaggedStruct("ArrayElementChanged", {
  jobId: Schema.String,
  index: Schema.Int,
  from: Schema.optional(JobStatus),
  to: JobStatus,
  at: Schema.Date
})
export const PollFailed = Schema.TaggedStruct("PollFailed", {
  executor: Schema.String,
  /** The job whose part of the answer was unreadable (the rest of the poll was applied). */
  jobId: Schema.optional(Schema.String),
  message: Schema.String,
  consecutiveFailures: Schema.Int,
  at: Schema.Date
})
export const JobPurged = Schema.TaggedStruct("JobPurged", { jobId: Schema.String, at: Schema.Date })
/**
 * A job failed and will be submitted again as attempt `attempt` after `delayMillis` (its retry
 * policy says so); `escalated` says what the new attempt asks more of ("memory 8 GB → 16384 MB").
 */
export const JobRetrying = Schema.TaggedStruct("JobRetrying", {
  record: JobRecord,
  attempt: Schema.Int,
  delayMillis: Schema.Number,
  escalated: Schema.Array(Schema.String),
  at: Schema.Date
})

export const JobEvent = Schema.Union(
  JobSubmitted,
  JobStatusChanged,
  ArrayElementChanged,
  PollFailed,
  JobPurged,
  JobRetrying
)
export type JobEvent = typeof JobEvent.Type

// ---------------------------------------------------------------------------------------------
// What an executor reports about a job in one poll
// ---------------------------------------------------------------------------------------------

/** One element of an array as seen by one poll. */
export interface ElementObservation {
  readonly index: number
  readonly status: JobStatus
  readonly reason?: FailureReason | undefined
  readonly exitCode?: number | undefined
  readonly execHost?: string | undefined
  readonly maxMem?: number | undefined
  readonly submitTime?: Date | undefined
  readonly startTime?: Date | undefined
  readonly finishTime?: Date | undefined
  /** The scheduler holds it (SGE `hqw`): it will not start until the hold is released. */
  readonly held?: boolean | undefined
}

/**
 * A job as seen by one poll. A job the executor did not see gets no observation at all (it is not
 * "unknown" and never "done"): only the zombie timeout ends a job nobody reports.
 */
export interface Observation {
  readonly jobId: string
  /** The job's name, when the answer says it (it names a job tracked by id alone). */
  readonly name?: string | undefined
  /** The job's own status; for an array parent it may be left out and derived from `elements`. */
  readonly status?: JobStatus | undefined
  readonly reason?: FailureReason | undefined
  readonly exitCode?: number | undefined
  readonly execHost?: string | undefined
  readonly maxMem?: number | undefined
  readonly submitTime?: Date | undefined
  readonly startTime?: Date | undefined
  readonly finishTime?: Date | undefined
  readonly elements?: ReadonlyArray<ElementObservation> | undefined
  /** The scheduler holds it (SGE `hqw`): it will not start until the hold is released. */
  readonly held?: boolean | undefined
  /**
   * What in the answer about this job could not be read: the observation says nothing else, the
   * job is left as it was, and the Monitor reports it.
   */
  readonly unreadable?: string | undefined
}
