/**
 * IBM Spectrum LSF's dialect: everything cluster-api says to LSF and reads back from it, as pure
 * functions.
 *
 * - submit: a script with `#BSUB` lines, always on `bsub`'s stdin (`bsub < script`), whatever
 *   `use_stdin` says: LSF reads the `#BSUB` lines of a script given as a file only when lsf.conf
 *   sets `LSB_BSUB_PARSE_SCRIPT=Y`, off by default (IBM LSF 10.1, bsub's `job_script` argument);
 *   bsub answers `Job <ID> is submitted to queue <Q>.`;
 * - status: ONE `bjobs -a -json -o <fields> <ids>` for every tracked job. `-a` keeps finished jobs
 *   in the answer for LSF's CLEAN_PERIOD, so there is no separate accounting command. Array
 *   elements come back one record each (`123[4]`, or id `123` with the name `name[4]`) and are
 *   grouped under their array's id. An id LSF no longer knows comes back as a record with an
 *   `ERROR` field and is skipped: only the zombie timeout ends a job nobody reports;
 * - cancel: `bkill <ids>` (`bkill -d` to mark them done), by name `bkill -J <glob> 0`;
 * - reconnect: `bjobs -a -json -J "{prefix}-*"`, the jobs not ended yet.
 *
 * LSF prints times without a zone (`Jan  5 10:00:00 2024`, sometimes with a trailing ` L`); they
 * are LSF's local time and are read as this process's local time.
 */
import { Either } from "effect"
import type {
  BatchListing,
  CommandAnswer,
  CancelOutcome,
  CancelRefusal,
  Dialect,
  Invocation,
  JobPaths,
  SubmitRequest
} from "../Scheduler.js"
import type { ConfigOptions } from "../Config.js"
import type { Dependency, ElementObservation, JobRecord, Observation } from "../Domain.js"
import type { PreparedJob } from "../Executor.js"
import * as JobName from "../JobName.js"
import { indexPlaceholder } from "../Scheduler.js"
import { directiveQuote, directiveValue, skipDirectives } from "../Script.js"
import { signalOfStatus } from "../Signals.js"
import type { ObservedRow, StateOutcome } from "./Observed.js"
import { exitCodeOf, groupRows, listingFrom, parseMonthNameTime, validDate, wholeNumber } from "./Observed.js"
import { bytesIn, formatHM, parseMemory } from "../Units.js"
import type { TokenListing } from "./Token.js"
import { tokenIn, tokenMarker } from "./Token.js"

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/**
 * `-J` for a job or an array: `name`, or `"name[1-50:2]%15"`. LSF's slot limit (at most that
 * many elements run at once) follows the closing bracket.
 */
export const formatJobName = (name: string, array: PreparedJob["array"]): string => {
  if (array === undefined) return directiveValue(name)
  const step = array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""
  const limit = array.maxConcurrent !== undefined ? `%${array.maxConcurrent}` : ""
  return directiveQuote(`${name}[${array.start}-${array.end}${step}]${limit}`)
}

const conditions: Readonly<Record<Dependency["type"], string>> = {
  afterok: "done",
  afternotok: "exit",
  afterany: "ended"
}

/** `done(1) && exit(2) && ended(3)`: every condition must be met. */
export const formatDependencies = (deps: ReadonlyArray<Dependency>): string => {
  const seen = new Set<string>()
  const parts: Array<string> = []
  for (const d of deps) {
    const part = `${conditions[d.type]}(${d.jobId})`
    if (seen.has(part)) continue
    seen.add(part)
    parts.push(part)
  }
  return parts.join(" && ")
}

/** Default log names: `stdout.%J.log`, or `stdout.%J.%I.log` for an array's elements. */
export const logFileName = (stream: "stdout" | "stderr", isArray: boolean): string =>
  `${stream}.${isArray ? "%J.%I" : "%J"}.log`

