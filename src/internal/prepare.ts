/**
 * Preparing a job before an executor submits it: the one validation of a JobSpec against the
 * config (template, name, memory and walltime parsed once, directive values checked), and where
 * its files go. Every executor uses it; users never call it.
 */
import { Duration, Effect, Either, ParseResult, Schema } from "effect"
import type { ArraySpec, JobSpec, ResourceSpec } from "../Domain.js"
import type { InvalidJobSpec } from "../Errors.js"
import type { ConfigOptions } from "../Config.js"
import { arraySize, JobSpec as JobSpecSchema, maxArraySize } from "../Domain.js"
import type { LoginShell } from "./script.js"
import {
  directiveLineProblem,
  loginShebang,
  requireNoControlCharacters,
  shebangProblem,
  validateEnv
} from "./script.js"
import { Memory, Walltime } from "../Units.js"
import { InvalidJobSpec as InvalidJobSpecError, InvalidMemory, InvalidWalltime } from "../Errors.js"
import * as JobName from "../JobName.js"
import { applyTemplate, regexProblem } from "./jobOptions.js"


/** A job's resources with the config's defaults filled in, memory and walltime parsed. */
export interface ResolvedResources {
  readonly cpus?: number | undefined
  readonly gpus?: number | undefined
  readonly nodes?: number | undefined
  readonly memoryBytes?: number | undefined
  readonly walltime?: Duration.Duration | undefined
  readonly queue?: string | undefined
  readonly account?: string | undefined
  readonly workDir?: string | undefined
  readonly stdoutPath?: string | undefined
  readonly stderrPath?: string | undefined
  readonly extraDirectives: ReadonlyArray<string>
  /** Config-level `extra_args` first, then the job's own. */
  readonly extraArgs: ReadonlyArray<string>
}

/** The job's full name and resources, validated: everything a dialect needs to render a script. */
export interface PreparedJob {
  /** The spec with its template merged in: what the record keeps (`JobRecord.spec`). */
  readonly spec: JobSpec
  readonly name: string
  readonly resources: ResolvedResources
  readonly array?: ArraySpec | undefined
  /** Whether the job sees the submitting process's environment (job's `inheritEnv`, else config). */
  readonly inheritEnv: boolean
  /** Set when the job runs in a login shell: the shebang with `-l`, and the shell's path. */
  readonly loginShell?: LoginShell | undefined
}

const orElse = <A>(job: A | undefined, config: A | undefined): A | undefined => job !== undefined ? job : config

const decodeMemory = Schema.decodeEither(Memory)
const decodeWalltime = Schema.decodeEither(Walltime)

/**
 * The memory a job asks for, in bytes: its own `resources.memory`, else the config's `memory`;
 * undefined when neither names one. The one place a job's memory string becomes a number.
 */
export const memoryBytesOf = (
  resources: ResourceSpec | undefined,
  options: ConfigOptions
): Either.Either<number | undefined, InvalidMemory> => {
  const memory = orElse(resources?.memory, options.memory)
  return memory === undefined
    ? Either.right(undefined)
    : Either.mapLeft(decodeMemory(memory), () => new InvalidMemory({ input: memory }))
}

/**
 * The walltime a job is held to, in whole seconds: its own `resources.walltime`, else the
 * config's `walltime`; undefined when neither names one. The one place a job's walltime string
 * becomes a number.
 */
export const walltimeOf = (
  resources: ResourceSpec | undefined,
  options: ConfigOptions
): Either.Either<Duration.Duration | undefined, InvalidWalltime> => {
  const walltime = orElse(resources?.walltime, options.walltime)
  return walltime === undefined
    ? Either.right(undefined)
    : Either.mapBoth(decodeWalltime(walltime), {
      onLeft: () => new InvalidWalltime({ input: walltime }),
      onRight: (seconds) => Duration.seconds(seconds)
    })
}

