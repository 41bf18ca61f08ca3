/**
 * The rules every JobStore implementation shares: how a job is keyed, what `modify` does to the
 * current records, which writes are status changes, and which records a filter keeps.
 */
import type { JobRecord, JobStatus } from "../Domain.js"
import { isTerminal } from "../Domain.js"
import { globToRegExp } from "./glob.js"

/**
 * Which job a record is: the executor that submitted it and the id its scheduler gave it. Ids are
 * unique within one scheduler only (Slurm's job 52 and LSF's job 52 are different jobs), so the
 * store holds and finds records by both. Every JobRecord is a JobKey.
 */
export interface JobKey {
  readonly executor: string
  readonly jobId: string
}

/** One write that changed a job's status or an element's status; `before` is absent for an insert. */
export interface JobChange {
  readonly before: JobRecord | undefined
  readonly after: JobRecord
}

/** Which jobs `list` returns; every field given must hold. Results come in submission order. */
export interface JobFilter {
  /** Only jobs that are not terminal (true) or only terminal ones (false). */
  readonly active?: boolean | undefined
  /** Only jobs in one of these states. */
  readonly status?: ReadonlyArray<JobStatus> | undefined
  /** Only jobs of this executor ("local", "slurm", …). */
  readonly executor?: string | undefined
  /** Only jobs whose full name matches one of these globs (`*`, `?`, `[...]`, `[!...]`). */
  readonly names?: ReadonlyArray<string> | undefined
  /** Only these job ids (of any executor unless `executor` is given). */
  readonly ids?: ReadonlyArray<string> | undefined
  /** Only jobs submitted at or after this time. */
  readonly submittedAfter?: Date | undefined
  /** Only jobs submitted before this time. */
  readonly submittedBefore?: Date | undefined
  /** Only jobs this program owns (it submitted or adopted them). */
  readonly owned?: boolean | undefined
  /** At most this many, the most recently submitted ones (still returned oldest first). */
  readonly limit?: number | undefined
}

/** `executor:jobId`, as the CLI takes and prints a job that needs its executor named. */
export const keyString = (key: JobKey): string => `${key.executor}:${key.jobId}`

const elementsChanged = (before: JobRecord, after: JobRecord): boolean => {
  const a = before.elements ?? []
  const b = after.elements ?? []
  if (a === b) return false
  if (a.length !== b.length) return true
  return a.some((e, i) => e.status !== b[i]?.status || e.index !== b[i]?.index)
}

/** Whether a write is worth telling subscribers about: a status of the job or of an element changed. */
export const isStatusChange = (before: JobRecord | undefined, after: JobRecord): boolean =>
  before === undefined || before.status !== after.status || elementsChanged(before, after)

/**
 * `modify`'s rule, the same for every store: `f` on the current record of each job in `current`
 * (by `keyString`; updated in place, so a job given twice sees its first result), jobs not there
 * skipped, records `f` returns unchanged left alone. Returns the new records and the changes of
 * status.
 */
export const applyModify = (
  keys: ReadonlyArray<JobKey>,
  current: Map<string, JobRecord>,
  f: (current: JobRecord) => JobRecord
): { readonly updated: ReadonlyArray<JobRecord>; readonly changes: Array<JobChange> } => {
  const updated: Array<JobRecord> = []
  const changes: Array<JobChange> = []
  for (const key of keys) {
    const k = keyString(key)
    const before = current.get(k)
    if (before === undefined) continue
    const changed = f(before)
    if (changed === before) continue
    // A job stays the job it is, whatever `f` returns.
    const after = changed.executor === before.executor && changed.jobId === before.jobId
      ? changed
      : { ...changed, executor: before.executor, jobId: before.jobId }
    current.set(k, after)
    updated.push(after)
    if (isStatusChange(before, after)) changes.push({ before, after })
  }
  return { updated, changes }
}

/** Whether a record passes a filter (everything but `limit`; every job is this program's own). */
export const matchesFilter = (filter: JobFilter | undefined) => {
  if (filter === undefined) return () => true
  const names = filter.names?.map(globToRegExp)
  const ids = filter.ids === undefined ? undefined : new Set(filter.ids)
  const after = filter.submittedAfter?.getTime()
  const before = filter.submittedBefore?.getTime()
  return (r: JobRecord): boolean => {
    if (filter.owned === false) return false
    if (filter.active !== undefined && isTerminal(r) === filter.active) return false
    if (filter.status !== undefined && !filter.status.includes(r.status)) return false
    if (filter.executor !== undefined && r.executor !== filter.executor) return false
    if (names !== undefined && !names.some((re) => re.test(r.name))) return false
    if (ids !== undefined && !ids.has(r.jobId)) return false
    const submitted = r.submitTime?.getTime()
    if (after !== undefined && (submitted === undefined || submitted < after)) return false
    if (before !== undefined && (submitted === undefined || submitted >= before)) return false
    return true
  }
}
