/**
 * How a command ends: its exit code, and the errors that set it (one table from an error's tag).
 */
import { Console, Context, Data, Duration, Effect, Ref } from "effect"
import type * as PlatformError from "@effect/platform/Error"
import type * as Errors from "../Errors.js"

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

/**
 * Whatever read the command's output went away (`cluster-api logs ID | head`): the command stops
 * without a word, with 141 as a program killed by SIGPIPE, instead of failing on each write.
 */
export class OutputClosed extends Data.TaggedError("OutputClosed")<{}> {
  override get message(): string {
    return "the reader of the output went away"
  }
}

/** Exit code of a command whose output's reader went away: 128 + SIGPIPE, as a shell reports it. */
export const outputClosedCode = 141

/** Exit code of a submit the scheduler accepted but the job store could not record: the job runs. */
export const submittedNotRecordedCode = 4

/** Every error a command may end with: its tag picks the exit code (`exitCodes`). */
export type CliError =
  | Errors.CommandTimeout
  | Errors.CommandFailed
  | Errors.CommandNotFound
  | Errors.CommandSpawnFailed
  | Errors.ConfigNotFound
  | Errors.ConfigInvalid
  | Errors.UnknownProfile
  | Errors.InvalidMemory
  | Errors.InvalidWalltime
  | Errors.InvalidJobSpec
  | Errors.SubmitError
  | Errors.SubmittedNotRecorded
  | Errors.PollError
  | Errors.CancelError
  | Errors.JobNotFound
  | Errors.AmbiguousJob
  | Errors.AwaitTimeout
  | LocalAwaitTimeout
  | Errors.StoreError
  | Errors.InvalidImport
  | Errors.OutputNotFound
  | Errors.RetryRefused
  | Errors.PipelineInvalid
  | UsageError
  | LogNotFound
  | OutputClosed
  | PlatformError.BadArgument
  | PlatformError.SystemError

/** 2: bad usage, config or job input; 1: an operation on the scheduler, the store or a file failed. */
const input = 2
const failure = 1

/**
 * The exit code of each error, by tag: 4 for a job submitted but not recorded, 3 for a timed-out
 * wait, 2 for bad usage, config or job input (a job the scheduler refused is bad input; one it
 * did not answer about is not; a status read the config does not allow is config), 141 when the
 * output's reader went away, 1 for anything else. An error added to `CliError` without a line here
 * does not compile.
 */
const exitCodes: { readonly [Tag in CliError["_tag"]]: (error: Extract<CliError, { readonly _tag: Tag }>) => number } = {
  CommandTimeout: () => failure,
  CommandFailed: () => failure,
  CommandNotFound: () => failure,
  CommandSpawnFailed: () => failure,
  ConfigNotFound: () => input,
  ConfigInvalid: () => input,
  UnknownProfile: () => input,
  InvalidMemory: () => input,
  InvalidWalltime: () => input,
  InvalidJobSpec: () => input,
  SubmitError: (e) => (e.reason === "Rejected" ? input : failure),
  SubmittedNotRecorded: () => submittedNotRecordedCode,
  PollError: (e) => (e.reason === "Config" ? input : failure),
  CancelError: () => failure,
  JobNotFound: () => input,
  AmbiguousJob: () => input,
  AwaitTimeout: () => 3,
  StoreError: () => failure,
  InvalidImport: () => input,
  OutputNotFound: () => failure,
  RetryRefused: () => input,
  PipelineInvalid: () => input,
  UsageError: () => input,
  LogNotFound: () => failure,
  OutputClosed: () => outputClosedCode,
  // A file or directory a command reads or writes (export --output, import, logs).
  BadArgument: () => failure,
  SystemError: () => failure
}

/** The exit code a command ends with after `error`. */
export const exitCodeOf = (error: CliError): number =>
  (exitCodes[error._tag] as (e: CliError) => number)(error)

/** The exit code of errors of a tag whose code depends on the error: what it is for most of its kind. */
const typicalCodes: { readonly [Tag in CliError["_tag"]]?: number } = { SubmitError: input, PollError: failure }

/** The exit code of an error of this tag (what it is for most of its kind: a refused submit is 2). */
export const exitCodeFor = (tag: CliError["_tag"]): number =>
  typicalCodes[tag] ?? (exitCodes[tag] as (e?: CliError) => number)()

/** An error of a command, printed (as JSON with `--json`) and turned into the exit code. */
export const report = (error: CliError, json: boolean) =>
  Effect.zipRight(
    error._tag === "OutputClosed"
      ? Effect.void
      : json
      ? Console.error(JSON.stringify({ error: error._tag, message: error.message }))
      : Console.error(error.message),
    setExitCode(exitCodeOf(error))
  )

