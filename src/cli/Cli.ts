/**
 * The `cluster-api` command line: submit jobs, watch them, cancel them, look through and tidy the
 * job store (list, show, logs, export, import, cleanup), show the config, and a demo on the local
 * executor. Built with @effect/cli; `run(argv)` returns the process exit code:
 *
 *   0  every job waited for ended Done (or nothing was waited for)
 *   1  a job waited for (or followed by `logs --follow`) ended Failed or Killed; an operation on
 *      the scheduler or the store failed; a log is missing; `cleanup` left a named job or a file
 *   2  bad usage, bad config, bad job input, an unknown job id, or a file `import` cannot read
 *   3  a wait timed out
 *
 * Each subcommand attaches the services it needs itself (`Command.provide`), so `--help` works
 * even when the config file is broken. Commands that only read or tidy the store (list, show,
 * logs, export, import, cleanup) get the config and the store alone: they never start a Monitor,
 * so they neither poll the scheduler nor take over jobs another program left behind.
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import {
  Cause,
  Clock,
  Console,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  Layer,
  Logger,
  Option,
  Ref,
  Schedule,
  Schema
} from "effect"
import { inspect } from "node:util"
import * as ClusterApi from "../ClusterApi.js"
import { availableExecutors, ClusterConfig, inMemoryState, renderConfig, resolveStatePath } from "../Config.js"
import type { Dependency, FailureKind, JobRecord, JobSpec, JobStatus, ResourceSpec } from "../Domain.js"
import {
  describeReason,
  FailureKind as FailureKindSchema,
  failedElementIndices,
  isTerminal,
  isTerminalStatus,
  JobRecord as JobRecordSchema,
  JobStatus as JobStatusSchema
} from "../Domain.js"
import { InvalidImport, JobNotFound } from "../Errors.js"
import { Executor } from "../Executor.js"
import * as JobQueries from "../JobQueries.js"
import type { JobFilter } from "../JobStore.js"
import { JobStore, keyString, matchesFilter } from "../JobStore.js"
import * as Diagnosis from "../Diagnosis.js"
import { parseArraySpec } from "../JobOptions.js"
import { Monitor } from "../Monitor.js"
import type { MonitorOptions } from "../Monitor.js"
import * as Pipeline from "../Pipeline.js"
import { parsePipeline } from "../PipelineFile.js"
import * as Retry from "../Retry.js"
import { shellQuote } from "../Script.js"
import { parseWalltime } from "../Units.js"
import * as Interrupt from "./Interrupt.js"
import * as Progress from "./Progress.js"

// ---------------------------------------------------------------------------------------------
// Parsing what users type (pure)
// ---------------------------------------------------------------------------------------------

/**
 * Parses a timeout: a number of seconds ("600"), a duration in words ("10 minutes", "2 hours"),
 * or a walltime form ("90m", "1h30m", "1:30:00").
 */
export const parseTimeout = (input: string): Either.Either<Duration.Duration, string> => {
  const text = input.trim()
  const fail = Either.left(
    `Invalid --timeout ${JSON.stringify(input)}: write seconds (e.g. 600), words (e.g. "10 minutes", "2 hours") or units (e.g. "90m", "1h30m")`
  )
  let duration: Option.Option<Duration.Duration>
  if (/^\d+(\.\d+)?$/.test(text)) duration = Option.some(Duration.seconds(Number(text)))
  else {
    duration = Duration.decodeUnknown(text)
    if (Option.isNone(duration)) duration = Either.getRight(parseWalltime(text))
  }
  return Option.isSome(duration) && Duration.toMillis(duration.value) > 0 && Duration.isFinite(duration.value)
    ? Either.right(duration.value)
    : fail
}

/** Parses repeated `KEY=VALUE` pairs (the value may contain `=`). */
export const parseEnv = (pairs: ReadonlyArray<string>): Either.Either<Record<string, string>, string> => {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf("=")
    if (at <= 0) return Either.left(`Invalid --env ${JSON.stringify(pair)}: write KEY=VALUE, e.g. --env OMP_NUM_THREADS=4`)
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return Either.right(env)
}

/**
 * The shell command line a job runs: one argument is a command line used as written; several are
 * each quoted, so that they run exactly as given (`-- sh -c 'echo hi'`).
 */
export const commandLine = (args: ReadonlyArray<string>): string =>
  args.length === 1 ? args[0]! : args.map(shellQuote).join(" ")

/** The default job name: the basename of the command's first word (after `VAR=value` words). */
export const defaultJobName = (args: ReadonlyArray<string>): string => {
  const words = args.length === 1 ? args[0]!.trim().split(/\s+/) : args
  const first = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) ?? ""
  const base = first.replace(/^['"]|['"]$/g, "").split("/").filter((s) => s.length > 0).pop() ?? ""
  return base.length > 0 ? base : "job"
}

/** Parses repeated `--retry-on` values, each one kind or several split by commas, in any case. */
export const parseFailureKinds = (inputs: ReadonlyArray<string>): Either.Either<ReadonlyArray<FailureKind>, string> => {
  const known = FailureKindSchema.literals
  const out: Array<FailureKind> = []
  for (const word of inputs.flatMap((i) => i.split(",")).map((w) => w.trim()).filter((w) => w.length > 0)) {
    const kind = known.find((k) => k.toLowerCase() === word.toLowerCase())
    if (kind === undefined) return Either.left(`Invalid --retry-on ${JSON.stringify(word)}: expected one of ${known.join(", ")}`)
    if (!out.includes(kind)) out.push(kind)
  }
  return Either.right(out)
}

/** Parses repeated `--status` values, each one status or several split by commas, in any case. */
export const parseStatuses = (inputs: ReadonlyArray<string>): Either.Either<ReadonlyArray<JobStatus>, string> => {
  const known = JobStatusSchema.literals
  const out: Array<JobStatus> = []
  for (const input of inputs) {
    for (const word of input.split(",").map((w) => w.trim()).filter((w) => w.length > 0)) {
      const status = known.find((k) => k.toLowerCase() === word.toLowerCase())
      if (status === undefined) {
        return Either.left(`Invalid --status ${JSON.stringify(word)}: expected one of ${known.join(", ")}`)
      }
      if (!out.includes(status)) out.push(status)
    }
  }
  return Either.right(out)
}

/**
 * The name globs a `--name` pattern stands for: as written, and with the configured
 * `job_name_prefix` in front (jobs are stored under their full name).
 */
export const nameGlobs = (pattern: string, prefix: string | undefined): ReadonlyArray<string> =>
  prefix === undefined || prefix.length === 0 ? [pattern] : [pattern, `${prefix}-${pattern}`]

// ---------------------------------------------------------------------------------------------
// Exit codes and error reports
// ---------------------------------------------------------------------------------------------

const localNote = "Local jobs run as child processes of cluster-api and end with it"

/** The exit code the CLI returns, set by handlers and error reports. */
class ExitStatus extends Context.Tag("cluster-api/cli/ExitStatus")<ExitStatus, Ref.Ref<number>>() {}

const setExitCode = (code: number) => Effect.flatMap(ExitStatus, (ref) => Ref.set(ref, code))

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

const inputErrors: ReadonlySet<string> = new Set([
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

interface Reportable {
  readonly _tag: string
  readonly message: string
}

const report = (error: Reportable, json: boolean) =>
  Effect.zipRight(
    json
      ? Console.error(JSON.stringify({ error: error._tag, message: error.message }))
      : Console.error(error.message),
    setExitCode(exitCodeFor(error._tag))
  )

// ---------------------------------------------------------------------------------------------
// Options every subcommand sees
// ---------------------------------------------------------------------------------------------

const jsonDescription = "Machine-readable output: JSON on stdout, no progress drawing"
const profileDescription = "Profile of the config file to apply on top of its top-level options"
const configDescription =
  "Config file to read (default: $CLUSTER_API_CONFIG, ./cluster-api.yaml, ~/.config/cluster-api/config.yaml)"

const rootCommand = Command.make("cluster-api", {
  json: Options.boolean("json").pipe(Options.withDescription(jsonDescription)),
  profile: Options.text("profile").pipe(
    Options.withAlias("p"),
    Options.withPseudoName("NAME"),
    Options.withDescription(profileDescription),
    Options.optional
  ),
  config: Options.text("config").pipe(
    Options.withAlias("c"),
    Options.withPseudoName("PATH"),
    Options.withDescription(configDescription),
    Options.optional
  )
})

/**
 * The same options after the subcommand name (`cluster-api status --json`), long forms only so
 * that `submit sh -c '...'` keeps its `-c`. Given in both places, these win.
 */
const globalOptions = {
  json: Options.boolean("json").pipe(Options.withDescription(jsonDescription)),
  profile: Options.text("profile").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription(profileDescription),
    Options.optional
  ),
  config: Options.text("config").pipe(
    Options.withPseudoName("PATH"),
    Options.withDescription(configDescription),
    Options.optional
  )
}

interface GlobalOptions {
  readonly json: boolean
  readonly profile: Option.Option<string>
  readonly config: Option.Option<string>
}

interface Globals {
  readonly json: boolean
  readonly profile: string | undefined
  readonly configPath: string | undefined
}

const resolveGlobals = (local: GlobalOptions) =>
  Effect.map(rootCommand, (root): Globals => ({
    json: local.json || root.json,
    profile: Option.getOrUndefined(Option.orElse(local.profile, () => root.profile)),
    configPath: Option.getOrUndefined(Option.orElse(local.config, () => root.config))
  }))

/**
 * Every service, from the config the global options name (plus `overrides`). The Monitor takes
 * over no job another program left unfinished unless `monitor` says which: a command must not
 * start, or end with it, local jobs it was not asked about.
 */
const services = (
  local: GlobalOptions,
  overrides?: Readonly<Record<string, unknown>>,
  monitor: MonitorOptions = { adopt: "none" }
) =>
  Layer.unwrapEffect(
    Effect.map(
      resolveGlobals(local),
      (g) => ClusterApi.layer({ profile: g.profile, configPath: g.configPath, overrides }, monitor)
    )
  )

/** Where the job store is (`state_path` resolved, or `:memory:`), and whether its file exists. */
class StoreLocation extends Context.Tag("cluster-api/cli/StoreLocation")<StoreLocation, {
  readonly path: string
  readonly exists: boolean
}>() {}

/** The store file the config names, resolved against the current directory. */
const statePath = Effect.gen(function*() {
  const { options } = yield* ClusterConfig
  const path = yield* Path.Path
  return resolveStatePath(options, process.cwd(), path.resolve)
})

/**
 * The config and the job store alone, for commands that read or tidy the store: no executor and
 * no Monitor, so nothing polls and no job is taken over. A store file that does not exist yet
 * reads as empty and is not created, unless `create`.
 */
const storeServices = (local: GlobalOptions, create: boolean) =>
  Layer.unwrapEffect(
    Effect.map(resolveGlobals(local), (g) =>
      Layer.unwrapEffect(Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* statePath
        const exists = path === inMemoryState || create ||
          (yield* fs.exists(path).pipe(Effect.orElseSucceed(() => true)))
        return Layer.merge(
          exists ? ClusterApi.storeLayer : JobStore.layerMemory,
          Layer.succeed(StoreLocation, { path, exists })
        )
      })).pipe(Layer.provideMerge(ClusterConfig.layer({ profile: g.profile, configPath: g.configPath }))))
  )

