/**
 * What LSF says about jobs: its states and exit reasons, the small readers of its fields, and
 * `bjobs -json` read into observations. Pure.
 */
import { Either } from "effect"
import type { Invocation } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { ElementObservation, JobRecord, Observation } from "../../Domain.js"
import { signalOfStatus } from "../../internal/signals.js"
import type { ObservedRow, StateOutcome } from "../Observed.js"
import {
  cachedTimes,
  exitCodeOf,
  Grouping,
  isDigits,
  parseMonthNameTime,
  scanMonthNameTime,
  stateIn,
  validDate,
  wholeNumber
} from "../Observed.js"
import { parseMemory } from "../../Units.js"

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
  // Hot path (every field of every record): text with nothing to trim is its own value, uncopied.
  if (typeof v === "string" && v.length > 0) {
    const first = v.charCodeAt(0)
    const last = v.charCodeAt(v.length - 1)
    if (first > 32 && first < 127 && last > 32 && last < 127) return v === "-" ? undefined : v
  }
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
  const ascii = field(text)
  const fast = ascii === undefined ? undefined : scanMonthNameTime(ascii, true)
  if (fast !== undefined) return validDate(new Date(fast))
  const t = ascii?.replace(/\s+[A-Z]$/, "")
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
  const fast = t === undefined ? undefined : scanMemory(t)
  if (fast !== undefined) return fast > 0 && Number.isSafeInteger(fast) ? fast : undefined
  const m = t === undefined ? null : /^(\d+(?:\.\d+)?)\s*([KMGTP])(?:bytes|i?B)?$/i.exec(t)
  if (m === null) return undefined
  const parsed = parseMemory(`${m[1]}${m[2]}`)
  return Either.isRight(parsed) ? parsed.right : undefined
}

/** Power of 1024 of each unit letter bjobs prints, by its upper-case char code. */
const unitPowers: ReadonlyArray<number | undefined> = Object.assign([], { 75: 1, 77: 2, 71: 3, 84: 4, 80: 5 })

/**
 * The commonest memory text, read by hand: whole digits, spaces, a unit letter, then `bytes`,
 * `B`, `iB` or nothing (`512 Mbytes`, `3 GB`): its bytes as `parseMemory` counts them (rounded
 * up), or undefined for anything else, which the regular expressions then decide. A plain loop:
 * it runs for every record of every poll.
 */
const scanMemory = (t: string): number | undefined => {
  let value = 0
  let i = 0
  for (; i < t.length && i < 16; i++) {
    const c = t.charCodeAt(i)
    if (c < 48 || c > 57) break
    value = value * 10 + (c - 48)
  }
  if (i === 0 || i === 16) return undefined
  while (t.charCodeAt(i) === 32) i++
  const power = unitPowers[t.charCodeAt(i) & ~32]
  if (power === undefined || !isLetterAt(t, i)) return undefined
  if (!unitSuffixAt(t, i + 1)) return undefined
  return Math.ceil(value * 1024 ** power)
}

/** Whether `t` from `at` is `bytes`, `B`, `iB` (any case) or nothing, compared in place. */
const unitSuffixAt = (t: string, at: number): boolean => {
  const rest = t.length - at
  if (rest === 0) return true
  if (rest === 1) return (t.charCodeAt(at) | 32) === 98
  if (rest === 2) return (t.charCodeAt(at) | 32) === 105 && (t.charCodeAt(at + 1) | 32) === 98
  if (rest !== 5) return false
  // "bytes"
  return (t.charCodeAt(at) | 32) === 98 && (t.charCodeAt(at + 1) | 32) === 121 && (t.charCodeAt(at + 2) | 32) === 116 &&
    (t.charCodeAt(at + 3) | 32) === 101 && (t.charCodeAt(at + 4) | 32) === 115
}

