/**
 * What users type on the command line, read into values (pure).
 */
import type * as Usage from "@effect/cli/Usage"
import { Duration, Either, Option } from "effect"
import type { Dependency, FailureKind, JobStatus } from "../Domain.js"
import { FailureKind as FailureKindSchema, JobStatus as JobStatusSchema } from "../Domain.js"
import * as JobName from "../JobName.js"
import { shellQuote } from "../internal/script.js"
import { durationForms, formatHMS, parseDuration, parseWalltime } from "../Units.js"
import { parseSlurmTime } from "../internal/slurmTime.js"

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
  JobName.globs(prefix, pattern)

/** The options a command knows: those that take a value, and flags (which take none). */
export interface OptionTable {
  readonly valued: ReadonlySet<string>
  readonly flags: ReadonlySet<string>
}

/** The option names in an @effect/cli usage (`--cpus`, `-c`), split by whether they take a value. */
export const optionTable = (usage: Usage.Usage): OptionTable => {
  const valued = new Set<string>()
  const flags = new Set<string>()
  const walk = (u: Usage.Usage): void => {
    switch (u._tag) {
      case "Named":
        for (const name of u.names) (Option.isSome(u.acceptedValues) ? valued : flags).add(name)
        return
      case "Optional":
      case "Repeated":
        return walk(u.usage)
      case "Alternation":
      case "Concat":
        walk(u.left)
        return walk(u.right)
      default:
        return
    }
  }
  walk(usage)
  return { valued, flags }
}

/** Edit distance between two words (insertions, deletions and substitutions cost 1). */
const editDistance = (a: string, b: string): number => {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]!
}

/** The known option closest to an unknown one, if one is close enough to be a likely typo. */
export const closestOption = (unknown: string, known: Iterable<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of known) {
    if (name.length <= 2) continue
    const d = editDistance(unknown, name)
    if (d < bestDistance) [best, bestDistance] = [name, d]
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined
}

/** A command line split into its options (`--name value` pairs and flags) and the command. */
export interface SplitCommandLine {
  readonly options: ReadonlyArray<string>
  readonly command: ReadonlyArray<string>
}

const isOptionWord = (word: string): boolean => word.startsWith("-") && word !== "-"

/**
 * Splits what follows a command that runs a command (`submit`): options come first, and every one
 * must be known; the command starts after `--`, or at the first word that is not an option, so a
 * command word that starts with `-` needs `--` before it. `--opt=value`, `--opt value`, `-x value`
 * and `-xVALUE` are read for options that take a value, and come out as `--opt value` pairs.
 * Refuses an unknown option (naming the closest known one), a missing or empty value, and a
 * value given to a flag.
 */
export const splitCommandLine = (
  who: string,
  words: ReadonlyArray<string>,
  table: OptionTable
): Either.Either<SplitCommandLine, string> => {
  const options: Array<string> = []
  let i = 0
  for (; i < words.length; i++) {
    const word = words[i]!
    if (word === "--") return Either.right({ options, command: words.slice(i + 1) })
    if (!isOptionWord(word)) break
    const long = word.startsWith("--")
    const eq = long ? word.indexOf("=") : -1
    const name = eq >= 0 ? word.slice(0, eq) : !long && word.length > 2 ? word.slice(0, 2) : word
    const attached = eq >= 0 ? word.slice(eq + 1) : !long && word.length > 2 ? word.slice(2) : undefined
    if (table.valued.has(name)) {
      const value = attached ?? words[++i]
      if (value === undefined || (attached === undefined && value === "--")) {
        return Either.left(`${who}: option ${name} needs a value`)
      }
      // An empty word would vanish before the options are read, and the option with it.
      if (value.trim().length === 0) {
        return Either.left(`${who}: option ${name} was given an empty value (an unset shell variable?): give it a value or leave it out`)
      }
      options.push(name, value)
    } else if (table.flags.has(name) && attached === undefined) {
      options.push(name)
    } else if (table.flags.has(name) && eq >= 0) {
      return Either.left(`${who}: option ${name} takes no value (got ${JSON.stringify(word)})`)
    } else {
      const unknown = eq >= 0 ? name : word
      const hint = closestOption(unknown, [...table.valued, ...table.flags])
      const sbatchLike = !long ? `; a command that starts with - goes after --: ${who} [OPTIONS] -- ${word} ...` : ""
      return Either.left(
        `${who}: unknown option ${unknown}${hint === undefined ? "" : `; did you mean ${hint}?`}${sbatchLike} (see cluster-api ${who} --help)`
      )
    }
  }
  return Either.right({ options, command: words.slice(i) })
}