/** Typed errors of a subcommand (its services' too) printed and turned into the exit code. */
const reported = <Name extends string, R, E extends Reportable, A extends { readonly globals: GlobalOptions }>(
  self: Command.Command<Name, R, E, A>
) =>
  Command.transformHandler(
    self,
    (effect, a) =>
      Effect.catchAll(effect, (error) => Effect.flatMap(resolveGlobals(a.globals), (g) => report(error, g.json)))
  )

// ---------------------------------------------------------------------------------------------
// Waiting with progress
// ---------------------------------------------------------------------------------------------

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const encodeRecordSync = Schema.encodeSync(JobRecordSchema)

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** What JSON output shows for each value of a job's environment unless `--show-env`. */
export const hiddenEnvValue = "<hidden>"

/** A record with its environment's values replaced by `<hidden>` (they may hold passwords); keys stay. */
export const hideEnv = (record: JobRecord): JobRecord =>
  record.spec?.env === undefined ? record : {
    ...record,
    spec: { ...record.spec, env: Object.fromEntries(Object.keys(record.spec.env).map((k) => [k, hiddenEnvValue])) }
  }

/** A record as JSON, its environment's values hidden unless `showEnv` (every command's --json output). */
const encodeRecord = (record: JobRecord, showEnv = false) => encodeRecordSync(showEnv ? record : hideEnv(record))
const encodeRecords = (records: ReadonlyArray<JobRecord>, showEnv = false) =>
  records.map((r) => encodeRecord(r, showEnv))

const showEnvOption = Options.boolean("show-env").pipe(
  Options.withDescription(
    `With --json, print the values of the jobs' environment variables (shown as "${hiddenEnvValue}" otherwise: they may hold secrets)`
  )
)

/**
 * Jobs as JSON with --json (environment values hidden unless `showEnv`), else as a status table,
 * or the line `none` says when there are none. Says whether it printed a table (for a note under it).
 */
const printRecords = <E, R>(
  records: ReadonlyArray<JobRecord>,
  json: boolean,
  none: Effect.Effect<string, E, R>,
  showEnv = false
) =>
  Effect.gen(function*() {
    if (json) {
      yield* printJson(encodeRecords(records, showEnv))
      return false
    }
    if (records.length === 0) {
      yield* Console.log(yield* none)
      return false
    }
    yield* Console.log(Progress.statusTable(records, yield* now))
    return true
  })

/**
 * For the scope's life, local jobs are polled every 250 ms (a poll only reads this process's
 * memory), so that short jobs are not held up by a long `poll_interval`. Other executors are left
 * to the Monitor's own `poll_interval`.
 */
const pollLocalOften = Effect.gen(function*() {
  const monitor = yield* Monitor
  const executor = yield* Executor
  if (executor.kind !== "local") return
  yield* monitor.tick.pipe(
    Effect.catchAll((e) => Effect.logWarning(e.message)),
    Effect.repeat(Schedule.spaced(Duration.millis(250))),
    Effect.forkScoped
  )
})

/**
 * Runs `body` while progress is shown, subscribed to the Monitor's events before `body` submits
 * anything, local jobs polled often (`pollLocalOften`).
 */
const withProgress = <A, E, R>(
  json: boolean,
  initial: ReadonlyArray<JobRecord>,
  body: (progress: Progress.Progress) => Effect.Effect<A, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const monitor = yield* Monitor
    const events = yield* monitor.subscribe
    const progress = yield* Progress.start(events, {
      mode: json ? "off" : process.stdout.isTTY === true ? "tty" : "lines",
      write: (text) => process.stdout.write(text),
      width: () => (process.stdout.columns > 0 ? process.stdout.columns : 100),
      initial
    })
    yield* pollLocalOften
    return yield* body(progress)
  }))

/** Waits for jobs with progress; returns their final records. */
const awaitJobs = (
  progress: Progress.Progress,
  jobs: ReadonlyArray<JobRecord>,
  timeout: Option.Option<Duration.Duration>
) =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const executor = yield* Executor
    return yield* monitor.await(jobs, { timeout: Option.getOrUndefined(timeout) }).pipe(
      Effect.tap((finals) => progress.finish(finals)),
      Effect.tapError(() => progress.finish([])),
      Effect.catchTag("AwaitTimeout", (error) =>
        executor.kind === "local"
          ? Effect.fail(new LocalAwaitTimeout({ jobIds: error.jobIds, timeoutMillis: error.timeoutMillis }))
          : Effect.fail(error))
    )
  })

/**
 * What a wait interrupted by Ctrl-C or SIGTERM does (Interrupt.ts): `progress`'s live summary is
 * erased first, and the commands it prints name the config and profile this one was given.
 */
const interruptOptions = (g: Globals, cancel: boolean, progress?: Progress.Progress): Interrupt.InterruptOptions => ({
  cancel,
  globalArgs: [
    ...(g.configPath === undefined ? [] : ["--config", g.configPath]),
    ...(g.profile === undefined ? [] : ["--profile", g.profile])
  ],
  before: progress?.finish([])
})

