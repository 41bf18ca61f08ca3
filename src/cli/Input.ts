/**
 * What users type on the command line, read into values (pure).
 */
import { Duration, Either } from "effect"
import type { FailureKind, JobStatus } from "../Domain.js"
import { FailureKind as FailureKindSchema, JobStatus as JobStatusSchema } from "../Domain.js"
import { shellQuote } from "../Script.js"
import { durationForms, parseDuration } from "../Units.js"

/** Parses a timeout: a length of time in the one grammar of the command line (`parseDuration`), more than zero. */
export const parseTimeout = (input: string): Either.Either<Duration.Duration, string> =>
  Either.filterOrLeft(
    Either.mapLeft(parseDuration(input), (problem) => `Invalid --timeout: ${problem}`),
    (d) => Duration.toMillis(d) > 0,
    () => `Invalid --timeout ${JSON.stringify(input)}: a timeout is longer than zero; write ${durationForms}`
  )

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
