/**
 * The contract between cluster-api and a scheduler: a `Dialect` is a batch scheduler's whole
 * syntax as pure functions (argv and text in, data out), with the few shapes and conventions every
 * scheduler shares; a `Scheduler` describes one scheduler to the rest of cluster-api (its name,
 * capabilities, detection, extra job files, log paths and Executor layer), and `Schedulers` is the
 * list of them a program knows. The executor that runs a dialect is BatchExecutor; a scheduler's
 * dialect files (src/schedulers/NAME/) import only this contract, its index.ts also its executor.
 */
import type { FileSystem, Path } from "@effect/platform"
import type { Either, Option } from "effect"
import { Context, Layer } from "effect"
import type { CommandRunner } from "./CommandRunner.js"
import type { ClusterConfig, ConfigOptions } from "./Config.js"
import type { DetectFacts, Sighting } from "./internal/detect/types.js"
import type { Dependency, JobRecord, Observation } from "./Domain.js"
import type { Capabilities, Executor, PreparedJob } from "./Executor.js"
import type { JobStore } from "./JobStore.js"

/** A job's array index in a log path template, filled in per element (`stdout.{id}.{index}.log`). */
export const indexPlaceholder = "{index}"

/** The variable every element of an array job sees its index in, on every scheduler. */
export const arrayIndexVariable = "ARRAY_INDEX"

/** A job listed by the scheduler with the token of the submission that made it (see JobStore.SubmitIntent). */
export interface TokenListing {
  readonly jobId: string
  readonly token: string
}

