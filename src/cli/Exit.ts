/**
 * How a command ends: its exit code, and the errors that set it (one table from an error's tag).
 */
import { Console, Context, Data, Duration, Effect, Ref } from "effect"

/** The exit code the CLI returns, set by handlers and error reports. */
export class ExitStatus extends Context.Tag("cluster-api/cli/ExitStatus")<ExitStatus, Ref.Ref<number>>() {}

export const setExitCode = (code: number) => Effect.flatMap(ExitStatus, (ref) => Ref.set(ref, code))

/**
 * A wait on local jobs timed out: unlike scheduler jobs, they cannot outlive cluster-api, so they
 * are terminated as it exits (the library's AwaitTimeout says they were left running).
 */
export class LocalAwaitTimeout extends Data.TaggedError("AwaitTimeout")<{
  readonly jobIds: ReadonlyArray<string>
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `Timed out after ${Duration.format(Duration.millis(this.timeoutMillis))} waiting for job(s) ${
      this.jobIds.join(", ")
    } to end; local jobs end with cluster-api, so those still running are terminated now.`
  }
}

/** A command used the wrong way (beyond what option parsing catches). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A job's log file is not there (yet). */
export class LogNotFound extends Data.TaggedError("LogNotFound")<{ readonly message: string }> {}

export const inputErrors: ReadonlySet<string> = new Set([
  "ConfigNotFound",
  "ConfigInvalid",
  "UnknownProfile",
  "InvalidJobSpec",
  "InvalidMemory",
  "InvalidWalltime",
  "SubmitError",
  "JobNotFound",
  "AmbiguousJob",
  "InvalidImport",
  "UsageError",
  "PipelineInvalid",
  "RetryRefused"
])

/** Exit code of a submit the scheduler accepted but the job store could not record: the job runs. */
export const submittedNotRecordedCode = 4

/**
 * 4 for a job submitted but not recorded, 3 for a timed-out wait, 2 for bad usage, config or job
 * input, 1 for anything else.
 */
export const exitCodeFor = (tag: string): number =>
  tag === "SubmittedNotRecorded"
    ? submittedNotRecordedCode
    : tag === "AwaitTimeout"
    ? 3
    : inputErrors.has(tag)
    ? 2
    : 1

export interface Reportable {
  readonly _tag: string
  readonly message: string
}

export const report = (error: Reportable, json: boolean) =>
  Effect.zipRight(
    json
      ? Console.error(JSON.stringify({ error: error._tag, message: error.message }))
      : Console.error(error.message),
    setExitCode(exitCodeFor(error._tag))
  )

