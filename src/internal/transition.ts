/**
 * The pure transition function: what a record becomes given one observation, or given that no
 * executor has reported it for a while. No time is read here: `now` is passed in.
 */
import type { ArrayElement, ElementObservation, FailureReason, JobRecord, JobStatus, Observation } from "../Domain.js"
import { arraySize, isTerminalStatus } from "../Domain.js"

/** An exit code as recorded, after the scheduler's own encoding of signals: 0 to 255. */
export const isExitCode = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= 255

const isValidDate = (d: unknown): boolean => d instanceof Date && Number.isFinite(d.getTime())

/** What makes a reported detail unfit for a record, or undefined when it is fit. */
const detailProblem = (o: Omit<ElementObservation, "index" | "status">): string | undefined => {
  if (o.exitCode !== undefined && !isExitCode(o.exitCode)) return `exit code ${o.exitCode} is not a whole number from 0 to 255`
  if (o.maxMem !== undefined && !(Number.isFinite(o.maxMem) && o.maxMem >= 0)) {
    return `memory ${o.maxMem} is not a finite number of bytes`
  }
  for (const key of ["submitTime", "startTime", "finishTime"] as const) {
    if (o[key] !== undefined && !isValidDate(o[key])) return `${key} is not a valid date`
  }
  const reason = o.reason
  if (reason?._tag === "NonZeroExit" && !Number.isSafeInteger(reason.exitCode)) {
    return `exit code ${reason.exitCode} is not a whole number`
  }
  if (reason?._tag === "ElementsFailed" && !reason.indices.every((i) => Number.isSafeInteger(i) && i >= 0)) {
    return "a failed element's index is not a whole number"
  }
  return undefined
}

/**
 * Why an observation cannot be applied to a record (what the scheduler said about the job could
 * not be read, or a value is out of range: an exit code outside 0..255, memory that is not a
 * finite number of bytes, an invalid date, an element index that is not a whole number), or
 * undefined when it can. A record is never given such a value.
 */
export const observationProblem = (obs: Observation): string | undefined => {
  if (obs.unreadable !== undefined) return obs.unreadable
  const own = detailProblem(obs)
  if (own !== undefined) return own
  for (const e of obs.elements ?? []) {
    if (!Number.isSafeInteger(e.index) || e.index < 0) return `element index ${e.index} is not a whole number`
    const problem = detailProblem(e)
    if (problem !== undefined) return `element ${e.index}: ${problem}`
  }
  return undefined
}

const defined = <A>(next: A | undefined, current: A | undefined): A | undefined => next !== undefined ? next : current

const reasonFor = (
  status: JobStatus,
  reason: FailureReason | undefined,
  exitCode: number | undefined
): FailureReason | undefined => {
  if (status === "Done") return undefined
  if (reason !== undefined) return reason
  if (status === "Failed" && exitCode !== undefined && exitCode !== 0) {
    return { _tag: "NonZeroExit", exitCode }
  }
  return undefined
}

/** Details an observation may report; a missing one keeps what was known. */
const details = ["execHost", "maxMem", "submitTime", "startTime", "finishTime"] as const
type Details = { -readonly [K in typeof details[number]]?: ElementObservation[K] }

/** Writes onto `target` each detail the observation reports, else the one already known. */
const carryDetails = (target: Details, obs: Details, current: Details | undefined): void => {
  for (const key of details) {
    const value = obs[key] !== undefined ? obs[key] : current?.[key]
    if (value !== undefined) (target as Record<string, unknown>)[key] = value
  }
}

/** Whether an element has started or ended: no answer sets it back to Pending. */
const hasStarted = (element: ArrayElement | undefined): boolean =>
  element !== undefined && element.status !== "Pending" && element.status !== "Unknown"

/**
 * An ended element as it ended, with the details it lacks (host, start, …) taken from a later
 * observation: the answer that ended it may have spoken for several elements at once (sacct's row
 * of an array's pending range, before the element's own row appears), and its own row comes later.
 * The same element when the observation adds nothing.
 */
