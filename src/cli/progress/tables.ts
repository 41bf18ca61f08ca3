/** The tables the CLI prints about jobs (`status`, and the results when waiting ends). */
import type { JobRecord } from "../../Domain.js"
import { describeReason, failedElementIndices } from "../../Domain.js"
import { formatBytes } from "../../Units.js"
import { formatElapsed, formatTime, minTime } from "./time.js"

/** Shortens text to `max` characters, ending in "…" when cut. */
export const truncate = (text: string, max: number): string =>
  max <= 0 ? "" : text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`

/** Left-aligned columns two spaces apart, header first, no trailing spaces. */
export const formatTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)))
  return all
    .map((row) => header.map((_, i) => (row[i] ?? "").padEnd(widths[i] ?? 0)).join("  ").trimEnd())
    .join("\n")
}

interface Column {
  readonly title: string
  readonly value: (record: JobRecord, now: Date) => string
  /** Left out when every row shows "-". */
  readonly optional?: boolean
}

const reasonText = (record: JobRecord): string =>
  record.reason === undefined ? "-" : truncate(describeReason(record.reason), 48)

const columns = {
  id: { title: "ID", value: (r) => r.jobId },
  name: { title: "NAME", value: (r) => r.name },
  status: { title: "STATUS", value: (r) => r.status },
  exit: { title: "EXIT", value: (r) => (r.exitCode === undefined ? "-" : String(r.exitCode)), optional: true },
  reason: { title: "REASON", value: reasonText, optional: true },
  host: { title: "HOST", value: (r) => r.execHost ?? "-", optional: true },
  maxMem: { title: "MAX MEM", value: (r) => (r.maxMem === undefined ? "-" : formatBytes(r.maxMem)), optional: true },
  submitted: { title: "SUBMITTED", value: (r, now) => formatTime(r.submitTime, now), optional: true },
  started: {
    title: "STARTED",
    value: (r, now) => formatTime(r.startTime ?? minTime((r.elements ?? []).map((e) => e.startTime)), now),
    optional: true
  },
  finished: { title: "ENDED", value: (r, now) => formatTime(r.finishTime, now), optional: true },
  elapsed: { title: "ELAPSED", value: formatElapsed },
  failedElements: {
    title: "FAILED ELEMENTS",
    value: (r) => {
      const failed = failedElementIndices(r)
      return failed.length === 0 ? "-" : failed.join(",")
    },
    optional: true
  }
} satisfies Record<string, Column>

const recordTable = (cols: ReadonlyArray<Column>, records: ReadonlyArray<JobRecord>, now: Date): string => {
  const cells = records.map((r) => cols.map((c) => c.value(r, now)))
  const keep = cols.map((c, i) => c.optional !== true || cells.some((row) => row[i] !== "-"))
  const pick = <A>(row: ReadonlyArray<A>) => row.filter((_, i) => keep[i])
  return formatTable(pick(cols.map((c) => c.title)), cells.map(pick))
}

/**
 * The `status` table: id, name, status, exit code, reason, host, peak memory, times and elapsed.
 * Columns that are empty for every job are left out.
 */
export const statusTable = (records: ReadonlyArray<JobRecord>, now: Date): string =>
  recordTable(
    [
      columns.id,
      columns.name,
      columns.status,
      columns.exit,
      columns.reason,
      columns.host,
      columns.maxMem,
      columns.submitted,
      columns.started,
      columns.finished,
      columns.elapsed
    ],
    records,
    now
  )

/** The table printed when waiting ends: id, name, status, exit code, reason, elapsed, failed elements. */
export const resultTable = (records: ReadonlyArray<JobRecord>, now: Date): string =>
  recordTable(
    [
      columns.id,
      columns.name,
      columns.status,
      columns.exit,
      columns.reason,
      columns.elapsed,
      columns.failedElements
    ],
    records,
    now
  )