/**
 * `#BSUB` lines in LSF's order: name, logs, queue, slots, GPUs, memory (`-M` and an rusage
 * reservation, in `lsf_units` rounded up), walltime (`[HH:]MM`, rounded up to the minute),
 * directory, project, dependencies, then the job's own extra directives. Lines holding any of
 * `directives_skip` are left out.
 */
export const directives = (job: PreparedJob, paths: JobPaths, options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [
    `-J ${formatJobName(job.name, job.array)}`,
    `-o ${directiveQuote(paths.stdout)}`,
    `-e ${directiveQuote(paths.stderr)}`
  ]
  if (r.queue !== undefined) lines.push(`-q ${directiveValue(r.queue)}`)
  if (r.cpus !== undefined) {
    lines.push(`-n ${r.cpus}`)
    // Several slots of one job on one host, as a multi-threaded program needs.
    if (r.cpus > 1) lines.push(`-R "span[hosts=1]"`)
  }
  if (r.gpus !== undefined && r.gpus > 0) lines.push(`-gpu "num=${r.gpus}"`)
  if (r.memoryBytes !== undefined) {
    const amount = bytesIn(r.memoryBytes, options.lsf_units)
    lines.push(`-M ${amount}`, `-R "rusage[mem=${amount}]"`)
  }
  if (r.walltime !== undefined) lines.push(`-W ${formatHM(r.walltime)}`)
  lines.push(`-cwd ${directiveQuote(paths.runDir)}`)
  if (r.account !== undefined) lines.push(`-P ${directiveValue(r.account)}`)
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) {
    lines.push(`-w ${directiveQuote(formatDependencies(deps))}`)
    // A dependency that can never be met ends the job (EXIT) instead of leaving it pending forever.
    lines.push("-ti")
  }
  return skipDirectives([...lines, ...r.extraDirectives].map((line) => `#BSUB ${line}`), options.directives_skip)
}

/**
 * What bsub cannot be given in a path: it expands `%J`, `%I` in `-o`/`-e` and `%J`, `%I`, `%U`,
 * `%G`, `%P`, `%H`, … in `-cwd`, and has no escape for a literal `%`.
 */
export const pathProblem = (path: string, use: "dir" | "log"): string | undefined =>
  path.includes("%")
    ? `holds a % (${JSON.stringify(path)}), which LSF reads as a pattern (%J, %I, %U, …) in ${
      use === "dir" ? "-cwd" : "-o and -e"
    } and cannot escape; use a path without %`
    : undefined

/**
 * bsub's filename patterns known at submit time: `%J` (the job id). `%I` (the element's index)
 * becomes the `{index}` placeholder each element fills in.
 */
export const resolveLogPath = (template: string, jobId: string, _name: string): string =>
  template.replace(/%([JI])/g, (_, c: string) => c === "J" ? jobId : indexPlaceholder)

/**
 * `bsub [-env none] [-L shell] [extra args] < script`: `-env none` when the job must not inherit
 * this process's environment (its own env is in the script as `export` lines), `-L` with the
 * shebang's shell for a login shell, the config's extra args, then the job's; the script always
 * on stdin, never as a path, even with `use_stdin: false`: LSF reads the `#BSUB` lines (name,
 * logs, resources, dependencies, array) of a script given as a path only when lsf.conf sets
 * `LSB_BSUB_PARSE_SCRIPT=Y`, which is off by default. The script file stays on disk all the same.
 * `LSB_JOB_REPORT_MAIL=N` stops LSF mailing a report per job.
 */
export const submit = (request: Omit<SubmitRequest, "paths">): Invocation => {
  const { job } = request

  const args = [
    "bsub",
    ...(job.inheritEnv ? [] : ["-env", "none"]),
    ...(job.loginShell === undefined ? [] : ["-L", job.loginShell.shell]),
    ...job.resources.extraArgs
  ]
  const env = request.options.suppress_job_email ? { LSB_JOB_REPORT_MAIL: "N" } : undefined
  return { argv: args, stdin: request.script, ...(env === undefined ? {} : { env }) }
}

