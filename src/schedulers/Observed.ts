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
  const jobs = new Map<string, Observation>()
  // Each job's element rows in the order given (a later row about an index wins).
  const elements = new Map<string, Array<ElementObservation>>()
  // Each job's name from its first row that gives one.
  const names = new Map<string, string>()
  // Jobs with an unreadable row: what was unreadable (the first problem).
  const unreadable = new Map<string, string>()
  for (const { indices, jobId, name, obs, unreadable: problem } of rows) {
    if (name !== undefined && name !== "" && !names.has(jobId)) names.set(jobId, name)
    const badIndex = indices?.find((i) => indexProblem(i) !== undefined)
    const found = problem ?? observationProblem({ jobId, ...obs }) ?? (badIndex === undefined ? undefined : indexProblem(badIndex))
    if (found !== undefined) {
      if (!unreadable.has(jobId)) unreadable.set(jobId, found)
      continue
    }
    if (indices === undefined) {
      jobs.set(jobId, { jobId, ...obs })
      continue
    }
    const list = elements.get(jobId) ?? []
    // One row may stand for many elements (a pending range): its fields are copied, not spread.
    const fields = definedFields(obs)
    for (const index of indices) list.push(Object.assign({ index }, fields))
    elements.set(jobId, list)
  }
  for (const [jobId, list] of elements) {
    const sorted = byIndexOnce(list)
    jobs.set(jobId, { jobId, elements: sorted })
  }
  for (const [jobId, problem] of unreadable) jobs.set(jobId, { jobId, unreadable: problem })
  return Array.from(jobs.values(), (o) => {
    const name = names.get(o.jobId)
    return name === undefined ? o : { ...o, name }
  })
}

/** The fields of an observation that are set. */
const definedFields = (obs: Omit<ElementObservation, "index">): Omit<ElementObservation, "index"> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(obs)) if (value !== undefined) out[key] = value
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
  const m = /^(?:[A-Za-z]{3}\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d\d):(\d\d)\s+(\d{4})$/.exec(text.trim())
  if (m === null) return undefined
  const month = months.indexOf(m[1]!.toLowerCase())
  if (month < 0) return undefined
  const [d, h, mi, s, y] = m.slice(2).map(Number) as [number, number, number, number, number]
  return validDate(new Date(y, month, d, h, mi, s))
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
