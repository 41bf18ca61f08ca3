/**
 * The `cluster-api submit` command.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option, Ref } from "effect"
import type { Dependency, JobRecord, JobSpec, ResourceSpec } from "../../Domain.js"
import { FailureKind as FailureKindSchema } from "../../Domain.js"
import { Executor } from "../../Executor.js"
import { parseArraySpec } from "../../internal/jobOptions.js"
import * as Interrupt from "../Interrupt.js"
import { setExitCode, UsageError } from "../Exit.js"
import { globalOptions, reported, resolveGlobals, rootCommand, services } from "../Globals.js"
import type { OptionTable } from "../Input.js"
import {
  commandLine,
  defaultJobName,
  optionTable,
  parseDependency,
  parseEnv,
  parseFailureKinds,
  schedulerWalltime,
  splitSubcommandArgv
} from "../Input.js"
import { atLeast, dependencyOption, fromEither, optionalText, timeoutOption } from "../Options.js"
import { encodeRecord, printFinals, printJson } from "../Output.js"
import { awaitJobs, interruptOptions, localNote, withProgress } from "../Watch.js"
import { formatSlurmTime, parseSlurmTime } from "../../internal/slurmTime.js"

/** Submit's options (the command words are not among them). */
const submitOptions = {
    globals: globalOptions,
    name: optionalText("name", "NAME", "Job name (default: the command's first word); the config's job_name_prefix is added (sbatch --job-name, -J)").pipe(
      Options.withAlias("job-name"),
      Options.withAlias("J")
    ),
    cpus: Options.integer("cpus").pipe(
      Options.withAlias("cpus-per-task"),
      Options.withAlias("c"),
      Options.withPseudoName("N"),
      Options.withDescription("CPUs (cores) per job"),
      Options.mapEffect(atLeast("cpus", 1)),
      Options.optional
    ),
    gpus: Options.integer("gpus").pipe(
      Options.withAlias("G"),
      Options.withPseudoName("N"),
      Options.withDescription("GPUs per job"),
      Options.mapEffect(atLeast("gpus", 0)),
      Options.optional
    ),
    nodes: Options.integer("nodes").pipe(
      Options.withAlias("N"),
      Options.withPseudoName("N"),
      Options.withDescription("Nodes per job"),
      Options.mapEffect(atLeast("nodes", 1)),
      Options.optional
    ),
    memory: optionalText("memory", "SIZE", `Memory per job, e.g. "8 GB", "512M" (K/M/G are 1024-based; sbatch --mem)`).pipe(
      Options.withAlias("mem")
    ),
    walltime: optionalText(
      "walltime",
      "TIME",
      `Run-time limit: "1:30:00", "2-00:00:00", "90m", "4h"; an A:B such as "30:00" is read as the scheduler reads its own limits (minutes:seconds on Slurm, SGE and PBS; hours:minutes on LSF and local)`
    ),
    time: Options.text("time").pipe(
      Options.withAlias("t"),
      Options.withPseudoName("TIME"),
      Options.withDescription(
        `Run-time limit as sbatch --time reads it: MM, MM:SS ("30:00" is 30 minutes), HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS`
      ),
      Options.mapEffect((s) =>
        fromEither(Either.mapBoth(parseSlurmTime(s), {
          onLeft: () =>
            `Invalid --time ${JSON.stringify(s)}: write MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, as sbatch --time reads them ("30:00" is 30 minutes)`,
          onRight: formatSlurmTime
        }))
      ),
      Options.optional
    ),
    queue: optionalText("queue", "NAME", "Queue (partition on Slurm; sbatch --partition, -p)").pipe(
      Options.withAlias("partition"),
      Options.withAlias("p")
    ),
    account: optionalText("account", "NAME", "Account or project the job is charged to (sbatch --account, -A)").pipe(
      Options.withAlias("A")
    ),
    workDir: optionalText("work-dir", "DIR", "Directory the job runs in (must exist); its script and logs go there too (sbatch --chdir, -D)").pipe(
      Options.withAlias("chdir"),
      Options.withAlias("D")
    ),
    stdout: optionalText("stdout", "FILE", "File for the job's stdout (default: stdout.<id>.log in the log directory; sbatch --output, -o)").pipe(
      Options.withAlias("output"),
      Options.withAlias("o")
    ),
    stderr: optionalText("stderr", "FILE", "File for the job's stderr (default: stderr.<id>.log in the log directory; sbatch --error, -e)").pipe(
      Options.withAlias("error"),
      Options.withAlias("e")
    ),
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
      Options.withDescription("Extra argument for the scheduler's submit command (repeatable; --extra-arg=-x or --extra-arg -x)"),
      Options.repeated
    ),
    array: Options.text("array").pipe(
      Options.withAlias("a"),
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
    dependency: Options.text("dependency").pipe(
      Options.withAlias("d"),
      Options.withPseudoName("TYPE:ID[:ID][,TYPE:ID]"),
      Options.withDescription(
        "Dependencies as sbatch --dependency writes them, TYPE one of afterok, afternotok, afterany (repeatable; all must hold)"
      ),
      Options.repeated,
      Options.mapEffect((specs) => fromEither(Either.map(Either.all(specs.map(parseDependency)), (all) => all.flat())))
    ),
    parsable: Options.boolean("parsable").pipe(
      Options.withDescription("Print only the job id (sbatch --parsable); on the local executor it still waits, silently")
    ),
    wait: Options.boolean("wait").pipe(
      Options.withDescription("Wait for the job to end, showing progress; the exit code tells how it ended")
    ),
    jobExitCode: Options.boolean("job-exit-code").pipe(
      Options.withDescription(
        "With a wait: exit with the job's own exit code, as sbatch --wait and bsub -K do (1 for a job that ended without one, e.g. killed; an array keeps 0 or 1)"
      )
    ),
    timeout: timeoutOption,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption
}

