/**
 * What every batch dialect does with a scheduler's answer once it has read its lines: a state's
 * meaning, and rows about jobs or array elements gathered into one observation per job. Pure.
 */
import { Either } from "effect"
import type { BatchListing } from "../Scheduler.js"
import type { ElementObservation, FailureReason, JobStatus, Observation } from "../Domain.js"
import { isExitCode, observationProblem } from "../internal/transition.js"

/** What a scheduler's state (or end) means here. */
export interface StateOutcome {
  readonly status: JobStatus
  readonly reason?: FailureReason | undefined
}

/** One line (or record) of an answer: about a job, or about some elements of an array job. */
export interface ObservedRow {
  readonly jobId: string
  /** The array elements it is about; undefined when it is about the job itself. */
  readonly indices?: ReadonlyArray<number> | undefined
  /** The job's name, when the answer gives it (an array's name, for an element's row). */
  readonly name?: string | undefined
  readonly obs: Omit<ElementObservation, "index">
  /** What in this row could not be read: its job is then reported unreadable, not observed. */
  readonly unreadable?: string | undefined
}

/** Whether `text` is a job id of digits alone (`/^\d+$/`). A plain loop: it runs for every row of every poll. */
export const isDigits = (text: string): boolean => {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/**
 * A scheduler's state text looked up in its state table: only the table's own entries count, so a
 * state that happens to name an Object member (`toString`, `constructor`) is unknown like any other.
 */
export const stateIn = (table: Readonly<Record<string, StateOutcome>>, state: string): StateOutcome | undefined =>
  Object.hasOwn(table, state) ? table[state] : undefined

/** A row naming job `jobId` whose `problem` makes it unreadable. */
export const unreadableRow = (jobId: string, problem: string): ObservedRow => ({
  jobId,
  obs: { status: "Unknown" },
  unreadable: problem
})

/**
 * One observation per job: element rows gathered under their array's id, in index order (a row
 * about the array itself is then dropped, its status comes from its elements); plain jobs pass
 * through.
 */
export const groupRows = (rows: ReadonlyArray<ObservedRow>): ReadonlyArray<Observation> => {
  const group = new Grouping()
  for (const { indices, jobId, name, obs, unreadable } of rows) {
    if (unreadable !== undefined) group.unreadable(jobId, name, unreadable)
    else if (indices !== undefined) group.elements(jobId, indices, name, obs)
    else group.plain(name !== undefined && name !== "" ? { jobId, ...obs, name } : { jobId, ...obs })
  }
  return group.done()
}

/**
 * `groupRows` fed one row at a time, so a dialect can hand over each plain job's observation as it
 * builds it: the observation is kept as given (not copied), unless the job has more rows. The
 * result is `groupRows`'s: a job's rows after the first replace its observation (a later row about
 * an element wins), element rows make an array's elements, any unreadable row makes the job
 * unreadable, and a job takes the name of its first row that gives one. Jobs come in the order of
 * their first plain row, then arrays with elements only, then jobs with unreadable rows only.
 */
export class Grouping {
  /** Each job's observation: as given for a plain job with one row so far, its name included. */
  private readonly jobs = new Map<string, Observation>()
  private lists: Map<string, Array<ElementObservation>> | undefined
  private problems: Map<string, string> | undefined
  /** The name of each job with more than one row (until then its name is in its observation). */
  private names: Map<string, string> | undefined

  /** A row about job `observation.jobId` itself, with the row's name (if any) in `name`. */
  plain(observation: Observation): void {
    const jobId = observation.jobId
    const problem = observationProblem(observation)
    if (problem !== undefined) return this.unreadable(jobId, observation.name, problem)
    if (!this.seen(jobId)) {
      this.jobs.set(jobId, observation)
      return
    }
    const name = this.nameOf(jobId, observation.name)
    this.jobs.set(jobId, name === observation.name ? observation : { ...observation, name })
  }

  /** A row about elements `indices` (one index, or several) of array `jobId`. */
  elements(
    jobId: string,
    indices: number | ReadonlyArray<number>,
    name: string | undefined,
    obs: Omit<ElementObservation, "index">
  ): void {
    let problem = detailsProblem(obs)
    if (problem === undefined) {
      if (typeof indices === "number") problem = indexProblem(indices)
      else {
        const bad = indices.find((i) => indexProblem(i) !== undefined)
        if (bad !== undefined) problem = indexProblem(bad)
      }
    }
    if (problem !== undefined) return this.unreadable(jobId, name, problem)
    this.nameOf(jobId, name)
    const lists = (this.lists ??= new Map())
    let list = lists.get(jobId)
    if (list === undefined) lists.set(jobId, list = [])
    if (typeof indices === "number") {
      list.push(elementOf(indices, obs))
      return
    }
    // One row may stand for many elements (a pending range): its fields are copied, not spread.
    const fields = definedFields(obs)
    for (const index of indices) list.push(Object.assign({ index }, fields))
  }

  /** A row about job `jobId` that could not be read, for `problem` (the first one is kept). */
  unreadable(jobId: string, name: string | undefined, problem: string): void {
    this.nameOf(jobId, name)
    const problems = (this.problems ??= new Map())
    if (!problems.has(jobId)) problems.set(jobId, problem)
  }

  /** One observation per job. */
  done(): ReadonlyArray<Observation> {
    const jobs = this.jobs
    if (this.lists !== undefined) for (const [jobId, list] of this.lists) jobs.set(jobId, { jobId, elements: byIndexOnce(list) })
    if (this.problems !== undefined) for (const [jobId, problem] of this.problems) jobs.set(jobId, { jobId, unreadable: problem })
    const names = this.names
    if (names === undefined) return Array.from(jobs.values())
    return Array.from(jobs.values(), (o) => {
      const name = names.get(o.jobId)
      return name === undefined || name === o.name ? o : { ...o, name }
    })
  }

  private seen(jobId: string): boolean {
    return this.jobs.has(jobId) || this.lists?.has(jobId) === true || this.problems?.has(jobId) === true
  }

  /** Job `jobId`'s name given one more row, named `name`: the first one given. */
  private nameOf(jobId: string, name: string | undefined): string | undefined {
    const names = (this.names ??= new Map())
    let first = names.get(jobId)
    if (first === undefined) {
      // Until now the job had at most one plain row's observation, which holds its name.
      first = this.jobs.get(jobId)?.name ?? (name === "" ? undefined : name)
      if (first !== undefined) names.set(jobId, first)
    }
    return first
  }
}

/** What makes a row's fields unfit (`observationProblem`, which reads no id, of the row's fields). */
const detailsProblem = (obs: Omit<ElementObservation, "index">): string | undefined =>
  observationProblem(obs as Omit<ElementObservation, "index"> & { readonly jobId: string })

/** An element's observation: its index, then the fields of `obs` that are set. */
const elementOf = (index: number, obs: Omit<ElementObservation, "index">): ElementObservation => {
  const out: Record<string, unknown> = { index }
  for (const key of Object.keys(obs)) {
    const value = (obs as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out as unknown as ElementObservation
}

/** The fields of an observation that are set. */
const definedFields = (obs: Omit<ElementObservation, "index">): Omit<ElementObservation, "index"> => {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(obs)) {
    const value = (obs as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out as Omit<ElementObservation, "index">
}

/** Elements in index order, the last one given for an index kept (already in order: as given). */
const byIndexOnce = (list: ReadonlyArray<ElementObservation>): ReadonlyArray<ElementObservation> => {
  let ordered = true
  for (let i = 1; i < list.length && ordered; i++) ordered = list[i - 1]!.index < list[i]!.index
  if (ordered) return list
  const byIndex = new Map<number, ElementObservation>()
  for (const e of list) byIndex.set(e.index, e)
  return Array.from(byIndex.values()).sort((a, b) => a.index - b.index)
}

/** The jobs a queue listing showed, each with the name of its first row that gives one. */
export const listingFrom = (rows: ReadonlyArray<ObservedRow>): ReadonlyArray<BatchListing> =>
  groupRows(rows).map((observation) => ({ jobId: observation.jobId, name: observation.name ?? "", observation }))

const months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

/**
 * A time as schedulers print it in C's ctime form, read as local time: `Sat Nov 21 17:34:09 2026`
 * (qacct, PBS Pro), or without the weekday `Jan  5 10:00:00 2024` (bjobs). Undefined otherwise.
 */
export const parseMonthNameTime = (text: string): Date | undefined => {
  const fast = scanMonthNameTime(text, false)
  if (fast !== undefined) return validDate(new Date(fast))
  const m = /^(?:[A-Za-z]{3}\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d\d):(\d\d)\s+(\d{4})$/.exec(text.trim())
  if (m === null) return undefined
  const month = months.indexOf(m[1]!.toLowerCase())
  if (month < 0) return undefined
  const [d, h, mi, s, y] = m.slice(2).map(Number) as [number, number, number, number, number]
  return validDate(new Date(y, month, d, h, mi, s))
}

/**
 * A time reader that remembers the last text it read, for one column of one scheduler answer:
 * jobs submitted together are listed together and share their submit time, so most submit times
 * are not read again. Each call returns a Date of its own, so no two observations share one.
 */
export const cachedTimes = (
  read: (text: string | undefined) => Date | undefined
): ((text: string | undefined) => Date | undefined) => {
  let lastText: string | undefined
  // NaN stands for a text that is no time.
  let lastMs = NaN
  return (text) => {
    if (text === undefined) return read(text)
    if (text !== lastText) {
      lastMs = read(text)?.getTime() ?? NaN
      lastText = text
    }
    return Number.isNaN(lastMs) ? undefined : new Date(lastMs)
  }
}

/** Each month's three letters (lower case) as one number, to its month `0`–`11`. */
const monthCodes = new Map(months.map((m, i) => [(m.charCodeAt(0) << 16) | (m.charCodeAt(1) << 8) | m.charCodeAt(2), i]))

/** Month `0`–`11` of the three ASCII letters (any case) at the start of `t`, or -1. */
const monthAt = (t: string): number => {
  if (t.length < 3 || !isLetter(t.charCodeAt(0)) || !isLetter(t.charCodeAt(1)) || !isLetter(t.charCodeAt(2))) return -1
  return monthCodes.get(((t.charCodeAt(0) | 32) << 16) | ((t.charCodeAt(1) | 32) << 8) | (t.charCodeAt(2) | 32)) ?? -1
}

const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** The position past the ASCII spaces at `at` (at least one), or -1. */
const spacesAt = (t: string, at: number): number => {
  let i = at
  while (t.charCodeAt(i) === 32) i++
  return i === at ? -1 : i
}

/** Where the last `digitsAt` ended (a scratch value: the scanners below run for every time read). */
let digitsEnd = 0

/** The number written in `min` to `max` ASCII digits at `at`, no digit after them, or -1. */
const digitsAt = (t: string, at: number, min: number, max: number): number => {
  let value = 0
  let i = at
  for (; i < t.length && i - at < max && isDigit(t.charCodeAt(i)); i++) value = value * 10 + (t.charCodeAt(i) - 48)
  if (i - at < min || isDigit(t.charCodeAt(i))) return -1
  digitsEnd = i
  return value
}

/**
 * The commonest form of `parseMonthNameTime`'s text, read by hand: `Jan  5 10:00:00 2024` (ASCII
 * spaces only), with (when `zone`) a trailing ` L` zone letter. Its time as `new Date(…)` reads
 * it (NaN for an invalid date), or undefined for any other text: then the regular expressions
 * decide. Plain loops, not a regular expression: it runs for every time of every poll.
 */
export const scanMonthNameTime = (t: string, zone: boolean): number | undefined => {
  const month = monthAt(t)
  if (month < 0) return undefined
  let i = spacesAt(t, 3)
  const day = i < 0 ? -1 : digitsAt(t, i, 1, 2)
  if (day < 0) return undefined
  i = spacesAt(t, digitsEnd)
  const hour = i < 0 ? -1 : digitsAt(t, i, 1, 2)
  if (hour < 0 || t.charCodeAt(digitsEnd) !== 58) return undefined
  const minute = digitsAt(t, digitsEnd + 1, 2, 2)
  if (minute < 0 || t.charCodeAt(digitsEnd) !== 58) return undefined
  const second = digitsAt(t, digitsEnd + 1, 2, 2)
  if (second < 0) return undefined
  i = spacesAt(t, digitsEnd)
  const year = i < 0 ? -1 : digitsAt(t, i, 4, 4)
  if (year < 0) return undefined
  if (digitsEnd !== t.length) {
    // ` L`: spaces, one capital letter, the end.
    const letter = zone ? spacesAt(t, digitsEnd) : -1
    const c = t.charCodeAt(letter)
    if (letter < 0 || c < 65 || c > 90 || letter + 1 !== t.length) return undefined
  }
  return new Date(year, month, day, hour, minute, second).getTime()
}

/**
 * `2026-11-21T11:58:48` read by hand (exactly that layout), as `new Date(…)` reads it (NaN for an
 * invalid date); undefined for any other text, which the regular expression then decides.
 */
export const scanIsoTime = (t: string): number | undefined => {
  if (t.length !== 19 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(10) !== 84) return undefined
  if (t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return undefined
  const y = digitsAt(t, 0, 4, 4)
  const mo = digitsAt(t, 5, 2, 2)
  const d = digitsAt(t, 8, 2, 2)
  const h = digitsAt(t, 11, 2, 2)
  const mi = digitsAt(t, 14, 2, 2)
  const s = digitsAt(t, 17, 2, 2)
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return undefined
  return new Date(y, mo - 1, d, h, mi, s).getTime()
}

// ---------------------------------------------------------------------------------------------
// Numbers read from an answer, range-checked
// ---------------------------------------------------------------------------------------------

const indexProblem = (index: number): string | undefined =>
  Number.isSafeInteger(index) && index >= 0 ? undefined : `array index ${index} is not a whole number`

/** A whole number written in digits (no sign), undefined unless it is a safe integer. */
export const wholeNumber = (text: string | undefined): number | undefined => {
  const t = text?.trim() ?? ""
  if (!/^\d{1,16}$/.test(t)) return undefined
  const n = Number(t)
  return Number.isSafeInteger(n) ? n : undefined
}

/** An exit code as the scheduler prints it, undefined unless one from 0 to 255. */
export const exitCodeOf = (text: string | undefined): number | undefined => {
  const n = wholeNumber(text)
  return isExitCode(n) ? n : undefined
}

/** The date when it is a real one (not an Invalid Date), else undefined. */
export const validDate = (date: Date | undefined): Date | undefined =>
  date !== undefined && Number.isFinite(date.getTime()) ? date : undefined

/**
 * The indices of `start-end:step` as an array's element indices, or what is wrong with them: an
 * end before the start, a step below 1, or more than `cap` indices (the scheduler's own limit on
 * an array's size, so a garbled range is refused rather than enumerated) with the `already`
 * indices read before it.
 */
export const expandRange = (
  start: number,
  end: number,
  step: number,
  cap: number,
  already = 0
): Either.Either<ReadonlyArray<number>, string> => {
  if (![start, end, step].every(Number.isSafeInteger) || start < 0) {
    return Either.left(`array range ${start}-${end}:${step} is not made of whole numbers`)
  }
  if (end < start || step < 1) return Either.left(`array range ${start}-${end}:${step} is empty or has a step below 1`)
  if (already + Math.floor((end - start) / step) + 1 > cap) {
    return Either.left(`array range ${start}-${end}:${step} makes more than ${cap} elements, more than the scheduler allows`)
  }
  const out: Array<number> = []
  for (let i = start; i <= end; i += step) out.push(i)
  return Either.right(out)
}

/**
 * `2-4,7,9-12:2`-style lists of ranges (`,`-separated `N`, `N-M` or `N-M:S`): their indices, or
 * what is wrong; at most `cap` indices in all.
 */
export const expandRanges = (text: string, cap: number): Either.Either<ReadonlyArray<number>, string> => {
  const out: Array<number> = []
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim())
    if (m === null) return Either.left(`unreadable array range ${JSON.stringify(part)}`)
    const start = Number(m[1])
    const end = m[2] === undefined ? start : Number(m[2])
    const range = expandRange(start, end, m[3] === undefined ? 1 : Number(m[3]), cap, out.length)
    if (Either.isLeft(range)) return range
    for (const i of range.right) out.push(i)
  }
  return Either.right(out)
}
