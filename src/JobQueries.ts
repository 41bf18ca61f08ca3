/**
 * Reading and tidying the job store: a job's full history, where its logs are, moving jobs
 * between stores as a JSON document, and deleting ended jobs with their files.
 *
 * These work on whatever `JobStore` they are given and need no Executor or Monitor, so a program
 * can inspect a store another program is writing without watching (or adopting) its jobs.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const { record, transitions } = yield* JobQueries.jobDetails("4242-1")
 *   const ended = yield* (yield* JobStore).list({ active: false })
 *   const report = yield* JobQueries.cleanupJobs(ended)
 * })
 * ```
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Either, Option, ParseResult, Schema } from "effect"
import type { JobRecord as JobRecordType, JobStatus as JobStatusType } from "./Domain.js"
import { arrayIndices, ExecutorKind, FailureReason, isTerminal, JobRecord, JobStatus } from "./Domain.js"
import type { StoreError } from "./Errors.js"
import { AmbiguousJob, InvalidImport, JobNotFound } from "./Errors.js"
import type { JobFilter, JobHistory, JobKey } from "./JobStore.js"
import { JobStore, keyString } from "./JobStore.js"
import type { LogPathRule, Registry } from "./Scheduler.js"
import { schedulerNamed, Schedulers } from "./Scheduler.js"
import { durationForms, parseDuration } from "./Units.js"

// ---------------------------------------------------------------------------------------------
// The export document
// ---------------------------------------------------------------------------------------------

/** What `format` says in every jobs export. */
export const exportFormat = "cluster-api-jobs"

/** The version of the export document this cluster-api writes and reads. */
export const exportVersion = 1

/** One status change as exported (`at` as an ISO string). */
export const TransitionEntry = Schema.Struct({
  at: Schema.Date,
  from: Schema.optional(JobStatus),
  to: JobStatus,
  reason: Schema.optional(FailureReason)
})

/** A job with its whole history, as exported. */
export const ExportedJob = Schema.Struct({
  record: JobRecord,
  transitions: Schema.Array(TransitionEntry)
})

/**
 * A jobs export: `{ format: "cluster-api-jobs", version: 1, exportedAt, jobs: [{ record,
 * transitions }] }`, every date an ISO string. What `cluster-api export` writes and `import` reads.
 */
export const ExportDocument = Schema.Struct({
  format: Schema.Literal(exportFormat),
  version: Schema.Literal(exportVersion),
  exportedAt: Schema.Date,
  jobs: Schema.Array(ExportedJob)
})
export type ExportDocument = typeof ExportDocument.Type

/** The document as JSON-ready data (dates as ISO strings). */
export const encodeExport: (document: ExportDocument) => typeof ExportDocument.Encoded = Schema.encodeSync(
  ExportDocument
)