/** The job id from `Job <ID> is submitted to queue <Q>.` (or `… to default queue <Q>.`). */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const m = /Job <(\d+)> is submitted to (?:default )?queue\b/.exec(stdout)
  return m?.[1] !== undefined
    ? Either.right(m[1])
    : Either.left(
      `bsub printed no job id (expected "Job <ID> is submitted to queue <QUEUE>."): ${JSON.stringify(stdout.trim())}`
    )
}

// ---------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------

/** Every job state bjobs prints, and what it means here. */
export const stateTable: Readonly<Record<string, StateOutcome>> = {
  PEND: { status: "Pending" },
  PROV: { status: "Pending" },
  WAIT: { status: "Pending" },
  PSUSP: { status: "Pending" },
  RUN: { status: "Running" },
  USUSP: { status: "Running" },
  SSUSP: { status: "Running" },
  DONE: { status: "Done" },
  EXIT: { status: "Failed" },
  ZOMBI: {
    status: "Failed",
    reason: { _tag: "SchedulerFailure", detail: "LSF reports ZOMBI: the job was killed while its host was unreachable" }
  },
  UNKWN: { status: "Unknown" }
}

/**
 * Why an EXIT job ended, from its exit reason (`TERM_MEMLIMIT: job killed after reaching LSF
 * memory usage limit`, or the bare code) and exit code: over its memory limit, past its run
 * limit, killed by its owner or an administrator (then `Killed`), ended because a dependency can
 * never be met (orphan termination), else its exit code (above 128: the signal that ended it).
 */