/**
 * `argv` (node, script, then the words) with the words of a command in `commands` split by
 * `splitCommandLine`: its options, then `--` and the command when there is one. The command is
 * found after the root options (`rootTable`); anything else comes back unchanged.
 */
export const splitSubcommandArgv = (
  argv: ReadonlyArray<string>,
  rootTable: OptionTable,
  commands: Readonly<Record<string, OptionTable>>
): Either.Either<ReadonlyArray<string>, string> => {
  let i = 2
  while (i < argv.length && isOptionWord(argv[i]!)) {
    const word = argv[i]!
    if (word === "--") return Either.right(argv)
    i += rootTable.valued.has(word) ? 2 : 1
  }
  const name = argv[i]
  const table = name === undefined ? undefined : commands[name]
  if (table === undefined) return Either.right(argv)
  return Either.map(splitCommandLine(name!, argv.slice(i + 1), table), ({ command, options }) => [
    ...argv.slice(0, i + 1),
    ...options,
    ...(command.length > 0 ? ["--", ...command] : [])
  ])
}

const dependencyTypes = ["afterok", "afternotok", "afterany"] as const

/**
 * Parses Slurm's `--dependency` value: `TYPE:ID[:ID...]` items split by commas (all must hold),
 * TYPE one of afterok, afternotok, afterany. An empty id (an unset shell variable) is refused.
 */
export const parseDependency = (input: string): Either.Either<ReadonlyArray<Dependency>, string> => {
  const out: Array<Dependency> = []
  const fail = (problem: string) =>
    Either.left(`Invalid --dependency ${JSON.stringify(input)}: ${problem}; write TYPE:ID[:ID...][,TYPE:ID...] with TYPE one of ${dependencyTypes.join(", ")}, e.g. afterok:123:124`)
  if (input.includes("?")) return fail(`"?" (any one of) is not supported, only "," (all of)`)
  for (const item of input.split(",")) {
    const [type = "", ...ids] = item.split(":")
    const known = dependencyTypes.find((t) => t === type.trim().toLowerCase())
    if (known === undefined) return fail(`unknown dependency type ${JSON.stringify(type)}`)
    if (ids.length === 0) return fail(`${known} names no job id`)
    for (const id of ids) {
      if (id.trim().length === 0) return fail(`${known} has an empty job id (an unset shell variable?)`)
      out.push({ type: known, jobId: id.trim() })
    }
  }
  return Either.right(out)
}

/** Refuses an empty job id given to `--after-ok` and its kin (an unset shell variable, say). */
export const nonEmptyIds = (option: string, ids: ReadonlyArray<string>): Either.Either<ReadonlyArray<string>, string> =>
  ids.some((id) => id.trim().length === 0)
    ? Either.left(`${option} was given an empty job id (an unset shell variable?): give the id of the job to wait for`)
    : Either.right(ids.map((id) => id.trim()))

/** Schedulers whose own time limits read `A:B` as minutes:seconds (Slurm, SGE h_rt, PBS walltime). */
const minutesSecondsSchedulers: ReadonlySet<string> = new Set(["slurm", "sge", "pbs"])

/**
 * A `--walltime` as the scheduler `kind` would read it: an ambiguous `A:B` is minutes:seconds on
 * Slurm, SGE and PBS, and hours:minutes on LSF and the local executor (LSF's `-W`). Such a value
 * comes back as an unambiguous `HH:MM:SS`, with the words that tell the user how it was read;
 * any other value comes back as given (and is checked where every walltime is).
 */
export const schedulerWalltime = (
  input: string,
  kind: string
): { readonly walltime: string; readonly shown?: string } => {
  if (!/^\s*\d+:\d\d?\s*$/.test(input)) return { walltime: input }
  const minutesSeconds = minutesSecondsSchedulers.has(kind)
  const parsed = minutesSeconds ? parseSlurmTime(input) : parseWalltime(input)
  if (Either.isLeft(parsed)) return { walltime: input }
  const walltime = formatHMS(parsed.right)
  return {
    walltime,
    shown: `walltime ${walltime.replace(/^0(\d)/, "$1")} (${input.trim()} read as ${minutesSeconds ? "minutes:seconds" : "hours:minutes"}, as ${kind} does)`
  }
}