/** Prints final records (a table, or JSON) and sets the exit code from them. */
const printFinals = (finals: ReadonlyArray<JobRecord>, json: boolean, shape: "array" | "object") =>
  Effect.gen(function*() {
    if (json) {
      yield* printJson(shape === "array" || finals.length !== 1 ? encodeRecords(finals) : encodeRecord(finals[0]!))
    } else {
      yield* Console.log(Progress.resultTable(finals, yield* now))
      if (finals.length === 1) {
        const r = finals[0]!
        const stdout = JobQueries.shownLogPath(r, "stdout")
        const stderr = JobQueries.shownLogPath(r, "stderr")
        if (stdout !== undefined) yield* Console.log(`stdout: ${stdout}`)
        if (stderr !== undefined && stderr !== stdout) yield* Console.log(`stderr: ${stderr}`)
      }
    }
    yield* setExitCode(finals.every((r) => r.status === "Done") ? 0 : 1)
  })

/** What is said about a job id the store (at `path`) has no record of. */
export const notFoundHint = (path: string): string =>
  path === inMemoryState
    ? "state_path is :memory:, so jobs are known only to the program that submitted them"
    : `${path} has no record of it (jobs submitted with another state_path, or from another directory with the default one, are in that store)`

/** A job id the store does not have, with a hint about where it may be. */
const notFound = (jobId: string) => Effect.map(statePath, (path) => new JobNotFound({ jobId, hint: notFoundHint(path) }))

/**
 * The record of a job as the user named it (`52`, or `slurm:52` when jobs of several executors
 * have the id): JobNotFound with a hint about where it may be, or AmbiguousJob.
 */
const lookupJob = (input: string) =>
  JobQueries.findJob(input).pipe(Effect.catchTag("JobNotFound", () => Effect.flatMap(notFound(input), Effect.fail)))

/** The records of these jobs, in order; JobNotFound (or AmbiguousJob) for the first not found. */
const lookupAll = (inputs: ReadonlyArray<string>) => Effect.forEach(inputs, lookupJob)

/**
 * A job of the configured executor, as the user named it: a job the store holds for another
 * executor is refused, naming the executor to configure.
 */
const lookupOwn = (input: string) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const record = yield* lookupJob(input)
    if (record.executor === executor.kind) return record
    return yield* new UsageError({
      message: `job ${keyString(record)} ran on ${record.executor}, and this config submits to ${executor.kind}: give the config or profile for ${record.executor} (--config, --profile)`
    })
  })

/** The executor a job named `executor:id` names, when it is one. */
const executorNamed = (input: string): string | undefined => {
  const named = input.slice(0, Math.max(0, input.indexOf(":")))
  return (availableExecutors as ReadonlyArray<string>).includes(named) ? named : undefined
}

/** The id part of a job as the user named it (`slurm:52` gives `52`). */
const bareId = (input: string): string => {
  const named = executorNamed(input)
  return named === undefined ? input : input.slice(named.length + 1)
}

/**
 * A scheduler's job id as the user gave it: `52`, or `slurm:52` naming the configured executor.
 * Another executor's name is refused.
 */
const schedulerId = (input: string) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const named = executorNamed(input)
    if (named === undefined) return input
    if (named === executor.kind) return bareId(input)
    return yield* new UsageError({
      message: `job ${input} is a ${named} job, and this config submits to ${executor.kind}: give the config or profile for ${named} (--config, --profile)`
    })
  })

/** How many jobs `list` and `status` show when not told: the most recently submitted ones. */
export const defaultListLimit = 50

/**
 * The newest `limit` jobs a filter selects (all of them for 0), oldest first, and whether there
 * were more.
 */
const listNewest = (filter: JobFilter, limit: number) =>
  Effect.flatMap(JobStore, (store) =>
    Effect.map(store.list(limit === 0 ? filter : { ...filter, limit: limit + 1 }), (records) => ({
      records: limit > 0 && records.length > limit ? records.slice(records.length - limit) : records,
      more: limit > 0 && records.length > limit
    })))

const moreNote = (limit: number) =>
  `(the newest ${limit} shown; --limit N shows more, --limit 0 all of them)`

// ---------------------------------------------------------------------------------------------
// Option helpers
// ---------------------------------------------------------------------------------------------

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const fromEither = <A>(e: Either.Either<A, string>) => Either.match(e, { onLeft: (m) => Effect.fail(invalid(m)), onRight: Effect.succeed })