/** The jobs a filter selects, each with every status change, as an export document. */
export const exportJobs = Effect.fn("JobQueries.exportJobs")(function*(filter?: JobFilter) {
  const store = yield* JobStore
  const records = yield* store.list(filter)
  const jobs = yield* Effect.forEach(records, (record) =>
    Effect.map(store.transitions(record), (transitions): JobHistory => ({ record, transitions })))
  const exportedAt = new Date(yield* Clock.currentTimeMillis)
  return { format: exportFormat, version: exportVersion, exportedAt, jobs } satisfies ExportDocument
})

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const show = (u: unknown): string => {
  const text = Array.isArray(u) ? "a list" : isRecord(u) ? "an object" : JSON.stringify(u) ?? String(u)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** `jobs[2].record.status` for a parse issue's path ("the document" for the top). */
const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "the document"
    : path.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`)).join("")

/**
 * Checks an export document (parsed JSON): the decoded document, or every problem found, each
 * saying where (`jobs[2].record.status: Expected "Pending" | …, actual "Bogus"`).
 */
export const decodeExport = (document: unknown): Either.Either<ExportDocument, ReadonlyArray<string>> => {
  if (!isRecord(document)) {
    return Either.left([`the document: expected an object with format "${exportFormat}", got ${show(document)}`])
  }
  if (document.format !== exportFormat) {
    return Either.left([
      `format: expected "${exportFormat}", got ${show(document.format)} (this is not a cluster-api jobs export)`
    ])
  }
  if (typeof document.version === "number" && document.version > exportVersion) {
    return Either.left([
      `version: the file is version ${document.version}, written by a newer cluster-api; this one reads version ${exportVersion}`
    ])
  }
  return Schema.decodeUnknownEither(ExportDocument)(document, { errors: "all" }).pipe(
    Either.mapLeft((error) => mergeAlternatives(ParseResult.ArrayFormatter.formatErrorSync(error)))
  )
}

const EXPECTED = /^Expected (.*), actual (.*)$/s

/**
 * Problem lines from parse issues; the issues a union of literals reports one alternative at a
 * time become one line: `status: Expected "Pending" | "Running" | …, actual "Bogus"`.
 */
const mergeAlternatives = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): ReadonlyArray<string> => {
  const lines: Array<{ where: string; expected: Array<string>; actual: string } | string> = []
  for (const issue of issues) {
    const where = pathText(issue.path)
    const m = EXPECTED.exec(issue.message)
    const last = lines[lines.length - 1]
    if (m !== null && typeof last === "object" && last.where === where && last.actual === m[2]) {
      last.expected.push(m[1]!)
    } else if (m !== null) lines.push({ where, expected: [m[1]!], actual: m[2]! })
    else lines.push(`${where}: ${issue.message}`)
  }
  return lines.map((l) =>
    typeof l === "string" ? l : `${l.where}: Expected ${l.expected.join(" | ")}, actual ${l.actual}`
  )
}

/** Parses the text of an export file as JSON (not yet checked); `source` names the file in the error. */
export const parseJson = (text: string, source: string): Either.Either<unknown, InvalidImport> => {
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch (e) {
    return Either.left(
      new InvalidImport({ source, problems: [`not JSON: ${e instanceof Error ? e.message : String(e)}`] })
    )
  }
}

/** Parses and checks the text of an export file ({@link parseJson}, then {@link decodeExport}). */
export const parseExport = (text: string, source: string): Either.Either<ExportDocument, InvalidImport> =>
  Either.flatMap(
    parseJson(text, source),
    (json) => Either.mapLeft(decodeExport(json), (problems) => new InvalidImport({ source, problems }))
  )

/** What an import did: ids written, and ids left alone because the store already had them. */
export interface ImportReport {
  /** The jobs written, as `executor:jobId`. */
  readonly imported: ReadonlyArray<string>
  /** The jobs the store already had, as `executor:jobId`. */
  readonly skipped: ReadonlyArray<string>
}

/**
 * Writes the jobs of an export document (parsed JSON, checked here) into the store with their
 * transitions. Jobs the store already has (same executor and id) are left as they are (`skipped`). A document
 * that is not a valid export fails with InvalidImport listing every problem, and writes nothing.
 */
export const importJobs = Effect.fn("JobQueries.importJobs")(function*(document: unknown, source = "the document") {
  const decoded = decodeExport(document)
  if (Either.isLeft(decoded)) return yield* new InvalidImport({ source, problems: decoded.left })
  const store = yield* JobStore
  const written = (yield* store.restore(decoded.right.jobs)).map(keyString)
  const imported = new Set(written)
  const skipped = decoded.right.jobs.map((j) => keyString(j.record)).filter((key) => !imported.has(key))
  return { imported: written, skipped: Array.from(new Set(skipped)) } satisfies ImportReport
})

// ---------------------------------------------------------------------------------------------
// One job
// ---------------------------------------------------------------------------------------------

/**
 * A job as a user names it: `ID`, or `EXECUTOR:ID` (`slurm:52`) when jobs of several schedulers
 * share the id. Fails with JobNotFound, or AmbiguousJob naming the executors that have the id.
 */
export const findJob: (
  input: string
) => Effect.Effect<JobRecordType, JobNotFound | AmbiguousJob | StoreError, JobStore> = Effect.fn("JobQueries.findJob")(
  function*(input: string) {
    const store = yield* JobStore
    const colon = input.indexOf(":")
    const key = colon > 0 ? { executor: input.slice(0, colon), jobId: input.slice(colon + 1) } : undefined
    if (key !== undefined) {
      const found = yield* store.get(key)
      if (Option.isSome(found)) return found.value
    }
    // The whole text as an id, of whichever executor has it.
    const matches = yield* store.list({ ids: [input] })
    const only = matches.length === 1 ? matches[0] : undefined
    if (only !== undefined) return only
    if (matches.length > 1) return yield* new AmbiguousJob({ jobId: input, executors: matches.map((r) => r.executor) })
    // `list` skips a row it cannot read; reading it by its key says why it cannot be read.
    for (const executor of ExecutorKind.literals) {
      const unlisted = yield* store.get({ executor, jobId: input })
      if (Option.isSome(unlisted)) return unlisted.value
    }
    return yield* new JobNotFound({
      jobId: input,
      hint: key === undefined ? "the job store has no record of it" : `the job store has no ${key.executor} job ${key.jobId}`
    })
  }
)

/** A job's record and every status change it went through, oldest first. Fails with JobNotFound. */
export const jobDetails: (key: JobKey) => Effect.Effect<JobHistory, JobNotFound | StoreError, JobStore> = Effect
  .fn("JobQueries.jobDetails")(function*(key: JobKey) {
    const store = yield* JobStore
    const record = yield* store.get(key)
    if (Option.isNone(record)) {
      return yield* new JobNotFound({ jobId: key.jobId, hint: `the job store has no ${key.executor} job of that id` })
    }
    return { record: record.value, transitions: yield* store.transitions(key) }
  })

/** The placeholder an array job's log paths hold where each element's index goes. */
export { indexPlaceholder } from "./Scheduler.js"
import { indexPlaceholder } from "./Scheduler.js"

/** The log path rule of a job's scheduler, if it has one. */
const ruleOf = (schedulers: Registry, record: JobRecordType): LogPathRule | undefined =>
  schedulerNamed(schedulers, record.executor)?.logPath

/** A log path template with an element's index filled in (`{index}`, then the scheduler's own patterns). */
const fillPath = (rule: LogPathRule | undefined, template: string, index: number | undefined): string => {
  const filled = index === undefined ? template : template.split(indexPlaceholder).join(String(index))
  return rule === undefined ? filled : rule.fill(filled, index)
}

/**
 * Where a job's stdout or stderr goes; for an array job, where element `index`'s goes (an array
 * job needs an index, a single job takes none). `schedulers` say how their own patterns in a path
 * read (Slurm's `%a`). Left: why there is no such path.
 */
export const logPath = (
  schedulers: Registry,
  record: JobRecordType,
  stream: "stdout" | "stderr",
  index?: number
): Either.Either<string, string> => {
  const template = stream === "stdout" ? record.stdoutPath : record.stderrPath
  if (template === undefined) return Either.left(`job ${record.jobId} has no ${stream} log recorded`)
  if (record.array === undefined) {
    return index === undefined
      ? Either.right(fillPath(ruleOf(schedulers, record), template, undefined))
      : Either.left(`job ${record.jobId} is not an array job: it has no element ${index}`)
  }
  const first = record.array.start
  const range = `${first}-${record.array.end}${(record.array.step ?? 1) === 1 ? "" : `:${record.array.step}`}`
  if (index === undefined) {
    return Either.left(`job ${record.jobId} is an array job (elements ${range}): say which element's log`)
  }
  const step = record.array.step ?? 1
  if (index < first || index > record.array.end || (index - first) % step !== 0) {
    return Either.left(`job ${record.jobId} has no element ${index} (its elements are ${range})`)
  }
  return Either.right(fillPath(ruleOf(schedulers, record), template, index))
}

