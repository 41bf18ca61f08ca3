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