const atLeast = (name: string, min: number) => (n: number) =>
  n >= min ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be a whole number of at least ${min}, got ${n}`))

const optionalText = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)

const timeoutOption = Options.text("timeout").pipe(
  Options.withPseudoName("DURATION"),
  Options.withDescription(
    `Stop waiting after this long and exit with code 3: seconds ("600"), words ("10 minutes") or units ("1h30m")`
  ),
  Options.mapEffect((s) => fromEither(parseTimeout(s))),
  Options.optional
)

// ---------------------------------------------------------------------------------------------
// submit
// ---------------------------------------------------------------------------------------------

/** `--after-ok ID` and its kin: repeatable, each naming one job id. */
const dependencyOption = (name: string, meaning: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("ID"),
    Options.withDescription(`Start only after job ID ${meaning} (repeatable)`),
    Options.repeated
  )

const submitCommand = Command.make(
  "submit",
  {
    globals: globalOptions,
    name: optionalText("name", "NAME", "Job name (default: the command's first word); the config's job_name_prefix is added"),
    cpus: Options.integer("cpus").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("CPUs (cores) per job"),
      Options.mapEffect(atLeast("cpus", 1)),
      Options.optional
    ),
    gpus: Options.integer("gpus").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("GPUs per job"),
      Options.mapEffect(atLeast("gpus", 0)),
      Options.optional
    ),
    nodes: Options.integer("nodes").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Nodes per job"),
      Options.mapEffect(atLeast("nodes", 1)),
      Options.optional
    ),
    memory: optionalText("memory", "SIZE", `Memory per job, e.g. "8 GB", "512M" (K/M/G are 1024-based)`),
    walltime: optionalText("walltime", "TIME", `Run-time limit: "04:00" (4 hours), "1:30:00", "2-00:00:00", "90m"`),
    queue: optionalText("queue", "NAME", "Queue (partition on Slurm)"),
    account: optionalText("account", "NAME", "Account or project the job is charged to"),
    workDir: optionalText("work-dir", "DIR", "Directory the job runs in (must exist); its script and logs go there too"),
    stdout: optionalText("stdout", "FILE", "File for the job's stdout (default: stdout.<id>.log in the log directory)"),
    stderr: optionalText("stderr", "FILE", "File for the job's stderr (default: stderr.<id>.log in the log directory)"),
    env: Options.text("env").pipe(
      Options.withPseudoName("KEY=VALUE"),
      Options.withDescription("Environment variable for the job (repeatable)"),
      Options.repeated,
      Options.mapEffect((pairs) => fromEither(parseEnv(pairs)))
    ),
    cleanEnv: Options.boolean("clean-env").pipe(
      Options.withDescription(
        "Start the job without this shell's environment: identity variables, a fixed PATH and the --env values only (config: inherit_env)"
      )
    ),
    loginShell: Options.boolean("login-shell").pipe(
      Options.withDescription("Run the job script in a login shell, so profiles and modules load (config: login_shell)")
    ),
    directive: Options.text("directive").pipe(
      Options.withPseudoName("TEXT"),
      Options.withDescription(`Extra scheduler directive without its prefix, e.g. "--qos=high" (repeatable)`),
      Options.repeated
    ),
    extraArg: Options.text("extra-arg").pipe(
      Options.withPseudoName("ARG"),
      Options.withDescription("Extra argument for the scheduler's submit command (repeatable; write --extra-arg=-x)"),
      Options.repeated
    ),
    array: Options.text("array").pipe(
      Options.withPseudoName("SPEC"),
      Options.withDescription(
        "Array job START-END[:STEP][%MAX], e.g. 1-10%2: elements 1 to 10, at most 2 at once; each element reads its index from $ARRAY_INDEX (local)"
      ),
      Options.mapEffect((s) => fromEither(Either.mapLeft(parseArraySpec(s), (problem) => `--array: ${problem}`))),
      Options.optional
    ),
    template: optionalText("template", "NAME", "Start from the config's template NAME (templates:); the options given here win"),
    maxRetries: Options.integer("max-retries").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Submit the job again, up to N times, when it fails (see --retry-on)"),
      Options.mapEffect(atLeast("max-retries", 0)),
      Options.optional
    ),
    retryOn: Options.text("retry-on").pipe(
      Options.withPseudoName("KIND"),
      Options.withDescription(
        `Retry only failures of this kind (repeatable): ${FailureKindSchema.literals.join(", ")}; default every kind but Cancelled and DependencyFailed`
      ),
      Options.repeated,
      Options.mapEffect((kinds) => fromEither(parseFailureKinds(kinds)))
    ),
    retryBackoff: Options.integer("retry-backoff").pipe(
      Options.withPseudoName("SECONDS"),
      Options.withDescription("Wait this long before the first retry (doubling for each later one)"),
      Options.mapEffect(atLeast("retry-backoff", 0)),
      Options.optional
    ),
    expect: Options.text("expect").pipe(
      Options.withPseudoName("GLOB"),
      Options.withDescription(
        "A file the job must leave, relative to its work directory (repeatable): if none matches once it ends Done, it is Failed (missing output)"
      ),
      Options.repeated
    ),
    checkLogs: Options.boolean("check-logs").pipe(
      Options.withDescription(
        "Once it ends Done, scan its logs for error lines (config: error_patterns, error_whitelist); any makes it Failed"
      )
    ),
    afterOk: dependencyOption("after-ok", "succeeded"),
    afterNotOk: dependencyOption("after-not-ok", "failed or was killed"),
    afterAny: dependencyOption("after-any", "ended, however it ended"),
    wait: Options.boolean("wait").pipe(
      Options.withDescription("Wait for the job to end, showing progress; the exit code tells how it ended")
    ),
    timeout: timeoutOption,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    command: Args.text({ name: "COMMAND" }).pipe(
      Args.withDescription(
        "The command: one argument is a shell command line used as written; several (after --) are quoted and run exactly as given"
      ),
      Args.atLeast(1)
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const executor = yield* Executor
      const resources: { -readonly [K in keyof ResourceSpec]: ResourceSpec[K] } = {}
      const set = <K extends keyof ResourceSpec>(key: K, value: Option.Option<NonNullable<ResourceSpec[K]>>) => {
        if (Option.isSome(value)) resources[key] = value.value
      }
      set("cpus", o.cpus)
      set("gpus", o.gpus)
      set("nodes", o.nodes)
      set("memory", o.memory)
      set("walltime", o.walltime)
      set("queue", o.queue)
      set("account", o.account)
      set("workDir", o.workDir)
      set("stdoutPath", o.stdout)
      set("stderrPath", o.stderr)
      if (o.directive.length > 0) resources.extraDirectives = o.directive
      if (o.extraArg.length > 0) resources.extraArgs = o.extraArg
      let spec: JobSpec = {
        command: commandLine(o.command),
        name: Option.getOrElse(o.name, () => defaultJobName(o.command)),
        ...(Object.keys(resources).length > 0 ? { resources } : {}),
        ...(Object.keys(o.env).length > 0 ? { env: o.env } : {}),
        ...(Option.isSome(o.array) ? { array: o.array.value } : {}),
        ...(o.cleanEnv ? { inheritEnv: false } : {}),
        ...(o.loginShell ? { loginShell: true } : {}),
        ...(Option.isSome(o.template) ? { template: o.template.value } : {}),
        ...(o.expect.length > 0 ? { expectedOutputs: o.expect } : {}),
        ...(o.checkLogs ? { logCheck: {} } : {})
      }
      if (Option.isSome(o.maxRetries)) {
        spec = {
          ...spec,
          retry: {
            maxRetries: o.maxRetries.value,
            ...(o.retryOn.length > 0 ? { on: o.retryOn } : {}),
            ...(Option.isSome(o.retryBackoff) ? { backoffSeconds: o.retryBackoff.value } : {})
          }
        }
      } else if (o.retryOn.length > 0 || Option.isSome(o.retryBackoff)) {
        return yield* new UsageError({ message: "submit: --retry-on and --retry-backoff need --max-retries N" })
      }
      const dependsOn: Array<Dependency> = [
        ...o.afterOk.map((jobId) => ({ type: "afterok" as const, jobId })),
        ...o.afterNotOk.map((jobId) => ({ type: "afternotok" as const, jobId })),
        ...o.afterAny.map((jobId) => ({ type: "afterany" as const, jobId }))
      ]
      if (dependsOn.length > 0) spec = { ...spec, dependsOn }

      const local = executor.kind === "local"
      if (!o.wait && !local) {
        const record = yield* executor.submit(spec)
        yield* g.json ? printJson(encodeRecord(record)) : Console.log(`Submitted job ${record.jobId} (${record.name})`)
        return
      }
      const submitted = yield* Ref.make<ReadonlyArray<string>>([])
      const finals = yield* withProgress(g.json, [], (progress) =>
        Effect.gen(function*() {
          const record = yield* executor.submit(spec)
          yield* Ref.set(submitted, [record.jobId])
          if (!g.json) yield* progress.log(`Submitted job ${record.jobId} (${record.name})`)
          if (!o.wait) yield* Console.error(`${localNote}: waiting for the job to end (Ctrl-C cancels it).`)
          return yield* awaitJobs(progress, [record], o.timeout)
        }).pipe(Interrupt.whenInterrupted(Ref.get(submitted), interruptOptions(g, o.cancelOnInterrupt, progress))))
      yield* printFinals(finals, g.json, o.wait ? "array" : "object")
    })
).pipe(
  Command.withDescription(
    "Submit a job. Put -- before a command that has options of its own: cluster-api submit --cpus 4 -- python train.py --epochs 3. On the local executor (the default) it always waits, since local jobs end with cluster-api."
  ),
  Command.provide((o) => services(o.globals)),
  reported
)

// ---------------------------------------------------------------------------------------------
// status, wait, cancel
// ---------------------------------------------------------------------------------------------

const statusCommand = Command.make(
  "status",
  {
    globals: globalOptions,
    ids: Args.text({ name: "JOB_ID" }).pipe(
      Args.withDescription(`Jobs to show (default: the newest ${defaultListLimit} in the job store)`),
      Args.repeated
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const { records, more } = o.ids.length === 0
        ? yield* listNewest({}, defaultListLimit)
        : { records: yield* lookupAll(o.ids), more: false }
      const table = yield* printRecords(records, g.json, Effect.map(statePath, (p) => `No jobs in the job store ${p}.`))
      if (table && more) yield* Console.log(`(the newest ${defaultListLimit} shown; cluster-api list filters and shows more)`)
    })
).pipe(
  Command.withDescription(
    `Show jobs: id, name, status, exit code, reason, host, peak memory and times (default: the newest ${defaultListLimit} in the job store)`
  ),
  Command.provide((o) => storeServices(o.globals, false)),
  reported
)

const waitCommand = Command.make(
  "wait",
  {
    globals: globalOptions,
    timeout: timeoutOption,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to wait for"), Args.atLeast(1))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const records = yield* Effect.forEach(o.ids, lookupOwn)
      const finals = yield* withProgress(g.json, records, (progress) =>
        awaitJobs(progress, records, o.timeout).pipe(
          Interrupt.whenInterrupted(Effect.succeed(records.map((r) => r.jobId)), interruptOptions(g, o.cancelOnInterrupt, progress))
        ))
      yield* printFinals(finals, g.json, "array")
    })
).pipe(
  Command.withDescription("Wait for jobs to end, showing progress; exit code 0 if all ended Done, 1 if any did not"),
  // Jobs a program that ended or died left behind are taken over: this command watches them now.
  Command.provide((o) => services(o.globals, undefined, { adopt: o.ids.map(bareId) })),
  reported
)

const cancelCommand = Command.make(
  "cancel",
  {
    globals: globalOptions,
    name: optionalText("name", "PATTERN", `Cancel unfinished jobs whose name matches a glob ("train-*"), prefix optional`),
    all: Options.boolean("all").pipe(Options.withDescription("Cancel every unfinished job in the job store")),
    done: Options.boolean("done").pipe(Options.withDescription("Record the cancelled jobs as Done rather than Killed")),
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to cancel"), Args.repeated)
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      if (o.ids.length === 0 && Option.isNone(o.name) && !o.all) {
        return yield* new UsageError({
          message: "cancel: say which jobs: give job ids, --name PATTERN, or --all (see cluster-api cancel --help)"
        })
      }
      const executor = yield* Executor
      const options = { done: o.done }
      const cancelled: Array<JobRecord> = []
      for (const id of o.ids) cancelled.push(yield* executor.cancel((yield* lookupOwn(id)).jobId, options))
      if (Option.isSome(o.name)) cancelled.push(...(yield* executor.cancelByName(o.name.value, options)))
      if (o.all) cancelled.push(...(yield* executor.cancelAll(options)))
      const unique = Array.from(new Map(cancelled.map((r) => [r.jobId, r])).values())
      yield* printRecords(unique, g.json, Effect.succeed("No unfinished job matched; nothing was cancelled."))
    })
).pipe(
  Command.withDescription("Cancel jobs by id, by name pattern (--name) or all of them (--all)"),
  Command.provide((o) => services(o.globals)),
  reported
)

const trackCommand = Command.make(
  "track",
  {
    globals: globalOptions,
    name: optionalText("name", "NAME", "Name to record for the job (default: the name the scheduler shows)"),
    reconnect: Options.boolean("reconnect").pipe(
      Options.withDescription("Find this user's queued and running jobs named {job_name_prefix}-* and track the ones not tracked yet")
    ),
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Scheduler job ids to track"), Args.repeated)
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      if (o.ids.length === 0 && !o.reconnect) {
        return yield* new UsageError({
          message: "track: say which jobs: give scheduler job ids, or --reconnect (see cluster-api track --help)"
        })
      }
      if (Option.isSome(o.name) && o.ids.length !== 1) {
        return yield* new UsageError({ message: "track: --name names one job; give exactly one job id with it" })
      }
      const executor = yield* Executor
      const tracked: Array<JobRecord> = []
      for (const id of o.ids) {
        tracked.push(yield* executor.track(yield* schedulerId(id), Option.isSome(o.name) ? { name: o.name.value } : undefined))
      }
      if (o.reconnect) tracked.push(...(yield* executor.reconnect))
      yield* printRecords(tracked, g.json, Effect.succeed("No job found to track."))
    })
).pipe(
  Command.withDescription(
    "Record jobs submitted elsewhere (by id, or by name prefix with --reconnect) in the job store, so status, wait and cancel cover them"
  ),
  Command.provide((o) => services(o.globals)),
  reported
)

// ---------------------------------------------------------------------------------------------
// The job store: list, show, logs, export, import, cleanup
// ---------------------------------------------------------------------------------------------

/** `--since WHEN` and its kin: an age ("2h", "3d") or an ISO date/time, read against the clock. */
const whenOption = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("WHEN"),
    Options.withDescription(`${description}: ${JobQueries.whenForms}`),
    Options.mapEffect((s) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (ms) => fromEither(Either.mapLeft(JobQueries.parseWhen(s, new Date(ms)), (m) => `Invalid --${name}: ${m}`))
      )
    ),
    Options.optional
  )

const statusOption = (description: string) =>
  Options.text("status").pipe(
    Options.withPseudoName("STATUS"),
    Options.withDescription(
      `${description}: Pending, Running, Done, Failed, Killed or Unknown (repeatable, or comma-separated)`
    ),
    Options.repeated,
    Options.mapEffect((inputs) => fromEither(parseStatuses(inputs)))
  )

/** The filters `list` and `export` share. */
const filterOptions = {
  status: statusOption("Only jobs in this state"),
  name: optionalText("name", "GLOB", `Only jobs whose name matches a glob ("train-*"), with or without the job_name_prefix`),
  executor: optionalText("executor", "NAME", `Only jobs of this executor ("local", "slurm")`),
  since: whenOption("since", "Only jobs submitted at or after WHEN"),
  until: whenOption("until", "Only jobs submitted before WHEN")
}

interface FilterOptions {
  readonly status: ReadonlyArray<JobStatus>
  readonly name: Option.Option<string>
  readonly executor: Option.Option<string>
  readonly since: Option.Option<Date>
  readonly until: Option.Option<Date>
}

const jobFilter = (o: FilterOptions, prefix: string | undefined): JobFilter => ({
  ...(o.status.length > 0 ? { status: o.status } : {}),
  ...(Option.isSome(o.name) ? { names: nameGlobs(o.name.value, prefix) } : {}),
  ...(Option.isSome(o.executor) ? { executor: o.executor.value } : {}),
  ...(Option.isSome(o.since) ? { submittedAfter: o.since.value } : {}),
  ...(Option.isSome(o.until) ? { submittedBefore: o.until.value } : {})
})

const isFiltered = (o: FilterOptions): boolean =>
  o.status.length > 0 || Option.isSome(o.name) || Option.isSome(o.executor) || Option.isSome(o.since) ||
  Option.isSome(o.until)

/** What `list` says when it shows no job. */
const noJobsLine = (location: { readonly path: string; readonly exists: boolean }, filtered: boolean): string =>
  location.path === inMemoryState
    ? "No jobs: state_path is :memory:, so jobs are kept only by the program that submits them."
    : !location.exists
    ? `No jobs: the job store ${location.path} does not exist yet (no job was submitted with this config from here).`
    : filtered
    ? `No job in the job store ${location.path} matches.`
    : `No jobs in the job store ${location.path}.`

const storeCommand = <Name extends string, R, E extends Reportable, A extends { readonly globals: GlobalOptions }>(
  self: Command.Command<Name, R, E, A>,
  create = false
) => self.pipe(Command.provide((o) => storeServices(o.globals, create)), reported)

const listCommand = Command.make(
  "list",
  {
    globals: globalOptions,
    filters: filterOptions,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription(`Show the newest N matching jobs (default ${defaultListLimit}; 0 shows all)`),
      Options.mapEffect(atLeast("limit", 0)),
      Options.withDefault(defaultListLimit)
    ),
    showEnv: showEnvOption
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const { options } = yield* ClusterConfig
      const { records, more } = yield* listNewest(jobFilter(o.filters, options.job_name_prefix), o.limit)
      const none = Effect.map(StoreLocation, (location) => noJobsLine(location, isFiltered(o.filters)))
      const table = yield* printRecords(records, g.json, none, o.showEnv)
      if (table && more) yield* Console.log(moreNote(o.limit))
    })
).pipe(
  Command.withDescription(
    `List the jobs in the job store, oldest first: the newest ${defaultListLimit} unless --limit says otherwise. Reads the store only: nothing is polled`
  ),
  storeCommand
)

const encodeHistory = Schema.encodeSync(JobQueries.ExportedJob)

const showCommand = Command.make(
  "show",
  {
    globals: globalOptions,
    showEnv: showEnvOption,
    id: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("The job to show"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const history = yield* JobQueries.jobDetails(yield* lookupJob(o.id))
      const { options } = yield* ClusterConfig
      const attempts = yield* Retry.attempts(history.record)
      const record = history.record
      const failure = isTerminal(record) && record.status !== "Done"
        ? yield* Diagnosis.failureInfo(record, options)
        : undefined
      if (g.json) {
        return yield* printJson({
          ...encodeHistory(o.showEnv ? history : { ...history, record: hideEnv(record) }),
          attempts: attempts.map((a) => a.jobId),
          ...(failure === undefined ? {} : { failure })
        })
      }
      yield* Console.log(Progress.jobDetailsText(record, history.transitions, yield* now, { attempts, failure }))
    })
).pipe(
  Command.withDescription(
    "Show one job in full: its command, executor, metadata, array and dependencies, how it ended, its times, script and logs, every attempt when it was retried, for a job that failed the evidence (the scheduler's reason, error lines in its logs, missing outputs, the last lines of stderr and stdout), and every status change"
  ),
  storeCommand
)

const { copyRange, fileSize, tailStart } = Diagnosis

const missingLog = (record: JobRecord, stream: string, file: string, status: JobStatus | undefined) =>
  new LogNotFound({
    message: status !== undefined && isTerminalStatus(status)
      ? `Job ${record.jobId} ended ${status} and its ${stream} log ${file} is not there (it was never written, or was deleted).`
      : `Job ${record.jobId} has no ${stream} log at ${file} yet: it may not have started (it is ${
        status ?? "not started"
      }). --follow waits for it.`
  })

const logsCommand = Command.make(
  "logs",
  {
    globals: globalOptions,
    stderr: Options.boolean("stderr").pipe(Options.withDescription("Show the job's stderr log instead of its stdout")),
    tail: Options.integer("tail").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Only the last N lines (then follow from there with --follow)"),
      Options.mapEffect(atLeast("tail", 0)),
      Options.optional
    ),
    follow: Options.boolean("follow").pipe(
      Options.withAlias("f"),
      Options.withDescription(
        "Keep printing what the job appends until it ends (exit code 0 if it ended Done, 1 otherwise); waits for a log not written yet"
      )
    ),
    index: Options.integer("index").pipe(
      Options.withPseudoName("I"),
      Options.withDescription("The array element whose log to show (array jobs need it)"),
      Options.optional
    ),
    id: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("The job whose log to show"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const store = yield* JobStore
      const { options } = yield* ClusterConfig
      const stream = o.stderr ? "stderr" : "stdout"
      const index = Option.getOrUndefined(o.index)
      // One id in, one record out (or JobNotFound).
      const record = (yield* lookupAll([o.id]))[0]!
      if ((o.stderr ? record.stderrPath : record.stdoutPath) === undefined) {
        return yield* new LogNotFound({ message: `Job ${record.jobId} has no ${stream} log recorded.` })
      }
      const file = yield* Either.match(JobQueries.logPath(record, stream, index), {
        onLeft: (m) =>
          Effect.fail(
            new UsageError({ message: `logs: ${m}${record.array !== undefined && index === undefined ? " with --index I" : ""}` })
          ),
        onRight: Effect.succeed
      })

      // Raw bytes on a terminal or pipe; with --json, text (as one object, or a line per chunk when following)
      const decoder = new TextDecoder()
      let collected = ""
      const emit = (chunk: Uint8Array): Effect.Effect<void> =>
        Effect.sync(() => {
          if (!g.json) process.stdout.write(chunk)
          else if (!o.follow) collected += decoder.decode(chunk, { stream: true })
          else process.stdout.write(`${JSON.stringify({ text: decoder.decode(chunk, { stream: true }) })}\n`)
        })
      const size = yield* fileSize(file)
      let offset = Option.isSome(size) && Option.isSome(o.tail) ? yield* tailStart(file, size.value, o.tail.value) : 0

      if (!o.follow) {
        if (Option.isNone(size)) return yield* missingLog(record, stream, file, JobQueries.statusOf(record, index))
        yield* copyRange(file, offset, size.value, emit)
        if (g.json) {
          yield* printJson({
            jobId: record.jobId,
            stream,
            ...(index === undefined ? {} : { index }),
            path: file,
            text: collected + decoder.decode()
          })
        }
        return
      }

      // Follow: read the store, then the file to its end, so that a job seen ended is also drained.
      const interval = Duration.millis(Math.min(options.poll_interval, 1) * 1000)
      let announced = false
      let seenFile = false
      while (true) {
        const current = yield* store.get(record)
        if (Option.isNone(current)) {
          yield* Console.error(`Job ${record.jobId} was removed from the job store while its log was followed.`)
          return yield* setExitCode(1)
        }
        const status = JobQueries.statusOf(current.value, index)
        const ended = Diagnosis.endedAt(current.value, index)
        const length = yield* fileSize(file)
        if (Option.isSome(length)) {
          seenFile = true
          if (length.value < offset) {
            yield* Console.error(`cluster-api: ${file} got shorter; following it from its start`)
            offset = 0
          }
          yield* copyRange(file, offset, length.value, emit)
          offset = Math.max(offset, length.value)
        } else if (!announced && !ended) {
          yield* Console.error(`Waiting for ${file}: job ${record.jobId} has not written it yet (it is ${status ?? "Pending"}).`)
          announced = true
        }
        if (ended) {
          const final = status !== undefined && isTerminalStatus(status) ? status : current.value.status
          if (!seenFile) return yield* missingLog(current.value, stream, file, final)
          return yield* setExitCode(final === "Done" ? 0 : 1)
        }
        yield* Effect.sleep(interval)
      }
    })
).pipe(
  Command.withDescription(
    "Print a job's stdout log (--stderr: its stderr), the last N lines with --tail; --follow keeps printing until the job ends. Array jobs need --index. With --json: one object holding the text, or with --follow one {\"text\"} line per piece read"
  ),
  storeCommand
)

const exportCommand = Command.make(
  "export",
  {
    globals: globalOptions,
    filters: filterOptions,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Only the newest N matching jobs (default: all)"),
      Options.mapEffect(atLeast("limit", 1)),
      Options.optional
    ),
    output: optionalText("output", "FILE", "Write the export to FILE instead of stdout")
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const { options } = yield* ClusterConfig
      const filter: JobFilter = {
        ...jobFilter(o.filters, options.job_name_prefix),
        ...(Option.isSome(o.limit) ? { limit: o.limit.value } : {})
      }
      const document = yield* JobQueries.exportJobs(filter)
      const text = JSON.stringify(JobQueries.encodeExport(document), null, 2)
      if (Option.isNone(o.output)) return yield* Effect.sync(() => void process.stdout.write(`${text}\n`))
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const file = path.resolve(o.output.value)
      // The export keeps the jobs' environment values (it moves them between stores): owner only.
      if (yield* fs.exists(file)) yield* fs.chmod(file, 0o600)
      yield* fs.writeFileString(file, `${text}\n`, { mode: 0o600 })
      const n = document.jobs.length
      yield* g.json
        ? printJson({ exported: n, path: file })
        : Console.log(`Exported ${n} job${n === 1 ? "" : "s"} to ${file}`)
    })
).pipe(
  Command.withDescription(
    "Write the jobs of the job store (all, or those the filters select) with their status changes as JSON, to stdout or --output FILE; import reads it back"
  ),
  storeCommand
)

const readStdin = Effect.tryPromise({
  try: async () => {
    const chunks: Array<Buffer> = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString("utf8")
  },
  catch: (e) => new InvalidImport({ source: "stdin", problems: [`cannot read it: ${String(e)}`] })
})

const importCommand = Command.make(
  "import",
  {
    globals: globalOptions,
    file: Args.text({ name: "FILE" }).pipe(Args.withDescription("A file written by cluster-api export (- reads stdin)"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const source = o.file === "-" ? "stdin" : path.resolve(o.file)
      const text = o.file === "-"
        ? yield* readStdin
        : yield* fs.readFileString(source).pipe(
          Effect.mapError((e) => new InvalidImport({ source, problems: [`cannot read the file: ${e.message}`] }))
        )
      const json = yield* Either.match(JobQueries.parseJson(text, source), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const report = yield* JobQueries.importJobs(json, source)
      if (g.json) return yield* printJson(report)
      const n = report.imported.length
      yield* Console.log(`Imported ${n} job${n === 1 ? "" : "s"} into the job store ${(yield* StoreLocation).path}.`)
      if (report.skipped.length > 0) {
        yield* Console.log(
          `Left ${report.skipped.length} job${report.skipped.length === 1 ? "" : "s"} the store already had as ${
            report.skipped.length === 1 ? "it was" : "they were"
          }: ${report.skipped.join(", ")}`
        )
      }
    })
).pipe(
  Command.withDescription(
    "Add the jobs of an export (cluster-api export) to the job store, with their status changes; jobs it already has are left as they are"
  ),
  (self) => storeCommand(self, true)
)

/** When a job counts as old for `cleanup --older-than`: when it ended, or (not ended) was submitted. */
const ageTime = (r: JobRecord): Date =>
  isTerminal(r) ? r.finishTime ?? r.lastSeen : r.submitTime ?? r.lastSeen

const cleanupCommand = Command.make(
  "cleanup",
  {
    globals: globalOptions,
    olderThan: whenOption(
      "older-than",
      "Only jobs that ended before WHEN (with --force, unfinished ones submitted before WHEN too)"
    ),
    status: statusOption("Only jobs in this state"),
    all: Options.boolean("all").pipe(Options.withDescription("Every job that has ended")),
    force: Options.boolean("force").pipe(
      Options.withDescription("Remove jobs that have not ended too (their processes are not stopped: cancel them first)")
    ),
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to remove"), Args.repeated)
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      if (o.ids.length === 0 && Option.isNone(o.olderThan) && o.status.length === 0 && !o.all) {
        return yield* new UsageError({
          message:
            "cleanup: say which jobs: give job ids, --older-than WHEN, --status STATUS, or --all (see cluster-api cleanup --help)"
        })
      }
      const store = yield* JobStore
      const cutoff = Option.getOrUndefined(o.olderThan)
      const filter: JobFilter = {
        ...(o.status.length > 0 ? { status: o.status } : {}),
        ...(cutoff === undefined ? {} : { submittedBefore: cutoff })
      }
      // Jobs named by id must all be known (each may be `executor:id`); the other options narrow them.
      const listed = o.ids.length > 0
        ? (yield* lookupAll(o.ids)).filter(matchesFilter(filter))
        : yield* store.list(filter)
      const selected = cutoff === undefined ? listed : listed.filter((r) => ageTime(r) < cutoff)
      const report = yield* JobQueries.cleanupJobs(selected, { force: o.force })
      const named = new Set(o.ids.length > 0 ? listed.map(keyString) : [])
      yield* setExitCode(report.failed.length > 0 || report.refused.some((r) => named.has(keyString(r))) ? 1 : 0)
      if (g.json) return yield* printJson(report)
      if (selected.length === 0) return yield* Console.log("No job matched; nothing was removed.")
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`
      const files = report.removed.reduce((n, r) => n + r.files.length, 0)
      const lines: Array<string> = []
      if (report.removed.length > 0) {
        lines.push(`Removed ${plural(report.removed.length, "job")} and ${plural(files, "file")}:`)
        for (const r of report.removed) {
          lines.push(`  ${r.jobId}  ${r.name}  ${r.status}`, ...r.files.map((f) => `    ${f}`))
        }
      }
      if (report.refused.length > 0) {
        const one = report.refused.length === 1
        lines.push(
          `Left ${plural(report.refused.length, "job")} that ${one ? "has" : "have"} not ended (--force removes ${
            one ? "it" : "them"
          } anyway):`
        )
        for (const r of report.refused) lines.push(`  ${r.jobId}  ${r.name}  ${r.status}`)
      }
      if (report.failed.length > 0) {
        lines.push(`Could not remove ${plural(report.failed.length, "job")} (kept in the store; try again):`)
        for (const r of report.failed) lines.push(`  ${r.jobId}  ${r.name}: ${r.reason}`)
      }
      yield* Console.log(lines.join("\n"))
    })
).pipe(
  Command.withDescription(
    "Remove ended jobs from the job store with their scripts and logs: by id, --older-than, --status or --all; jobs that have not ended are left unless --force"
  ),
  storeCommand
)

