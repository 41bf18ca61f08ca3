/**
 * ClusterConfig: the resolved, validated configuration of one profile.
 *
 * Keys are the YAML file's keys (snake_case), so that what `config show` prints, what the file
 * says and what `overrides` take are the same words.
 */
import { Context, Layer, Schema } from "effect"
import { availableParallelism } from "node:os"

/** Executors this version of cluster-api can run jobs on. */
export const availableExecutors = ["local"] as const
export const ConfigExecutor = Schema.Literal(...availableExecutors)

export const LsfUnits = Schema.Literal("KB", "MB", "GB", "TB")

const PositiveNumber = Schema.Number.pipe(Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const Strings = Schema.Array(Schema.String)

/**
 * Every option, with its default. Options without a default are unset unless the file, the profile
 * or the overrides set them.
 */
export const ConfigOptions = Schema.Struct({
  executor: ConfigExecutor,
  cpus: Schema.optional(PositiveInt),
  gpus: Schema.optional(NonNegativeInt),
  nodes: Schema.optional(PositiveInt),
  memory: Schema.optional(Schema.String),
  walltime: Schema.optional(Schema.String),
  queue: Schema.optional(Schema.String),
  account: Schema.optional(Schema.String),
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
  /** Directive lines containing any of these substrings are left out of scripts. */
  directives_skip: Strings,
  /** Arguments added to every submit command line, before a job's own extra args. */
  extra_args: Strings,
  /** Submit the script on stdin (`bsub < script.sh`) rather than as a file argument. */
  use_stdin: Schema.Boolean,
  lsf_units: LsfUnits,
  suppress_job_email: Schema.Boolean,
  /** Seconds a scheduler command may run before it is killed. */
  command_timeout: PositiveNumber,
  zombie_timeout_minutes: PositiveNumber,
  completed_retention_minutes: Schema.Number.pipe(Schema.nonNegative()),
  poll_all_users: Schema.Boolean,
  /** How many local jobs (or array elements) run at once; the rest wait, Pending. */
  max_local_jobs: PositiveInt
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
  suppress_job_email: true,
  command_timeout: 100,
  zombie_timeout_minutes: 30,
  completed_retention_minutes: 10,
  poll_all_users: false,
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
}
