/**
 * What is known while waiting (pure): the jobs being watched, updated by each event, and the
 * lines that show them (the live summary, one line per event).
 */
import type { ArrayElement, JobEvent, JobRecord, JobStatus } from "../../Domain.js"
import { arraySize, describeReason, formatArraySpec, isTerminalStatus } from "../../Domain.js"
import { formatTable, truncate } from "./tables.js"
import { formatClock, formatElapsed } from "./time.js"

/** The jobs being watched, in the order they were first seen. */
export interface ProgressState {
  readonly jobs: ReadonlyMap<string, JobRecord>
}

export const emptyProgress: ProgressState = { jobs: new Map() }

/** Adds or replaces records (a record never goes back from an ended state to a running one). */
export const trackRecords = (state: ProgressState, records: ReadonlyArray<JobRecord>): ProgressState => {
  if (records.length === 0) return state
  const jobs = new Map(state.jobs)
  for (const r of records) {
    const known = jobs.get(r.jobId)
    if (known !== undefined && isTerminalStatus(known.status) && !isTerminalStatus(r.status)) continue
    jobs.set(r.jobId, r)
  }
  return { jobs }
}

const setElement = (
  elements: ReadonlyArray<ArrayElement>,
  index: number,
  status: JobStatus
): ReadonlyArray<ArrayElement> => {
  const found = elements.some((e) => e.index === index)
  const next = found
    ? elements.map((e) => (e.index === index ? { ...e, status } : e))
    : [...elements, { index, status }]
  return [...next].sort((a, b) => a.index - b.index)
}

/** The state after one event. */
export const applyEvent = (state: ProgressState, event: JobEvent): ProgressState => {
  switch (event._tag) {
    case "JobSubmitted":
    case "JobStatusChanged":
      return trackRecords(state, [event.record])
    case "ArrayElementChanged": {
      const record = state.jobs.get(event.jobId)
      if (record === undefined) return state
      const jobs = new Map(state.jobs)
      jobs.set(event.jobId, { ...record, elements: setElement(record.elements ?? [], event.index, event.to) })
      return { jobs }
    }
    case "PollFailed":
    case "JobPurged":
    case "JobRetrying":
      return state
  }
}

/**
 * Whether the state has seen every given record's final status and each of its elements' final
 * status (so that nothing is left to draw or print about them).
 */
export const caughtUp = (state: ProgressState, records: ReadonlyArray<JobRecord>): boolean =>
  records.every((r) => {
    const known = state.jobs.get(r.jobId)
    if (known === undefined || known.status !== r.status) return false
    const seen = new Map((known.elements ?? []).map((e) => [e.index, e.status] as const))
    return (r.elements ?? []).every((e) => seen.get(e.index) === e.status)
  })

/** Element counts of an array job: every index it covers, by where it is. */
export interface ElementCounts {
  readonly total: number
  readonly ended: number
  readonly failed: number
  readonly running: number
}

export const elementCounts = (record: JobRecord): ElementCounts | undefined => {
  if (record.array === undefined) return undefined
  const elements = record.elements ?? []
  return {
    total: arraySize(record.array),
    ended: elements.filter((e) => isTerminalStatus(e.status)).length,
    failed: elements.filter((e) => e.status === "Failed" || e.status === "Killed").length,
    running: elements.filter((e) => e.status === "Running").length
  }
}

/** "2/4 ended, 1 running, 1 failed" */
export const formatElementCounts = (counts: ElementCounts): string =>
  [
    `${counts.ended}/${counts.total} ended`,
    ...(counts.running > 0 ? [`${counts.running} running`] : []),
    ...(counts.failed > 0 ? [`${counts.failed} failed`] : [])
  ].join(", ")

const statusOrder: ReadonlyArray<JobStatus> = ["Pending", "Running", "Done", "Failed", "Killed", "Unknown"]

/** "3 jobs: 1 Running, 1 Done, 1 Failed" (statuses with no job left out). */
export const countsLine = (records: ReadonlyArray<JobRecord>): string => {
  const parts = statusOrder.flatMap((status) => {
    const n = records.filter((r) => r.status === status).length
    return n === 0 ? [] : [`${n} ${status}`]
  })
  return `${records.length} job${records.length === 1 ? "" : "s"}${parts.length === 0 ? "" : `: ${parts.join(", ")}`}`
}

/**
 * The live summary: a counts line, then one line per job with its status, elapsed time and, for
 * arrays, its elements; lines are cut to `width` so that the terminal never wraps them. Nothing
 * while there is no job.
 */
export const frameLines = (state: ProgressState, now: Date, width = 100): ReadonlyArray<string> => {
  const max = Math.max(20, width) - 1
  const records = Array.from(state.jobs.values())
  if (records.length === 0) return []
  const rows = records.map((r) => {
    const counts = elementCounts(r)
    const detail = counts !== undefined
      ? `elements ${formatElementCounts(counts)}`
      : r.reason !== undefined
      ? describeReason(r.reason)
      : ""
    return [r.jobId, r.name, r.status, formatElapsed(r, now), detail]
  })
  const table = formatTable(["", "", "", "", ""], rows).split("\n").slice(1)
  return [countsLine(records), ...table.map((line) => `  ${line}`)].map((line) => truncate(line, max))
}

/**
 * One line about an event for logs and pipes, e.g. `12:00:01 capi-hello 4242-1 Pending → Running`;
 * undefined for events not worth a line. `state` names the jobs element events are about.
 */
export const eventLine = (state: ProgressState, event: JobEvent): string | undefined => {
  const at = formatClock(event.at)
  switch (event._tag) {
    case "JobSubmitted": {
      const r = event.record
      return `${at} ${r.name} ${r.jobId} submitted${r.array === undefined ? "" : ` (array ${formatArraySpec(r.array)})`}`
    }
    case "JobStatusChanged": {
      const r = event.record
      const why = event.to !== "Done" && r.reason !== undefined ? ` (${describeReason(r.reason)})` : ""
      return `${at} ${r.name} ${r.jobId} ${event.from} → ${event.to}${why}`
    }
    case "ArrayElementChanged": {
      const name = state.jobs.get(event.jobId)?.name
      return `${at} ${name === undefined ? "" : `${name} `}${event.jobId}[${event.index}] ${event.from ?? "new"} → ${event.to}`
    }
    case "PollFailed":
      return `${at} poll of ${event.executor} failed (${event.consecutiveFailures} in a row): ${event.message}`
    case "JobPurged":
      return undefined
    case "JobRetrying": {
      const r = event.record
      const wait = event.delayMillis > 0 ? ` in ${Math.ceil(event.delayMillis / 1000)}s` : ""
      const more = event.escalated.length > 0 ? ` with ${event.escalated.join(", ")}` : ""
      return `${at} ${r.name} ${r.jobId} will be retried${wait} (attempt ${event.attempt})${more}`
    }
  }
}