const isLetterAt = (t: string, i: number): boolean => {
  const c = t.charCodeAt(i)
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
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

export const users = (options: ConfigOptions): Array<string> => options.poll_all_users ? ["-u", "all"] : []

/**
 * One bjobs for every job of this user (bjobs' default; everyone's with `poll_all_users`), only
 * those whose name matches `pattern` (`capi-*`) when given: for more tracked jobs than one
 * command line can name.
 */
export const statusByUser = (options: ConfigOptions, pattern: string | undefined): Invocation => ({
  argv: ["bjobs", "-a", "-json", "-o", bjobsFields, ...users(options), ...(pattern === undefined ? [] : ["-J", pattern])]
})

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

/** The RECORDS list of a `bjobs -json` answer as parsed, anything in it, or what is wrong with it. */
const recordList = (stdout: string): Either.Either<ReadonlyArray<unknown>, string> => {
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
  return Either.right(records)
}

const isRecord = (r: unknown): r is Record<string, unknown> => typeof r === "object" && r !== null

/** The records of a `bjobs -json` answer, or what is wrong with it. */
export const parseRecords = (stdout: string): Either.Either<ReadonlyArray<Readonly<Record<string, unknown>>>, string> =>
  Either.map(recordList(stdout), (records) => records.filter(isRecord))

/** How a record's times and memory are read: as they are, or through one answer's caches. */
interface Readers {
  readonly submitTime: (text: string | undefined) => Date | undefined
  readonly startTime: (text: string | undefined) => Date | undefined
  readonly finishTime: (text: string | undefined) => Date | undefined
  readonly memory: (text: string | undefined) => number | undefined
}

const plainReaders: Readers = { submitTime: parseTime, startTime: parseTime, finishTime: parseTime, memory: parseLsfMemory }

/** A record's exit code: a number, undefined when it has none, or what is wrong with it. */
const recordExitCode = (record: Readonly<Record<string, unknown>>): number | undefined | { readonly problem: string } => {
  const text = field(record.EXIT_CODE)
  if (text === undefined) return undefined
  const exitCode = parseExitCode(text)
  return exitCode ?? { problem: `unreadable EXIT_CODE ${JSON.stringify(text)} (a whole number from 0 to 255)` }
}

/** What a record's state means: EXIT's from its exit reason and code. */
const outcomeOf = (record: Readonly<Record<string, unknown>>, stat: string, exitCode: number | undefined): StateOutcome =>
  stat === "EXIT" ? exitOutcome(field(record.EXIT_REASON), exitCode) : stateIn(stateTable, stat) ?? { status: "Unknown" }

/** What a record says of its job or element, but whose it is. */
const observationOf = (
  record: Readonly<Record<string, unknown>>,
  stat: string,
  exitCode: number | undefined,
  readers: Readers
): Omit<ElementObservation, "index"> => {
  const outcome = outcomeOf(record, stat, exitCode)
  const started = outcome.status !== "Pending" && outcome.status !== "Unknown"
  return {
    status: outcome.status,
    reason: outcome.reason,
    // DONE with an empty exit code is a zero exit.
    exitCode: stat === "DONE" ? exitCode ?? 0 : stat === "EXIT" ? exitCode : undefined,
    execHost: started ? field(record.EXEC_HOST) : undefined,
    maxMem: readers.memory(field(record.MAX_MEM)),
    submitTime: readers.submitTime(field(record.SUBMIT_TIME)),
    startTime: readers.startTime(field(record.START_TIME)),
    finishTime: readers.finishTime(field(record.FINISH_TIME))
  }
}

/** Why a record's id cannot be read. */
const idProblem = (idText: string, name: string | undefined): string => {
  const why = /^\d+/.test(idText) ? `: an element's index is a whole number up to ${maxArrayIndex}` : ""
  return `unreadable job id ${JSON.stringify(idText)}${name === undefined ? "" : ` (name ${JSON.stringify(name)})`}${why}`
}

/** What one record says; undefined for a record to skip (an `ERROR` such as "Job <9> is not found"). */
export const readRecord = (
  record: Readonly<Record<string, unknown>>,
  readers: Readers = plainReaders
): Either.Either<LsfRow | undefined, string> => {
  if (field(record.ERROR) !== undefined) return Either.right(undefined)
  const idText = field(record.JOBID)
  if (idText === undefined) return Either.right(undefined)
  const name = field(record.JOB_NAME)
  const id = parseRecordId(idText, name)
  if (id === undefined) return Either.left(idProblem(idText, name))
  const exitCode = recordExitCode(record)
  if (typeof exitCode === "object") return Either.left(exitCode.problem)
  return Either.right({ id, name: baseName(name), obs: observationOf(record, field(record.STAT) ?? "", exitCode, readers) })
}

/** The job a record that cannot be read is about: its id's leading digits. */
const leadingJobId = (record: Readonly<Record<string, unknown>>): string | undefined =>
  /^\s*(\d+)/.exec(field(record.JOBID) ?? "")?.[1]

export const parseRows = (stdout: string): Either.Either<ReadonlyArray<LsfRow>, string> =>
  Either.flatMap(parseRecords(stdout), (records) => {
    const rows: Array<LsfRow> = []
    for (const record of records) {
      const row = readRecord(record)
      if (Either.isRight(row)) {
        if (row.right !== undefined) rows.push(row.right)
        continue
      }
      // A record about a job that cannot be read leaves that job unread; one naming no job, the answer.
      const jobId = leadingJobId(record)
      if (jobId === undefined) return Either.left(row.left)
      rows.push({ id: { jobId }, name: "", obs: { status: "Unknown" }, unreadable: row.left })
    }
    return Either.right(rows)
  })

/** A row as the shared grouping reads it. */
export const observed = (row: LsfRow): ObservedRow & { readonly name: string } => ({
  jobId: row.id.jobId,
  indices: row.id.index === undefined ? undefined : [row.id.index],
  name: row.name,
  obs: row.obs,
  unreadable: row.unreadable
})


/**
 * Reads one record into `group` (as `parseRows` then `groupRows` would): a plain job's observation
 * is built once, in its final shape; times and memory go through this answer's caches. Returns
 * what makes the whole answer unreadable (a record that cannot be read and names no job).
 */
const readInto = (record: Readonly<Record<string, unknown>>, group: Grouping, readers: Readers): string | undefined => {
  if (field(record.ERROR) !== undefined) return undefined
  const idText = field(record.JOBID)
  if (idText === undefined) return undefined
  const name = field(record.JOB_NAME)
  // A job's own record: digits, and no element's `[index]` at the end of its name.
  const plain = isDigits(idText) && (name === undefined || name.charCodeAt(name.length - 1) !== 93)
  const id = plain ? undefined : parseRecordId(idText, name)
  const exitCode = plain || id !== undefined ? recordExitCode(record) : undefined
  if ((!plain && id === undefined) || typeof exitCode === "object") {
    const problem = typeof exitCode === "object" ? exitCode.problem : idProblem(idText, name)
    const jobId = leadingJobId(record)
    if (jobId === undefined) return problem
    group.unreadable(jobId, "", problem)
    return undefined
  }
  const stat = field(record.STAT) ?? ""
  if (id !== undefined) {
    const obs = observationOf(record, stat, exitCode, readers)
    const base = baseName(name)
    if (id.index === undefined) group.plain(base === "" ? { jobId: id.jobId, ...obs } : { jobId: id.jobId, ...obs, name: base })
    else group.elements(id.jobId, id.index, base, obs)
    return undefined
  }
  // The hot path: a plain job's observation, in the shape `groupRows` gives it.
  const outcome = outcomeOf(record, stat, exitCode)
  const started = outcome.status !== "Pending" && outcome.status !== "Unknown"
  const status = outcome.status
  const reason = outcome.reason
  const code = stat === "DONE" ? exitCode ?? 0 : stat === "EXIT" ? exitCode : undefined
  const execHost = started ? field(record.EXEC_HOST) : undefined
  const maxMem = readers.memory(field(record.MAX_MEM))
  const submitTime = readers.submitTime(field(record.SUBMIT_TIME))
  const startTime = readers.startTime(field(record.START_TIME))
  const finishTime = readers.finishTime(field(record.FINISH_TIME))
  group.plain(
    name === undefined
      ? { jobId: idText, status, reason, exitCode: code, execHost, maxMem, submitTime, startTime, finishTime }
      : { jobId: idText, status, reason, exitCode: code, execHost, maxMem, submitTime, startTime, finishTime, name }
  )
  return undefined
}

/**
 * One observation per job: elements grouped under their array's id (a record of the array itself
 * is dropped, its status comes from its elements); plain jobs pass through. Read in one pass, each
 * plain job's observation built once; times and memory texts repeated in the answer (jobs
 * submitted together share their submit time) are read once.
 */
export const parseStatus = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> =>
  Either.flatMap(recordList(stdout), (records) => {
    const readers: Readers = {
      submitTime: cachedTimes(parseTime),
      startTime: cachedTimes(parseTime),
      finishTime: cachedTimes(parseTime),
      memory: parseLsfMemory
    }
    const group = new Grouping()
    for (const record of records) {
      if (!isRecord(record)) continue
      const problem = readInto(record, group, readers)
      if (problem !== undefined) return Either.left(problem)
    }
    return Either.right(group.done())
  })

/**
 * bjobs exits non-zero when any id it was given is unknown ("Job <200> is not found"), yet still
 * prints the others as JSON: such an answer is read, not counted as a failed poll.
 */
export const statusUsableOnFailure = (_exitCode: number | undefined, stdout: string, _stderr: string): boolean => {
  const records = parseRecords(stdout)
  return stdout.trim() !== "" && Either.isRight(records)
}
