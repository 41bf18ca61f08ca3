/**
 * Grid Engine's dialect (Son of Grid Engine, Univa/Altair GE, Open Cluster Scheduler): everything
 * cluster-api says to SGE and reads back from it, as pure functions.
 *
 * - submit: a script with `#$` lines, `qsub -terse` answering the bare id (`7`, or `9.1-3:1` for
 *   an array);
 * - status: ONE `qstat -xml -u <user>` per poll, whatever the number of jobs: SGE lists the
 *   user's jobs, running ones under `queue_info` and waiting ones (a pending array's elements as
 *   one range) under `job_info`. Jobs it no longer lists have ended, or not yet been written to
 *   accounting: ONE `qacct` for all of them (never "assumed done");
 * - a job in error state (`Eqw`) is Failed; `qstat -j <ids>` says why, asked once;
 * - dependencies: `-hold_jid` only orders jobs (the dependent runs once the other has ended,
 *   however it ended), so a job with an `afterok` or `afternotok` dependency is also submitted
 *   held (`-h`) and the executor releases it (`qrls -h u`) or cancels it (see `Dialect.gate`);
 * - cancel: `qdel <ids>`, by name `qdel <pattern>`;
 * - out of memory: `-l h_vmem` is an address-space limit on each process (h_vmem × slots), so a
 *   program past it mostly has an allocation refused and ends on its own: exit 1 (Python's
 *   MemoryError, `tail: memory exhausted`), 2 (bash), SIGSEGV or SIGABRT (C, C++: `failed 100`).
 *   Only processes that together pass it are killed by execd (`failed 37`, exit 137). The first
 *   kind is OutOfMemory when its peak memory (the larger of qacct's `maxvmem`, sampled every few
 *   seconds, and `ru_maxrss`, exact but per process) reached 9/10 of the limit: measured at 93–99%
 *   for refused allocations, 10% and 75% for other failures. One allocation far past the limit,
 *   refused at once, leaves the peak low and stays the program's exit code.
 *
 * SGE prints times without a zone; they are the cluster's local time and are read as this
 * process's local time.
 */
import { XMLParser } from "fast-xml-parser"
import { Either } from "effect"
import type {
  BatchListing,
  CancelOutcome,
  CancelRefusal,
  CommandAnswer,
  Dialect,
  Invocation,
  JobPaths,
  StatusContext,
  SubmitRequest
} from "../Scheduler.js"
import { submitScript } from "../Scheduler.js"
import type { ConfigOptions } from "../Config.js"
import type { Dependency, ElementObservation, JobRecord, Observation } from "../Domain.js"
import type { PreparedJob } from "../Executor.js"
import { indexPlaceholder } from "../Scheduler.js"
import { directiveValue, scriptShell, skipDirectives } from "../Script.js"
import { signalOfStatus } from "../Signals.js"
import { formatHMS, parseMemory } from "../Units.js"
import type { ObservedRow, StateOutcome } from "./Observed.js"
import { exitCodeOf, expandRanges, groupRows, listingFrom, parseMonthNameTime, unreadableRow, validDate } from "./Observed.js"
import type { TokenListing } from "./Token.js"
import { tokenIn, tokenMarker } from "./Token.js"

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/**
 * A path on a `#$` line: SGE expands `$JOB_ID`, `$TASK_ID`, `$JOB_NAME` (and `$HOME`, `$USER`,
 * `$HOSTNAME`) in log paths itself, so a `$` is left alone (a user's path holding one is refused,
 * see `pathProblem`); a path with spaces or quotes is double-quoted.
 */
export const directivePath = (path: string): string =>
  /^[\w@%+=:,./$-]+$/.test(path) ? path : `"${path.replace(/(["\\])/g, "\\$1")}"`

/**
 * What qsub cannot be given in a path: it expands `$JOB_ID`, `$TASK_ID`, `$JOB_NAME`, `$HOME`,
 * `$USER`, `$HOSTNAME` in `-o`, `-e` and `-wd` (a prefix is enough: `$USERx` is the user then
 * `x`) with no escape for a literal `$`; its `#$` lines drop quotes of both kinds, keep
 * backslashes and end at a `#` (recorded on Son of Grid Engine 8.1.9: `-wd "/a 'q' \"d\" #"` is
 * read as `/a q \d\`), so no quote, backslash or `#` can be said; in `-o`/`-e` a `:` names a
 * host and a `,` starts another path.
 */