const filledIn = (current: ArrayElement, obs: ElementObservation): ArrayElement => {
  let next: { -readonly [K in keyof ArrayElement]: ArrayElement[K] } | undefined
  for (const key of details) {
    const value = obs[key]
    if (current[key] === undefined && value !== undefined) {
      next ??= { ...current }
      ;(next as Record<string, unknown>)[key] = value
    }
  }
  return next ?? current
}

/**
 * An element's next state. It never moves back: an ended element stays as it ended (only details
 * it lacks are filled in), and one that started is not set back to Pending (the scheduler's tools
 * disagree for a while: sacct's row of an array's pending elements can still name elements that
 * squeue showed running).
 */
const applyElement = (current: ArrayElement | undefined, obs: ElementObservation): ArrayElement => {
  if (current !== undefined && isTerminalStatus(current.status)) return filledIn(current, obs)
  if (obs.status === "Pending" && hasStarted(current)) return current!
  const status = obs.status
  const exitCode = defined(obs.exitCode, current?.exitCode) ?? (status === "Done" ? 0 : undefined)
  const reason = reasonFor(status, defined(obs.reason, current?.reason), exitCode)
  const next: { -readonly [K in keyof ArrayElement]: ArrayElement[K] } = { index: obs.index, status }
  if (reason !== undefined) next.reason = reason
  if (exitCode !== undefined) next.exitCode = exitCode
  carryDetails(next, obs, current)
  return current !== undefined && sameReason(current.reason, next.reason) && sameOutcome(current, next) ? current : next
}

/**
 * Merges element observations into the elements already known, sorted by index: the same array
 * (no copy) when the observations change no element.
 */
export const mergeElements = (
  current: ReadonlyArray<ArrayElement> | undefined,
  observed: ReadonlyArray<ElementObservation>
): ReadonlyArray<ArrayElement> => {
  const byIndex = new Map<number, ArrayElement>()
  for (const e of current ?? []) byIndex.set(e.index, e)
  let changed = current === undefined
  for (const o of observed) {
    const before = byIndex.get(o.index)
    const after = applyElement(before, o)
    if (after === before) continue
    byIndex.set(o.index, after)
    changed = true
  }
  return !changed && current !== undefined ? current : Array.from(byIndex.values()).sort((a, b) => a.index - b.index)
}

/**
 * An array's status from its elements. It is terminal only once every expected element is:
 * then Failed if any failed, else Killed if any was killed, else Done. Before that it is Running
 * once any element has started or ended, and Pending while none has.
 */
export const aggregateArray = (expected: number, elements: ReadonlyArray<ArrayElement>): JobStatus => {
  const terminal = elements.filter((e) => isTerminalStatus(e.status))
  if (terminal.length >= expected && terminal.length === elements.length) {
    if (terminal.some((e) => e.status === "Failed")) return "Failed"
    if (terminal.some((e) => e.status === "Killed")) return "Killed"
    return "Done"
  }
  const started = elements.some((e) => e.status !== "Pending")
  return started ? "Running" : "Pending"
}

/**
 * Whether an array job ends with no element ever reported (`elements` empty): the scheduler ran it
 * as one plain job (its array request was not applied) or reported none of its elements. Its end,
 * Done or the command's own failure, is then a plain job's, not the array's. Killed, and a failure
 * the scheduler decided for the whole array (a dependency, a limit), keep theirs.
 */
const endedWithoutElements = (
  elements: ReadonlyArray<ArrayElement> | undefined,
  status: JobStatus,
  reason: FailureReason | undefined
): boolean =>
  (elements === undefined || elements.length === 0) &&
  (status === "Done" ||
    (status === "Failed" && (reason === undefined || reason._tag === "NonZeroExit" || reason._tag === "Signalled")))

