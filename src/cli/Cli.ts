/**
 * The `cluster-api` command line: submit jobs, watch them, cancel them, show the config, and a
 * demo on the local executor. Built with @effect/cli; `run(argv)` returns the process exit code:
 *
 *   0  every job waited for ended Done (or nothing was waited for)
 *   1  a job waited for ended Failed or Killed (or an operation on the scheduler failed)
 *   2  bad usage, bad config or bad job input
 *   3  a wait timed out
 *
 * Each subcommand attaches the services it needs itself (`Command.provide`), so `--help` works
 * even when the config file is broken.
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
import { ClusterConfig, renderConfig } from "../Config.js"
import type { ArraySpec, Dependency, JobRecord, JobSpec, ResourceSpec } from "../Domain.js"
import { describeReason, failedElementIndices, JobRecord as JobRecordSchema } from "../Domain.js"
import { JobNotFound } from "../Errors.js"
import { Executor } from "../Executor.js"
import { JobStore } from "../JobStore.js"
import { Monitor } from "../Monitor.js"
import { shellQuote } from "../Script.js"
import { parseWalltime } from "../Units.js"
import * as Progress from "./Progress.js"

// ---------------------------------------------------------------------------------------------
// Parsing what users type (pure)
// ---------------------------------------------------------------------------------------------

const ARRAY_SPEC = /^(\d+)-(\d+)(?::(\d+))?(?:%(\d+))?$/

/** Parses `START-END[:STEP][%MAX]`, e.g. `1-10`, `0-99:2`, `1-10%2`. */
export const parseArraySpec = (input: string): Either.Either<ArraySpec, string> => {
  const expected =
    `expected START-END[:STEP][%MAX] in whole numbers, e.g. 1-10 (elements 1 to 10), 0-99:2 (every second), 1-10%2 (at most 2 at once)`
  const m = ARRAY_SPEC.exec(input.trim())
  if (m === null) return Either.left(`Invalid --array ${JSON.stringify(input)}: ${expected}`)
  const [start, end] = [Number(m[1]), Number(m[2])]
  const step = m[3] === undefined ? undefined : Number(m[3])
  const max = m[4] === undefined ? undefined : Number(m[4])
  if (end < start) return Either.left(`Invalid --array ${JSON.stringify(input)}: the end ${end} is below the start ${start}; ${expected}`)
  if (step === 0 || max === 0) {
    return Either.left(`Invalid --array ${JSON.stringify(input)}: STEP and MAX must be at least 1; ${expected}`)
  }
  return Either.right({
    start,
    end,
    ...(step === undefined ? {} : { step }),
    ...(max === undefined ? {} : { maxConcurrent: max })
  })
}

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

const inputErrors: ReadonlySet<string> = new Set([
  "ConfigNotFound",
  "ConfigInvalid",
  "UnknownProfile",
  "InvalidJobSpec",
  "InvalidMemory",
  "InvalidWalltime",
  "SubmitError",
  "JobNotFound",
  "UsageError"
])

/** 3 for a timed-out wait, 2 for bad usage, config or job input, 1 for anything else. */
export const exitCodeFor = (tag: string): number => (tag === "AwaitTimeout" ? 3 : inputErrors.has(tag) ? 2 : 1)

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