export const pathProblem = (path: string, use: "dir" | "log"): string | undefined => {
  const option = use === "dir" ? "-wd" : "-o and -e"
  if (path.includes("$")) {
    return `holds a $ (${JSON.stringify(path)}), which SGE expands in ${option} ($JOB_ID, $USER, $HOME, …) and cannot escape; use a path without $`
  }
  const unsaid = /['"\\#]/.exec(path)?.[0]
  if (unsaid !== undefined) {
    return `holds ${JSON.stringify(unsaid)} (${JSON.stringify(path)}), which SGE's #$ lines cannot carry (quotes are dropped, # ends the line); use a path without quotes, backslashes or #`
  }
  const special = use === "log" ? /[:,]/.exec(path)?.[0] : undefined
  return special === undefined ? undefined : `holds ${special === ":" ? "a colon, which SGE reads as host:path" : "a comma, which SGE reads as a list of paths"} in -o and -e (${JSON.stringify(path)}); use a path without one`
}

/** Default log names: `stdout.$JOB_ID.log`, or `stdout.$JOB_ID.$TASK_ID.log` for an array's elements. */
export const logFileName = (stream: "stdout" | "stderr", isArray: boolean): string =>
  `${stream}.${isArray ? "$JOB_ID.$TASK_ID" : "$JOB_ID"}.log`

/** SGE's own expansions in log paths known at submit: `$JOB_ID`, `$JOB_NAME`; `$TASK_ID` stays for each element. */
export const resolveLogPath = (template: string, jobId: string, name: string): string =>
  template.replace(/\$(JOB_ID|JOB_NAME|TASK_ID)\b/g, (_, v: string) =>
    v === "JOB_ID" ? jobId : v === "JOB_NAME" ? name : indexPlaceholder)

/** `-t 1-10` or `-t 1-10:2`: SGE's array range. (Its throttle is a separate `-tc`, never `%N`.) */
export const formatRange = (array: NonNullable<PreparedJob["array"]>): string =>
  `${array.start}-${array.end}${array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""}`

/** Dependencies SGE's `-hold_jid` cannot say: it runs a dependent once the other job ended, however. */
export const gated = (dependency: Dependency): boolean => dependency.type !== "afterany"

/** Memory per slot, in whole megabytes rounded up: SGE's memory resources count per slot. */
export const memoryPerSlot = (bytes: number, slots: number): string =>
  `${Math.max(1, Math.ceil(bytes / slots / (1024 * 1024)))}M`

/**
 * `#$` lines: name, logs (`-j y` when both streams go to one file), directory, shell, array range
 * and throttle, parallel environment (`-pe <sge_parallel_environment> N` when cpus > 1), memory
 * as `-l <sge_memory_resource>=…` per slot, walltime `-l h_rt`, GPUs, queue, project, environment
 * (`-V`), dependencies (`-hold_jid`, and `-h` when the executor must gate them), then the job's
 * own extra directives. Lines holding any of `directives_skip` are left out.
 */
export const directives = (job: PreparedJob, paths: JobPaths, options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [`-N ${directiveValue(job.name)}`, `-o ${directivePath(paths.stdout)}`]
  if (paths.stderr === paths.stdout) lines.push("-j y")
  else lines.push(`-e ${directivePath(paths.stderr)}`)
  lines.push(`-wd ${directivePath(paths.runDir)}`)
  const shell = scriptShell(options.shebang, job.loginShell)
  if (shell !== undefined) lines.push(`-S ${shell}`)
  if (job.array !== undefined) {
    lines.push(`-t ${formatRange(job.array)}`)
    if (job.array.maxConcurrent !== undefined) lines.push(`-tc ${job.array.maxConcurrent}`)
  }
  const slots = r.cpus ?? 1
  if (slots > 1) lines.push(`-pe ${directiveValue(options.sge_parallel_environment)} ${slots}`)
  if (r.memoryBytes !== undefined) {
    lines.push(`-l ${options.sge_memory_resource}=${memoryPerSlot(r.memoryBytes, slots)}`)
  }
  if (r.walltime !== undefined) lines.push(`-l h_rt=${formatHMS(r.walltime)}`)
  if (r.gpus !== undefined && r.gpus > 0) lines.push(`-l ${options.sge_gpu_resource}=${r.gpus}`)
  if (r.queue !== undefined) lines.push(`-q ${directiveValue(r.queue)}`)
  if (r.account !== undefined) lines.push(`-P ${directiveValue(r.account)}`)
  if (job.inheritEnv) lines.push("-V")
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) {
    lines.push(`-hold_jid ${Array.from(new Set(deps.map((d) => d.jobId))).join(",")}`)
    if (deps.some(gated)) lines.push("-h")
  }
  return skipDirectives([...lines, ...r.extraDirectives].map((line) => `#$ ${line}`), options.directives_skip)
}