/**
 * What `record` becomes given `obs`, seen at `now`. A terminal record keeps its status (a cancelled
 * one only takes what the scheduler says of how it ended: `completeCancelled`), and no record
 * changes given an observation with a problem (`observationProblem`). An array that ends with no
 * element reported is Failed(NoArrayElements), never Done.
 *
 * A record the observation does not change (status, reason, exit code, host, memory, times and
 * elements all as they were) is returned as it is, the same object, its `lastSeen` too: a store
 * writes nothing for it. The Monitor keeps the exact time of each sighting itself (see
 * `isZombie`) and refreshes `lastSeen` now and then.
 */
export const applyObservation = (record: JobRecord, obs: Observation, now: Date): JobRecord => {
  if (observationProblem(obs) !== undefined) return record
  if (isTerminalStatus(record.status)) return isCancelled(record) ? completeCancelled(record, obs, now) : record
  const elements = obs.elements !== undefined && obs.elements.length > 0
    ? mergeElements(record.elements, obs.elements)
    : record.elements
  let status: JobStatus = obs.status ?? record.status
  let reason = defined(obs.reason, record.reason)
  if (record.array !== undefined && elements !== undefined && elements.length > 0) {
    status = aggregateArray(arraySize(record.array), elements)
    if (status === "Failed" && obs.reason === undefined) {
      const failed = elements.filter((e) => e.status === "Failed").map((e) => e.index)
      reason = { _tag: "ElementsFailed", indices: failed }
    }
  }
  if (record.array !== undefined && endedWithoutElements(elements, status, reason)) {
    status = "Failed"
    // The widest range an ArraySpec allows has 2^53 elements, one past a safe integer.
    reason = { _tag: "NoArrayElements", elements: Math.min(arraySize(record.array), Number.MAX_SAFE_INTEGER) }
  }
  const exitCode = defined(obs.exitCode, record.exitCode) ?? (status === "Done" ? 0 : undefined)
  reason = reasonFor(status, reason, exitCode)
  const terminal = isTerminalStatus(status)
  if (
    !terminal && status === record.status && elements === record.elements && unchangedDetails(record, obs, exitCode) &&
    sameReason(reason, record.reason) &&
    (record.startTime !== undefined || elements === undefined || !elements.some((e) => e.startTime !== undefined))
  ) return record
  const next: { -readonly [K in keyof JobRecord]: JobRecord[K] } = { ...record, status, lastSeen: now }
  if (reason !== undefined) next.reason = reason
  else delete next.reason
  if (exitCode !== undefined) next.exitCode = exitCode
  if (elements !== undefined) next.elements = elements
  carryDetails(next, obs, record)
  if (next.startTime === undefined && elements !== undefined) {
    const started = elements.flatMap((e) => e.startTime === undefined ? [] : [e.startTime.getTime()])
    if (started.length > 0) next.startTime = new Date(Math.min(...started))
  }
  if (terminal && next.finishTime === undefined) next.finishTime = now
  return next
}

/**
 * Whether the record already holds every detail the observation reports (host, memory, times)
 * and `exitCode`: what `carryDetails` would write changes nothing. A plain loop, no allocation:
 * it runs for every job on every tick.
 */
const unchangedDetails = (record: JobRecord, obs: Observation, exitCode: number | undefined): boolean => {
  if (exitCode !== record.exitCode) return false
  for (const key of details) {
    const value = obs[key]
    if (value === undefined) continue
    const known = record[key]
    if (value instanceof Date ? !(known instanceof Date && known.getTime() === value.getTime()) : known !== value) {
      return false
    }
  }
  return true
}