/**
 * The exit code `--job-exit-code` passes through: the job's own (0 for Done), or 1 for a job that
 * ended without one in 1..255 (killed, vanished, refused a dependency), as a shell would see it.
 */
export const jobExitCode = (record: JobRecord): number =>
  record.status === "Done"
    ? 0
    : record.exitCode !== undefined && record.exitCode >= 1 && record.exitCode <= 255
    ? record.exitCode
    : 1

export const submitCommand = Command.make(
  "submit",
  {
    ...submitOptions,
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
      if (Option.isSome(o.walltime) && Option.isSome(o.time)) {
        return yield* new UsageError({ message: "submit: give --walltime or --time, not both" })
      }
      const walltime = Option.map(o.walltime, (w) => schedulerWalltime(w, executor.kind))
      set("walltime", Option.orElse(Option.map(walltime, (w) => w.walltime), () => o.time))
      const readAs = Option.getOrUndefined(Option.flatMapNullable(walltime, (w) => w.shown))
      const submittedLine = (r: JobRecord) =>
        `Submitted job ${r.jobId} (${r.name})${readAs === undefined ? "" : `; ${readAs}`}`
      const quiet = g.json || o.parsable
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
        ...o.afterAny.map((jobId) => ({ type: "afterany" as const, jobId })),
        ...o.dependency
      ]
      if (dependsOn.length > 0) spec = { ...spec, dependsOn }

      // Jobs that end with this program are always waited for (leaving would end them).
      const endsWithProgram = !executor.capabilities.outlivesProgram
      if (o.jobExitCode && !o.wait && !endsWithProgram) {
        return yield* new UsageError({
          message: `submit: --job-exit-code passes on the exit code of a job waited for; add --wait (${executor.kind} jobs are not waited for without it)`
        })
      }
      if (!o.wait && !endsWithProgram) {
        const record = yield* executor.submit(spec)
        if (quiet && readAs !== undefined) yield* Console.error(`cluster-api: ${readAs}`)
        yield* o.parsable
          ? Console.log(record.jobId)
          : g.json
          ? printJson(encodeRecord(record))
          : Console.log(submittedLine(record))
        return
      }
      const submitted = yield* Ref.make<ReadonlyArray<string>>([])
      const finals = yield* withProgress(quiet, [], (progress) =>
        Effect.gen(function*() {
          const record = yield* executor.submit(spec)
          yield* Ref.set(submitted, [record.jobId])
          if (quiet && readAs !== undefined) yield* Console.error(`cluster-api: ${readAs}`)
          if (o.parsable) yield* Console.log(record.jobId)
          else if (!g.json) yield* progress.log(submittedLine(record))
          if (!o.wait && !o.parsable) yield* Console.error(`${localNote}: waiting for the job to end (Ctrl-C cancels it).`)
          return yield* awaitJobs(progress, [record], o.timeout)
        }).pipe(Interrupt.whenInterrupted(Ref.get(submitted), interruptOptions(g, o.cancelOnInterrupt, progress))))
      if (o.parsable) yield* setExitCode(finals.every((r) => r.status === "Done") ? 0 : 1)
      // One job, one object: with or without a wait.
      else yield* printFinals(finals, g.json, "object")
      const final = finals[0]
      if (o.jobExitCode && final !== undefined && final.array === undefined) yield* setExitCode(jobExitCode(final))
    })
).pipe(
  Command.withDescription(
    "Submit a job. Options come first and each must be known; the command starts after -- or at the first word that is not an option, so a command that starts with - needs --: cluster-api submit --cpus 4 -- python train.py --epochs 3. On the local executor (the default) it always waits, since local jobs end with cluster-api."
  ),
  Command.provide((o) => services(o.globals)),
  reported
)

/** What @effect/cli answers itself, for any command. */
const builtInFlags = ["--help", "-h", "--wizard", "--version"]

const { globals: submitGlobals, ...ownSubmitOptions } = submitOptions

/** Every option `submit` knows, by whether it takes a value. */
export const submitOptionTable: OptionTable = (() => {
  const table = optionTable(Options.getUsage(Options.all({ ...ownSubmitOptions, ...submitGlobals })))
  return { valued: table.valued, flags: new Set([...table.flags, ...builtInFlags]) }
})()

/**
 * `argv` with submit's words split into known options and the command (after `--`), so that an
 * unknown option is refused rather than run as the command; other commands' words unchanged.
 */
export const submitArgv = (argv: ReadonlyArray<string>): Either.Either<ReadonlyArray<string>, UsageError> =>
  Either.mapLeft(
    splitSubcommandArgv(argv, optionTable(Command.getUsage(rootCommand)), { submit: submitOptionTable }),
    (message) => new UsageError({ message })
  )
