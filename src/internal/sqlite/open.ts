/**
 * Opening the SQLite job store: its file made private, the connection (WAL, busy timeout), the
 * schema created or upgraded (or checked, read-only), and a store that may not be written opened
 * read-only by itself.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Migrator from "@effect/sql/Migrator"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Duration, Effect, Layer, Option } from "effect"
import { StoreError } from "../../Errors.js"
import { JobStore } from "../../JobStore.js"
import { busyDetail, describeStoreFailure, storeError } from "./errors.js"
import { directoryProblem, privateStoreFile } from "./file.js"
import type { MigrationsUnderWay } from "./migrations.js"
import { migrate, refuseNewer, refuseOlder } from "./migrations.js"
import { make } from "./store.js"

/** How long a write waits for another program's write lock before it fails Busy, unless told. */
export const defaultBusyTimeout = Duration.seconds(10)

export interface LayerOptions {
  /**
   * Open for reading only: nothing is written (no owner row, no heartbeat) and every write fails
   * with a ReadOnly StoreError. Without it, a store this program may read but not write is opened
   * this way by itself.
   */
  readonly readonly?: boolean | undefined
  /** How long a write waits for another program's write lock before failing Busy (default 10 s). */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

/** An open error that is none of the store's own: the file could not be opened or read as SQLite. */
const openError = (filename: string, cause: Cause.Cause<unknown>): StoreError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof StoreError) return failure.value
  const error = storeError("open", filename)(Option.getOrElse(failure, () => Cause.squash(cause)))
  const dir = error.reason === "CantOpen" ? directoryProblem(filename) : undefined
  return dir === undefined ? error : new StoreError({
    operation: error.operation,
    reason: error.reason,
    path: filename,
    detail: `${error.detail}; ${dir}`,
    cause: error.cause
  })
}

/** The store on `filename`, opened read-write (creating and upgrading its tables) or read-only. */
const open = (filename: string, busyTimeout: Duration.Duration, writable: boolean): Layer.Layer<JobStore, StoreError> => {
  const client = Layer.unwrapEffect(
    Effect.as(
      writable ? privateStoreFile(filename) : Effect.void,
      SqliteClient.layer({ filename, readonly: !writable, disableWAL: !writable })
    )
  )
  const busy = (e: unknown) => storeError("open", filename)(e).reason === "Busy"
  const setup = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${Math.round(Duration.toMillis(busyTimeout))}`)
      if (!writable) {
        yield* refuseNewer(filename)
        return yield* refuseOlder(filename)
      }
      yield* migrate(filename, busyTimeout, busy)
    }).pipe(
      Effect.mapError((e: SqlError | Migrator.MigrationError | StoreError | MigrationsUnderWay) =>
        e._tag === "StoreError"
          ? e
          : busy(e)
          ? new StoreError({
            operation: "open",
            reason: "Busy",
            path: filename,
            detail: busyDetail(busyTimeout, undefined, describeStoreFailure(e)),
            cause: e
          })
          : storeError("open", filename)(e)
      ),
      Effect.provide(NodeContext.layer)
    )
  )
  return Layer.scoped(JobStore, make({ path: filename, writable, busyTimeout })).pipe(
    Layer.provide(Layer.provideMerge(setup, client)),
    Layer.catchAllCause((cause) => Layer.fail(openError(filename, cause)))
  )
}

/**
 * The SQLite store in `filename` (created 0600 if missing; its directory must exist). A store this
 * program may read but not write is opened read-only: reads work, writes fail ReadOnly. Fails
 * with a StoreError whose `reason` says what is true (Busy, ReadOnly, Full, Corrupt, CantOpen,
 * Version, …) and whose message says what to do.
 */
export const layer = (filename: string, options: LayerOptions = {}): Layer.Layer<JobStore, StoreError> => {
  const busyTimeout = Duration.decode(options.busyTimeout ?? defaultBusyTimeout)
  if (options.readonly === true) return open(filename, busyTimeout, false)
  return open(filename, busyTimeout, true).pipe(
    Layer.catchAll((error) =>
      error.reason === "ReadOnly" || error.reason === "CantOpen"
        ? open(filename, busyTimeout, false).pipe(
          Layer.tap(() =>
            Effect.logDebug(`the job store ${filename} is opened read-only: ${error.detail}`)
          ),
          Layer.orElse(() => Layer.fail(error))
        )
        : Layer.fail(error)
    )
  )
}