/** Every service, from the config the global options name (plus `overrides`). */
const services = (local: GlobalOptions, overrides?: Readonly<Record<string, unknown>>) =>
  Layer.unwrapEffect(
    Effect.map(resolveGlobals(local), (g) => ClusterApi.layer({ profile: g.profile, configPath: g.configPath, overrides }))
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

const encodeRecords = Schema.encodeSync(Schema.Array(JobRecordSchema))
const encodeRecord = Schema.encodeSync(JobRecordSchema)

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/**
 * Runs `body` while progress is shown, subscribed to the Monitor's events before `body` submits
 * anything. Local jobs are polled every 250 ms while waiting (a poll only reads this process's
 * memory), so short jobs are not held up by a long `poll_interval`.
 */
const withProgress = <A, E, R>(
  json: boolean,
  initial: ReadonlyArray<JobRecord>,
  body: (progress: Progress.Progress) => Effect.Effect<A, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const monitor = yield* Monitor
    const executor = yield* Executor
    const events = yield* monitor.subscribe
    const progress = yield* Progress.start(events, {
      mode: json ? "off" : process.stdout.isTTY === true ? "tty" : "lines",
      write: (text) => process.stdout.write(text),
      width: () => (process.stdout.columns > 0 ? process.stdout.columns : 100),
      initial
    })
    if (executor.kind === "local") {
      yield* monitor.tick.pipe(
        Effect.catchAll((e) => Effect.logWarning(e.message)),
        Effect.repeat(Schedule.spaced(Duration.millis(250))),
        Effect.forkScoped
      )
    }
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

/** Prints final records (a table, or JSON) and sets the exit code from them. */
const printFinals = (finals: ReadonlyArray<JobRecord>, json: boolean, shape: "array" | "object") =>
  Effect.gen(function*() {
    if (json) {
      yield* printJson(shape === "array" || finals.length !== 1 ? encodeRecords(finals) : encodeRecord(finals[0]!))
    } else {
      yield* Console.log(Progress.resultTable(finals, yield* now))
      if (finals.length === 1) {
        const r = finals[0]!
        if (r.stdoutPath !== undefined) yield* Console.log(`stdout: ${r.stdoutPath}`)
        if (r.stderrPath !== undefined && r.stderrPath !== r.stdoutPath) yield* Console.log(`stderr: ${r.stderrPath}`)
      }
    }
    yield* setExitCode(finals.every((r) => r.status === "Done") ? 0 : 1)
  })

/** A job id this process does not track, with a hint about why. */
const notFound = (jobId: string, kind: string) =>
  new JobNotFound({
    jobId,
    hint: kind === "local"
      ? "local jobs are known only to the process that started them"
      : "this process tracks only the jobs it submitted"
  })

const lookupAll = (ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const executor = yield* Executor
    return yield* Effect.forEach(ids, (id) =>
      store.get(id).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(notFound(id, executor.kind)),
          onSome: Effect.succeed
        }))
      ))
  })

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
    Options.withDescription(`Start only after job ID ${meaning} (repeatable; batch schedulers only)`),
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
      Options.mapEffect((s) => fromEither(parseArraySpec(s))),
      Options.optional
    ),
    afterOk: dependencyOption("after-ok", "succeeded"),
    afterNotOk: dependencyOption("after-not-ok", "failed or was killed"),
    afterAny: dependencyOption("after-any", "ended, however it ended"),
    wait: Options.boolean("wait").pipe(
      Options.withDescription("Wait for the job to end, showing progress; the exit code tells how it ended")
    ),
    timeout: timeoutOption,
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
        ...(Option.isSome(o.array) ? { array: o.array.value } : {})
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
      const finals = yield* withProgress(g.json, [], (progress) =>
        Effect.gen(function*() {
          const record = yield* executor.submit(spec)
          if (!g.json) yield* progress.log(`Submitted job ${record.jobId} (${record.name})`)
          if (!o.wait) yield* Console.error(`${localNote}: waiting for the job to end (Ctrl-C cancels it).`)
          return yield* awaitJobs(progress, [record], o.timeout)
        }))
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
      Args.withDescription("Jobs to show (default: every job this process tracks)"),
      Args.repeated
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const store = yield* JobStore
      const executor = yield* Executor
      const records = o.ids.length === 0 ? yield* store.list() : yield* lookupAll(o.ids)
      if (g.json) return yield* printJson(encodeRecords(records))
      if (records.length === 0) {
        return yield* Console.log(
          executor.kind === "local"
            ? "No jobs: local jobs are known only to the process that started them."
            : "No jobs are tracked by this process."
        )
      }
      yield* Console.log(Progress.statusTable(records, yield* now))
    })
).pipe(
  Command.withDescription("Show jobs: id, name, status, exit code, reason, host, peak memory and times"),
  Command.provide((o) => services(o.globals)),
  reported
)

const waitCommand = Command.make(
  "wait",
  {
    globals: globalOptions,
    timeout: timeoutOption,
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to wait for"), Args.atLeast(1))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const records = yield* lookupAll(o.ids)
      const finals = yield* withProgress(g.json, records, (progress) => awaitJobs(progress, records, o.timeout))
      yield* printFinals(finals, g.json, "array")
    })
).pipe(
  Command.withDescription("Wait for jobs to end, showing progress; exit code 0 if all ended Done, 1 if any did not"),
  Command.provide((o) => services(o.globals)),
  reported
)

const cancelCommand = Command.make(
  "cancel",
  {
    globals: globalOptions,
    name: optionalText("name", "PATTERN", `Cancel unfinished jobs whose name matches a glob ("train-*"), prefix optional`),
    all: Options.boolean("all").pipe(Options.withDescription("Cancel every unfinished job this process tracks")),
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
      for (const id of o.ids) cancelled.push(yield* executor.cancel(id, options))
      if (Option.isSome(o.name)) cancelled.push(...(yield* executor.cancelByName(o.name.value, options)))
      if (o.all) cancelled.push(...(yield* executor.cancelAll(options)))
      const unique = Array.from(new Map(cancelled.map((r) => [r.jobId, r])).values())
      if (g.json) return yield* printJson(encodeRecords(unique))
      if (unique.length === 0) return yield* Console.log("No unfinished job matched; nothing was cancelled.")
      yield* Console.log(Progress.statusTable(unique, yield* now))
    })
).pipe(
  Command.withDescription("Cancel jobs by id, by name pattern (--name) or all of them (--all)"),
  Command.provide((o) => services(o.globals)),
  reported
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
    Command.withDescription("Print the resolved configuration (file, profile and defaults merged) as YAML"),
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
        "cluster-api: give a command: submit, status, wait, cancel, config show or demo (see cluster-api --help)"
      ),
      setExitCode(2)
    )
  ),
  Command.withDescription(
    "Submit jobs to a batch scheduler or to local processes, watch them and act when they end. Exit codes: 0 all jobs waited for ended Done, 1 a job failed or was killed, 2 bad usage, config or job input, 3 a wait timed out."
  ),
  Command.withSubcommands([submitCommand, statusCommand, waitCommand, cancelCommand, configCommand, demoCommand])
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