export const exitOutcome = (exitReason: string | undefined, exitCode: number | undefined): StateOutcome => {
  const why = exitReason ?? ""
  if (/TERM_MEMLIMIT|memory (?:usage )?limit/i.test(why)) return { status: "Failed", reason: { _tag: "OutOfMemory" } }
  if (/TERM_RUNLIMIT|run ?time limit|run limit/i.test(why)) return { status: "Failed", reason: { _tag: "Timeout" } }
  const by = /TERM_(?:FORCE_)?(OWNER|ADMIN)|killed by (owner|admin|user)/i.exec(why)
  if (by !== null) {
    const who = (by[1] ?? by[2] ?? "").toLowerCase()
    return { status: "Killed", reason: { _tag: "Cancelled", by: who === "admin" ? "admin" : "owner" } }
  }
  if (/TERM_PREEMPT/i.test(why)) return { status: "Failed", reason: { _tag: "Preempted" } }
  // Orphan job termination (`bsub -ti`): a dependency of this job can never be met. Which ones
  // the job waited for is in its record, not in bjobs' answer; the executor fills them in.
  if (/TERM_ORPHAN_SYSTEM|orphan job/i.test(why)) {
    return { status: "Failed", reason: { _tag: "DependencyFailed", dependencies: [] } }
  }
  const signal = exitCode === undefined ? undefined : signalOfStatus(exitCode)
  if (signal !== undefined) return { status: "Failed", reason: { _tag: "Signalled", signal } }
  if (exitCode !== undefined && exitCode !== 0) {
    return { status: "Failed", reason: { _tag: "NonZeroExit", exitCode } }
  }
  return {
    status: "Failed",
    reason: { _tag: "SchedulerFailure", detail: `LSF reports EXIT${why !== "" ? ` (${why})` : ""}` }
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

/** A field's text, undefined for LSF's empty values (`-`, ``, missing) and for anything but text or a number. */
export const field = (v: unknown): string | undefined => {
  // An object or list where a field's text belongs (wrong JSON) is no value.
  if (v === undefined || v === null || typeof v === "object") return undefined
  const t = String(v).trim()
  return t === "" || t === "-" ? undefined : t
}

/**
 * A bjobs time, read as local time: `Jan  5 10:00:00 2024`, with a trailing zone letter
 * (`Feb  8 10:31:17 2026 L`), or `2024/01/05-10:00:00`. Undefined for `-` and anything else.
 */
export const parseTime = (text: string | undefined): Date | undefined => {
  const t = field(text)?.replace(/\s+[A-Z]$/, "")
  if (t === undefined) return undefined
  const named = parseMonthNameTime(t)
  if (named !== undefined) return named
  const numeric = /^(\d{4})\/(\d\d)\/(\d\d)-(\d\d):(\d\d):(\d\d)$/.exec(t)
  if (numeric !== null) {
    const [y, mo, d, h, mi, s] = numeric.slice(1).map(Number) as [number, number, number, number, number, number]
    return validDate(new Date(y, mo - 1, d, h, mi, s))
  }
  return undefined
}

/** Memory as bjobs prints it (`12 Mbytes`, `1.5 Gbytes`, `512 MB`): bytes, undefined for `-`/0. */
export const parseLsfMemory = (text: string | undefined): number | undefined => {
  const t = field(text)
  const m = t === undefined ? null : /^(\d+(?:\.\d+)?)\s*([KMGTP])(?:bytes|i?B)?$/i.exec(t)
  if (m === null) return undefined
  const parsed = parseMemory(`${m[1]}${m[2]}`)
  return Either.isRight(parsed) ? parsed.right : undefined
}

/** An exit code, undefined unless a whole number from 0 to 255. */
const parseExitCode = (text: string | undefined): number | undefined => exitCodeOf(field(text))

/**
 * The highest index an LSF array element can have: `MAX_JOB_ARRAY_SIZE` in lsb.params(5) is 1000
 * by default and at most 2147483646, and an index is at most the array's size.
 */
export const maxArrayIndex = 2_147_483_646

/** An element index as LSF prints it, undefined past `maxArrayIndex`. */
const arrayIndex = (text: string | undefined): number | undefined => {
  const n = wholeNumber(text)
  return n !== undefined && n <= maxArrayIndex ? n : undefined
}

/** Whose record this is: a job, or element `index` of array `jobId`. */
export interface LsfId {
  readonly jobId: string
  readonly index?: number | undefined
}

/**
 * A record's id: `123` (a job), `123[4]` (element 4 of array 123), or `123` with the name
 * `name[4]` (LSF's own form for an element). A name with a range (`name[1-10]%2`) is the array's.
 */
export const parseRecordId = (jobId: string, name: string | undefined): LsfId | undefined => {
  const element = /^(\d+)\[(\d+)\]$/.exec(jobId.trim())
  const named = name === undefined ? null : /\[(\d+)\]$/.exec(name)
  const indexText = element?.[2] ?? (/^\d+$/.test(jobId.trim()) ? named?.[1] : undefined)
  const id = element?.[1] ?? (/^\d+$/.test(jobId.trim()) ? jobId.trim() : undefined)
  if (id === undefined) return undefined
  if (indexText === undefined) return { jobId: id }
  const index = arrayIndex(indexText)
  return index === undefined ? undefined : { jobId: id, index }
}

/** A job's name with an element's `[index]` taken off. */
const baseName = (name: string | undefined): string => (name ?? "").replace(/\[\d+\]$/, "")

// ---------------------------------------------------------------------------------------------
// bjobs
// ---------------------------------------------------------------------------------------------

/** The fields asked of bjobs (py-cluster-api's, plus `exit_reason`). */
export const bjobsFields = "jobid job_name stat exit_code exit_reason exec_host max_mem submit_time start_time finish_time"

const users = (options: ConfigOptions): Array<string> => options.poll_all_users ? ["-u", "all"] : []

/** One bjobs for every tracked job; an array's id covers all its elements. */
export const status = (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions): Invocation => ({
  argv: ["bjobs", "-a", "-json", "-o", bjobsFields, ...users(options), ...jobs.map((j) => j.jobId)]
})

/** One record of `bjobs -json`, read. */
export interface LsfRow {
  readonly id: LsfId
  readonly name: string
  readonly obs: Omit<ElementObservation, "index">
  /** What in the record about this job could not be read. */
  readonly unreadable?: string | undefined
}

/** The records of a `bjobs -json` answer, or what is wrong with it. */
export const parseRecords = (stdout: string): Either.Either<ReadonlyArray<Readonly<Record<string, unknown>>>, string> => {
  const text = stdout.trim()
  if (text === "") return Either.right([])
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return Either.left(`not JSON: ${JSON.stringify(text.slice(0, 200))}`)
  }
  const records = typeof data === "object" && data !== null ? (data as { RECORDS?: unknown }).RECORDS : undefined
  if (!Array.isArray(records)) return Either.left(`no RECORDS list in ${JSON.stringify(text.slice(0, 200))}`)
  return Either.right(records.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null))
}

