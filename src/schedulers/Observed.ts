/**
 * What every batch dialect does with a scheduler's answer once it has read its lines: a state's
 * meaning, and rows about jobs or array elements gathered into one observation per job. Pure.
 */
import type { BatchListing } from "../BatchExecutor.js"
import type { ElementObservation, FailureReason, JobStatus, Observation } from "../Domain.js"

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
}

/**
 * One observation per job: element rows gathered under their array's id, in index order (a row
 * about the array itself is then dropped, its status comes from its elements); plain jobs pass
 * through.
 */
export const groupRows = (rows: ReadonlyArray<ObservedRow>): ReadonlyArray<Observation> => {
  const jobs = new Map<string, Observation>()
  const elements = new Map<string, Map<number, ElementObservation>>()
  // Each job's name from its first row that gives one.
  const names = new Map<string, string>()
  for (const { indices, jobId, name, obs } of rows) {
    if (name !== undefined && name !== "" && !names.has(jobId)) names.set(jobId, name)
    if (indices === undefined) {
      jobs.set(jobId, { jobId, ...obs })
      continue
    }
    const byIndex = elements.get(jobId) ?? new Map<number, ElementObservation>()
    for (const index of indices) byIndex.set(index, { index, ...obs })
    elements.set(jobId, byIndex)
  }
  for (const [jobId, byIndex] of elements) {
    const sorted = Array.from(byIndex.values()).sort((a, b) => a.index - b.index)
    jobs.set(jobId, { jobId, elements: sorted })
  }
  return Array.from(jobs.values(), (o) => {
    const name = names.get(o.jobId)
    return name === undefined ? o : { ...o, name }
  })
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
  return new Date(y, month, d, h, mi, s)
}