// ---------------------------------------------------------------------------------------------
// config show
// ---------------------------------------------------------------------------------------------

const configShowCommand = Command.make("show", { globals: globalOptions }, (o) =>
  Effect.gen(function*() {
    const g = yield* resolveGlobals(o.globals)
    const config = yield* ClusterConfig
    yield* g.json ? printJson(config.options) : Console.log(renderConfig(config).trimEnd())
  })).pipe(
    Command.withDescription(
      "Print the resolved configuration (file, profile and defaults merged) as YAML; with executor: auto, which scheduler was detected and why"
    ),
    Command.provide((o) =>
      Layer.unwrapEffect(
        Effect.map(resolveGlobals(o.globals), (g) => ClusterConfig.layer({ profile: g.profile, configPath: g.configPath }))
      )
    ),
    reported
  )

const configCommand = Command.make(
  "config",
  {},
  () =>
    Effect.zipRight(
      Console.error("cluster-api config: give a subcommand: show (see cluster-api config --help)"),
      setExitCode(2)
    )
).pipe(
  Command.withDescription("Inspect the configuration"),
  Command.withSubcommands([configShowCommand])
)

// ---------------------------------------------------------------------------------------------
// demo
// ---------------------------------------------------------------------------------------------

/** Where the demo writes its scripts and logs: `--dir`, or a fresh temporary directory. */
class DemoDirectory extends Context.Tag("cluster-api/cli/DemoDirectory")<DemoDirectory, string>() {}