/**
 * Where a job's stdout or stderr goes, as shown to a person: a single job's real path; for an
 * array job, the path with `{index}` where each element's index goes, whatever the scheduler's
 * own pattern for it (Slurm's `%a`). Undefined when no such log is recorded.
 */
export const shownLogPath = (
  schedulers: Registry,
  record: JobRecordType,
  stream: "stdout" | "stderr"
): string | undefined => {
  const template = stream === "stdout" ? record.stdoutPath : record.stderrPath
  if (template === undefined) return undefined
  const rule = ruleOf(schedulers, record)
  return record.array === undefined || rule === undefined ? fillPath(rule, template, undefined) : rule.shown(template)
}

/** The status of a job, or of one of its array elements (undefined: the element was never seen). */
export const statusOf = (record: JobRecordType, index?: number): JobStatusType | undefined =>
  index === undefined ? record.status : record.elements?.find((e) => e.index === index)?.status

// ---------------------------------------------------------------------------------------------
// Cleaning up
// ---------------------------------------------------------------------------------------------

/** Which element indices a job's files may exist for: none for a single job. */
const elementIndices = (record: JobRecordType): ReadonlyArray<number> | undefined => {
  if (record.array === undefined) return undefined
  const seen = (record.elements ?? []).map((e) => e.index)
  return Array.from(new Set([...arrayIndices(record.array), ...seen]))
}

