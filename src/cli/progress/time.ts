/** Times as the CLI shows them: clock times, dates, durations, and how long a job has run. */
import type { JobRecord } from "../../Domain.js"
import { isTerminalStatus } from "../../Domain.js"

const pad2 = (n: number): string => String(n).padStart(2, "0")

/** A wall-clock time of day, local time: "12:00:01". */
export const formatClock = (date: Date): string =>
  `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`

/**
 * A point in time for a table: "12:00:01" on the same local day as `now`, else
 * "2024-05-01 12:00:01". Absent: "-".
 */
export const formatTime = (date: Date | undefined, now: Date): string => {
  if (date === undefined) return "-"
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() &&
    date.getDate() === now.getDate()
  return sameDay
    ? formatClock(date)
    : `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(date)}`
}

/** A full local date and time: "2024-05-01 12:00:01". */
export const formatDateTime = (date: Date): string =>
  `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(date)}`

/** A length of time as "HH:MM:SS" (hours unbounded, whole seconds, never negative). */
export const formatDuration = (millis: number): string => {
  const s = Math.max(0, Math.floor(millis / 1000))
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`
}

export const minTime = (dates: ReadonlyArray<Date | undefined>): Date | undefined =>
  dates.reduce<Date | undefined>((a, d) => (d !== undefined && (a === undefined || d < a) ? d : a), undefined)

const maxTime = (dates: ReadonlyArray<Date | undefined>): Date | undefined =>
  dates.reduce<Date | undefined>((a, d) => (d !== undefined && (a === undefined || d > a) ? d : a), undefined)

/**
 * How long a job has run: from its start (for an array, its first element's start) to its end
 * (its last element's end) or to `now` while it runs. Undefined until it has started.
 */
export const elapsedMillis = (record: JobRecord, now: Date): number | undefined => {
  const elements = record.elements ?? []
  const start = record.startTime ?? minTime(elements.map((e) => e.startTime))
  if (start === undefined) return undefined
  const end = isTerminalStatus(record.status)
    ? record.finishTime ?? maxTime(elements.map((e) => e.finishTime)) ?? now
    : now
  return end.getTime() - start.getTime()
}

export const formatElapsed = (record: JobRecord, now: Date): string => {
  const ms = elapsedMillis(record, now)
  return ms === undefined ? "-" : formatDuration(ms)
}
