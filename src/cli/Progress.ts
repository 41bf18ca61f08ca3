/**
 * What the CLI shows while it waits for jobs, and the tables it prints about them.
 *
 * Everything that decides what text to show is a pure function of records, events and the time
 * (tested in test/Progress.test.ts). `start` is the one effectful part: it follows the Monitor's
 * events and either redraws a compact summary in place (on a terminal), prints one line per event
 * (in a log or a pipe), or shows nothing (`--json`).
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Fiber, Schedule, Stream, SubscriptionRef } from "effect"
import type { FailureInfo } from "../Diagnosis.js"
import type { ArrayElement, FailureReason, JobEvent, JobRecord, JobStatus } from "../Domain.js"
import { arraySize, describeReason, failedElementIndices, formatArraySpec, isTerminalStatus } from "../Domain.js"
import { shownLogPath } from "../JobQueries.js"
import { builtin } from "../schedulers/builtin.js"
import { formatBytes } from "../Units.js"

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

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

const minTime = (dates: ReadonlyArray<Date | undefined>): Date | undefined =>
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

const formatElapsed = (record: JobRecord, now: Date): string => {
  const ms = elapsedMillis(record, now)
  return ms === undefined ? "-" : formatDuration(ms)
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// One job in full
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// What is known while waiting
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Drawing in place (ANSI)
// ---------------------------------------------------------------------------------------------

const ESC = "\u001b["

/**
 * Replaces the `previous` lines drawn last (the cursor is on the line below them) with `lines`:
 * cursor up, then each line cleared and written, then everything below cleared.
 */
export const redraw = (previous: number, lines: ReadonlyArray<string>): string =>
  `${previous > 0 ? `${ESC}${previous}A` : ""}\r${lines.map((l) => `${ESC}2K${l}\n`).join("")}${ESC}J`

/** Erases the `previous` lines drawn last and leaves the cursor where they began. */
export const erase = (previous: number): string => (previous > 0 ? `${ESC}${previous}A\r${ESC}J` : "")

// ---------------------------------------------------------------------------------------------
// The live view
// ---------------------------------------------------------------------------------------------

/** `tty`: redraw a summary in place; `lines`: one line per event; `off`: nothing (--json). */
export type ProgressMode = "tty" | "lines" | "off"

export interface ProgressOptions {
  readonly mode: ProgressMode
  /** Where output goes (the Terminal's display). */
  readonly write: (text: string) => Effect.Effect<void>
  /** The terminal's width, read at each redraw. */
  readonly width?: Effect.Effect<number> | undefined
  /** Jobs to show before any event about them arrives (e.g. jobs being waited for). */
  readonly initial?: ReadonlyArray<JobRecord> | undefined
  /** How often the summary is redrawn on a terminal, besides on each event. Default 200 ms. */
  readonly interval?: Duration.DurationInput | undefined
  /** How long `finish` waits for the events about the final records to arrive. Default 2 s. */
  readonly catchUpTimeout?: Duration.DurationInput | undefined
}

export interface Progress {
  /** Prints a line: above the live summary on a terminal, in order with event lines otherwise. */
  readonly log: (line: string) => Effect.Effect<void>
  /**
   * Stops following events once every final record (and each of its elements) has been shown
   * (or after a short timeout), and erases the live summary: the caller prints the results.
   */
  readonly finish: (finals: ReadonlyArray<JobRecord>) => Effect.Effect<void>
}

/**
 * Follows `events` (subscribe BEFORE submitting, so nothing is missed) until `finish` or the end
 * of the scope.
 */
export const start = (
  events: Stream.Stream<JobEvent>,
  options: ProgressOptions
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { mode, write } = options
    const state = yield* SubscriptionRef.make(trackRecords(emptyProgress, options.initial ?? []))
    const output = yield* Effect.makeSemaphore(1)
    let drawn = 0
    let finished = false

    const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))
    const draw = output.withPermits(1)(
      Effect.gen(function*() {
        if (mode !== "tty" || finished) return
        const width = options.width === undefined ? 100 : yield* options.width
        const lines = frameLines(yield* SubscriptionRef.get(state), yield* now, width)
        yield* write(redraw(drawn, lines))
        drawn = lines.length
      })
    )

    const onEvent = (event: JobEvent) =>
      Effect.gen(function*() {
        const before = yield* SubscriptionRef.get(state)
        const after = applyEvent(before, event)
        if (mode === "lines") {
          const line = eventLine(after, event)
          if (line !== undefined) yield* output.withPermits(1)(write(`${line}\n`))
        }
        yield* SubscriptionRef.set(state, after)
        if (mode === "tty") yield* draw
      })

    const follower = yield* Stream.runForEach(events, onEvent).pipe(Effect.forkScoped)
    const ticker = mode === "tty"
      ? yield* draw.pipe(Effect.repeat(Schedule.spaced(options.interval ?? Duration.millis(200))), Effect.forkScoped)
      : undefined

    const log = (line: string) =>
      output.withPermits(1)(Effect.suspend(() => {
        if (mode === "tty" && !finished) {
          const erased = erase(drawn)
          drawn = 0
          return write(`${erased}${line}\n`)
        }
        return write(`${line}\n`)
      })).pipe(Effect.zipRight(draw))

    const finish = (finals: ReadonlyArray<JobRecord>) =>
      Effect.gen(function*() {
        if (finished) return
        yield* state.changes.pipe(
          Stream.takeUntil((s) => caughtUp(s, finals)),
          Stream.runDrain,
          Effect.timeoutOption(options.catchUpTimeout ?? Duration.seconds(2))
        )
        yield* Fiber.interrupt(follower)
        if (ticker !== undefined) yield* Fiber.interrupt(ticker)
        yield* output.withPermits(1)(Effect.suspend(() => {
          const erased = mode === "tty" ? erase(drawn) : ""
          drawn = 0
          finished = true
          return erased === "" ? Effect.void : write(erased)
        }))
      })

    return { log, finish } satisfies Progress
  })