/** A command to run: argv, and optionally text for its stdin and extra environment. */
export interface Invocation {
  readonly argv: ReadonlyArray<string>
  readonly stdin?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

/** Where a job's files go, as the dialect writes them into directives. */
export interface JobPaths {
  /** The directory the job runs in. */
  readonly runDir: string
  /** stdout and stderr as the scheduler should expand them (e.g. with `%j`). */
  readonly stdout: string
  readonly stderr: string
}

export interface SubmitRequest {
  readonly job: PreparedJob
  readonly options: ConfigOptions
  readonly scriptPath: string
  readonly script: string
  readonly paths: JobPaths
}

/**
 * The submit command for a written script: `args` then the script's path, or `args` alone with
 * the script on stdin when `use_stdin` (the submit command reads the directives either way).
 */
export const submitScript = (
  args: ReadonlyArray<string>,
  request: Omit<SubmitRequest, "paths">,
  env?: Readonly<Record<string, string>>
): Invocation => ({
  ...(request.options.use_stdin ? { argv: args, stdin: request.script } : { argv: [...args, request.scriptPath] }),
  ...(env === undefined ? {} : { env })
})

/** What a command answered, whatever its exit code. */
export interface CommandAnswer {
  readonly exitCode: number | undefined
  readonly stdout: string
  readonly stderr: string
}

/** A job the cancel command would not cancel, and why. */
export interface CancelRefusal {
  readonly jobId: string
  readonly detail: string
}

/**
 * What a cancel command's answer says, job by job: the ids that had already ended (they keep
 * their true end, which the next poll reads) and those it refused (permission denied, …). Every
 * other id it was given was cancelled.
 */
export interface CancelOutcome {
  readonly ended: ReadonlyArray<string>
  readonly refused: ReadonlyArray<CancelRefusal>
}

/** A job found in the scheduler's queue: its id, its name and what the queue says of it. */
export interface BatchListing {
  readonly jobId: string
  readonly name: string
  readonly observation: Observation
}

/**
 * What a log file name may hold for the stem of its job's script file (`{name}.{n}`), for
 * schedulers that cannot put the job id in a log path (PBS): each job's logs still get names of
 * their own.
 */
export const scriptStemPlaceholder = "{script}"

/** Who runs the commands, for schedulers whose status command lists a user's jobs (`qstat -u`). */
export interface StatusContext {
  readonly user: string
}

/** One scheduler's syntax. Every function is pure. */
export interface Dialect {
  /** The executor's name, written in each record's `executor`. */
  readonly kind: string
  /** Default log file names, with the scheduler's placeholders for the job id (and array index). */
  readonly logFileName: (stream: "stdout" | "stderr", isArray: boolean) => string
  /** Directive lines for the script header, prefixed (`#SBATCH …`); the job's extra directives too. */
  readonly directives: (job: PreparedJob, paths: JobPaths, options: ConfigOptions) => ReadonlyArray<string>
  /**
   * What this scheduler cannot run as asked (SGE numbers array elements from 1), as the field
   * and the problem of an InvalidJobSpec; undefined when the job is fine.
   */
  readonly validate?: ((job: PreparedJob, options: ConfigOptions) => { readonly field: string; readonly problem: string } | undefined) | undefined
  /**
   * Lines the script runs first, before the prologue: what the scheduler leaves to the script
   * (PBS starts jobs in $HOME, so they `cd` to their directory).
   */
  readonly preamble?: ((job: PreparedJob, paths: JobPaths) => ReadonlyArray<string>) | undefined
  /**
   * What this scheduler cannot be given in a path: a character it expands there and has no escape
   * for, or one it reads as a host or a list. `use` says where the path goes: the directory the
   * job runs in (`dir`) or a log file (`log`, also the directory default logs go in). Undefined
   * when the path is fine.
   */
  readonly pathProblem?: ((path: string, use: "dir" | "log") => string | undefined) | undefined
  /** A literal path as a log path must say it, where the scheduler expands patterns (Slurm: `%` as `%%`). */
  readonly escapeLogPath?: ((path: string) => string) | undefined
  /** The submit command for a written script. */
  readonly submit: (request: SubmitRequest) => Invocation
  /** The job id from the submit command's stdout, or what is wrong with the output. */
  readonly parseSubmit: (stdout: string) => Either.Either<string, string>
  /**
   * One status command for the given jobs, naming them; split into several by the command-line
   * limit when they do not fit one and the dialect has no `statusByUser`.
   */
  readonly status: (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions, context: StatusContext) => Invocation
  /**
   * The status command lists every job of the user whatever ids are tracked (`qstat -u`): it is
   * run once per poll, never split by the command-line limit.
   */
  readonly statusListsAll?: boolean | undefined
  /**
   * ONE status command listing this user's jobs (everyone's with `poll_all_users`) instead of
   * naming them, for when the tracked ids do not fit one command line: one call per poll at any
   * number of jobs, where ids would need several (`squeue --me`, `bjobs` narrowed to the tracked
   * jobs' shared name prefix). `jobs` are the tracked jobs. Its answer is read by `parseStatus`
   * (and `statusUsableOnFailure`); observations of jobs not tracked are dropped, and a tracked
   * job the answer leaves out is asked of accounting, as when an answer by id leaves one out.
   * Without it, the ids are split into several commands that each fit.
   */
  readonly statusByUser?: {
    readonly command: (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions, context: StatusContext) => Invocation
    /** Whether an answer (whatever its exit code) only says there are no such jobs: read as none. */
    readonly noJobs?: ((answer: CommandAnswer) => boolean) | undefined
  } | undefined
  /** Observations from the status command's output, or what is wrong with it. */
  readonly parseStatus: (stdout: string) => Either.Either<ReadonlyArray<Observation>, string>
  /** Whether a status command that exited non-zero still printed usable status on stdout. */
  readonly statusUsableOnFailure?: ((exitCode: number | undefined, stdout: string, stderr: string) => boolean) | undefined
  /**
   * Asks the accounting tool about jobs that left the live queue (they are never assumed done),
   * and about array elements the live queue stopped showing.
   */
  readonly accounting?: {
    readonly command: (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions, context: StatusContext) => Invocation
    /**
     * Observations of `jobs` (the ones asked about) from the accounting command's output, read at
     * `now`; a job whose answer is not final yet gets no observation and is asked about again.
     */
    readonly parse: (
      stdout: string,
      jobs: ReadonlyArray<JobRecord>,
      now: Date
    ) => Either.Either<ReadonlyArray<Observation>, string>
    /** Whether a failed answer only says the jobs have no record (yet): read as no observations. */
    readonly noRecord?: ((answer: CommandAnswer) => boolean) | undefined
    /** Whether the answer (successful or not) says the cluster keeps no accounting. */
    readonly unavailable?: ((stdout: string, stderr: string) => boolean) | undefined
    /** What to ask instead when there is no accounting (e.g. the controller's own memory). */
    readonly fallback?: {
      readonly command: (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions) => Invocation
      readonly parse: (stdout: string, jobs: ReadonlyArray<JobRecord>) => Either.Either<ReadonlyArray<Observation>, string>
    } | undefined
  } | undefined
  /**
   * How a job carries the token of its submission (JobStore.SubmitIntent), so that the next
   * program finds a job whose submitter died before recording it: submit arguments giving the job
   * the token, and ONE command listing this user's jobs with the tokens they carry.
   */
  readonly token?: {
    readonly args: (token: string) => ReadonlyArray<string>
    readonly command: (options: ConfigOptions, context: StatusContext) => Invocation
    readonly parse: (stdout: string) => Either.Either<ReadonlyArray<TokenListing>, string>
    /** Whether a list command that exited non-zero only says there are no such jobs. */
    readonly noJobs?: ((answer: CommandAnswer) => boolean) | undefined
  } | undefined
  /** Lists this user's queued jobs, to reconnect to them after a restart. */
  readonly list?: {
    readonly command: (options: ConfigOptions, context: StatusContext) => Invocation
    readonly parse: (stdout: string) => Either.Either<ReadonlyArray<BatchListing>, string>
    /** Whether a list command that exited non-zero only says there are no such jobs. */
    readonly noJobs?: ((answer: CommandAnswer) => boolean) | undefined
  } | undefined
  /**
   * A log path with what is known once the job is submitted (its id, its name) filled in; what
   * differs per array element (its index) stays a placeholder.
   */
  readonly resolveLogPath?: ((template: string, jobId: string, name: string, isArray: boolean) => string) | undefined
  /**
   * The submit command itself asks for a login shell (LSF's `-L`), so the script's shebang stays
   * as configured; otherwise a login shell is the shebang's `-l`.
   */
  readonly loginShellOnSubmit?: boolean | undefined
  /** The variable holding an array element's index in its script (also exported as ARRAY_INDEX). */
  readonly arrayIndexVariable?: string | undefined
  /**
   * Dependencies the scheduler only orders by, whatever the other job's end (SGE's `-hold_jid`):
   * a job with one of these is submitted held, and the Monitor's gate releases it once every
   * dependency is met (`Executor.release`), or cancels it (`Executor.withdraw`) and records it
   * Failed(DependencyFailed) once one never can be.
   */
  readonly gate?: {
    readonly gated: (dependency: Dependency) => boolean
    /** Releases the hold of held jobs (`qrls -h u`). */
    readonly release: (jobIds: ReadonlyArray<string>) => Invocation
  } | undefined
  /**
   * A second question, asked once per job, about jobs the status answer says failed without
   * saying why (SGE's error state `Eqw`: `qstat -j` holds the reason).
   */
  readonly explain?: {
    readonly wanted: (observation: Observation) => boolean
    readonly command: (jobIds: ReadonlyArray<string>) => Invocation
    /** The reason text per job id. */
    readonly parse: (stdout: string) => ReadonlyMap<string, string>
  } | undefined
  /** The cancel command for some jobs. */
  readonly cancel: (jobIds: ReadonlyArray<string>, done: boolean) => Invocation
  /**
   * Reads the cancel command's answer (whatever its exit code) job by job, or says what went
   * wrong with the command as a whole. Without it, a zero exit means every job was cancelled and
   * any other exit is an error.
   */
  readonly cancelOutcome?: ((jobIds: ReadonlyArray<string>, answer: CommandAnswer) => Either.Either<CancelOutcome, string>) | undefined
  /**
   * The scheduler's own cancel by name (LSF's `bkill -J pattern 0`), for a glob over full job
   * names; undefined when the scheduler cannot express this glob, and the tracked jobs that match
   * are cancelled by id instead. `cancelled` reads which job ids the answer says it cancelled.
   */
  readonly cancelByName?: {
    readonly command: (glob: string, done: boolean, options: ConfigOptions, context: StatusContext) => Invocation | undefined
    readonly cancelled: (answer: CommandAnswer) => Either.Either<ReadonlyArray<string>, string>
  } | undefined
}

// ---------------------------------------------------------------------------------------------
// The scheduler descriptor and the registry
// ---------------------------------------------------------------------------------------------

/**
 * How a scheduler's own patterns in a recorded log path read (Slurm's `%a`, `%%`). cluster-api's
 * `{index}` is filled in before `fill` is called.
 */
export interface LogPathRule {
  /** The path with the scheduler's own patterns filled in for element `index` (undefined: a single job). */
  readonly fill: (path: string, index: number | undefined) => string
  /** An array job's path as shown to a person: the scheduler's index pattern written as `{index}`. */
  readonly shown: (path: string) => string
}

export type { Sighting } from "./internal/detect/types.js"

/** What an Executor layer of a scheduler needs. */
export type ExecutorRequirements =
  | ClusterConfig
  | CommandRunner
  | JobStore
  | FileSystem.FileSystem
  | Path.Path

/**
 * One scheduler as cluster-api knows it: its name, what its jobs are like, how `executor: auto`
 * finds it, the files its jobs leave besides their script and logs, how its log paths read, and
 * the layer of its Executor. `schedulers/builtin.ts` lists the built-in ones; a program may add
 * its own to the list it gives ClusterApi.
 */
export interface Scheduler<Name extends string = string> {
  /** The name in each record's `executor` and the config's `executor:`. */
  readonly name: Name
  /** What its jobs are like (the same as its Executor's `capabilities`). */
  readonly capabilities: Capabilities
  /** Whether the facts gathered on this machine show this scheduler. */
  readonly detect?: ((facts: DetectFacts) => Option.Option<Sighting>) | undefined
  /** Files a job leaves besides its script and logs (the local wrapper's pid and exit files), for cleanup. */
  readonly jobFiles?: ((record: JobRecord, path: Pick<Path.Path, "dirname" | "join">) => ReadonlyArray<string>) | undefined
  /** How its own patterns in a log path read; without it, a log path holds only `{index}`. */
  readonly logPath?: LogPathRule | undefined
  /** Its Executor. */
  readonly layer: Layer.Layer<Executor, never, ExecutorRequirements>
}

/** What a batch scheduler's jobs are like (BatchExecutor's capabilities). */
export const batchCapabilities: Capabilities = {
  outlivesProgram: true,
  hostBound: false,
  cheapPoll: false,
  nativeDependencies: true
}

/** The schedulers a program knows, in order of precedence for `executor: auto`. */
export type Registry = ReadonlyArray<Scheduler>

/** The scheduler of this name in the list, if any. */
export const schedulerNamed = (registry: Registry, name: string): Scheduler | undefined =>
  registry.find((s) => s.name === name)

/** The list of schedulers a program knows: what ClusterApi builds executors from. */
export class Schedulers extends Context.Tag("cluster-api/Schedulers")<Schedulers, Registry>() {
  /** A layer of this list of schedulers. */
  static readonly layer = (registry: Registry): Layer.Layer<Schedulers> => Layer.succeed(Schedulers, registry)
}
