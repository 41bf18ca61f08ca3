/**
 * What every operation of one open SQLite job store shares: the connection, this program's owner
 * id, the lock that keeps its writes in order, the subscribers' PubSub, and the ways it fails,
 * reads rows, writes in a transaction and publishes changes.
 */
import type { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect, Option, PubSub } from "effect"
import type { JobRecord } from "../../Domain.js"
import { StoreError } from "../../Errors.js"
import type { JobChange, JobKey } from "../../JobStore.js"
import type { RecordCache } from "./cache.js"
import { makeRecordCache } from "./cache.js"
import { busyDetail, describeStoreFailure, storeError } from "./errors.js"
import type { Holder } from "./identity.js"
import { ownerDeadAfter, ownerId } from "./identity.js"
import type { Row, RowWithId } from "./rows.js"
import { readableRows, select, writeNew, writeTransitions, writeUpdated } from "./rows.js"

export interface MakeOptions {
  /** The store's file, named in errors and warnings. */
  readonly path: string
  /** false: a read-only store (no owner row, no heartbeat); every write fails ReadOnly. */
  readonly writable: boolean
  /** The busy timeout the connection was given, told in Busy errors. */
  readonly busyTimeout: Duration.Duration
}

export interface StoreContext {
  readonly sql: SqlClient.SqlClient
  /** This program's owner id (`host:pid:random`). */
  readonly me: string
  readonly host: string
  /** The store's file. */
  readonly file: string
  /** Held by every write of this program, so its changes are published in write order. */
  readonly lock: Effect.Semaphore
  readonly changes: PubSub.PubSub<JobChange>
  /** Decoded records of active jobs, as last read (see cache.ts). */
  readonly cache: RecordCache
  /** The connection's `PRAGMA data_version`: it changes when another connection commits. */
  readonly dataVersion: Effect.Effect<number, SqlError>
  /** A StoreError for a failure of `operation`; a Busy one names the programs that have the store open. */
  readonly failed: (operation: string) => (e: unknown) => Effect.Effect<never, StoreError>
  readonly transaction: <A, E, R>(body: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  readonly readable: <R extends Row>(rows: ReadonlyArray<R>) => Effect.Effect<Array<readonly [R, JobRecord]>>
  readonly rowsToRecords: (rows: ReadonlyArray<Row>) => Effect.Effect<Array<JobRecord>>
  /**
   * Takes the file's write lock first, waiting up to the busy timeout: a transaction that read
   * first and wrote second would fail outright if another program wrote in between.
   */
  readonly lockFile: Effect.Effect<unknown, SqlError>
  readonly publish: (out: ReadonlyArray<JobChange>) => Effect.Effect<void>
  readonly select: (keys: ReadonlyArray<JobKey>) => Effect.Effect<Array<RowWithId>, SqlError>
  readonly writeNew: (records: ReadonlyArray<JobRecord>) => Effect.Effect<void, SqlError>
  /** `before`: a job's record as stored, when known (its indexes are then only written if they change). */
  readonly writeUpdated: (
    records: ReadonlyArray<JobRecord>,
    before: (record: JobRecord) => JobRecord | undefined
  ) => Effect.Effect<void, SqlError>
  readonly writeTransitions: (changes: ReadonlyArray<JobChange>, at: number) => Effect.Effect<void, SqlError>
}

/**
 * Fails with a StoreError saying what is true of the store `file`; when it is busy, names the
 * programs (other than `me`) that have it open.
 */
const failWith = (sql: SqlClient.SqlClient, me: string, options: MakeOptions) =>
(operation: string) =>
(e: unknown): Effect.Effect<never, StoreError> => {
  const error = storeError(operation, options.path)(e)
  if (error.reason !== "Busy") return Effect.fail(error)
  // The programs that showed a sign of life within the last minute (a dead one holds no lock).
  return Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) =>
      sql<Holder>`SELECT host, pid, started FROM owners
        WHERE owner <> ${me} AND heartbeat >= ${now - Duration.toMillis(ownerDeadAfter)} ORDER BY started`
    ),
    Effect.map((rows): ReadonlyArray<Holder> | undefined => rows),
    Effect.orElseSucceed(() => undefined),
    Effect.flatMap((holders) =>
      Effect.fail(
        new StoreError({
          operation,
          reason: "Busy",
          path: options.path,
          detail: busyDetail(options.busyTimeout, holders, describeStoreFailure(e)),
          cause: e
        })
      )
    )
  )
}

/**
 * `sql.withTransaction`, except that when SQLite has already rolled the transaction back (a full
 * disk, an I/O error) the failure that did it is kept, rather than the ROLLBACK that then fails
 * (which @effect/sql turns into a defect); a COMMIT that fails is a failure too.
 */
const transactionOf = (sql: SqlClient.SqlClient) =>
<A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.suspend(() => {
    let failure: Option.Option<E> = Option.none()
    return sql.withTransaction(Effect.tapError(body, (e) => Effect.sync(() => (failure = Option.some(e))))).pipe(
      Effect.catchAllDefect((defect): Effect.Effect<never, E | SqlError> =>
        Option.isSome(failure)
          ? Effect.fail(failure.value)
          : defect instanceof SqlError
          ? Effect.fail(defect)
          : Effect.die(defect)
      )
    )
  })

/** The context of a store on the open SqliteClient, as a new owner id. */
export const makeContext = (sql: SqlClient.SqlClient, options: MakeOptions): Effect.Effect<StoreContext> =>
  Effect.gen(function*() {
    const changes = yield* PubSub.unbounded<JobChange>()
    const lock = yield* Effect.makeSemaphore(1)
    const { host, me } = ownerId()
    const readable = readableRows(options.path, new Set<string>())
    return {
      sql,
      me,
      host,
      file: options.path,
      lock,
      changes,
      cache: makeRecordCache(),
      dataVersion: Effect.map(sql<{ data_version: number }>`PRAGMA data_version`, (rows) => rows[0]?.data_version ?? NaN),
      failed: failWith(sql, me, options),
      transaction: transactionOf(sql),
      readable,
      rowsToRecords: (rows) => Effect.map(readable(rows), (pairs) => pairs.map(([, record]) => record)),
      lockFile: sql`UPDATE owners SET heartbeat = heartbeat WHERE owner = ${me}`,
      publish: (out) => out.length === 0 ? Effect.void : PubSub.publishAll(changes, out).pipe(Effect.asVoid),
      select: select(sql),
      writeNew: writeNew(sql, me),
      writeUpdated: writeUpdated(sql),
      writeTransitions: writeTransitions(sql)
    }
  })
