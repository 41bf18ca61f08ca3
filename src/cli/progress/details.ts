/** One job in full, as `show` prints it: its fields, elements, attempts, failure and transitions. */
import type { FailureInfo } from "../../Diagnosis.js"
import type { ArrayElement, FailureReason, JobRecord, JobStatus } from "../../Domain.js"
import { describeReason, formatArraySpec } from "../../Domain.js"
import { builtin } from "../../schedulers/builtin.js"
import { formatBytes } from "../../Units.js"
import { elementCounts, formatElementCounts } from "./state.js"
import { formatTable, truncate } from "./tables.js"
import { elapsedMillis, formatDateTime, formatElapsed, formatTime } from "./time.js"
import { shownLogPath } from "../../internal/queries/files.js"

/** One status change of a job, as `show` prints it (`from` absent: the submission). */
export interface TransitionLine {
  readonly at: Date
  readonly from?: JobStatus | undefined
  readonly to: JobStatus
  readonly reason?: FailureReason | undefined
}

/** At most this many array elements are listed by `jobDetailsText`; JSON output has them all. */
export const detailElementLimit = 100

const elementColumns: ReadonlyArray<{
  readonly title: string
  readonly value: (e: ArrayElement, now: Date) => string
  readonly optional?: boolean
}> = [
  { title: "INDEX", value: (e) => String(e.index) },
  { title: "STATUS", value: (e) => e.status },
  { title: "EXIT", value: (e) => (e.exitCode === undefined ? "-" : String(e.exitCode)), optional: true },
  {
    title: "REASON",
    value: (e) => (e.reason === undefined ? "-" : truncate(describeReason(e.reason), 48)),
    optional: true
  },
  { title: "HOST", value: (e) => e.execHost ?? "-", optional: true },
  { title: "STARTED", value: (e, now) => formatTime(e.startTime, now), optional: true },
  { title: "ENDED", value: (e, now) => formatTime(e.finishTime, now), optional: true }
]

const elementTable = (elements: ReadonlyArray<ArrayElement>, now: Date): string => {
  const cells = elements.map((e) => elementColumns.map((c) => c.value(e, now)))
  const keep = elementColumns.map((c, i) => c.optional !== true || cells.some((row) => row[i] !== "-"))
  const pick = <A>(row: ReadonlyArray<A>) => row.filter((_, i) => keep[i])
  return formatTable(pick(elementColumns.map((c) => c.title)), cells.map(pick))
}

/** "submitted → Pending", "Running → Failed (exit code 3)" */
export const transitionText = (t: TransitionLine): string =>
  `${t.from ?? "submitted"} → ${t.to}${t.to !== "Done" && t.reason !== undefined ? ` (${describeReason(t.reason)})` : ""}`

/**
 * Everything known about one job, for `show`: what it runs and where, how it ended, its files,
 * its array elements (the first {@link detailElementLimit}) and every status change with its time.
 * Fields that are not known are left out.
 */
