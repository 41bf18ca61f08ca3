/**
 * A job's options as written in YAML: snake_case keys, like the rest of the config. They are the
 * body of a config template (`templates: { gpu: { queue: gpu, gpus: 1 } }`) and of a pipeline
 * step. Decoding checks them key by key and lists every problem with its key path; `toSpec` turns
 * them into the (partial) JobSpec they give; `mergeUnder` and `applyTemplate` put a template's
 * options under a job's own.
 *
 * Pure functions only.
 */
import { Either, ParseResult, Schema } from "effect"
import type { ArraySpec, JobSpec, LogCheck, ResourceSpec, RetryPolicy } from "./Domain.js"
import { FailureKind } from "./Domain.js"
import { Memory, Walltime } from "./Units.js"

// ---------------------------------------------------------------------------------------------
// Small helpers shared with Config.ts
// ---------------------------------------------------------------------------------------------

export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A value as a problem report shows it: JSON-ish, and short. */
export const showValue = (value: unknown): string => {
  let text: string
  if (typeof value === "number" || typeof value === "bigint") text = String(value)
  else if (value instanceof Uint8Array) text = "binary data"
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** What kind of YAML node a value came from, for structural problems. */
export const kindOf = (value: unknown): string => (Array.isArray(value) ? "a list" : isRecord(value) ? "a mapping" : showValue(value))

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/** The closest of `candidates` within edit distance 2 (case-insensitive), if any, as written in `candidates`. */
export const suggest = (key: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** The error a regular expression (compiled case-insensitive, as log checks do) fails with, if any. */
export const regexProblem = (pattern: string): string | undefined => {
  try {
    new RegExp(pattern, "i")
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

// ---------------------------------------------------------------------------------------------
// Array ranges
// ---------------------------------------------------------------------------------------------

const ARRAY_SPEC = /^(\d+)-(\d+)(?::(\d+))?(?:%(\d+))?$/

const arrayExpected =
  `expected START-END[:STEP][%MAX] in whole numbers, e.g. 1-10 (elements 1 to 10), 0-99:2 (every second), 1-10%2 (at most 2 at once)`

/**
 * Parses `START-END[:STEP][%MAX]`, e.g. `1-10`, `0-99:2`, `1-10%2`, `1-10:2%4`. The problem, when
 * there is one, names the input and reads after a prefix such as `--array: ` or a key path.
 */
export const parseArraySpec = (input: string): Either.Either<ArraySpec, string> => {
  const m = ARRAY_SPEC.exec(input.trim())
  if (m === null) return Either.left(`${JSON.stringify(input)} is not an array range: ${arrayExpected}`)
  const [start, end] = [Number(m[1]), Number(m[2])]
  const step = m[3] === undefined ? undefined : Number(m[3])
  const max = m[4] === undefined ? undefined : Number(m[4])
  if (end < start) {
    return Either.left(`${JSON.stringify(input)}: the end ${end} is below the start ${start}; ${arrayExpected}`)
  }
  if (step === 0 || max === 0) {
    return Either.left(`${JSON.stringify(input)}: STEP and MAX must be at least 1; ${arrayExpected}`)
  }
  return Either.right({
    start,
    end,
    ...(step === undefined ? {} : { step }),
    ...(max === undefined ? {} : { maxConcurrent: max })
  })
}

// ---------------------------------------------------------------------------------------------
// The options, as a Schema
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.positive())
const Strings = Schema.Array(Schema.String)
const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

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

type JobOptionKey = keyof typeof JobOptions.fields

/** The keys of {@link JobOptions}, in the order they are documented. */
export const jobOptionKeys = Object.keys(JobOptions.fields) as ReadonlyArray<JobOptionKey>
const isJobOptionKey = (key: string): key is JobOptionKey => Object.hasOwn(JobOptions.fields, key)

/** Keys only a pipeline step may have (see `allowDependsOn`). */
export const dependencyKeys = ["depends_on", "dependency_type"] as const

/** The retry keys that mean nothing without `max_retries`. */
const retryKeys = [
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

const expected: { readonly [K in JobOptionKey]: string } = {
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

// ---------------------------------------------------------------------------------------------
// Decoding, key by key
// ---------------------------------------------------------------------------------------------

const strict = { onExcessProperty: "error" } as const

/** Decodes one key's value with its schema from `JobOptions` (unknown nested keys refused). */
const decodeOne = (key: JobOptionKey, value: unknown): Either.Either<unknown, unknown> =>
  Either.map(Schema.decodeUnknownEither(JobOptions.pick(key), strict)({ [key]: value }), (o) => o[key])

const unknownKey = (path: string, key: string, known: ReadonlyArray<string>, what: string): string => {
  const guess = suggest(key, known)
  return `${path}: unknown ${what}${guess === undefined ? `; the ${what}s are ${known.join(", ")}` : `; did you mean ${guess}?`}`
}

/** Problems with a nested mapping's keys: unknown ones, and each known one's own check. */
const checkMapping = (
  value: Record<string, unknown>,
  path: string,
  what: string,
  checks: Readonly<Record<string, (v: unknown, p: string) => ReadonlyArray<string>>>
): ReadonlyArray<string> =>
  Object.entries(value).flatMap(([key, v]) =>
    Object.hasOwn(checks, key) ? checks[key]!(v, `${path}.${key}`) : [unknownKey(`${path}.${key}`, key, Object.keys(checks), what)]
  )

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v)
const checkInt = (min: 0 | 1) => (v: unknown, p: string): ReadonlyArray<string> =>
  isInt(v) && v >= min ? [] : [`${p}: expected a ${min === 0 ? "non-negative" : "positive"} integer, got ${showValue(v)}`]
const checkBoolean = (v: unknown, p: string): ReadonlyArray<string> =>
  typeof v === "boolean" ? [] : [`${p}: expected true or false, got ${showValue(v)}`]
const checkStrings = (v: unknown, p: string): ReadonlyArray<string> =>
  Array.isArray(v) && v.every((s) => typeof s === "string") ? [] : [`${p}: expected a list of strings, got ${showValue(v)}`]

/**
 * Why a value its schema refused is wrong, in more detail than `expected …` where that helps:
 * which regex, which env name, which failure kind, which nested key. Empty: say `expected …`.
 */
/** A memory or walltime string that does not parse, as a problem at `path` (the config's too). */
export const unitProblems = (key: "memory" | "walltime", value: unknown, path: string): ReadonlyArray<string> => {
  if (typeof value !== "string") return []
  const decoded = Schema.decodeEither(key === "memory" ? Memory : Walltime)(value)
  return Either.isRight(decoded)
    ? []
    : ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => `${path}: ${issue.message}`)
}

/** The patterns of a list at `path` that are not valid regular expressions, as problems (the config's too). */
export const patternProblems = (patterns: ReadonlyArray<string>, path: string): ReadonlyArray<string> =>
  patterns.flatMap((pattern, i) => {
    const problem = regexProblem(pattern)
    return problem === undefined ? [] : [`${path}[${i}]: ${JSON.stringify(pattern)} is not a valid regular expression: ${problem}`]
  })

const explain: { readonly [K in JobOptionKey]?: (value: unknown, path: string) => ReadonlyArray<string> } = {
  memory: (value, path) => unitProblems("memory", value, path),
  walltime: (value, path) => unitProblems("walltime", value, path),
  array: (value, path) => {
    if (typeof value === "string") {
      const parsed = parseArraySpec(value)
      return Either.isLeft(parsed) ? [`${path}: ${parsed.left}`] : []
    }
    if (!isRecord(value)) return []
    const problems = [
      ...checkMapping(value, path, "array key", {
        start: checkInt(0),
        end: checkInt(0),
        step: checkInt(1),
        max_concurrent: checkInt(1)
      }),
      ...["start", "end"].filter((k) => value[k] === undefined).map((k) => `${path}.${k}: missing; give ${k} (a non-negative integer)`)
    ]
    if (problems.length === 0 && isInt(value.start) && isInt(value.end) && value.end < value.start) {
      problems.push(`${path}: the end ${value.end} is below the start ${value.start}`)
    }
    return problems
  },
  env: (value, path) => {
    if (!isRecord(value)) return []
    return Object.entries(value).flatMap(([name, v]) => [
      ...(envName.test(name)
        ? []
        : [`${path}.${name}: not a shell variable name; use letters, digits and _ (not starting with a digit)`]),
      ...(["string", "number", "boolean"].includes(typeof v) ? [] : [`${path}.${name}: expected a string, got ${showValue(v)}`])
    ])
  },
  retry_on: (value, path) => {
    if (!Array.isArray(value)) return []
    const kinds: ReadonlyArray<string> = FailureKind.literals
    return value.flatMap((kind, i) => {
      if (typeof kind === "string" && kinds.includes(kind)) return []
      const guess = typeof kind === "string" ? suggest(kind, kinds) : undefined
      return [
        `${path}[${i}]: ${showValue(kind)} is not a failure kind; ${
          guess === undefined ? `the kinds are ${kinds.join(", ")}` : `did you mean ${guess}?`
        }`
      ]
    })
  },
  check_logs: (value, path) => {
    if (!isRecord(value)) return []
    return checkMapping(value, path, "check_logs key", {
      patterns: (v, p) => {
        const shape = checkStrings(v, p)
        return shape.length > 0 ? shape : patternProblems(v as ReadonlyArray<string>, p)
      },
      whitelist: checkStrings,
      threshold: checkInt(1),
      fail: checkBoolean
    })
  }
}

/** Problems with one key's value, or the value as decoded. */
const checkOption = (key: JobOptionKey, value: unknown, path: string): Either.Either<unknown, ReadonlyArray<string>> => {
  const decoded = decodeOne(key, value)
  if (Either.isRight(decoded)) return Either.right(decoded.right)
  const detailed = explain[key]?.(value, path) ?? []
  if (detailed.length > 0) return Either.left(detailed)
  const quoteHint = (key === "memory" || key === "walltime" || key === "array") && typeof value === "number"
    ? " (quote it)"
    : ""
  return Either.left([`${path}: expected ${expected[key]}, got ${showValue(value)}${quoteHint}`])
}

export interface DecodeJobOptions {
  /**
   * Accept `depends_on` and `dependency_type` (a pipeline step's keys); they are returned as
   * written, unchecked, for the caller to make sense of. Without it they are problems.
   */
  readonly allowDependsOn?: boolean | undefined
}

export interface JobOptionsDecoded {
  readonly options: JobOptions
  /** A pipeline step's `depends_on`, as written (only with `allowDependsOn`). */
  readonly dependsOn?: unknown
  /** A pipeline step's `dependency_type`, as written (only with `allowDependsOn`). */
  readonly dependencyType?: unknown
}

/**
 * Decodes a job's options as written in YAML. Every problem is listed, each starting with its key
 * path (`path` + `.key`: `templates.gpu.memory: …`, `steps[2].cpus: …`): wrong types, memory and
 * walltime that do not parse, regular expressions that do not compile, and unknown keys (with a
 * "did you mean" suggestion; a misspelt option must not silently drop a resource). Retry options
 * other than `max_retries` need `max_retries` beside them.
 */
export const decodeJobOptions = (
  value: unknown,
  path: string,
  opts: DecodeJobOptions = {}
): Either.Either<JobOptionsDecoded, ReadonlyArray<string>> => {
  const at = (key: string) => (path === "" ? key : `${path}.${key}`)
  if (!isRecord(value)) {
    return Either.left([`${path === "" ? "job options" : path}: expected a mapping of job options, got ${kindOf(value)}`])
  }
  const allowDependsOn = opts.allowDependsOn === true
  const known: ReadonlyArray<string> = allowDependsOn ? [...jobOptionKeys, ...dependencyKeys] : jobOptionKeys
  const problems: Array<string> = []
  const options: Record<string, unknown> = {}
  const dependencies: { dependsOn?: unknown; dependencyType?: unknown } = {}
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue
    if (key === "depends_on" || key === "dependency_type") {
      if (!allowDependsOn) {
        problems.push(`${at(key)}: only a pipeline step can depend on other jobs; remove it here`)
      } else if (key === "depends_on") dependencies.dependsOn = v
      else dependencies.dependencyType = v
      continue
    }
    if (!isJobOptionKey(key)) {
      problems.push(unknownKey(at(key), key, known, "option"))
      continue
    }
    const checked = checkOption(key, v, at(key))
    if (Either.isLeft(checked)) problems.push(...checked.left)
    else options[key] = checked.right
  }
  if (value.max_retries === undefined) {
    for (const key of retryKeys) {
      if (value[key] !== undefined) {
        problems.push(`${at(key)}: means nothing without max_retries; add max_retries (how many times to retry)`)
      }
    }
  }
  if (problems.length > 0) return Either.left(problems)
  return Either.right({ options: options as JobOptions, ...dependencies })
}

// ---------------------------------------------------------------------------------------------
// To a JobSpec
// ---------------------------------------------------------------------------------------------

type Compact<T> = { [K in keyof T]?: Exclude<T[K], undefined> }

/** The object without its undefined fields. */
const compact = <T extends Record<string, unknown>>(o: T): Compact<T> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as Compact<T>
}

const nonEmpty = <T extends object>(o: T): T | undefined => (Object.keys(o).length === 0 ? undefined : o)

/** An `array` option as an ArraySpec. */
const toArraySpec = (array: ArrayOption): ArraySpec => {
  if (typeof array !== "string") {
    return compact({ start: array.start, end: array.end, step: array.step, maxConcurrent: array.max_concurrent }) as ArraySpec
  }
  const parsed = parseArraySpec(array)
  if (Either.isLeft(parsed)) throw new Error(`toSpec: array ${parsed.left}; decode options with decodeJobOptions first`)
  return parsed.right
}

/** `check_logs` as a LogCheck: true is `{}` (the config's patterns), false is `{ patterns: [] }` (nothing matches). */
const toLogCheck = (check: CheckLogsOption): LogCheck =>
  typeof check === "boolean"
    ? (check ? {} : { patterns: [] })
    : compact({ patterns: check.patterns, whitelist: check.whitelist, threshold: check.threshold, fail: check.fail })

/**
 * The partial JobSpec (camelCase) that options give: `command`, `name` and `template` only when
 * present, resources under `resources`, the retry keys as `retry` (only with `max_retries`, which
 * {@link decodeJobOptions} requires beside the others), `check_logs` as `logCheck`. Expects options
 * from `decodeJobOptions` (an `array` string that does not parse is a defect).
 */
export const toSpec = (options: JobOptions): Partial<JobSpec> => {
  const o = options
  const resources: ResourceSpec = compact({
    cpus: o.cpus,
    gpus: o.gpus,
    nodes: o.nodes,
    memory: o.memory,
    walltime: o.walltime,
    queue: o.queue,
    account: o.account,
    workDir: o.work_dir,
    stdoutPath: o.stdout,
    stderrPath: o.stderr,
    extraDirectives: o.extra_directives,
    extraArgs: o.extra_args
  })
  const retry: RetryPolicy | undefined = o.max_retries === undefined ? undefined : {
    maxRetries: o.max_retries,
    ...compact({
      on: o.retry_on,
      backoffSeconds: o.retry_backoff,
      backoffFactor: o.retry_backoff_factor,
      maxBackoffSeconds: o.max_retry_backoff,
      memoryFactor: o.escalate_memory,
      walltimeFactor: o.escalate_walltime
    })
  }
  return compact({
    command: o.command,
    name: o.name,
    template: o.template,
    resources: nonEmpty(resources),
    env: o.env,
    prologue: o.prologue,
    epilogue: o.epilogue,
    metadata: o.metadata,
    array: o.array === undefined ? undefined : toArraySpec(o.array),
    inheritEnv: o.inherit_env,
    loginShell: o.login_shell,
    retry,
    expectedOutputs: o.expected_outputs,
    logCheck: o.check_logs === undefined ? undefined : toLogCheck(o.check_logs)
  })
}

// ---------------------------------------------------------------------------------------------
// Merging a template under a job
// ---------------------------------------------------------------------------------------------

/** Both lists, `base`'s first, each value once; undefined when neither is given. */
const joinLists = (
  base: ReadonlyArray<string> | undefined,
  own: ReadonlyArray<string> | undefined
): ReadonlyArray<string> | undefined =>
  base === undefined && own === undefined ? undefined : [...new Set([...(base ?? []), ...(own ?? [])])]

/** Field by field, `own`'s defined fields over `base`'s; undefined when neither is given. */
const overlay = <T extends object>(base: T | undefined, own: T | undefined): T | undefined =>
  base === undefined && own === undefined
    ? undefined
    : ({ ...compact({ ...base }), ...compact({ ...own }) } as T)

/**
 * `base` (a template's spec) under `spec`: scalar fields and resources field by field (the spec's
 * value wins), env and metadata merged (the spec wins per key), the lists (prologue, epilogue,
 * extraDirectives, extraArgs, expectedOutputs) joined with base's first and duplicates dropped,
 * retry and logCheck merged field by field, `dependsOn` only from the spec. Merging the same base
 * again changes nothing.
 */
export const mergeUnder = (base: Partial<JobSpec>, spec: JobSpec): JobSpec => {
  const b = base.resources
  const s = spec.resources
  const resources: ResourceSpec | undefined = b === undefined && s === undefined ? undefined : {
    ...overlay(b, s),
    ...compact({
      extraDirectives: joinLists(b?.extraDirectives, s?.extraDirectives),
      extraArgs: joinLists(b?.extraArgs, s?.extraArgs)
    })
  }
  const retry: RetryPolicy | undefined = overlay(base.retry, spec.retry)
  return {
    command: spec.command,
    name: spec.name,
    ...compact({
      resources,
      env: overlay(base.env, spec.env),
      prologue: joinLists(base.prologue, spec.prologue),
      epilogue: joinLists(base.epilogue, spec.epilogue),
      metadata: overlay(base.metadata, spec.metadata),
      array: spec.array ?? base.array,
      dependsOn: spec.dependsOn,
      inheritEnv: spec.inheritEnv ?? base.inheritEnv,
      loginShell: spec.loginShell ?? base.loginShell,
      template: spec.template ?? base.template,
      retry,
      expectedOutputs: joinLists(base.expectedOutputs, spec.expectedOutputs),
      logCheck: overlay(base.logCheck, spec.logCheck)
    })
  }
}

/**
 * The spec with its template (`spec.template`, one of `templates`) merged under it, `template`
 * kept on the result; a spec naming no template is returned as it is. An unknown name is a
 * problem that lists the templates there are (or says there are none, and how to add one).
 */
export const applyTemplate = (
  spec: JobSpec,
  templates: Readonly<Record<string, JobOptions>>
): Either.Either<JobSpec, { readonly field: "template"; readonly problem: string }> => {
  const name = spec.template
  if (name === undefined) return Either.right(spec)
  const template = Object.hasOwn(templates, name) ? templates[name] : undefined
  if (template === undefined) {
    const names = Object.keys(templates)
    const problem = names.length === 0
      ? `${JSON.stringify(name)} is not a template: the config defines none; add one under \`templates:\` in cluster-api.yaml (e.g. \`templates: { ${name}: { queue: ${name} } }\`)`
      : `${JSON.stringify(name)} is not a template; ${
        ((guess) => (guess === undefined ? "" : `did you mean ${guess}? `))(suggest(name, names))
      }the config defines ${names.join(", ")}`
    return Either.left({ field: "template", problem })
  }
  return Either.right(mergeUnder(toSpec(template), spec))
}
