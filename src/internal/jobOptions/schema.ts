/**
 * A job's options as a Schema: every key, what its value must be (also in the words of a problem
 * report), and the keys that belong together.
 */
import { Either, Schema } from "effect"
import { FailureKind } from "../../Domain.js"
import { Memory, Walltime } from "../../Units.js"
import { parseArraySpec } from "./arraySpec.js"
import { regexProblem } from "./problems.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.positive())
const Strings = Schema.Array(Schema.String)
export const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** What template names may be: letters, digits, `_`, `.` and `-`. */
export const templateNamePattern = /^[\w.-]+$/
export const TemplateName = Schema.String.pipe(Schema.pattern(templateNamePattern))

/** A string kept as written, accepted when `schema` decodes it (the job's spec keeps the user's words). */
const decodable = <A>(schema: Schema.Schema<A, string>) => {
  const decode = Schema.decodeEither(schema)
  return Schema.String.pipe(Schema.filter((s) => Either.isRight(decode(s))))
}
const MemoryString = decodable(Memory)
const WalltimeString = decodable(Walltime)
const Regex = Schema.String.pipe(Schema.filter((s) => regexProblem(s) === undefined))

/** An environment variable's value: a string, or a number or boolean written unquoted (made a string). */
const EnvValue = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Union(Schema.Number, Schema.Boolean), Schema.String, {
    strict: false,
    decode: (value) => String(value),
    encode: (value) => value
  })
)

/** An array job as written: `"1-10:2%4"`, or a mapping. */
export const ArrayOption = Schema.Union(
  Schema.String.pipe(Schema.filter((s) => Either.isRight(parseArraySpec(s)))),
  Schema.Struct({
    start: NonNegativeInt,
    end: NonNegativeInt,
    step: Schema.optional(PositiveInt),
    max_concurrent: Schema.optional(PositiveInt)
  }).pipe(Schema.filter((a) => a.end >= a.start))
)
export type ArrayOption = typeof ArrayOption.Type

/** `check_logs` as written: true (the config's patterns), false (no check), or a mapping. */
export const CheckLogsOption = Schema.Union(
  Schema.Boolean,
  Schema.Struct({
    patterns: Schema.optional(Schema.Array(Regex)),
    whitelist: Schema.optional(Strings),
    threshold: Schema.optional(PositiveInt),
    fail: Schema.optional(Schema.Boolean)
  })
)
export type CheckLogsOption = typeof CheckLogsOption.Type

/**
 * A job's options as written in YAML. Every key is optional. Decode with {@link decodeJobOptions}
 * (it names every problem with its key path); Schema decoding alone also refuses wrong values but
 * ignores unknown keys.
 */
export const JobOptions = Schema.Struct({
  command: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  template: Schema.optional(TemplateName),
  cpus: Schema.optional(PositiveInt),
  gpus: Schema.optional(NonNegativeInt),
  nodes: Schema.optional(PositiveInt),
  memory: Schema.optional(MemoryString),
  walltime: Schema.optional(WalltimeString),
  queue: Schema.optional(Schema.String),
  account: Schema.optional(Schema.String),
  work_dir: Schema.optional(Schema.String),
  stdout: Schema.optional(Schema.String),
  stderr: Schema.optional(Schema.String),
  extra_directives: Schema.optional(Strings),
  extra_args: Schema.optional(Strings),
  env: Schema.optional(Schema.Record({ key: Schema.String.pipe(Schema.pattern(envName)), value: EnvValue })),
  prologue: Schema.optional(Strings),
  epilogue: Schema.optional(Strings),
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  array: Schema.optional(ArrayOption),
  inherit_env: Schema.optional(Schema.Boolean),
  login_shell: Schema.optional(Schema.Boolean),
  max_retries: Schema.optional(NonNegativeInt),
  retry_on: Schema.optional(Schema.Array(FailureKind)),
  retry_backoff: Schema.optional(Schema.Number.pipe(Schema.finite(), Schema.nonNegative())),
  retry_backoff_factor: Schema.optional(Schema.Number.pipe(Schema.finite(), Schema.greaterThanOrEqualTo(1))),
  max_retry_backoff: Schema.optional(PositiveNumber),
  escalate_memory: Schema.optional(PositiveNumber),
  escalate_walltime: Schema.optional(PositiveNumber),
  expected_outputs: Schema.optional(Strings),
  check_logs: Schema.optional(CheckLogsOption)
})
export type JobOptions = typeof JobOptions.Type

export type JobOptionKey = keyof typeof JobOptions.fields

/** The keys of {@link JobOptions}, in the order they are documented. */
export const jobOptionKeys = Object.keys(JobOptions.fields) as ReadonlyArray<JobOptionKey>
export const isJobOptionKey = (key: string): key is JobOptionKey => Object.hasOwn(JobOptions.fields, key)

/** Keys only a pipeline step may have (see `allowDependsOn`). */
export const dependencyKeys = ["depends_on", "dependency_type"] as const

/** The retry keys that mean nothing without `max_retries`. */
export const retryKeys = [
  "retry_on",
  "retry_backoff",
  "retry_backoff_factor",
  "max_retry_backoff",
  "escalate_memory",
  "escalate_walltime"
] as const

/** What each key's value must be, in the words of a problem report: `expected …`. */
/** What the resources a job and the config both set must be, in the words of a problem report. */
export const resourceExpected = {
  cpus: "a positive integer",
  gpus: "a non-negative integer",
  nodes: "a positive integer",
  memory: `a memory size string such as "8 GB" or "512M"`,
  walltime: `a walltime string such as "04:00" (hours:minutes) or "90m"`,
  queue: "a string",
  account: "a string"
} as const

export const expected: { readonly [K in JobOptionKey]: string } = {
  command: "a string (the command line to run)",
  name: "a string",
  template: "a template name (letters, digits, _, . and -)",
  ...resourceExpected,
  work_dir: "a directory path",
  stdout: "a file path",
  stderr: "a file path",
  extra_directives: "a list of strings",
  extra_args: "a list of strings",
  env: "a mapping of variable names to values",
  prologue: "a list of strings",
  epilogue: "a list of strings",
  metadata: "a mapping",
  array: `a range such as "1-10" or "1-10:2%4" (START-END[:STEP][%MAX]), or a mapping of start, end, step, max_concurrent`,
  inherit_env: "true or false",
  login_shell: "true or false",
  max_retries: "a non-negative integer",
  retry_on: `a list of failure kinds (${FailureKind.literals.join(", ")})`,
  retry_backoff: "a non-negative number of seconds",
  retry_backoff_factor: "a number of at least 1",
  max_retry_backoff: "a positive number of seconds",
  escalate_memory: "a positive number (memory is multiplied by it after OutOfMemory)",
  escalate_walltime: "a positive number (walltime is multiplied by it after Timeout)",
  expected_outputs: "a list of file globs",
  check_logs: "true, false, or a mapping of patterns, whitelist, threshold, fail"
}
