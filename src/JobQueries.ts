/**
 * Reading and tidying the job store: finding a job, its full history, moving jobs
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
import { Clock, Effect, Either, Option } from "effect"
import type { JobRecord as JobRecordType, JobStatus as JobStatusType } from "./Domain.js"
import { ExecutorKind, isTerminal } from "./Domain.js"
import type { StoreError } from "./Errors.js"
import { AmbiguousJob, InvalidImport, JobNotFound } from "./Errors.js"
import { decodeExport, exportFormat, exportVersion } from "./internal/queries/exportDocument.js"
import type { ExportDocument } from "./internal/queries/exportDocument.js"
import { jobFiles } from "./internal/queries/files.js"
import type { JobFilter, JobHistory, JobKey } from "./JobStore.js"
import { JobStore, keyString } from "./JobStore.js"
import { Schedulers } from "./Scheduler.js"

export { ExportDocument, ExportedJob, TransitionEntry } from "./internal/queries/exportDocument.js"
export { statusOf } from "./internal/queries/files.js"

// ---------------------------------------------------------------------------------------------
// The export document
// ---------------------------------------------------------------------------------------------

/** The jobs a filter selects, each with every status change, as an export document. */
export const exportJobs = Effect.fn("JobQueries.exportJobs")(function*(filter?: JobFilter) {
  const store = yield* JobStore
  const records = yield* store.list(filter)
  const jobs = yield* Effect.forEach(records, (record) =>
    Effect.map(store.transitions(record), (transitions): JobHistory => ({ record, transitions })))
  const exportedAt = new Date(yield* Clock.currentTimeMillis)
  return { format: exportFormat, version: exportVersion, exportedAt, jobs } satisfies ExportDocument
})

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
