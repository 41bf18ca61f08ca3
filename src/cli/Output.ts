/**
 * How commands print jobs: tables, JSON (with environment values hidden), and a wait's final lines.
 */
import { Options } from "@effect/cli"
import * as Terminal from "@effect/platform/Terminal"
import { Console, Effect, Schema } from "effect"
import type { JobRecord } from "../Domain.js"
import { JobRecord as JobRecordSchema } from "../Domain.js"
import type { JobFilter } from "../JobStore.js"
import { JobStore } from "../JobStore.js"
import * as Progress from "./Progress.js"
import { OutputClosed, setExitCode } from "./Exit.js"
import { builtin } from "../schedulers/builtin.js"
import { now } from "./Globals.js"
import { shownLogPath } from "../internal/queries/files.js"
import { inMemoryState } from "../internal/config/statePath.js"

export const encodeRecordSync = Schema.encodeSync(JobRecordSchema)

/**
 * Writes text to stdout as it is (logs, export). A closed pipe fails with OutputClosed (the command
 * stops quietly); any other failed write fails as the Terminal reports it.
 */
export const display = (text: string) =>
  Effect.flatMap(Terminal.Terminal, (terminal) => terminal.display(text)).pipe(
    Effect.mapError((error) =>
      error._tag === "BadArgument" && (error.cause as NodeJS.ErrnoException | undefined)?.code === "EPIPE"
        ? new OutputClosed()
        : error
    )
  )

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** What JSON output shows for each value of a job's environment unless `--show-env`. */
export const hiddenEnvValue = "<hidden>"

/** A record with its environment's values replaced by `<hidden>` (they may hold passwords); keys stay. */
export const hideEnv = (record: JobRecord): JobRecord =>
  record.spec?.env === undefined ? record : {
    ...record,
    spec: { ...record.spec, env: Object.fromEntries(Object.keys(record.spec.env).map((k) => [k, hiddenEnvValue])) }
  }

/** A record as JSON, its environment's values hidden unless `showEnv` (every command's --json output). */
export const encodeRecord = (record: JobRecord, showEnv = false) => encodeRecordSync(showEnv ? record : hideEnv(record))

export const encodeRecords = (records: ReadonlyArray<JobRecord>, showEnv = false) =>
  records.map((r) => encodeRecord(r, showEnv))

export const showEnvOption = Options.boolean("show-env").pipe(
  Options.withDescription(
    `With --json, print the values of the jobs' environment variables (shown as "${hiddenEnvValue}" otherwise: they may hold secrets)`
  )
)

/**
 * Jobs as JSON with --json (environment values hidden unless `showEnv`), else as a status table,
 * or the line `none` says when there are none. Says whether it printed a table (for a note under it).
 */
export const printRecords = <E, R>(
  records: ReadonlyArray<JobRecord>,
  json: boolean,
  none: Effect.Effect<string, E, R>,
  showEnv = false
) =>
  Effect.gen(function*() {
    if (json) {
      yield* printJson(encodeRecords(records, showEnv))
      return false
    }
    if (records.length === 0) {
      yield* Console.log(yield* none)
      return false
    }
    yield* Console.log(Progress.statusTable(records, yield* now))
    return true
  })

/** Prints final records (a table, or JSON) and sets the exit code from them. */
export const printFinals = (finals: ReadonlyArray<JobRecord>, json: boolean, shape: "array" | "object") =>
  Effect.gen(function*() {
    if (json) {
      yield* printJson(shape === "array" || finals.length !== 1 ? encodeRecords(finals) : encodeRecord(finals[0]!))
    } else {
      yield* Console.log(Progress.resultTable(finals, yield* now))
      if (finals.length === 1) {
        const r = finals[0]!
        const stdout = shownLogPath(builtin, r, "stdout")
        const stderr = shownLogPath(builtin, r, "stderr")
        if (stdout !== undefined) yield* Console.log(`stdout: ${stdout}`)
        if (stderr !== undefined && stderr !== stdout) yield* Console.log(`stderr: ${stderr}`)
      }
    }
    yield* setExitCode(finals.every((r) => r.status === "Done") ? 0 : 1)
  })

/** How many jobs `list` and `status` show when not told: the most recently submitted ones. */
export const defaultListLimit = 50

/**
 * The newest `limit` jobs a filter selects (all of them for 0), oldest first, and whether there
 * were more.
 */
export const listNewest = (filter: JobFilter, limit: number) =>
  Effect.flatMap(JobStore, (store) =>
    Effect.map(store.list(limit === 0 ? filter : { ...filter, limit: limit + 1 }), (records) => ({
      records: limit > 0 && records.length > limit ? records.slice(records.length - limit) : records,
      more: limit > 0 && records.length > limit
    })))

export const moreNote = (limit: number) =>
  `(the newest ${limit} shown; --limit N shows more, --limit 0 all of them)`

/** What `list` says when it shows no job. */
export const noJobsLine = (location: { readonly path: string; readonly exists: boolean }, filtered: boolean): string =>
  location.path === inMemoryState
    ? "No jobs: state_path is :memory:, so jobs are kept only by the program that submits them."
    : !location.exists
    ? `No jobs: the job store ${location.path} does not exist yet (no job was submitted with this config from here).`
    : filtered
    ? `No job in the job store ${location.path} matches.`
    : `No jobs in the job store ${location.path}.`