const demoDirectory = (dir: Option.Option<string>) =>
  Layer.effect(
    DemoDirectory,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      if (Option.isNone(dir)) return yield* fs.makeTempDirectory({ prefix: "cluster-api-demo-" })
      const full = path.resolve(dir.value)
      yield* fs.makeDirectory(full, { recursive: true })
      return full
    }).pipe(Effect.orDie)
  )

/** The demo's jobs: what each runs and how it is designed to end. */
export const demoJobs = {
  hello: {
    name: "hello",
    command: `echo "hello from $(hostname)"; sleep 1; echo "bye"`
  },
  fail: {
    name: "fail",
    command: `echo "this job fails on purpose" >&2; exit 3`
  },
  array: {
    name: "array",
    command: `echo "element $ARRAY_INDEX"; sleep 0.3; if [ "$ARRAY_INDEX" = 3 ]; then echo "element 3 fails on purpose" >&2; exit 1; fi`,
    array: { start: 1, end: 4, maxConcurrent: 2 }
  }
} satisfies Record<string, JobSpec>

/** What went differently from the design, one line each (none: the demo worked). */
export const demoProblems = (
  hello: JobRecord | undefined,
  fail: JobRecord | undefined,
  array: JobRecord | undefined
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const why = (r: JobRecord) => (r.reason === undefined ? "" : ` (${describeReason(r.reason)})`)
  if (hello?.status !== "Done") problems.push(`hello should end Done, ended ${hello?.status ?? "unknown"}${hello ? why(hello) : ""}`)
  if (fail?.status !== "Failed" || fail.exitCode !== 3) {
    problems.push(`fail should end Failed with exit code 3, ended ${fail?.status ?? "unknown"}${fail ? why(fail) : ""}`)
  }
  const failed = array === undefined ? [] : failedElementIndices(array)
  if (array?.status !== "Failed" || failed.length !== 1 || failed[0] !== 3) {
    problems.push(
      `array should end Failed with only element 3 failed, ended ${array?.status ?? "unknown"} with failed elements [${
        failed.join(", ")
      }]`
    )
  }
  return problems
}