/**
 * Every file a job may have left: its script, its stdout and stderr logs (each element's, for an
 * array), and the files its scheduler says its jobs leave (the local wrapper's pid and exit files).
 */
export const jobFiles = (
  schedulers: Registry,
  record: JobRecordType,
  path: Pick<Path.Path, "dirname" | "join">
): ReadonlyArray<string> => {
  const files: Array<string> = []
  if (record.scriptPath !== undefined) files.push(record.scriptPath)
  const indices = elementIndices(record)
  const add = (found: Either.Either<string, string>) => {
    if (Either.isRight(found)) files.push(found.right)
  }
  for (const stream of ["stdout", "stderr"] as const) {
    if (indices === undefined) add(logPath(schedulers, record, stream))
    else for (const i of indices) add(logPath(schedulers, record, stream, i))
  }
  files.push(...(schedulerNamed(schedulers, record.executor)?.jobFiles?.(record, path) ?? []))
  return Array.from(new Set(files))
}

export interface CleanupOptions {
  /** Remove jobs that have not ended too (their processes, if any, are left running). */
  readonly force?: boolean | undefined
}

/** A job `cleanupJobs` removed, with the files it deleted (those that existed). */
export interface CleanedJob {
  readonly executor: string
  readonly jobId: string
  readonly name: string
  readonly status: JobStatusType
  readonly files: ReadonlyArray<string>
}

/** A job `cleanupJobs` left in place, and why. */
export interface KeptJob {
  readonly executor: string
  readonly jobId: string
  readonly name: string
  readonly status: JobStatusType
  readonly reason: string
}

export interface CleanupReport {
  /** Jobs whose files and rows were deleted. */
  readonly removed: ReadonlyArray<CleanedJob>
  /** Jobs left alone because they have not ended (no `force`). */
  readonly refused: ReadonlyArray<KeptJob>
  /** Jobs left in the store because one of their files could not be deleted (they can be retried). */
  readonly failed: ReadonlyArray<KeptJob>
}

/**
 * Deletes ended jobs' files (see {@link jobFiles}, as the Schedulers service's say; missing files are fine, anything that is not a
 * regular file is left alone) and then their records and transitions. A job that has not ended
 * is refused unless `force`; a job one of whose files could not be deleted stays in the store.
 */