/** What SGE cannot run: array indices start at 1. */
export const validate = (job: PreparedJob, _options: ConfigOptions) =>
  job.array !== undefined && job.array.start < 1
    ? {
      field: "array",
      problem: `starts at ${job.array.start}, but SGE numbers array elements from 1; start the range at 1`
    }
    : undefined

/**
 * `qsub -terse [extra args] [script]`: the config's extra args, then the job's, then the script
 * path, or no path and the script on stdin (`use_stdin`).
 */
export const submit = (request: Omit<SubmitRequest, "paths">): Invocation => {
  return submitScript(["qsub", "-terse", ...request.job.resources.extraArgs], request)
}

/** The id from `qsub -terse`: `7`, or `9.1-3:1` for an array (its id is `9`). */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const m = /^\s*(\d+)(?:\.\d+-\d+:\d+)?\s*$/m.exec(stdout)
  return m?.[1] !== undefined
    ? Either.right(m[1])
    : Either.left(`qsub printed no job id (expected "ID" from qsub -terse): ${JSON.stringify(stdout.trim())}`)
}

// ---------------------------------------------------------------------------------------------
// qstat -xml
// ---------------------------------------------------------------------------------------------

const users = (options: ConfigOptions, context: StatusContext): string =>
  options.poll_all_users || context.user === "" ? "*" : context.user

/** One `qstat -xml -u <user>` (`-u *` with `poll_all_users`) for every tracked job. */
export const status = (_jobs: ReadonlyArray<JobRecord>, options: ConfigOptions, context: StatusContext): Invocation => ({
  argv: ["qstat", "-xml", "-u", users(options, context)]
})

/**
 * What a qstat state code means: `E` (error: `Eqw`) Failed; `r`/`t`/`R` running (also
 * suspended `s`/`S`/`T`, and `d` being deleted); otherwise waiting (`qw`, `hqw`, `hRwq`). `h`
 * means held.
 */
export const stateOutcome = (state: string): StateOutcome & { readonly held: boolean } => {
  const held = state.includes("h")
  if (state.includes("E")) {
    return {
      status: "Failed",
      reason: { _tag: "SchedulerFailure", detail: `SGE put the job in error state (${state})` },
      held
    }
  }
  // Waiting: `qw`, `hqw`, `hRwq` (R: rescheduled). Otherwise running, transferring, suspended.
  if (state.includes("q") && state.includes("w")) return { status: "Pending", held }
  if (/[rtsST]/.test(state)) return { status: "Running", held }
  return { status: "Pending", held }
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => name === "job_list"
})

/** An element's text; undefined when empty, missing, or not text (nested tags: a wrong shape). */
const text = (v: unknown): string | undefined => {
  if (v === undefined || v === null || typeof v === "object") return undefined
  const t = String(v).trim()
  return t === "" ? undefined : t
}