const checkArray = (name: string, array: ArraySpec): Effect.Effect<ArraySpec, InvalidJobSpec> => {
  if (array.end < array.start) {
    return Effect.fail(
      new InvalidJobSpecError({
        name,
        field: "array",
        problem: `range ${array.start}-${array.end} is empty; the end must not be below the start`
      })
    )
  }
  if (arraySize(array) > maxArraySize) {
    return Effect.fail(
      new InvalidJobSpecError({
        name,
        field: "array",
        problem: `range ${array.start}-${array.end} has ${arraySize(array)} elements; split it into arrays of at most ${maxArraySize}`
      })
    )
  }
  return Effect.succeed(array)
}

/** Decodes a spec at run time (callers from plain JavaScript or JSON are not type-checked). */
const decodeSpec = (input: JobSpec, name: string) =>
  Schema.decodeUnknown(JobSpecSchema)(input).pipe(
    Effect.mapError((error) => {
      const [first] = ParseResult.ArrayFormatter.formatErrorSync(error)
      return new InvalidJobSpecError({
        name,
        field: first === undefined || first.path.length === 0 ? "spec" : first.path.join("."),
        problem: first?.message ?? "is not a valid job spec"
      })
    })
  )

/**
 * Validates a job spec against the config and fills in defaults: its template (from the config's
 * `templates`) is merged under it, the name is prefixed and made safe, memory and walltime are
 * parsed, log-check patterns compiled, and values that go on directive lines are refused when
 * they hold line breaks. The prepared job's `spec` is the merged one.
 */
export const prepareJob = Effect.fn("Executor.prepareJob")(function*(input: JobSpec, options: ConfigOptions) {
  const own = yield* decodeSpec(input, typeof input?.name === "string" ? input.name : "(unnamed)")
  // Decoding drops such a key silently: refused here, before it is lost.
  for (const field of ["metadata", "env"] as const) {
    const value: unknown = input[field]
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, "__proto__")) continue
    return yield* new InvalidJobSpecError({
      name: own.name,
      field,
      problem: `has the key "__proto__", which cannot be kept (it would become the object's prototype); use another name`
    })
  }
  const name = JobName.full(options.job_name_prefix, own.name)
  const templated = applyTemplate(own, options.templates ?? {})
  if (Either.isLeft(templated)) {
    return yield* new InvalidJobSpecError({ name, field: templated.left.field, problem: templated.left.problem })
  }
  // A template made in code (not loaded from a file) has not been checked yet: check the merge.
  const spec = templated.right === own ? own : yield* decodeSpec(templated.right, own.name)
  for (const pattern of spec.logCheck?.patterns ?? []) {
    const problem = regexProblem(pattern)
    if (problem !== undefined) {
      return yield* new InvalidJobSpecError({
        name,
        field: "logCheck.patterns",
        problem: `has ${JSON.stringify(pattern)}, which is not a valid regular expression: ${problem}`
      })
    }
  }
  if (spec.command.trim().length === 0) {
    return yield* new InvalidJobSpecError({ name, field: "command", problem: "is empty; give the command to run" })
  }
  const r: ResourceSpec = spec.resources ?? {}
  yield* validateEnv(name, spec.env)
  for (const [field, value] of [
    ["resources.workDir", r.workDir],
    ["resources.stdoutPath", r.stdoutPath],
    ["resources.stderrPath", r.stderrPath],
    ["resources.queue", orElse(r.queue, options.queue)],
    ["resources.account", orElse(r.account, options.account)],
    ...(r.extraDirectives ?? []).map((d) => ["resources.extraDirectives", d] as const)
  ] as const) {
    yield* requireNoControlCharacters(name, field, value)
  }
  const shebang = shebangProblem(options.shebang)
  if (shebang !== undefined) return yield* new InvalidJobSpecError({ name, field: "shebang", problem: shebang })
  for (const line of options.extra_directives) {
    const problem = directiveLineProblem(line)
    if (problem !== undefined) return yield* new InvalidJobSpecError({ name, field: "extra_directives", problem })
  }
  const memoryBytes = yield* memoryBytesOf(r, options)
  const wall = yield* walltimeOf(r, options)
  const array = spec.array === undefined ? undefined : yield* checkArray(name, spec.array)
  for (const d of spec.dependsOn ?? []) {
    if (!/^[\w.\[\]-]+$/.test(d.jobId)) {
      return yield* new InvalidJobSpecError({
        name,
        field: "dependsOn",
        problem: `${JSON.stringify(d.jobId)} is not a job id; give the id the scheduler printed (e.g. "1234" or "1234_5")`
      })
    }
  }
  const resources: ResolvedResources = {
    cpus: orElse(r.cpus, options.cpus),
    gpus: orElse(r.gpus, options.gpus),
    nodes: orElse(r.nodes, options.nodes),
    memoryBytes,
    walltime: wall,
    queue: orElse(r.queue, options.queue),
    account: orElse(r.account, options.account),
    workDir: r.workDir,
    stdoutPath: r.stdoutPath,
    stderrPath: r.stderrPath,
    extraDirectives: r.extraDirectives ?? [],
    extraArgs: [...options.extra_args, ...(r.extraArgs ?? [])]
  }
  let loginShell: LoginShell | undefined
  if (spec.loginShell ?? options.login_shell) {
    const login = loginShebang(options.shebang)
    if (Either.isLeft(login)) {
      return yield* new InvalidJobSpecError({ name, field: "loginShell", problem: login.left })
    }
    loginShell = login.right
  }
  const prepared: PreparedJob = {
    spec,
    name,
    resources,
    array,
    inheritEnv: spec.inheritEnv ?? options.inherit_env,
    loginShell
  }
  return prepared
})

