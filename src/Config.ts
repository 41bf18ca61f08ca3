/**
 * ClusterConfig: the resolved, validated configuration of one profile.
 *
 * Keys are the YAML file's keys (snake_case), so that what `config show` prints, what the file
 * says and what `overrides` take are the same words.
 */
import { FileSystem, Path } from "@effect/platform"
import { Config, Context, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import type { ConfigError } from "effect"
import { availableParallelism } from "node:os"
import * as YAML from "yaml"
import type { Detection } from "./Detect.js"
import { detect as detectExecutor } from "./Detect.js"
import { controlCharacterProblem, directiveLineProblem, shebangProblem } from "./internal/script.js"
import { ConfigInvalid, ConfigNotFound, UnknownProfile } from "./Errors.js"
import type { JobOptions as JobOptionsType } from "./internal/jobOptions.js"
import {
  decodeJobOptions,
  isRecord,
  JobOptions,
  kindOf,
  patternProblems,
  resourceExpected,
  showValue as show,
  suggest,
  TemplateName,
  templateNamePattern,
  unitProblems
} from "./internal/jobOptions.js"
import * as WorkingDirectory from "./internal/workingDirectory.js"
import { detectionLines, withDetection } from "./internal/config/detection.js"
import { findConfigFile } from "./internal/config/find.js"
import { fileStatePath } from "./internal/config/statePath.js"
import { parseYaml } from "./internal/config/yaml.js"
import { resourceDefaultFields } from "./internal/resourceFields.js"

/**
 * The names of the schedulers built into cluster-api, what `executor` may be when a config is
 * loaded on its own. schedulers/builtin.ts holds the schedulers themselves, in this order (the
 * compiler checks that the two agree); a program that adds schedulers passes every name it knows
 * in `LoadOptions.executors`.
 */
export const availableExecutors = ["local", "slurm", "lsf", "sge", "pbs"] as const
/**
 * A scheduler's name, or `auto`: the scheduler whose tools are on PATH, else local (see
 * Detect.ts). Which names are known is checked when the config is loaded, and again when the
 * executor is built.
 */
export const ConfigExecutor = Schema.String.pipe(Schema.pattern(/^[A-Za-z][\w.-]*$/))

export const LsfUnits = Schema.Literal("KB", "MB", "GB", "TB")
/** PBS Professional / OpenPBS, or TORQUE: their qsub and qstat differ. */
export const PbsFlavor = Schema.Literal("pro", "torque")
const ResourceName = Schema.String.pipe(Schema.pattern(/^[\w.-]+$/))

const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const Strings = Schema.Array(Schema.String)

/**
 * Every option, with its default. Options without a default are unset unless the file, the profile
 * or the overrides set them.
 */
export const ConfigOptions = Schema.Struct({
  executor: ConfigExecutor,
  ...resourceDefaultFields,
  /** Seconds between status polls. */
  poll_interval: PositiveNumber,
  /** Where job scripts and logs are written for jobs that name no work_dir. */
  log_directory: Schema.String,
  /** Jobs are named `{prefix}-{name}`; unset (null or "") leaves names as given. */
  job_name_prefix: Schema.optional(Schema.String),
  shebang: Schema.String,
  script_prologue: Strings,
  script_epilogue: Strings,
  /** Whole directive lines appended to every script header, e.g. `#SBATCH --qos=high`. */
  extra_directives: Strings,
  /**
   * Directive lines containing any of these substrings are left out of scripts: the ones the
   * scheduler's options generate, a job's own extra directives and `extra_directives` alike.
   */
  directives_skip: Strings,
  /** Arguments added to every submit command line, before a job's own extra args. */
  extra_args: Strings,
  /**
   * Submit the script on stdin (`qsub < script.sh`) rather than as a file argument. LSF always gets
   * it on stdin (`bsub < script.sh`), whatever this says: bsub reads the `#BSUB` lines of a script
   * given as a file only when lsf.conf sets `LSB_BSUB_PARSE_SCRIPT=Y` (off by default).
   */
  use_stdin: Schema.Boolean,
  lsf_units: LsfUnits,
  /** SGE: the parallel environment a job with several CPUs asks for (`-pe smp N`). */
  sge_parallel_environment: ResourceName,
  /** SGE: the resource memory is asked as (`-l h_vmem=…`, per slot), e.g. `mem_free` or `h_mem`. */
  sge_memory_resource: ResourceName,
  /** SGE: the resource GPUs are asked as (`-l gpu=N`). */
  sge_gpu_resource: ResourceName,
  /** PBS: `pro` (PBS Professional, OpenPBS) or `torque`; `executor: auto` detects it. */
  pbs_flavor: PbsFlavor,
  suppress_job_email: Schema.Boolean,
  /**
   * Whether jobs see the submitting process's environment (false: identity variables, a fixed
   * PATH and the job's own env only; LSF `-env none`, Slurm `--export=NONE`). A job's
   * `inheritEnv` wins.
   */
  inherit_env: Schema.Boolean,
  /** Whether job scripts run in a login shell (LSF `-L`, elsewhere the shebang's `-l`). A job's `loginShell` wins. */
  login_shell: Schema.Boolean,
  /**
   * Named job options (the YAML form: `queue`, `gpus`, `memory`, `prologue`, `max_retries`, …) that
   * a job picks with its `template`; they go under the job's own. A profile's templates replace
   * the top-level ones of the same name.
   */
  templates: Schema.Record({ key: TemplateName, value: JobOptions }),
  /** Seconds a scheduler command may run before it is killed. */
  command_timeout: PositiveNumber,
  zombie_timeout_minutes: PositiveNumber,
  completed_retention_minutes: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
  poll_all_users: Schema.Boolean,
  /**
   * Regular expressions (case-insensitive) that mark a log line as an error line, for failure
   * info and a job's `logCheck`.
   */
  error_patterns: Strings,
  /** Log lines matching one of these are not error lines (see `whitelist_threshold`). */
  error_whitelist: Strings,
  /**
   * How many words a log line must share with a whitelist entry for it to match; an entry of
   * fewer words matches a line holding all of them (or holding the entry as written).
   */
  whitelist_threshold: PositiveInt,
  /** How many local jobs (or array elements) run at once; the rest wait, Pending. */
  max_local_jobs: PositiveInt,
  /**
   * The SQLite file every job and transition is kept in; unset means `$CLUSTER_API_STATE`, else
   * the user's own store (see {@link defaultStatePath}). Relative: in a config file, against the
   * file's directory; given in code, against the current directory. `:memory:` keeps jobs in
   * memory only (gone at exit).
   */
  state_path: Schema.optional(Schema.String)
})
export type ConfigOptions = typeof ConfigOptions.Type

export const defaultOptions: ConfigOptions = {
  executor: "local",
  poll_interval: 10,
  log_directory: "./logs",
  job_name_prefix: "capi",
  shebang: "#!/bin/bash",
  script_prologue: [],
  script_epilogue: [],
  extra_directives: [],
  directives_skip: [],
  extra_args: [],
  use_stdin: false,
  lsf_units: "MB",
  sge_parallel_environment: "smp",
  sge_memory_resource: "h_vmem",
  sge_gpu_resource: "gpu",
  pbs_flavor: "pro",
  suppress_job_email: true,
  inherit_env: true,
  login_shell: false,
  templates: {},
  command_timeout: 100,
  zombie_timeout_minutes: 30,
  completed_retention_minutes: 10,
  poll_all_users: false,
  error_patterns: [
    "\\berror\\b",
    "\\bexception\\b",
    "\\bfailed\\b",
    "\\bfailure\\b",
    "segmentation fault",
    "core dumped",
    "\\bkilled\\b",
    "traceback",
    "\\bsevere\\b"
  ],
  error_whitelist: [],
  whitelist_threshold: 3,
  max_local_jobs: Math.max(1, availableParallelism())
}

/** Where the resolved config came from. */
export interface ConfigSource {
  /** The YAML file read, if any. */
  readonly file?: string | undefined
  /** The profile applied, if any. */
  readonly profile?: string | undefined
  /** Profiles the file defines. */
  readonly profiles: ReadonlyArray<string>
  /** With `executor: auto`: what was detected and why (`options.executor` is then the detected one). */
  readonly detection?: Detection | undefined
}

export interface ClusterConfigShape {
  readonly options: ConfigOptions
  readonly source: ConfigSource
}

export class ClusterConfig extends Context.Tag("cluster-api/ClusterConfig")<ClusterConfig, ClusterConfigShape>() {
  /** A config made in code: defaults plus the given options, no file read. */
  static readonly make = (options: Partial<ConfigOptions> = {}): ClusterConfigShape => ({
    options: { ...defaultOptions, ...options },
    source: { profiles: [] }
  })

  /** A layer of a config made in code (tests, embedding applications). */
  static readonly layerTest = (options: Partial<ConfigOptions> = {}): Layer.Layer<ClusterConfig> =>
    Layer.succeed(ClusterConfig, ClusterConfig.make(options))

  /** A layer of the config loaded from file, profile and overrides: see {@link loadConfig}. */
  static readonly layer = (
    options?: LoadOptions
  ): Layer.Layer<ClusterConfig, ConfigNotFound | ConfigInvalid | UnknownProfile, FileSystem.FileSystem | Path.Path> =>
    layer(options)

  /** A layer of the config loaded with the profile and file `effect/Config` names: see {@link layerConfig}. */
  static readonly layerConfig = (config?: Config.Config.Wrap<ConfigLocation>) => layerConfig(config)
}

// ---------------------------------------------------------------------------------------------
// Loading: file search, YAML parsing, profile merge, validation
// ---------------------------------------------------------------------------------------------

export interface LoadOptions {
  /** Profile from the file's `profiles:` map to apply on top of its top-level keys. */
  readonly profile?: string | undefined
  /** A config file to read instead of searching; it must exist. Relative to `cwd`. */
  readonly configPath?: string | undefined
  /** Options that beat the file and the profile, with the YAML's keys (e.g. from CLI flags). */
  readonly overrides?: Readonly<Record<string, unknown>> | undefined
  /**
   * Where `./cluster-api.yaml` is looked for and relative paths start; default the working
   * directory (WorkingDirectory.ts: the process's current directory unless provided).
   */
  readonly cwd?: string | undefined
  /**
   * How `executor: auto` is resolved, run only when the merged executor is `auto`; default
   * `Detect.detect()` (the commands on this machine's PATH).
   */
  readonly detect?: Effect.Effect<Detection> | undefined
  /** The schedulers' names `executor` may be besides `auto`; default {@link availableExecutors}. */
  readonly executors?: ReadonlyArray<string> | undefined
}

type OptionKey = keyof ConfigOptions

const optionKeys = Object.keys(ConfigOptions.fields) as ReadonlyArray<OptionKey>
const isOptionKey = (key: string): key is OptionKey => Object.hasOwn(ConfigOptions.fields, key)

/** Whether an option may be unset (it has no value unless given one). */
const isOptional = (key: OptionKey): boolean => Schema.isPropertySignature(ConfigOptions.fields[key])

/** Checks one option on its own, with the option's schema from `ConfigOptions`. */
const decodeOne = (key: OptionKey, value: unknown): boolean =>
  Either.isRight(Schema.decodeUnknownEither(ConfigOptions.pick(key))({ [key]: value }))

/** What `executor` must be, in the words of a problem report. */
const executorExpected = (known: ReadonlyArray<string>): string => `one of ${known.join(", ")}, auto`

/** What each option's value must be, in the words of a problem report: `expected …`. */
const expected: { readonly [K in OptionKey]: string } = {
  executor: executorExpected(availableExecutors),
  ...resourceExpected,
  poll_interval: "a positive number",
  log_directory: "a string",
  job_name_prefix: "a string",
  shebang: "a string",
  script_prologue: "a list of strings",
  script_epilogue: "a list of strings",
  extra_directives: "a list of strings",
  directives_skip: "a list of strings",
  extra_args: "a list of strings",
  use_stdin: "true or false",
  lsf_units: `one of ${LsfUnits.literals.join(", ")}`,
  sge_parallel_environment: "a parallel environment's name, such as smp",
  sge_memory_resource: "a resource name, such as h_vmem or mem_free",
  sge_gpu_resource: "a resource name, such as gpu",
  pbs_flavor: `one of ${PbsFlavor.literals.join(", ")}`,
  suppress_job_email: "true or false",
  inherit_env: "true or false",
  login_shell: "true or false",
  templates: "a mapping of template names to mappings of job options",
  command_timeout: "a positive number",
  zombie_timeout_minutes: "a positive number",
  completed_retention_minutes: "a non-negative number",
  poll_all_users: "true or false",
  error_patterns: "a list of regular expressions",
  error_whitelist: "a list of strings",
  whitelist_threshold: "a positive integer",
  max_local_jobs: "a positive integer",
  state_path: `a file path, or ":memory:"`
}


/** One layer of options as written: the file's top level, one profile, or the overrides. */
interface OptionLayer {
  /** Key path prefix in reports: "", "profiles.dev.", "overrides.". */
  readonly prefix: string
  /** Where the layer was written, for warnings: the file, or "overrides". */
  readonly origin: string
  readonly values: Readonly<Record<string, unknown>>
  /** Extra known keys at this level (only `profiles`, at the top level). */
  readonly alsoKnown: ReadonlyArray<string>
}

/** A value that sets an option back to unset (optional options) or to its default. */
const isUnset = (key: OptionKey, value: unknown): boolean =>
  value === null || (key === "job_name_prefix" && value === "")

/**
 * Options whose values go into a job's script, its directives or a path: a control character (a
 * line break above all) in them is refused, since it would start a new line of the script.
 */
const lineKeys: ReadonlySet<OptionKey> = new Set<OptionKey>([
  "log_directory",
  "state_path",
  "job_name_prefix",
  "shebang",
  "extra_directives",
  "queue",
  "account"
])

/** Problems with one present value, each naming its key path and what was expected. */
const checkValue = (
  path: string,
  key: OptionKey,
  value: unknown,
  executors: ReadonlyArray<string>
): ReadonlyArray<string> => {
  if (key === "executor" && (typeof value !== "string" || (value !== "auto" && !executors.includes(value)))) {
    return [`${path}: expected ${executorExpected(executors)}, got ${show(value)}`]
  }
  if (!decodeOne(key, value)) {
    const quoteHint = (key === "memory" || key === "walltime") && typeof value === "number"
      ? " (quote it)"
      : ""
    return [`${path}: expected ${expected[key]}, got ${show(value)}${quoteHint}`]
  }
  if (lineKeys.has(key)) {
    const values: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
    return values.flatMap((v, i) => {
      const problem = typeof v !== "string"
        ? undefined
        : key === "extra_directives"
        ? directiveLineProblem(v)
        : key === "shebang"
        ? shebangProblem(v)
        : controlCharacterProblem(v)
      return problem === undefined ? [] : [`${path}${Array.isArray(value) ? `[${i}]` : ""}: ${problem}`]
    })
  }
  if (key === "memory" || key === "walltime") return unitProblems(key, value, path)
  if (key === "error_patterns") return patternProblems(value as ReadonlyArray<string>, path)
  return []
}

/**
 * A layer's `templates`: each name checked, each body decoded as job options (a null body is an
 * empty template), with problems at `{path}.NAME.key`. A template may not name another template.
 */
const checkTemplates = (
  path: string,
  value: unknown
): Either.Either<Record<string, JobOptionsType>, ReadonlyArray<string>> => {
  if (!isRecord(value)) return Either.left([`${path}: expected ${expected.templates}, got ${kindOf(value)}`])
  const problems: Array<string> = []
  const templates: Record<string, JobOptionsType> = {}
  for (const [name, body] of Object.entries(value)) {
    if (!templateNamePattern.test(name)) {
      problems.push(`${path}: ${JSON.stringify(name)} is not a template name; use letters, digits, _, . and -`)
      continue
    }
    const decoded = decodeJobOptions(body ?? {}, `${path}.${name}`)
    if (Either.isLeft(decoded)) {
      problems.push(...decoded.left)
      continue
    }
    if (decoded.right.options.template !== undefined) {
      problems.push(`${path}.${name}.template: a template cannot name another template; copy the options it needs`)
      continue
    }
    templates[name] = decoded.right.options
  }
  return problems.length > 0 ? Either.left(problems) : Either.right(templates)
}

/**
 * Loads the configuration: the first of `configPath`, `$CLUSTER_API_CONFIG`,
 * `{cwd}/cluster-api.yaml`, `~/.config/cluster-api/config.yaml` (or none: defaults), then the
 * file's top-level options, the chosen profile on top, and `overrides` on top of that.
 *
 * A `null` value unsets an option (back to its default, or to unset if it has none to need).
 * Unknown keys are logged as warnings and ignored; wrong values fail with every problem listed.
 */
export const loadConfig: (
  options?: LoadOptions
) => Effect.Effect<ClusterConfigShape, ConfigNotFound | ConfigInvalid | UnknownProfile, FileSystem.FileSystem | Path.Path> =
  Effect.fn("ClusterConfig.load")(function*(options: LoadOptions = {}) {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const cwd = path.resolve(options.cwd ?? (yield* WorkingDirectory.current))
    const file = Option.getOrUndefined(yield* findConfigFile(options.configPath, cwd))
    const profile = options.profile === "" ? undefined : options.profile

    // The file: top level and profiles
    let top: Record<string, unknown> = {}
    let profiles: Record<string, unknown> = {}
    const problems: Array<string> = []
    if (file !== undefined) {
      yield* Effect.logDebug(`Reading config ${file}`)
      const text = yield* fs.readFileString(file).pipe(
        Effect.mapError((error) => new ConfigInvalid({ file, problems: [`cannot read the file: ${error.message}`] }))
      )
      const parsed = parseYaml(text)
      if (Either.isLeft(parsed)) return yield* new ConfigInvalid({ file, problems: parsed.left })
      const { profiles: rawProfiles = null, ...rest } = parsed.right
      top = rest
      if (rawProfiles !== null) {
        if (!isRecord(rawProfiles)) {
          return yield* new ConfigInvalid({
            file,
            problems: [`profiles: expected a mapping of profile names to mappings of options, got ${kindOf(rawProfiles)}`]
          })
        }
        profiles = rawProfiles
        for (const [name, body] of Object.entries(rawProfiles)) {
          if (body !== null && !isRecord(body)) {
            problems.push(`profiles.${name}: expected a mapping of options, got ${kindOf(body)}`)
          }
        }
      }
    }
    const profileNames = Object.keys(profiles)
    if (profile !== undefined && !Object.hasOwn(profiles, profile)) {
      return yield* new UnknownProfile({ profile, available: profileNames, ...(file === undefined ? {} : { file }) })
    }

    // Layers, lowest precedence first
    const origin = file ?? "overrides"
    const layers: Array<OptionLayer> = [{ prefix: "", origin, values: top, alsoKnown: ["profiles"] }]
    if (profile !== undefined) {
      const body = profiles[profile]
      layers.push({ prefix: `profiles.${profile}.`, origin, values: isRecord(body) ? body : {}, alsoKnown: [] })
    }
    if (options.overrides !== undefined) {
      layers.push({
        prefix: file === undefined ? "" : "overrides.",
        origin: "overrides",
        values: options.overrides,
        alsoKnown: []
      })
    }

    const merged: Record<string, unknown> = { ...defaultOptions }
    /** Whether the file (not the overrides) set or unset state_path last. */
    let stateFromFile = false
    /** Options some layer set to a value (not left at, or set back to, the default). */
    const explicit = new Set<OptionKey>()
    for (const layer of layers) {
      for (const [key, value] of Object.entries(layer.values)) {
        if (value === undefined) continue
        const keyPath = layer.origin === "overrides" ? key : `${layer.prefix}${key}`
        if (!isOptionKey(key)) {
          const guess = suggest(key, [...optionKeys, ...layer.alsoKnown])
          yield* Effect.logWarning(
            `Unknown config key ${keyPath} in ${layer.origin}, ignored${guess === undefined ? "" : `; did you mean ${guess}?`}`
          )
          continue
        }
        if (key === "state_path") stateFromFile = layer.origin !== "overrides"
        if (isUnset(key, value)) {
          if (isOptional(key)) delete merged[key]
          else merged[key] = defaultOptions[key]
          explicit.delete(key)
          continue
        }
        if (key === "templates") {
          // Merged by name: a later layer's template replaces an earlier one of the same name.
          const templates = checkTemplates(`${layer.prefix}${key}`, value)
          if (Either.isLeft(templates)) problems.push(...templates.left)
          else {
            merged.templates = { ...(merged.templates as ConfigOptions["templates"]), ...templates.right }
            explicit.add(key)
          }
          continue
        }
        const found = checkValue(`${layer.prefix}${key}`, key, value, options.executors ?? availableExecutors)
        problems.push(...found)
        if (found.length === 0) {
          merged[key] = value
          explicit.add(key)
        }
      }
    }
    if (problems.length > 0) return yield* new ConfigInvalid({ file: origin, problems })
    if (options.overrides?.["state_path"] === undefined) {
      yield* fileStatePath(merged, file, cwd, stateFromFile)
    }

    // Every value was checked above; this only builds the typed result.
    const decoded = Schema.decodeUnknownEither(ConfigOptions)(merged)
    if (Either.isLeft(decoded)) {
      return yield* new ConfigInvalid({ file: origin, problems: [ParseResult.TreeFormatter.formatErrorSync(decoded.left)] })
    }
    const source: ConfigSource = { file, profile, profiles: profileNames }
    if (decoded.right.executor !== "auto") return { options: decoded.right, source } satisfies ClusterConfigShape
    const detection = yield* (options.detect ?? detectExecutor())
    yield* Effect.logDebug(`executor: auto → ${detection.executor}: ${detection.reason}`)
    return withDetection({ options: decoded.right, source }, detection, { keepPbsFlavor: explicit.has("pbs_flavor") })
  })

/** A ClusterConfig layer from {@link loadConfig}. */
export const layer = (
  options?: LoadOptions
): Layer.Layer<ClusterConfig, ConfigNotFound | ConfigInvalid | UnknownProfile, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(ClusterConfig, loadConfig(options))

/** Which profile and file to load, as `effect/Config` can give them. */
export interface ConfigLocation {
  readonly profile?: string | undefined
  readonly configPath?: string | undefined
}

/** `CLUSTER_API_PROFILE`, when set and not empty; the file is found as {@link loadConfig} says. */
const locationFromEnv: Config.Config<ConfigLocation> = Config.string("CLUSTER_API_PROFILE").pipe(
  Config.option,
  Config.map((profile) => ({ profile: Option.getOrUndefined(Option.filter(profile, (p) => p.length > 0)) }))
)

/**
 * A ClusterConfig layer from {@link loadConfig}, with the profile and file read through
 * `effect/Config` (so from the environment, or any ConfigProvider): by default the profile in
 * `CLUSTER_API_PROFILE` and the file the loader finds (`$CLUSTER_API_CONFIG` first).
 */
export const layerConfig = (
  config: Config.Config.Wrap<ConfigLocation> = locationFromEnv
): Layer.Layer<
  ClusterConfig,
  ConfigNotFound | ConfigInvalid | UnknownProfile | ConfigError.ConfigError,
  FileSystem.FileSystem | Path.Path
> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), (location) => layer(location)))

/**
 * The resolved options as YAML (what `cluster-api config show` prints), after comment lines
 * saying where they came from. Unset options are listed in a comment.
 */
export const renderConfig = (config: ClusterConfigShape): string => {
  const { options, source } = config
  const unset = optionKeys.filter((key) => options[key] === undefined)
  const header = [
    "# cluster-api configuration, resolved",
    `# file: ${source.file ?? "none (built-in defaults)"}`,
    `# profile: ${source.profile ?? "none"}`,
    ...(source.profiles.length > 0 ? [`# profiles in the file: ${source.profiles.join(", ")}`] : []),
    ...(unset.length > 0 ? [`# unset: ${unset.join(", ")}`] : []),
    ...(source.detection === undefined ? [] : detectionLines(source.detection))
  ]
  return `${header.join("\n")}\n${YAML.stringify(options)}`
}