/** What one record says; undefined for a record to skip (an `ERROR` such as "Job <9> is not found"). */
export const readRecord = (record: Readonly<Record<string, unknown>>): Either.Either<LsfRow | undefined, string> => {
  if (field(record.ERROR) !== undefined) return Either.right(undefined)
  const idText = field(record.JOBID)
  if (idText === undefined) return Either.right(undefined)
  const name = field(record.JOB_NAME)
  const id = parseRecordId(idText, name)
  if (id === undefined) {
    const why = /^\d+/.test(idText) ? `: an element's index is a whole number up to ${maxArrayIndex}` : ""
    return Either.left(`unreadable job id ${JSON.stringify(idText)}${name === undefined ? "" : ` (name ${JSON.stringify(name)})`}${why}`)
  }
  const stat = field(record.STAT) ?? ""
  const exitCode = parseExitCode(field(record.EXIT_CODE))
  if (exitCode === undefined && field(record.EXIT_CODE) !== undefined) {
    return Either.left(`unreadable EXIT_CODE ${JSON.stringify(field(record.EXIT_CODE))} (a whole number from 0 to 255)`)
  }
  let outcome: StateOutcome = stateTable[stat] ?? { status: "Unknown" }
  if (stat === "EXIT") outcome = exitOutcome(field(record.EXIT_REASON), exitCode)
  const started = outcome.status !== "Pending" && outcome.status !== "Unknown"
  return Either.right({
    id,
    name: baseName(name),
    obs: {
      status: outcome.status,
      reason: outcome.reason,
      // DONE with an empty exit code is a zero exit.
      exitCode: stat === "DONE" ? exitCode ?? 0 : stat === "EXIT" ? exitCode : undefined,
      execHost: started ? field(record.EXEC_HOST) : undefined,
      maxMem: parseLsfMemory(field(record.MAX_MEM)),
      submitTime: parseTime(field(record.SUBMIT_TIME)),
      startTime: parseTime(field(record.START_TIME)),
      finishTime: parseTime(field(record.FINISH_TIME))
    }
  })
}

const parseRows = (stdout: string): Either.Either<ReadonlyArray<LsfRow>, string> =>
  Either.flatMap(parseRecords(stdout), (records) => {
    const rows: Array<LsfRow> = []
    for (const record of records) {
      const row = readRecord(record)
      if (Either.isRight(row)) {
        if (row.right !== undefined) rows.push(row.right)
        continue
      }
      // A record about a job that cannot be read leaves that job unread; one naming no job, the answer.
      const jobId = /^\s*(\d+)/.exec(field(record.JOBID) ?? "")?.[1]
      if (jobId === undefined) return Either.left(row.left)
      rows.push({ id: { jobId }, name: "", obs: { status: "Unknown" }, unreadable: row.left })
    }
    return Either.right(rows)
  })

/** A row as the shared grouping reads it. */
const observed = (row: LsfRow): ObservedRow & { readonly name: string } => ({
  jobId: row.id.jobId,
  indices: row.id.index === undefined ? undefined : [row.id.index],
  name: row.name,
  obs: row.obs,
  unreadable: row.unreadable
})

