/**
 * Decoding a job's options key by key: every problem listed with its key path, unknown keys with
 * a "did you mean" suggestion.
 */
import { Either, ParseResult, Schema } from "effect"
import { FailureKind } from "../../Domain.js"
import { Memory, Walltime } from "../../Units.js"
import { parseArraySpec } from "./arraySpec.js"
import { isRecord, kindOf, regexProblem, showValue, suggest } from "./problems.js"
import type { JobOptionKey } from "./schema.js"
import { dependencyKeys, envName, expected, isJobOptionKey, JobOptions, jobOptionKeys, retryKeys } from "./schema.js"

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