export const cleanupJobs = Effect.fn("JobQueries.cleanupJobs")(function*(
  records: ReadonlyArray<JobRecordType>,
  options: CleanupOptions = {}
) {
  const store = yield* JobStore
  const schedulers = yield* Schedulers
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const removed: Array<CleanedJob> = []
  const refused: Array<KeptJob> = []
  const failed: Array<KeptJob> = []
  for (const record of records) {
    const about = { executor: record.executor, jobId: record.jobId, name: record.name, status: record.status }
    if (!isTerminal(record) && options.force !== true) {
      refused.push({ ...about, reason: `it has not ended (${record.status})` })
      continue
    }
    const deleted: Array<string> = []
    const problems: Array<string> = []
    for (const file of jobFiles(schedulers, record, path)) {
      const outcome = yield* fs.stat(file).pipe(
        Effect.flatMap((info) =>
          info.type === "File" ? Effect.as(fs.remove(file), "deleted" as const) : Effect.succeed("kept" as const)
        ),
        Effect.catchAll((e) =>
          Effect.succeed(e._tag === "SystemError" && e.reason === "NotFound" ? "missing" as const : e.message)
        )
      )
      if (outcome === "deleted") deleted.push(file)
      else if (outcome !== "kept" && outcome !== "missing") problems.push(`${file}: ${outcome}`)
    }
    if (problems.length > 0) failed.push({ ...about, reason: `could not delete ${problems.join("; ")}` })
    else removed.push({ ...about, files: deleted })
  }
  if (removed.length > 0) yield* store.remove(removed)
  return { removed, refused, failed } satisfies CleanupReport
})

// ---------------------------------------------------------------------------------------------
// Times users type
// ---------------------------------------------------------------------------------------------

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i

/** The accepted forms, for error messages. */
export const whenForms =
  `an age (that long ago) as ${durationForms}, or a date/time like 2026-05-01, 2026-05-01T14:30 or 2026-05-01T14:30:00Z (local time unless a zone is given)`

/** An age (a length of time, `Units.parseDuration`) in milliseconds, if it is one a date can go back. */
export const parseAge = (input: string): number | undefined => {
  const age = parseDuration(input)
  if (Either.isLeft(age)) return undefined
  const total = Duration.toMillis(age.right)
  // Ages past what a date can hold (about 273,790 years) are not ages.
  return total <= maxDateMillis ? total : undefined
}

/** The largest distance from 1970 a Date holds (ECMAScript's time value range). */
const maxDateMillis = 8.64e15

/**
 * A point in time as users write it: an age before `now` ("2h", "3d", "1w", "1d12h") or an ISO
 * date ("2026-05-01": local midnight) or date-time ("2026-05-01T14:30", "2026-05-01 14:30:00",
 * local unless it ends in `Z` or an offset). Left: a message naming the accepted forms.
 */
export const parseWhen = (input: string, now: Date): Either.Either<Date, string> => {
  const fail = Either.left(`cannot read ${JSON.stringify(input)} as a time: write ${whenForms}`)
  const age = parseAge(input)
  if (age !== undefined) {
    const then = new Date(now.getTime() - age)
    return Number.isNaN(then.getTime()) ? Either.left(`${JSON.stringify(input)} is further back than a date can go: write ${whenForms}`) : Either.right(then)
  }
  const m = DATE_TIME.exec(input.trim())
  if (m === null) return fail
  const [year, month, day, hour, minute, second, milli] = [1, 2, 3, 4, 5, 6, 7].map((i) => Number(m[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number
  ]
  const zone = m[8]
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return fail
  const ms = milli * 10 ** (3 - (m[7]?.length ?? 3))
  let date: Date
  if (zone === undefined) date = new Date(year, month - 1, day, hour, minute, second, ms)
  else {
    const offset = zone.toUpperCase() === "Z"
      ? 0
      : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)))
    date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * 60_000)
  }
  // A day past the end of its month (2026-02-30) rolls over: refuse it.
  const check = zone === undefined ? date : new Date(Date.UTC(year, month - 1, day))
  const dayOk = zone === undefined ? check.getDate() === day : check.getUTCDate() === day
  return Number.isNaN(date.getTime()) || !dayOk ? fail : Either.right(date)
}