export const jobDetailsText = (
  record: JobRecord,
  transitions: ReadonlyArray<TransitionLine>,
  now: Date,
  more: {
    /** Every attempt of the job, first to last (when it was retried). */
    readonly attempts?: ReadonlyArray<JobRecord> | undefined
    /** How it failed, with the evidence from its logs (for a job that did not end Done). */
    readonly failure?: FailureInfo | undefined
  } = {}
): string => {
  const attempts = more.attempts ?? []
  const fields: Array<readonly [string, string | undefined]> = [
    ["Job", record.jobId],
    ["Name", record.name],
    ["Status", record.status],
    [
      "Attempt",
      attempts.length > 1 ? `${record.attempt ?? 1} of ${attempts.length}` : record.attempt === undefined ? undefined : String(record.attempt)
    ],
    ["Reason", record.reason === undefined ? undefined : describeReason(record.reason)],
    ["Exit code", record.exitCode === undefined ? undefined : String(record.exitCode)],
    ["Command", record.command],
    ["Executor", record.executor],
    ["Host", record.execHost],
    ["Peak memory", record.maxMem === undefined ? undefined : formatBytes(record.maxMem)],
    ["Submitted", record.submitTime === undefined ? undefined : formatDateTime(record.submitTime)],
    ["Started", record.startTime === undefined ? undefined : formatDateTime(record.startTime)],
    ["Ended", record.finishTime === undefined ? undefined : formatDateTime(record.finishTime)],
    ["Elapsed", elapsedMillis(record, now) === undefined ? undefined : formatElapsed(record, now)],
    ["Last seen", formatDateTime(record.lastSeen)],
    ["Work dir", record.workDir],
    ["Script", record.scriptPath],
    ["Stdout", shownLogPath(builtin, record, "stdout")],
    ["Stderr", shownLogPath(builtin, record, "stderr")],
    [
      "Array",
      record.array === undefined
        ? undefined
        : `${formatArraySpec(record.array)} (elements ${formatElementCounts(elementCounts(record)!)})`
    ],
    [
      "Depends on",
      record.dependsOn === undefined || record.dependsOn.length === 0
        ? undefined
        : record.dependsOn.map((d) => `${d.type} ${d.jobId}`).join(", ")
    ]
  ]
  const metadata = Object.entries(record.metadata)
  const known = fields.filter((f): f is readonly [string, string] => f[1] !== undefined)
  const width = Math.max(...known.map(([k]) => k.length), metadata.length > 0 ? "Metadata".length : 0) + 2
  const lines = known.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`)
  if (metadata.length > 0) {
    lines.push("Metadata:")
    for (const [k, v] of metadata) lines.push(`  ${k}: ${JSON.stringify(v) ?? String(v)}`)
  }
  const elements = record.elements ?? []
  if (elements.length > 0) {
    lines.push("", "Elements:")
    lines.push(...elementTable(elements.slice(0, detailElementLimit), now).split("\n").map((l) => `  ${l}`))
    if (elements.length > detailElementLimit) {
      lines.push(`  … and ${elements.length - detailElementLimit} more (--json lists them all)`)
    }
  }
  if (attempts.length > 1) {
    lines.push("", "Attempts:")
    for (const a of attempts) {
      const how = a.reason === undefined || a.status === "Done" ? a.status : `${a.status} (${describeReason(a.reason)})`
      const ended = a.finishTime === undefined ? "" : `, ended ${formatDateTime(a.finishTime)}`
      lines.push(`  ${a.jobId === record.jobId ? "*" : " "} ${a.attempt ?? 1}  job ${a.jobId}  ${how}${ended}`)
    }
  }
  if (more.failure !== undefined) lines.push("", ...failureText(more.failure))
  lines.push("", "Transitions:")
  if (transitions.length === 0) lines.push("  (none recorded)")
  for (const t of transitions) lines.push(`  ${formatDateTime(t.at)}  ${transitionText(t)}`)
  return lines.join("\n")
}

/** `show`'s account of a failure: the scheduler's word, error lines, missing outputs, log tails. */
export const failureText = (info: FailureInfo): Array<string> => {
  const lines = ["Failure:"]
  if (info.summary !== undefined) lines.push(`  ${info.summary}`)
  if (info.signal !== undefined) lines.push(`  signal: ${info.signal}`)
  if (info.schedulerReason !== undefined) lines.push(`  scheduler: ${info.schedulerReason}`)
  if (info.failedElements !== undefined && info.failedElements.length > 0) {
    lines.push(`  failed elements: ${info.failedElements.join(", ")}${info.element === undefined ? "" : ` (logs below: element ${info.element})`}`)
  }
  if (info.missingOutputs !== undefined && info.missingOutputs.length > 0) {
    lines.push(`  missing outputs: ${info.missingOutputs.join(", ")}`)
  }
  if (info.errorCount > 0) {
    const shown = info.errorLines.slice(0, 10)
    lines.push(`  error lines in its logs: ${info.errorCount}${info.errorCount > shown.length ? ` (first ${shown.length})` : ""}`)
    for (const l of shown) lines.push(`    ${l}`)
  }
  for (const [stream, tail, path] of [
    ["stderr", info.stderrTail, info.stderrPath],
    ["stdout", info.stdoutTail, info.stdoutPath]
  ] as const) {
    if (tail === undefined || tail.trim() === "") continue
    lines.push(`  last lines of ${stream} (${path ?? "?"}):`)
    for (const l of tail.replace(/\n$/, "").split("\n")) lines.push(`    ${l}`)
  }
  return lines
}