/**
 * One observation per job: elements grouped under their array's id (a record of the array itself
 * is dropped, its status comes from its elements); plain jobs pass through.
 */
const collect = (rows: ReadonlyArray<LsfRow>): ReadonlyArray<Observation> => groupRows(rows.map(observed))

export const parseStatus = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> =>
  Either.map(parseRows(stdout), collect)

/**
 * bjobs exits non-zero when any id it was given is unknown ("Job <200> is not found"), yet still
 * prints the others as JSON: such an answer is read, not counted as a failed poll.
 */
export const statusUsableOnFailure = (_exitCode: number | undefined, stdout: string, _stderr: string): boolean => {
  const records = parseRecords(stdout)
  return stdout.trim() !== "" && Either.isRight(records)
}

// ---------------------------------------------------------------------------------------------
// Reconnect and cancel
// ---------------------------------------------------------------------------------------------

/**
 * This user's jobs (everyone's with `poll_all_users`) named `{prefix}-*`, for reconnecting after
 * a restart: `-J` lets LSF do the matching, and `-a` shows the ended elements of an array that
 * is still running, so its range can be rebuilt (ended jobs are then left alone).
 */
export const listCommand = (options: ConfigOptions): Invocation => {
  const pattern = JobName.listingPattern(options.job_name_prefix)
  return {
    argv: [
      "bjobs",
      "-a",
      "-json",
      "-o",
      bjobsFields,
      ...(pattern === undefined ? [] : ["-J", pattern]),
      ...users(options)
    ]
  }
}

const noJobsFound = /^No (?:unfinished|matching) job found/im

/** The jobs `listCommand` printed, by id, with their names (an element's `[index]` taken off). */
export const parseListing = (stdout: string): Either.Either<ReadonlyArray<BatchListing>, string> => {
  // Without -json's effect on an empty queue, bjobs says so in words.
  if (noJobsFound.test(stdout.trim())) return Either.right([])
  return Either.map(parseRows(stdout), (rows) => listingFrom(rows.map(observed)))
}

/**
 * bjobs exits 255 saying "No unfinished job found" (or "No matching job found") when there is
 * nothing to list: an empty listing, not a failure, when no records came with it.
 */
export const listNoJobs = (answer: CommandAnswer): boolean => {
  if (!noJobsFound.test(`${answer.stderr}\n${answer.stdout}`)) return false
  const records = parseRecords(answer.stdout)
  return Either.isLeft(records) || records.right.length === 0
}

/** A submission's token, as the job's description (`-Jd`; bjobs shows it as `job_description`). */
export const tokenArgs = (token: string): ReadonlyArray<string> => ["-Jd", tokenMarker(token)]

/** This user's jobs, ended ones too, with their descriptions. */
export const tokenCommand = (): Invocation => ({ argv: ["bjobs", "-a", "-json", "-o", "jobid job_description"] })

/** bjobs saying it has no job to show: "No job found", "No unfinished job found", "No matching job found". */
const noJobAtAll = /^No (?:unfinished |matching )?job found/im

/** Whether a failed `tokenCommand` only says this user has no jobs. */
export const tokenNoJobs = (answer: CommandAnswer): boolean => noJobAtAll.test(`${answer.stderr}\n${answer.stdout}`)

/** The jobs `tokenCommand` printed that carry a token (an array's elements under its id). */
export const parseTokens = (stdout: string): Either.Either<ReadonlyArray<TokenListing>, string> => {
  if (noJobAtAll.test(stdout.trim())) return Either.right([])
  return Either.flatMap(parseRecords(stdout), (records) => {
    const out = new Map<string, string>()
    for (const record of records) {
      const description = field(record.JOB_DESCRIPTION)
      const token = description === undefined ? undefined : tokenIn(description)
      if (token === undefined) continue
      const jobId = /^(\d+)(?:\[\d+\])?$/.exec(field(record.JOBID) ?? "")?.[1]
      if (jobId === undefined) return Either.left(`unreadable job id ${JSON.stringify(record.JOBID)}`)
      out.set(token, jobId)
    }
    return Either.right(Array.from(out, ([token, jobId]) => ({ token, jobId })))
  })
}