// ---------------------------------------------------------------------------------------------
// retry, run
// ---------------------------------------------------------------------------------------------

const retryCommand = Command.make(
  "retry",
  {
    globals: globalOptions,
    wait: Options.boolean("wait").pipe(
      Options.withDescription("Wait for the new attempt to end, showing progress; the exit code tells how it ended")
    ),
    timeout: timeoutOption,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    id: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("The ended job to submit again"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const executor = yield* Executor
      const submitted = (r: JobRecord) => `Submitted job ${r.jobId} (${r.name}), attempt ${r.attempt ?? 1} of job ${o.id}`
      const local = executor.kind === "local"
      if (!o.wait && !local) {
        const record = yield* Retry.retry(yield* lookupJob(o.id))
        yield* g.json ? printJson(encodeRecord(record)) : Console.log(submitted(record))
        return
      }
      const attempt = yield* Ref.make<ReadonlyArray<string>>([])
      const finals = yield* withProgress(g.json, [], (progress) =>
        Effect.gen(function*() {
          const record = yield* Retry.retry(yield* lookupJob(o.id))
          yield* Ref.set(attempt, [record.jobId])
          if (!g.json) yield* progress.log(submitted(record))
          if (!o.wait) yield* Console.error(`${localNote}: waiting for the job to end (Ctrl-C cancels it).`)
          return yield* awaitJobs(progress, [record], o.timeout)
        }).pipe(Interrupt.whenInterrupted(Ref.get(attempt), interruptOptions(g, o.cancelOnInterrupt, progress))))
      yield* printFinals(finals, g.json, "object")
    })
).pipe(
  Command.withDescription(
    "Submit an ended job again, as its next attempt: the spec it was submitted with (with more memory or time if its retry policy escalates them for how it failed), linked to it in the job store (show lists every attempt). Refused for a job that has not ended or was retried already (retry its last attempt)"
  ),
  Command.provide((o) => services(o.globals, undefined, { adopt: [o.id] })),
  reported
)

/** One line of `run`'s progress: time, step, status, and what happened. */
const stepLine = (update: Pipeline.StepUpdate, at: Date): string =>
  `${Progress.formatClock(at)} ${update.step.padEnd(16)} ${update.status}${
    update.note === undefined ? "" : `${" ".repeat(Math.max(1, 9 - update.status.length))}${update.note}`
  }`