/** A qstat time: epoch seconds, or `2026-11-21T12:00:00` (local, optionally with milliseconds). */
export const parseQstatTime = (value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined
  if (/^\d+$/.test(value)) return validDate(new Date(Number(value) * 1000))
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(value)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  return validDate(new Date(y, mo - 1, d, h, mi, s, m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0").slice(0, 3))))
}

/**
 * The most tasks one SGE array job can have: `max_aj_tasks` in sge_conf(5), 75000 by default. A
 * `tasks` range past it is refused, never enumerated.
 */
export const maxArrayTasks = 75_000

/** The array indices a `tasks` field names (`4`, `1-3:1`, `2-10:2`, several joined by commas), or what is wrong. */
export const readTasks = (tasks: string): Either.Either<ReadonlyArray<number>, string> => expandRanges(tasks, maxArrayTasks)

/** Array indices a `tasks` field names; undefined when unreadable. */
export const parseTasks = (tasks: string): ReadonlyArray<number> | undefined => Either.getOrUndefined(readTasks(tasks))

/** One `job_list` entry of `qstat -xml`, read; undefined for an entry with no job number. */
export const readJobList = (entry: Readonly<Record<string, unknown>>): Either.Either<
  (ObservedRow & { readonly held: boolean }) | undefined,
  string
> => {
  const number = text(entry.JB_job_number)
  if (number === undefined) return Either.right(undefined)
  if (!/^\d+$/.test(number)) return Either.left(`unreadable job number ${JSON.stringify(number)}`)
  const state = text(entry.state) ?? ""
  const outcome = stateOutcome(state)
  const tasks = text(entry.tasks)
  const indices = tasks === undefined ? undefined : readTasks(tasks)
  if (indices !== undefined && Either.isLeft(indices)) {
    return Either.right({ ...unreadableRow(number, `tasks ${JSON.stringify(tasks)}: ${indices.left}`), held: false })
  }
  const queue = text(entry.queue_name)
  const host = queue?.includes("@") === true ? queue.slice(queue.indexOf("@") + 1) : undefined
  const obs: Omit<ElementObservation, "index"> = {
    status: outcome.status,
    reason: outcome.reason,
    execHost: outcome.status === "Running" ? host : undefined,
    submitTime: parseQstatTime(text(entry.JB_submission_time)),
    startTime: outcome.status === "Running" ? parseQstatTime(text(entry.JAT_start_time)) : undefined,
    held: outcome.held
  }
  return Either.right({ jobId: number, indices: indices?.right, name: text(entry.JB_name), obs, held: outcome.held })
}

/** Every `job_list` entry of a `qstat -xml` answer, or what is wrong with it. */
export const parseQstatXml = (stdout: string): Either.Either<ReadonlyArray<ObservedRow & { readonly held: boolean }>, string> => {
  const xml = stdout.trim()
  if (xml === "") return Either.right([])
  let doc: unknown
  try {
    doc = parser.parse(xml, true)
  } catch (e) {
    return Either.left(`not XML: ${e instanceof Error ? e.message : String(e)}`)
  }
  const root = (doc as { job_info?: unknown }).job_info
  if (root === undefined) return Either.left(`no <job_info> in ${JSON.stringify(xml.slice(0, 200))}`)
  const entries: Array<Record<string, unknown>> = []
  const collect = (node: unknown) => {
    if (typeof node !== "object" || node === null) return
    for (const e of (node as { job_list?: unknown }).job_list as ReadonlyArray<unknown> | undefined ?? []) {
      if (typeof e === "object" && e !== null) entries.push(e as Record<string, unknown>)
    }
  }
  const top = root as { queue_info?: unknown; job_info?: unknown }
  collect(top.queue_info)
  collect(top.job_info)
  const rows: Array<ObservedRow & { readonly held: boolean }> = []
  for (const entry of entries) {
    const row = readJobList(entry)
    // A job number that cannot be read names no job: the whole answer is unreadable.
    if (Either.isLeft(row)) return Either.left(row.left)
    if (row.right !== undefined) rows.push(row.right)
  }
  return Either.right(rows)
}

/** One observation per job; an array held as a whole (its waiting range `hqw`) is held. */
const collect = (rows: ReadonlyArray<ObservedRow & { readonly held: boolean }>): ReadonlyArray<Observation> => {
  const held = new Set(rows.filter((r) => r.held).map((r) => r.jobId))
  return groupRows(rows).map((o) => (held.has(o.jobId) ? { ...o, held: true } : o))
}

export const parseStatus = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> =>
  Either.map(parseQstatXml(stdout), collect)

// ---------------------------------------------------------------------------------------------
// qstat -j: why a job is in error state
// ---------------------------------------------------------------------------------------------

/** `qstat -j 7,9`: each job's details, with `error reason` lines for jobs in error state. */
export const explainCommand = (jobIds: ReadonlyArray<string>): Invocation => ({
  argv: ["qstat", "-j", jobIds.join(",")]
})

/** The `error reason` lines of `qstat -j`, per job number (several lines joined with "; "). */
export const parseExplain = (stdout: string): ReadonlyMap<string, string> => {
  const reasons = new Map<string, Array<string>>()
  let current: string | undefined
  for (const line of stdout.split("\n")) {
    const number = /^job_number:\s+(\d+)/.exec(line)
    if (number !== null) {
      current = number[1]
      continue
    }
    const reason = /^error reason\s+[\d,-]*:?\s*(.*)$/.exec(line.trim())
    if (reason !== null && current !== undefined && reason[1] !== undefined && reason[1].trim() !== "") {
      const list = reasons.get(current) ?? []
      list.push(reason[1].trim())
      reasons.set(current, list)
    }
  }
  return new Map(Array.from(reasons, ([id, lines]) => [id, Array.from(new Set(lines)).join("; ")] as const))
}

// ---------------------------------------------------------------------------------------------
// qacct
// ---------------------------------------------------------------------------------------------

/** `[[CC]YY]MMDDhhmm[.SS]` in local time, as qacct's `-b` takes it. */
export const formatQacctTime = (date: Date): string => {
  const two = (n: number) => String(n).padStart(2, "0")
  return `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}${two(date.getHours())}${
    two(date.getMinutes())
  }.${two(date.getSeconds())}`
}

/**
 * ONE qacct for every job that left qstat: one id is asked about directly (`qacct -j 7`);
 * several get every job of the user that started since the earliest of them was submitted
 * (`qacct -o <user> -b <time> -j`), read and filtered here.
 */
export const accountingCommand = (
  jobs: ReadonlyArray<JobRecord>,
  options: ConfigOptions,
  context: StatusContext
): Invocation => {
  const [only] = jobs
  if (jobs.length === 1 && only !== undefined) return { argv: ["qacct", "-j", only.jobId] }
  // qacct -b keeps jobs that started after it: the earliest submit (or start) known, a minute
  // early for clocks that differ; a job known by neither (tracked by id) reaches a week back.
  const since = Math.min(
    ...jobs.map((j) => (j.submitTime ?? j.startTime)?.getTime() ?? j.lastSeen.getTime() - 7 * 24 * 3600_000)
  ) - 60_000
  const owner = options.poll_all_users || context.user === "" ? [] : ["-o", context.user]
  return { argv: ["qacct", ...owner, "-b", formatQacctTime(new Date(since)), "-j"] }
}

/** qacct's records: key/value lines, records separated by a line of `=`. */
export const parseQacctRecords = (stdout: string): ReadonlyArray<ReadonlyMap<string, string>> => {
  const records: Array<Map<string, string>> = []
  let current: Map<string, string> | undefined
  for (const line of stdout.split("\n")) {
    if (/^=+\s*$/.test(line)) {
      current = new Map()
      records.push(current)
      continue
    }
    const m = /^(\w+)\s+(.*?)\s*$/.exec(line)
    if (m === null || current === undefined) continue
    current.set(m[1]!, m[2]!)
  }
  return records.filter((r) => r.size > 0)
}

/** A qacct time: `Sat Nov 21 12:51:34 2026` or `2026-11-21 12:51:34.123` (local); undefined for `-/-`. */
export const parseQacctTime = (value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined
  const iso = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?/.exec(value)
  if (iso !== null) {
    const [y, mo, d, h, mi, s] = iso.slice(1, 7).map(Number) as [number, number, number, number, number, number]
    return validDate(new Date(y, mo - 1, d, h, mi, s, iso[7] === undefined ? 0 : Number(iso[7].padEnd(3, "0").slice(0, 3))))
  }
  return parseMonthNameTime(value)
}

/** qacct's memory (`maxvmem 12.340M`, `1.5G`, `0.000B`) in bytes; undefined for zero or unreadable. */
export const parseQacctMemory = (value: string | undefined): number | undefined => {
  const m = value === undefined ? null : /^(\d+(?:\.\d+)?)([KMGTP]?)B?$/i.exec(value.trim())
  if (m === null) return undefined
  const amount = Number(m[1])
  if (amount === 0) return undefined
  if (m[2] === "") return Number.isSafeInteger(Math.round(amount)) ? Math.round(amount) : undefined
  const parsed = parseMemory(`${m[1]}${m[2]}`)
  return Either.isRight(parsed) ? parsed.right : undefined
}

/** Seconds in an SGE time value: `2`, `34s`, `1:30:00`, `34.5`; undefined unless finite. */
export const sgeSeconds = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const t = value.trim().replace(/s$/, "")
  const hms = /^(\d+):(\d\d):(\d\d)$/.exec(t)
  const seconds = /^\d+(?:\.\d+)?$/.test(t)
    ? Number(t)
    : hms === null
    ? undefined
    : Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Number(hms[3])
  return seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined
}

/** What a job asked for, from qacct's `category` (`-l h_rt=2,h_vmem=50M -pe smp 2`): its `-l` values. */
export const categoryRequests = (category: string | undefined): ReadonlyMap<string, string> => {
  const found = new Map<string, string>()
  for (const m of (category ?? "").matchAll(/-l\s+(\S+)/g)) {
    for (const pair of m[1]!.split(",")) {
      const [key, value] = pair.split("=")
      if (key !== undefined && value !== undefined) found.set(key, value)
    }
  }
  return found
}

/**
 * An SGE memory value (sge_types(1)) in bytes: a bare number of bytes, or one with `k`, `m`, `g`,
 * `t` (powers of 1000) or `K`, `M`, `G`, `T` (powers of 1024); undefined for `INFINITY`, zero or
 * anything else.
 */
export const sgeMemory = (value: string | undefined): number | undefined => {
  const m = value === undefined ? null : /^(\d+(?:\.\d+)?)([kmgtKMGT]?)$/.exec(value.trim())
  if (m === null) return undefined
  const unit = m[2]!
  const power = unit === "" ? 0 : "kmgt".indexOf(unit.toLowerCase()) + 1
  const bytes = Number(m[1]) * (unit === unit.toLowerCase() ? 1000 : 1024) ** power
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined
}

/**
 * The address space a job's processes may each take, from what it asked for (qacct's `category`):
 * the lower of `h_vmem` and `s_vmem`, which count per slot, times its slots (recorded: a job of
 * `-pe smp 2 -l h_vmem=100M` grew one process to 194 MB). Undefined without either.
 */
export const memoryLimit = (category: string | undefined, slots: number | undefined): number | undefined => {
  const asked = categoryRequests(category)
  const limits = ["h_vmem", "s_vmem"].flatMap((key) => {
    const bytes = sgeMemory(asked.get(key))
    return bytes === undefined ? [] : [bytes]
  })
  return limits.length === 0 ? undefined : Math.min(...limits) * Math.max(1, slots ?? 1)
}

/**
 * How close to its memory limit a job that failed on its own must have come to have failed for
 * want of memory. Recorded (see the fixtures' README) at 93–99% for programs whose allocation the
 * limit refused, and at 10% and 75% for jobs that failed for other reasons.
 */
export const nearMemoryLimit = 0.9

/** What qacct says of how a job ended. */
export interface QacctEnd {
  /** `0`, or `N : text` (`37  : qmaster enforced h_rt, h_cpu, or h_vmem limit`). */
  readonly failed?: string | undefined
  readonly exitStatus?: number | undefined
  readonly category?: string | undefined
  readonly wallclock?: string | undefined
  /** The job's peak memory in bytes: the larger of qacct's `maxvmem` and `ru_maxrss`. */
  readonly peakMemory?: number | undefined
  /** The slots it was granted (qacct's `slots`). */
  readonly slots?: number | undefined
}

/**
 * Signals a program ends in when an allocation is refused: SIGSEGV (C: writing to the NULL malloc
 * returned), SIGABRT (C++: an uncaught std::bad_alloc), SIGBUS. SGE reports them as `failed 100`.
 */
const allocationSignals: ReadonlySet<string> = new Set(["SIGSEGV", "SIGABRT", "SIGBUS"])

/**
 * Whether a job that ended on its own (not killed by SGE) did so because its memory limit refused
 * an allocation: it failed (`failed 0` with a non-zero exit, or `failed 100` with one of
 * `allocationSignals`) and its peak memory reached `nearMemoryLimit` of its limit.
 */
const refusedMemory = (code: number, end: QacctEnd): boolean => {
  const exitStatus = end.exitStatus
  if (exitStatus === undefined || exitStatus === 0) return false
  const signal = signalOfStatus(exitStatus)
  if (!(code === 0 || (code === 100 && signal !== undefined && allocationSignals.has(signal)))) return false
  const limit = memoryLimit(end.category, end.slots)
  return limit !== undefined && end.peakMemory !== undefined && end.peakMemory >= nearMemoryLimit * limit
}

/**
 * How a job ended, from qacct's `failed` and `exit_status`: failed 0 with exit 0 is Done. SGE's
 * failure 37 ("qmaster enforced h_rt, h_cpu, or h_vmem limit") names no one limit: it is
 * Timeout when the job asked for `h_rt` and ran that long, else OutOfMemory when it asked for a
 * memory limit. A job that failed on its own at its memory limit is OutOfMemory too (see
 * `refusedMemory`). Otherwise an exit status above 128 is the signal that ended it (137 after qdel
 * or a kill), any other non-zero one the job's own exit code, and any other failure code SGE's own
 * reason (`28 : changing into working directory`).
 */
export const endOutcome = (end: QacctEnd): StateOutcome => {
  const code = Number(/^\s*(\d+)/.exec(end.failed ?? "0")?.[1] ?? "0")
  const why = (end.failed ?? "").replace(/^\s*\d+\s*:?\s*/, "").trim()
  const exitStatus = end.exitStatus
  if (code === 0 && exitStatus === 0) return { status: "Done" }
  if (code === 37) {
    const asked = categoryRequests(end.category)
    const limit = sgeSeconds(asked.get("h_rt") ?? asked.get("s_rt"))
    const ran = sgeSeconds(end.wallclock)
    const memory = Array.from(asked.keys()).some((k) => /vmem|mem/.test(k))
    if (limit !== undefined && (ran === undefined || ran >= limit || !memory)) return { status: "Failed", reason: { _tag: "Timeout" } }
    if (memory) return { status: "Failed", reason: { _tag: "OutOfMemory" } }
  }
  if (refusedMemory(code, end)) return { status: "Failed", reason: { _tag: "OutOfMemory" } }
  if (code === 0 || code === 100) {
    const signal = exitStatus === undefined ? undefined : signalOfStatus(exitStatus)
    if (signal !== undefined) return { status: "Failed", reason: { _tag: "Signalled", signal } }
    if (exitStatus !== undefined && exitStatus !== 0) return { status: "Failed", reason: { _tag: "NonZeroExit", exitCode: exitStatus } }
  }
  return {
    status: "Failed",
    reason: { _tag: "SchedulerFailure", detail: `SGE reports failed ${code}${why === "" ? "" : ` (${why})`}` }
  }
}

/**
 * Observations of `jobs` from qacct's records (one per job, or per array element). A job with
 * no record yet (SGE writes accounting a moment after the end) gets none, and is asked about again.
 */
export const parseAccounting = (
  stdout: string,
  jobs: ReadonlyArray<JobRecord>,
  _now: Date
): Either.Either<ReadonlyArray<Observation>, string> => {
  const wanted = new Set(jobs.map((j) => j.jobId))
  const rows: Array<ObservedRow> = []
  for (const record of parseQacctRecords(stdout)) {
    const jobId = record.get("jobnumber")
    if (jobId === undefined || !wanted.has(jobId)) continue
    // `137                  (Killed)`: the number, then SGE's name for a signal.
    const exitText = /^(\d+)/.exec(record.get("exit_status") ?? "")?.[1]
    const exitStatus = exitCodeOf(exitText)
    if (exitText !== undefined && exitStatus === undefined) {
      rows.push(unreadableRow(jobId, `exit_status ${JSON.stringify(exitText)} is not a whole number from 0 to 255`))
      continue
    }
    const maxvmem = parseQacctMemory(record.get("maxvmem"))
    // qacct prints ru_maxrss, a count of kilobytes, as if it were bytes: `193.566KB` is 193.566 MB.
    const maxrss = parseQacctMemory(record.get("ru_maxrss"))
    const peaks = [maxvmem, maxrss === undefined ? undefined : maxrss * 1024].filter((n) => n !== undefined)
    const slots = Number(record.get("slots"))
    const outcome = endOutcome({
      failed: record.get("failed"),
      exitStatus,
      category: record.get("category"),
      wallclock: record.get("ru_wallclock"),
      peakMemory: peaks.length === 0 ? undefined : Math.max(...peaks),
      slots: Number.isSafeInteger(slots) && slots > 0 ? slots : undefined
    })
    const task = record.get("taskid")
    const host = record.get("hostname")
    rows.push({
      jobId,
      indices: task !== undefined && /^\d+$/.test(task) ? [Number(task)] : undefined,
      name: record.get("jobname"),
      obs: {
        status: outcome.status,
        reason: outcome.reason,
        exitCode: exitStatus,
        execHost: host === undefined || host === "-" ? undefined : host,
        maxMem: maxvmem,
        submitTime: parseQacctTime(record.get("qsub_time")),
        startTime: parseQacctTime(record.get("start_time")),
        finishTime: parseQacctTime(record.get("end_time"))
      }
    })
  }
  return Either.right(groupRows(rows))
}

/** qacct's answer when a job is not in the accounting file (yet): not a failure, just no record. */
export const accountingNoRecord = (answer: CommandAnswer): boolean =>
  answer.stdout.trim() === "" && /\bjob (?:id )?\S+ not found|no jobs? (?:running|found)/i.test(answer.stderr)

// ---------------------------------------------------------------------------------------------
// Reconnect and cancel
// ---------------------------------------------------------------------------------------------

/** The user's jobs (everyone's with `poll_all_users`), for reconnecting after a restart. */
export const listCommand = (options: ConfigOptions, context: StatusContext): Invocation => status([], options, context)

export const parseListing = (stdout: string): Either.Either<ReadonlyArray<BatchListing>, string> =>
  Either.map(parseQstatXml(stdout), (rows) => listingFrom(rows))

/** A submission's token, as a job context variable (`-ac`; `qstat -j` shows it as `context:`). */
export const tokenArgs = (token: string): ReadonlyArray<string> => ["-ac", `cluster_api=${tokenMarker(token)}`]

/** Every job the qmaster holds, in detail (context included). */
export const tokenCommand = (): Invocation => ({ argv: ["qstat", "-j", "*"] })

/** Whether a failed `tokenCommand` only says there are no jobs. */
export const tokenNoJobs = (answer: CommandAnswer): boolean =>
  /do(?:es)? not exist/i.test(`${answer.stderr}\n${answer.stdout}`)

/** The jobs `tokenCommand` printed whose context carries a token. */
export const parseTokens = (stdout: string): Either.Either<ReadonlyArray<TokenListing>, string> => {
  const out = new Map<string, string>()
  let jobId: string | undefined
  for (const line of stdout.split("\n")) {
    const m = /^(job_number|context):\s*(.*)$/.exec(line)
    if (m === null) continue
    if (m[1] === "job_number") {
      if (!/^\d+$/.test(m[2]!.trim())) return Either.left(`unreadable job_number ${JSON.stringify(m[2])}`)
      jobId = m[2]!.trim()
      continue
    }
    const token = tokenIn(m[2]!)
    if (token === undefined) continue
    if (jobId === undefined) return Either.left("a context line before any job_number")
    out.set(token, jobId)
  }
  return Either.right(Array.from(out, ([token, id]) => ({ token, jobId: id })))
}

/** `qdel <ids>` (SGE has no "mark done": a cancelled job is always Killed). */
export const cancel = (jobIds: ReadonlyArray<string>, _done: boolean): Invocation => ({ argv: ["qdel", ...jobIds] })

/**
 * Reads qdel's answer job by job: `… has deleted job 7` / `… has registered the job 7 for
 * deletion` cancelled it; `job 7 is already in deletion` too; `denied: job "7" does not exist`
 * means it had already ended (and left qstat); any other line naming a job refuses it.
 */
export const cancelOutcome = (jobIds: ReadonlyArray<string>, answer: CommandAnswer): Either.Either<CancelOutcome, string> => {
  const ended: Array<string> = []
  const refused: Array<CancelRefusal> = []
  const done = new Set<string>()
  for (const line of `${answer.stdout}\n${answer.stderr}`.split("\n")) {
    const t = line.trim()
    if (t === "") continue
    const deleted = /has (?:deleted|registered the) job(?:-array)? (?:task )?(\d+)|job (\d+) is already in deletion/.exec(t)
    if (deleted !== null) {
      done.add((deleted[1] ?? deleted[2])!)
      continue
    }
    const missing = /job "?(\d+)"? does not exist/.exec(t)
    if (missing !== null) {
      ended.push(missing[1]!)
      continue
    }
    const other = /\bjob "?(\d+)"?/.exec(t)
    if (other !== null) refused.push({ jobId: other[1]!, detail: t })
  }
  if (answer.exitCode !== 0 && done.size === 0 && ended.length === 0 && refused.length === 0) {
    return Either.left(`qdel exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim() || answer.stdout.trim()}`)
  }
  const asked = new Set(jobIds)
  return Either.right({
    ended: ended.filter((id) => asked.has(id) && !done.has(id)),
    refused: refused.filter((r) => asked.has(r.jobId) && !done.has(r.jobId))
  })
}

/**
 * `qdel -u <user> <glob>`: SGE takes a job name pattern (`*`, `?`, `[…]`); `-u` keeps it to this
 * user's jobs even for an operator, whose qdel would reach everyone's (`poll_all_users`: it does).
 */
export const cancelByNameCommand = (glob: string, _done: boolean, options: ConfigOptions, context: StatusContext): Invocation => ({
  argv: ["qdel", ...(options.poll_all_users || context.user === "" ? [] : ["-u", context.user]), glob]
})

/** The jobs `qdel <glob>` says it deleted; "does not exist"/no match means none. */
export const cancelledByName = (answer: CommandAnswer): Either.Either<ReadonlyArray<string>, string> => {
  const text = `${answer.stdout}\n${answer.stderr}`
  const ids = Array.from(
    text.matchAll(/has (?:deleted|registered the) job(?:-array)? (?:task )?(\d+)|job (\d+) is already in deletion/g),
    (m) => (m[1] ?? m[2])!
  )
  if (ids.length > 0 || answer.exitCode === 0 || /does not exist|no job/i.test(text)) return Either.right(Array.from(new Set(ids)))
  return Either.left(`qdel exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim()}`)
}

/** `qrls -h u <ids>`: releases the user hold a gated job was submitted with. */
export const release = (jobIds: ReadonlyArray<string>): Invocation => ({ argv: ["qrls", "-h", "u", ...jobIds] })

export const dialect: Dialect = {
  kind: "sge",
  logFileName,
  directives,
  pathProblem,
  validate,
  submit,
  parseSubmit,
  status,
  statusListsAll: true,
  parseStatus,
  // qstat lists jobs, not ids: an answer that says nothing of a job is not an error.
  statusUsableOnFailure: undefined,
  accounting: {
    command: accountingCommand,
    parse: parseAccounting,
    noRecord: accountingNoRecord
  },
  list: { command: listCommand, parse: parseListing },
  token: { args: tokenArgs, command: tokenCommand, parse: parseTokens, noJobs: tokenNoJobs },
  arrayIndexVariable: "SGE_TASK_ID",
  resolveLogPath,
  gate: { gated, release },
  explain: {
    wanted: (o) => o.status === "Failed" && o.reason?._tag === "SchedulerFailure" && /error state/.test(o.reason.detail),
    command: explainCommand,
    parse: parseExplain
  },
  cancel,
  cancelOutcome,
  cancelByName: { command: cancelByNameCommand, cancelled: cancelledByName }
}