/** `bkill <ids>`; `bkill -d <ids>` has LSF record them as DONE. */
export const cancel = (jobIds: ReadonlyArray<string>, done: boolean): Invocation => ({
  argv: done ? ["bkill", "-d", ...jobIds] : ["bkill", ...jobIds]
})

const alreadyEnded = /No matching job|No unfinished job|Job has already finished/i

/**
 * Reads bkill's answer job by job: `Job <N>: Job has already finished` (or "No matching job
 * found", "No unfinished job found") means N had already ended; any other `Job <N>: …` (such as
 * "User permission denied") is a refusal of N. Such a message naming no job means all of them had
 * ended; any other failure naming no job (no contact with LSF) is a failed cancel.
 */
export const cancelOutcome = (
  jobIds: ReadonlyArray<string>,
  answer: CommandAnswer
): Either.Either<CancelOutcome, string> => {
  const ended: Array<string> = []
  const refused: Array<CancelRefusal> = []
  const text = `${answer.stderr}\n${answer.stdout}`
  for (const m of text.matchAll(/Job <(\d+)(?:\[\d+\])?>:\s*([^\n]*)/g)) {
    if (alreadyEnded.test(m[2]!)) ended.push(m[1]!)
    else refused.push({ jobId: m[1]!, detail: m[2]!.trim() })
  }
  if (answer.exitCode !== 0 && ended.length === 0 && refused.length === 0) {
    if (alreadyEnded.test(text)) return Either.right({ ended: jobIds, refused: [] })
    return Either.left(`bkill exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim()}`)
  }
  const asked = new Set(jobIds)
  return Either.right({
    ended: ended.filter((id) => asked.has(id)),
    refused: refused.filter((r) => asked.has(r.jobId))
  })
}

/**
 * `bkill [-d] -J GLOB 0`: every unfinished job of this user whose name matches (without the `0`,
 * bkill would reach only the most recent one). LSF's names take `*` only: a glob with `?` or
 * `[…]` gets no command, and the tracked jobs that match are cancelled by id.
 */
export const cancelByNameCommand = (glob: string, done: boolean): Invocation | undefined =>
  /[?[\]]/.test(glob) ? undefined : { argv: ["bkill", ...(done ? ["-d"] : []), "-J", glob, "0"] }

/**
 * The jobs `bkill -J GLOB 0` says it is terminating; "No matching job found" / "No unfinished job
 * found" mean none; any other failure naming no job is an error.
 */
export const cancelledByName = (answer: CommandAnswer): Either.Either<ReadonlyArray<string>, string> => {
  const text = `${answer.stdout}\n${answer.stderr}`
  const ids = Array.from(text.matchAll(/Job <(\d+)(?:\[\d+\])?> is being (?:terminated|signaled)/g), (m) => m[1]!)
  if (ids.length > 0 || answer.exitCode === 0 || alreadyEnded.test(text)) return Either.right(Array.from(new Set(ids)))
  return Either.left(`bkill exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim()}`)
}

export const dialect: Dialect = {
  kind: "lsf",
  logFileName,
  directives,
  pathProblem,
  submit,
  parseSubmit,
  status,
  parseStatus,
  statusUsableOnFailure,
  list: { command: listCommand, parse: parseListing, noJobs: listNoJobs },
  token: { args: tokenArgs, command: tokenCommand, parse: parseTokens, noJobs: tokenNoJobs },
  arrayIndexVariable: "LSB_JOBINDEX",
  loginShellOnSubmit: true,
  resolveLogPath,
  cancel,
  cancelOutcome,
  cancelByName: { command: cancelByNameCommand, cancelled: cancelledByName }
}