const runCommand = Command.make(
  "run",
  {
    globals: globalOptions,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    file: Args.file({ name: "PIPELINE", exists: "yes" }).pipe(
      Args.withDescription("The pipeline file (YAML: name, defaults, steps with depends_on)")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(o.file).pipe(
        Effect.mapError((e) => new UsageError({ message: `run: cannot read ${o.file}: ${e.message}` }))
      )
      const pipeline = yield* parsePipeline(text, o.file)
      const executor = yield* Executor
      // Every job a step was given, for what an interrupt says about them.
      const jobs = new Set<string>()
      const onUpdate = (update: Pipeline.StepUpdate) =>
        Effect.zipRight(
          Effect.sync(() => update.record === undefined || jobs.add(update.record.jobId)),
          g.json ? Effect.void : Effect.flatMap(now, (at) => Console.log(stepLine(update, at)))
        )
      yield* Pipeline.plan(pipeline) // every problem before the first line of progress
      if (!g.json) yield* Console.log(`Pipeline ${pipeline.name}: ${pipeline.steps.length} step(s) on ${executor.kind}`)
      const result = yield* Effect.scoped(Effect.zipRight(pollLocalOften, Pipeline.run(pipeline, { onUpdate }))).pipe(
        Interrupt.whenInterrupted(Effect.sync(() => Array.from(jobs)), interruptOptions(g, o.cancelOnInterrupt))
      )
      if (g.json) {
        yield* printJson({
          pipeline: result.pipeline,
          ok: result.ok,
          steps: result.steps.map((s) => ({
            step: s.step,
            status: s.status,
            reused: s.reused,
            summary: s.summary,
            ...(s.record === undefined ? {} : { record: encodeRecord(s.record) })
          }))
        })
      } else {
        yield* Console.log("")
        const width = Math.max(...result.steps.map((s) => s.step.length), 4) + 2
        for (const s of result.steps) {
          const job = s.record === undefined ? "-" : `${s.record.jobId}${(s.record.attempt ?? 1) > 1 ? ` (attempt ${s.record.attempt})` : ""}`
          yield* Console.log(`${s.step.padEnd(width)}${job.padEnd(22)}${s.summary}${s.reused ? " (kept from an earlier run)" : ""}`)
        }
      }
      yield* setExitCode(result.ok ? 0 : 1)
    })
).pipe(
  Command.withDescription(
    "Run a pipeline file: submit its steps (each as soon as its depends_on allow, with the scheduler's own dependencies where it has them), print each step's progress, and wait for all of them; exit code 0 when every step ended Done. Run it again and only the steps that did not end Done are submitted again"
  ),
  Command.provide((o) => services(o.globals, undefined, { adopt: "all" })),
  reported
)

const demoCommand = Command.make(
  "demo",
  {
    globals: globalOptions,
    dir: optionalText("dir", "DIR", "Where the demo writes its job scripts and logs (default: a new temporary directory)")
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const dir = yield* DemoDirectory
      const executor = yield* Executor
      const monitor = yield* Monitor
      const say = (line: string) => (g.json ? Console.error(line) : Console.log(line))
      yield* say(
        "cluster-api demo: three jobs on the local executor: one succeeds, one fails with exit code 3, and an array of 4 (at most 2 at once) whose element 3 fails."
      )
      yield* say(`Scripts and logs: ${dir}`)

      const finals = yield* withProgress(g.json, [], (progress) =>
        Effect.gen(function*() {
          const print = (line: string) => (g.json ? Console.error(line) : progress.log(line))
          const hello = yield* executor.submit(demoJobs.hello)
          const fail = yield* executor.submit(demoJobs.fail)
          const array = yield* executor.submit(demoJobs.array)
          const jobs = [[demoJobs.hello.name, hello], [demoJobs.fail.name, fail], [demoJobs.array.name, array]] as const
          const fired: Array<Deferred.Deferred<void>> = []
          for (const [label, record] of jobs) {
            const done = yield* Deferred.make<void>()
            fired.push(done)
            yield* monitor.onSuccess(record, () => Effect.zipRight(print(`✔ ${label} finished`), Deferred.succeed(done, undefined)))
            yield* monitor.onFailure(record, (r) =>
              Effect.zipRight(
                print(`✘ ${label} failed: ${r.reason === undefined ? "no reason given" : describeReason(r.reason)}`),
                Deferred.succeed(done, undefined)
              ))
          }
          const finals = yield* awaitJobs(progress, [hello, fail, array], Option.none())
          // Callbacks run on their own fibers: let them print before the summary (a job that was
          // killed fires neither callback, hence the time limit).
          yield* Effect.forEach(fired, Deferred.await).pipe(Effect.timeoutOption(Duration.seconds(2)))
          return finals
        }))

      const [hello, fail, array] = finals
      const problems = demoProblems(hello, fail, array)
      if (g.json) {
        yield* printJson(encodeRecords(finals))
      } else {
        yield* Console.log("")
        yield* Console.log(Progress.resultTable(finals, yield* now))
        yield* Console.log("")
        yield* Console.log(`Scripts and logs: ${dir}`)
        yield* Console.log(
          problems.length === 0
            ? "Demo OK: every job ended as designed."
            : `Demo FAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}`
        )
      }
      if (g.json && problems.length > 0) yield* Console.error(`Demo FAILED: ${problems.join("; ")}`)
      yield* setExitCode(problems.length === 0 ? 0 : 1)
    })
).pipe(
  Command.withDescription(
    "Run a small real workload on the local executor (whatever the config says) and show what cluster-api does"
  ),
  Command.provide((o) =>
    Layer.unwrapEffect(
      Effect.map(DemoDirectory, (dir) =>
        services(o.globals, { executor: "local", poll_interval: 0.5, log_directory: dir }))
    ).pipe(Layer.provideMerge(demoDirectory(o.dir)))
  ),
  reported
)

// ---------------------------------------------------------------------------------------------
// The command tree and run
// ---------------------------------------------------------------------------------------------

const command = rootCommand.pipe(
  Command.withHandler(() =>
    Effect.zipRight(
      Console.error(
        "cluster-api: give a command: submit, run, retry, status, wait, cancel, track, list, show, logs, export, import, cleanup, config show or demo (see cluster-api --help)"
      ),
      setExitCode(2)
    )
  ),
  Command.withDescription(
    "Submit jobs to a batch scheduler or to local processes, watch them and act when they end. Exit codes: 0 all jobs waited for ended Done, 1 a job failed or was killed (or an operation failed), 2 bad usage, config or job input, or an unknown job, 3 a wait timed out. Jobs are kept in the job store (state_path, default {log_directory}/cluster-api.db)."
  ),
  Command.withSubcommands([
    submitCommand,
    statusCommand,
    waitCommand,
    cancelCommand,
    trackCommand,
    listCommand,
    showCommand,
    logsCommand,
    exportCommand,
    importCommand,
    cleanupCommand,
    configCommand,
    retryCommand,
    runCommand,
    demoCommand
  ])
)

const cli = Command.run(command, { name: "cluster-api", version: "0.1.0" })

const levelWord: Record<string, string> = { WARN: "warning", ERROR: "error", FATAL: "fatal", INFO: "info" }

/** Logs go to stderr, so that stdout holds only what a command prints (JSON with --json). */
const stderrLogger = Logger.make(({ cause, logLevel, message }) => {
  const parts = (Array.isArray(message) ? message : [message]).map((m) =>
    typeof m === "string" ? m : inspect(m, { depth: 4 })
  )
  const label = levelWord[logLevel.label] ?? logLevel.label.toLowerCase()
  const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  process.stderr.write(`cluster-api: ${label}: ${parts.join(" ")}${detail}\n`)
})

/**
 * Runs the command line (`process.argv`: the first two entries are node and the script) and
 * returns the exit code. Needs FileSystem, Path, Terminal and CommandExecutor (NodeContext.layer).
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const status = yield* Ref.make(0)
    yield* cli(argv).pipe(
      Effect.provideService(ExitStatus, status),
      Effect.catchAll((error) =>
        // @effect/cli has already printed its own validation errors (with help where it helps).
        ValidationError.isValidationError(error)
          ? Ref.set(status, 2)
          : report(error, false).pipe(Effect.provideService(ExitStatus, status))
      ),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.zipRight(
            Console.error(`cluster-api: internal error (a bug; please report it):\n${Cause.pretty(cause)}`),
            Ref.set(status, 1)
          )
      ),
      Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger))
    )
    return yield* Ref.get(status)
  })