/** Whether two values of plain data (a FailureReason, its fields) are equal: same tag and fields. */
const sameData = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
  return ka.length === kb.length &&
    ka.every((k) => sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

const sameReason = (a: FailureReason | undefined, b: FailureReason | undefined): boolean => sameData(a, b)

/**
 * When a job was last reported: the later of its record's `lastSeen` and `sightedMillis`, the
 * Monitor's own note of its last sighting (the record's is refreshed only now and then).
 */
export const lastSighting = (record: JobRecord, sightedMillis?: number): number =>
  sightedMillis === undefined ? record.lastSeen.getTime() : Math.max(sightedMillis, record.lastSeen.getTime())

/**
 * Whether a job unseen since its last sighting (`lastSighting`) has outlived the zombie timeout at
 * `now`.
 */
export const isZombie = (record: JobRecord, now: Date, zombieTimeoutMillis: number, sightedMillis?: number): boolean =>
  !isTerminalStatus(record.status) && now.getTime() - lastSighting(record, sightedMillis) > zombieTimeoutMillis

/**
 * A job no executor has reported for longer than the zombie timeout: Failed, reason Vanished,
 * naming its last sighting (`lastSighting`).
 */
export const vanish = (record: JobRecord, now: Date, sightedMillis?: number): JobRecord => {
  if (isTerminalStatus(record.status)) return record
  const last = lastSighting(record, sightedMillis)
  const lastSeen = last === record.lastSeen.getTime() ? record.lastSeen : new Date(last)
  const reason: FailureReason = { _tag: "Vanished", lastSeen }
  const next: { -readonly [K in keyof JobRecord]: JobRecord[K] } = {
    ...record,
    status: "Failed",
    reason,
    lastSeen,
    finishTime: now,
    metadata: { ...record.metadata, zombie: true }
  }
  if (record.elements !== undefined) {
    next.elements = record.elements.map((e) => isTerminalStatus(e.status) ? e : { ...e, status: "Failed", reason })
  }
  return next
}

/**
 * A job ended by cancellation: Killed with reason Cancelled, or Done when asked to mark it done. It
 * keeps what was known of it and its elements (host, start time, memory); `now` is its finish time
 * until the scheduler says when it ended (`completeCancelled`).
 */
export const cancelled = (record: JobRecord, now: Date, done: boolean, by?: string): JobRecord => {
  if (isTerminalStatus(record.status)) return record
  const status: JobStatus = done ? "Done" : "Killed"
  const reason: FailureReason = by === undefined ? { _tag: "Cancelled" } : { _tag: "Cancelled", by }
  const next: { -readonly [K in keyof JobRecord]: JobRecord[K] } = { ...record, status, finishTime: now }
  if (done) delete next.reason
  else next.reason = reason
  if (record.elements !== undefined) {
    next.elements = record.elements.map((e) => {
      if (isTerminalStatus(e.status)) return e
      const { reason: _reason, ...known } = e
      return done ? { ...known, status } : { ...known, status, reason }
    })
  }
  return next
}

/** Whether a record is a job ended by a cancel: Killed, reason Cancelled. */
export const isCancelled = (record: JobRecord): boolean =>
  record.status === "Killed" && record.reason?._tag === "Cancelled"

const sameTime = (a: Date | undefined, b: Date | undefined): boolean => a?.getTime() === b?.getTime()

/** Whether two records or elements hold the same outcome details (status, exit code, host, memory, times). */
const sameOutcome = (a: Details & { readonly status: JobStatus; readonly exitCode?: number | undefined }, b: typeof a) =>
  a.status === b.status && a.exitCode === b.exitCode && a.execHost === b.execHost && a.maxMem === b.maxMem &&
  sameTime(a.submitTime, b.submitTime) && sameTime(a.startTime, b.startTime) && sameTime(a.finishTime, b.finishTime)

/**
 * One element of a cancelled array as the scheduler reports it after the cancel (`cancel` is the
 * array's reason). An element the record did not know (or knew unfinished) takes the scheduler's
 * end: Killed, or how it ended before the cancel reached it; Killed(`cancel`) while the scheduler
 * still winds it down. A known end stays, except Killed(Cancelled) that the scheduler says ended
 * Done: it ended before the cancel reached it (a failure may be the cancel's own signal, so that
 * stays Killed). The scheduler's details (host, memory, times, exit code) replace those known.
 */
const completeElement = (current: ArrayElement | undefined, obs: ElementObservation, cancel: FailureReason): ArrayElement => {
  const known = current !== undefined && isTerminalStatus(current.status)
  const endedBefore = obs.status === "Done" && current?.status === "Killed" && current.reason?._tag === "Cancelled"
  const status: JobStatus = known && !endedBefore ? current.status : isTerminalStatus(obs.status) ? obs.status : "Killed"
  const exitCode = defined(obs.exitCode, current?.exitCode) ?? (status === "Done" ? 0 : undefined)
  const reason = known && !endedBefore
    ? current.reason
    : isTerminalStatus(obs.status) ? reasonFor(status, obs.reason, exitCode) : cancel
  const next: { -readonly [K in keyof ArrayElement]: ArrayElement[K] } = { index: obs.index, status }
  if (reason !== undefined) next.reason = reason
  if (exitCode !== undefined) next.exitCode = exitCode
  carryDetails(next, obs, current)
  return current !== undefined && current.reason === next.reason && sameOutcome(current, next) ? current : next
}

/**
 * A cancelled job as the scheduler reports it after the cancel: its status and reason stay (a
 * cancel is how it ended, whatever exit the scheduler gives the killed process), and what the
 * scheduler says of it completes the record: host, start and finish times, peak memory, exit code,
 * and each array element (`completeElement`). The record is returned unchanged (the same object)
 * when the observation adds nothing.
 */
export const completeCancelled = (record: JobRecord, obs: Observation, now: Date): JobRecord => {
  if (!isCancelled(record) || observationProblem(obs) !== undefined) return record
  const next: { -readonly [K in keyof JobRecord]: JobRecord[K] } = { ...record }
  const exitCode = defined(obs.exitCode, record.exitCode)
  if (exitCode !== undefined) next.exitCode = exitCode
  carryDetails(next, obs, record)
  let elementsChanged = false
  if (obs.elements !== undefined && obs.elements.length > 0) {
    const byIndex = new Map<number, ArrayElement>()
    for (const e of record.elements ?? []) byIndex.set(e.index, e)
    for (const o of obs.elements) {
      const current = byIndex.get(o.index)
      const merged = completeElement(current, o, record.reason ?? { _tag: "Cancelled" })
      if (merged !== current) {
        byIndex.set(o.index, merged)
        elementsChanged = true
      }
    }
    if (elementsChanged) next.elements = Array.from(byIndex.values()).sort((a, b) => a.index - b.index)
  }
  // An array started with its first element, and ended with its last once each has its end.
  let first = Infinity
  let last = -Infinity
  let ended = 0
  for (const e of next.elements ?? []) {
    if (e.startTime !== undefined) first = Math.min(first, e.startTime.getTime())
    if (e.finishTime === undefined) continue
    last = Math.max(last, e.finishTime.getTime())
    ended += 1
  }
  if (next.startTime === undefined && first !== Infinity) next.startTime = new Date(first)
  if (obs.finishTime === undefined && record.array !== undefined && ended > 0 && ended >= arraySize(record.array)) {
    next.finishTime = new Date(last)
  }
  if (!elementsChanged && sameOutcome(record, next)) return record
  next.lastSeen = now
  return next
}

/**
 * Whether `obs` says the scheduler is done with a cancelled job: it reports the job ended, or (an
 * array) every element it reports has ended and, with those the record holds, every element of
 * the array is accounted for. An end of the array as a whole is not enough: Slurm's accounting
 * first holds one placeholder row for the array, before its elements' rows. Until then the job is
 * still wound down (Slurm's COMPLETING) or its accounting is not written yet, and the next poll
 * asks again.
 */
export const reportsEnd = (record: JobRecord, obs: Observation): boolean => {
  if (observationProblem(obs) !== undefined) return false
  if (record.array === undefined) return obs.status !== undefined && isTerminalStatus(obs.status)
  const observed = obs.elements ?? []
  if (observed.length === 0 || !observed.every((e) => isTerminalStatus(e.status))) return false
  const known = new Set([...(record.elements ?? []).map((e) => e.index), ...observed.map((e) => e.index)])
  return known.size >= arraySize(record.array)
}