/** A path a job's script, directives or logs name, resolved, and the field it came from. */
export interface PathSource {
  /** What to name when the path is refused: `resources.workDir`, `log_directory`, … */
  readonly field: string
  readonly path: string
  /**
   * `dir`: the job's working directory; `log`: a log file, or the directory default logs go in;
   * `script`: the directory only the job's script goes in.
   */
  readonly use: "dir" | "log" | "script"
}

/** The field named for the directory cluster-api runs in, when a job runs there (it names no workDir). */
export const currentDirectoryField = "working directory (the current directory, as the job names no resources.workDir)"

/**
 * Where a job runs and where its script and default logs go: both in `resources.workDir` when the
 * job names one, else it runs in `baseDir` with its files in the config's `log_directory`.
 * `sources` lists every resolved path with its field, the log paths the job names included.
 */
export const jobDirectories = (
  job: PreparedJob,
  options: ConfigOptions,
  baseDir: string,
  resolve: (...segments: Array<string>) => string
): { readonly runDir: string; readonly outDir: string; readonly sources: ReadonlyArray<PathSource> } => {
  const r = job.resources
  const runDir = resolve(baseDir, r.workDir ?? ".")
  const outDir = r.workDir === undefined ? resolve(baseDir, options.log_directory) : runDir
  const dirField = r.workDir === undefined ? currentDirectoryField : "resources.workDir"
  const outField = r.workDir === undefined ? "log_directory" : "resources.workDir"
  const given = (field: string, value: string | undefined): ReadonlyArray<PathSource> =>
    value === undefined ? [] : [{ field, path: resolve(runDir, value), use: "log" }]
  const sources: ReadonlyArray<PathSource> = [
    { field: dirField, path: runDir, use: "dir" },
    { field: outField, path: outDir, use: r.stdoutPath === undefined || r.stderrPath === undefined ? "log" : "script" },
    ...given("resources.stdoutPath", r.stdoutPath),
    ...given("resources.stderrPath", r.stderrPath)
  ]
  return { runDir, outDir, sources }
}

/**
 * Fails, naming the field, when a resolved path holds a control character: checked after
 * resolving, so that the directory cluster-api runs in and `log_directory` are covered too.
 */
export const requirePlainPaths = (
  jobName: string,
  sources: ReadonlyArray<PathSource>
): Effect.Effect<void, InvalidJobSpec> =>
  Effect.forEach(sources, (s) => requireNoControlCharacters(jobName, s.field, s.path), { discard: true })

