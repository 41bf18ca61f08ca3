/**
 * Every error a user of cluster-api can meet. Each is a Schema.TaggedError so that it can be
 * printed as JSON by the CLI and stored; each `message` says what went wrong and what to fix.
 */
import { Duration, Schema } from "effect"

const showArgv = (argv: ReadonlyArray<string>): string =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")

const tail = (text: string, max = 2000): string => {
  const t = text.trim()
  return t.length > max ? `…${t.slice(t.length - max)}` : t
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

export class CommandTimeout extends Schema.TaggedError<CommandTimeout>("cluster-api/CommandTimeout")(
  "CommandTimeout",
  { argv: Schema.Array(Schema.String), timeoutMillis: Schema.Number, stdout: Schema.String, stderr: Schema.String }
) {
  override get message(): string {
    return `Command timed out after ${Duration.format(Duration.millis(this.timeoutMillis))} and was killed: ${
      showArgv(this.argv)
    }. Raise command_timeout in the config if the scheduler is just slow.`
  }
}

export class CommandFailed extends Schema.TaggedError<CommandFailed>("cluster-api/CommandFailed")(
  "CommandFailed",
  {
    argv: Schema.Array(Schema.String),
    exitCode: Schema.optional(Schema.Int),
    signal: Schema.optional(Schema.String),
    stdout: Schema.String,
    stderr: Schema.String
  }
) {
  override get message(): string {
    const how = this.signal !== undefined ? `was killed by ${this.signal}` : `exited with code ${this.exitCode}`
    const err = tail(this.stderr)
    return `Command ${how}: ${showArgv(this.argv)}${err.length > 0 ? `\nstderr: ${err}` : ""}`
  }
}

export class CommandNotFound extends Schema.TaggedError<CommandNotFound>("cluster-api/CommandNotFound")(
  "CommandNotFound",
  { argv: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `Command not found: ${this.argv[0]}. Is it installed and on PATH? (ran: ${showArgv(this.argv)})`
  }
}

export class CommandSpawnFailed extends Schema.TaggedError<CommandSpawnFailed>("cluster-api/CommandSpawnFailed")(
  "CommandSpawnFailed",
  { argv: Schema.Array(Schema.String), detail: Schema.String }
) {
  override get message(): string {
    return `Could not start ${showArgv(this.argv)}: ${this.detail}`
  }
}

export type CommandError = CommandTimeout | CommandFailed | CommandNotFound | CommandSpawnFailed

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

export class ConfigNotFound extends Schema.TaggedError<ConfigNotFound>("cluster-api/ConfigNotFound")(
  "ConfigNotFound",
  { path: Schema.String, source: Schema.String }
) {
  override get message(): string {
    return `Config file not found: ${this.path} (named by ${this.source}). Fix the path or remove the setting.`
  }
}

export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>("cluster-api/ConfigInvalid")(
  "ConfigInvalid",
  { file: Schema.String, problems: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `Invalid config ${this.file}:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}

export class UnknownProfile extends Schema.TaggedError<UnknownProfile>("cluster-api/UnknownProfile")(
  "UnknownProfile",
  { profile: Schema.String, available: Schema.Array(Schema.String), file: Schema.optional(Schema.String) }
) {
  override get message(): string {
    const where = this.file === undefined ? "no config file was found" : `in ${this.file}`
    return `Unknown profile '${this.profile}' (${where}); available profiles: ${
      this.available.length === 0 ? "(none)" : this.available.join(", ")
    }`
  }
}

// ---------------------------------------------------------------------------------------------
// Job input
// ---------------------------------------------------------------------------------------------

export class InvalidMemory extends Schema.TaggedError<InvalidMemory>("cluster-api/InvalidMemory")(
  "InvalidMemory",
  { input: Schema.String }
) {
  override get message(): string {
    return `Cannot parse memory ${JSON.stringify(this.input)}: write a number and a unit, e.g. "8 GB", "512M", "1.5 GiB", "2TiB" (units B, K, M, G, T, P; KB and KiB both mean 1024 bytes)`
  }
}

export class InvalidWalltime extends Schema.TaggedError<InvalidWalltime>("cluster-api/InvalidWalltime")(
  "InvalidWalltime",
  { input: Schema.String }
) {
  override get message(): string {
    return `Cannot parse walltime ${JSON.stringify(this.input)}: write "HH:MM" (e.g. "04:00" = 4 hours), "H:MM:SS", "D-HH:MM:SS", a number of minutes, or units like "90m", "1h30m", "2d"`
  }
}

/** A job spec that cannot be submitted as written. */
export class InvalidJobSpec extends Schema.TaggedError<InvalidJobSpec>("cluster-api/InvalidJobSpec")(
  "InvalidJobSpec",
  { name: Schema.String, field: Schema.String, problem: Schema.String }
) {
  override get message(): string {
    return `Job '${this.name}': ${this.field} ${this.problem}`
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to the scheduler
// ---------------------------------------------------------------------------------------------

/**
 * Why a submission failed: the scheduler answered and refused the job (`Rejected`: an invalid
 * partition, account or resource request), its submit command timed out (`Timeout`) or could not
 * be run (`Unavailable`), its answer held no job id (`Unreadable`), the script could not be
 * written (`Io`), or the job store could not record the submission first (`Store`).
 */
export const SubmitFailureReason = Schema.Literal("Rejected", "Timeout", "Unavailable", "Unreadable", "Io", "Store")
export type SubmitFailureReason = typeof SubmitFailureReason.Type

export class SubmitError extends Schema.TaggedError<SubmitError>("cluster-api/SubmitError")("SubmitError", {
  name: Schema.String,
  detail: Schema.String,
  scriptPath: Schema.optional(Schema.String),
  reason: Schema.optional(SubmitFailureReason),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `Could not submit job '${this.name}': ${this.detail}${
      this.scriptPath === undefined ? "" : ` (script kept at ${this.scriptPath})`
    }`
  }
}

/**
 * The scheduler accepted a job but the job store could not record it (full disk, file size limit),
 * even after a few tries. The job runs; the submission stays in the store as in flight, so the
 * next program that opens it adopts the job, and `cluster-api track` takes it over now.
 */
export class SubmittedNotRecorded extends Schema.TaggedError<SubmittedNotRecorded>("cluster-api/SubmittedNotRecorded")(
  "SubmittedNotRecorded",
  { executor: Schema.String, jobId: Schema.String, name: Schema.String, cause: Schema.Defect }
) {
  override get message(): string {
    const why = typeof this.cause === "object" && this.cause !== null && "message" in this.cause
      ? String(this.cause.message)
      : String(this.cause)
    return `${this.executor} accepted job '${this.name}' as job ${this.jobId}, which runs, but the job store could not record it (${why}). Free the job store (disk space, file size limit), then run: cluster-api track ${this.jobId} --name '${this.name.replaceAll("'", "'\\''")}'`
  }
}

/**
 * Why job status could not be read: the scheduler's command ran and failed (`Failed`: it exited
 * non-zero, as when its controller cannot be reached), timed out (`Timeout`), could not be run or
 * asked a service that is switched off (`Unavailable`: not installed, not on PATH, accounting
 * disabled), or answered in a form this program cannot read (`Unreadable`); the job store could not
 * be read (`Store`); or the config does not allow it (`Config`: a reconnect with an empty
 * job_name_prefix).
 */
export const PollFailureReason = Schema.Literal("Failed", "Timeout", "Unavailable", "Unreadable", "Store", "Config")
export type PollFailureReason = typeof PollFailureReason.Type

export class PollError extends Schema.TaggedError<PollError>("cluster-api/PollError")("PollError", {
  executor: Schema.String,
  detail: Schema.String,
  reason: PollFailureReason,
  /** The error under this one, as it was (the command's failure, the store's error), when there is one. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    // A config that does not allow the read is not helped by polling again.
    const then = this.reason === "Config" ? "No job was changed." : "No job was changed; the next poll tries again."
    return `Could not read job status from ${this.executor}: ${this.detail}. ${then}`
  }
}

/**
 * Why a cancel failed: the scheduler refused some jobs (`Refused`, each named in the detail: not
 * yours, for one), or its cancel command failed as a whole (`Failed`: it exited non-zero without
 * naming a job, as when its controller cannot be reached), timed out (`Timeout`) or could not be
 * run (`Unavailable`).
 */
export const CancelFailureReason = Schema.Literal("Refused", "Failed", "Timeout", "Unavailable")
export type CancelFailureReason = typeof CancelFailureReason.Type

export class CancelError extends Schema.TaggedError<CancelError>("cluster-api/CancelError")("CancelError", {
  jobId: Schema.String,
  detail: Schema.String,
  reason: CancelFailureReason,
  /** The cancel command's failure, as it was, when there is one. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `Could not cancel job ${this.jobId}: ${this.detail}`
  }
}

/**
 * A held job could not be released (`"release"`), or one whose dependency can never be met could
 * not be given up (`"withdraw"`). The Monitor logs it and tries again after the next tick.
 */
export class HoldError extends Schema.TaggedError<HoldError>("cluster-api/HoldError")("HoldError", {
  executor: Schema.String,
  action: Schema.Literal("release", "withdraw"),
  jobIds: Schema.Array(Schema.String),
  detail: Schema.String,
  reason: CancelFailureReason,
  /** The command's failure, as it was, when there is one. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const what = this.action === "release" ? "release held" : "cancel held"
    const why = this.action === "release" ? "" : " whose dependencies can never be met"
    return `Could not ${what} ${this.executor} job${this.jobIds.length === 1 ? "" : "s"} ${this.jobIds.join(", ")}${why}: ${this.detail}`
  }
}

export class JobNotFound extends Schema.TaggedError<JobNotFound>("cluster-api/JobNotFound")("JobNotFound", {
  jobId: Schema.String,
  hint: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `No job ${this.jobId} is in the job store${this.hint === undefined ? "" : `: ${this.hint}`}`
  }
}

/** A bare job id that jobs of several executors share: name the one meant as `EXECUTOR:ID`. */
export class AmbiguousJob extends Schema.TaggedError<AmbiguousJob>("cluster-api/AmbiguousJob")("AmbiguousJob", {
  jobId: Schema.String,
  executors: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Job id ${this.jobId} is known on ${this.executors.join(" and ")}: say which, as ${
      this.executors.map((e) => `${e}:${this.jobId}`).join(" or ")
    }`
  }
}

export class AwaitTimeout extends Schema.TaggedError<AwaitTimeout>("cluster-api/AwaitTimeout")("AwaitTimeout", {
  jobIds: Schema.Array(Schema.String),
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `Timed out after ${Duration.format(Duration.millis(this.timeoutMillis))} waiting for job(s) ${
      this.jobIds.join(", ")
    } to end; they are still tracked and were not cancelled.`
  }
}

/**
 * Why a job store operation failed, as SQLite (or the store) says: what is true of the store, so
 * that the message can say what to do. Only Corrupt means the file itself is bad.
 */
export const StoreErrorReason = Schema.Literal(
  /** Another program held the store's write lock for longer than the busy timeout. */
  "Busy",
  /** This program may read the store but not write it (file, directory or mount not writable). */
  "ReadOnly",
  /** The disk (or quota) holding the store is full. */
  "Full",
  /** SQLite says the file is damaged or is not a database (SQLITE_CORRUPT, SQLITE_NOTADB). */
  "Corrupt",
  /** The file cannot be opened at all (missing directory, no permission to read it). */
  "CantOpen",
  /** The store was written by a newer cluster-api, or needs an upgrade this program cannot write. */
  "Version",
  /** One stored job cannot be decoded (written by another version, or edited by hand). */
  "Unreadable",
  /** The operating system reported an I/O error. */
  "Io",
  "Unknown"
)
export type StoreErrorReason = typeof StoreErrorReason.Type

export class StoreError extends Schema.TaggedError<StoreError>("cluster-api/StoreError")("StoreError", {
  operation: Schema.String,
  /** What is wrong with the store; "Unknown" when SQLite gave no code this program knows. */
  reason: Schema.optionalWith(StoreErrorReason, { default: () => "Unknown" }),
  /** The specifics: what SQLite said, which programs hold the store, which job is unreadable. */
  detail: Schema.String,
  /** The store's file, when the store is a file. */
  path: Schema.optional(Schema.String),
  /** The error SQLite (or the file system) raised, as it was. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const store = this.path === undefined ? "The job store" : `The job store ${this.path}`
    switch (this.reason) {
      case "Busy":
        return `${store} is busy (${this.operation} waited for it): ${this.detail}. Nothing was lost; try again once that program has finished writing.`
      case "ReadOnly":
        return `${store} is read-only for this program, so ${this.operation} cannot write it (${this.detail}). Reading it still works (list, show, status); to write, run as the user who owns it, or make the file and its directory writable (SQLite creates its -wal and -shm files beside it).`
      case "Full":
        return `${store}: ${this.operation} failed because the disk holding it is full (${this.detail}). Free space there and try again; what was written before is intact.`
      case "Corrupt":
        return `${store} is damaged or is not a cluster-api store (${this.detail}). Move it aside (keep a copy) or point state_path elsewhere.`
      case "CantOpen":
        return `${store} cannot be opened (${this.detail}). Check that its directory exists and that this user may read it (and, to write, write it and its directory), or point state_path elsewhere.`
      case "Io":
        return `${store}: ${this.operation} failed with an I/O error (${this.detail}). Check the disk or network file system it is on, then try again.`
      case "Version":
      case "Unreadable":
        return `${store}: ${this.detail}`
      case "Unknown":
        return `Job store ${this.operation} failed${this.path === undefined ? "" : ` (${this.path})`}: ${this.detail}`
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Moving jobs between stores
// ---------------------------------------------------------------------------------------------

/** A jobs export that cannot be imported: not JSON, not an export, or an export with bad entries. */
export class InvalidImport extends Schema.TaggedError<InvalidImport>("cluster-api/InvalidImport")("InvalidImport", {
  /** Where the document came from (a file name, "stdin"). */
  source: Schema.String,
  /** What is wrong, each starting with where (`jobs[2].record.status: …`). */
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const shown = this.problems.slice(0, 20)
    const more = this.problems.length - shown.length
    return `Cannot import ${this.source}: nothing was imported.\n${shown.map((p) => `  - ${p}`).join("\n")}${
      more > 0 ? `\n  … and ${more} more` : ""
    }\nGive a file written by cluster-api export.`
  }
}

// ---------------------------------------------------------------------------------------------
// Output, retries and pipelines
// ---------------------------------------------------------------------------------------------

/** A job's stdout or stderr cannot be read: none recorded, not written yet, or deleted. */
export class OutputNotFound extends Schema.TaggedError<OutputNotFound>("cluster-api/OutputNotFound")("OutputNotFound", {
  jobId: Schema.String,
  stream: Schema.Literal("stdout", "stderr"),
  /** The file looked for, when the job has one recorded. */
  path: Schema.optional(Schema.String),
  problem: Schema.String
}) {
  override get message(): string {
    return `Job ${this.jobId}: no ${this.stream} to read${this.path === undefined ? "" : ` at ${this.path}`}: ${this.problem}`
  }
}

/** A job cannot be retried as asked (it has not ended, was retried already, or its spec is not known). */
export class RetryRefused extends Schema.TaggedError<RetryRefused>("cluster-api/RetryRefused")("RetryRefused", {
  jobId: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `Cannot retry job ${this.jobId}: ${this.problem}`
  }
}

/** A pipeline that cannot run as written; nothing was submitted. Each problem names its step. */
export class PipelineInvalid extends Schema.TaggedError<PipelineInvalid>("cluster-api/PipelineInvalid")(
  "PipelineInvalid",
  { pipeline: Schema.String, problems: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `Pipeline '${this.pipeline}' cannot run; nothing was submitted:\n${
      this.problems.map((p) => `  - ${p}`).join("\n")
    }`
  }
}
