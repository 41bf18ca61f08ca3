/**
 * JobStore: every job record and every transition.
 *
 * Executors insert records when they submit and write cancellations; the Monitor writes what each
 * poll observed. All writes go through `modify`, which applies a function to the CURRENT record
 * atomically, so a poll that read a job as Running can never overwrite a cancellation written in
 * between. Status changes are published on `subscribe` in the order they were written.
 *
 * Every job has an owner: the program (one store instance) that watches it. A program owns the
 * jobs it submits; when it ends or dies, the next program on the same store `adopt`s them. The
 * owner records, per job, when the job's end was delivered to its callbacks and event consumers,
 * so that a restart announces exactly the endings nobody was told of.
 *
 * The in-memory layer here keeps records for the life of the process (one owner, nothing to
 * adopt); the SQLite layer (SqliteJobStore.ts) implements the same contract on a file.
 */
import type { Scope } from "effect"
import { Clock, Context, Effect, Fiber, Layer, Option, PubSub, Queue } from "effect"
import type { FailureReason, JobRecord, JobStatus } from "./Domain.js"
import { isTerminal } from "./Domain.js"
import type { StoreError } from "./Errors.js"
import type { JobChange, JobFilter, JobKey } from "./internal/store.js"
import { applyModify, keyString, matchesFilter } from "./internal/store.js"

export { keyString } from "./internal/store.js"
/** Which job a record is, one write that changed a job, and which jobs `list` returns. */
export type { JobChange, JobFilter, JobKey } from "./internal/store.js"

/** One status change of a job, as written. `from` is absent for the submission. */
export interface TransitionEntry {
  readonly at: Date
  readonly from?: JobStatus | undefined
  readonly to: JobStatus
  readonly reason?: FailureReason | undefined
}

/** A job with every status change it went through: what `export` writes and `restore` reads. */
export interface JobHistory {
  readonly record: JobRecord
  readonly transitions: ReadonlyArray<TransitionEntry>
}

/** What `adopt` took over. */
export interface Adopted {
  /** Jobs that had not ended when their previous owner stopped watching them. */
  readonly active: ReadonlyArray<JobRecord>
  /** Jobs that ended but whose end was never delivered (their owner died in between). */
  readonly undelivered: ReadonlyArray<JobRecord>
}

export interface AdoptOptions {
  /** The executor whose jobs to adopt. */
  readonly executor: string
  /** Adopt only jobs whose previous owner ran on this host (local processes cannot be watched from elsewhere). */
  readonly sameHostOnly: boolean
  /** Adopt only these jobs of the executor (default: every one that qualifies). */
  readonly ids?: ReadonlyArray<string> | undefined
}

/**
 * A submission in flight: written before the scheduler is asked to run a job and removed, in the
 * same write as the job's record, once the scheduler has given the job an id. The scheduler keeps
 * `token` with the job, so that when the program dies in between, the next program finds the job
 * by it (see `adoptIntents`).
 */
export interface SubmitIntent {
  readonly token: string
  readonly executor: string
  /** The job's full name. */
  readonly name: string
  /** When the submission started. */
  readonly at: Date
  /**
   * The record the job gets once submitted: `jobId` empty and log paths as the scheduler expands
   * them (with its job-id placeholders); it carries the spec and the script's path.
   */
  readonly draft: JobRecord
}

export interface JobStoreShape {
  /** Whether records outlive the process (false: the Monitor removes ended jobs to bound memory). */
  readonly persistent: boolean
  /**
   * Adds new records, owned by this program. A job already present (same executor and id) is
   * replaced (a resubmission under the same id).
   */
  readonly insert: (records: ReadonlyArray<JobRecord>) => Effect.Effect<void, StoreError>
  /** The record of one job (a record is its own key). */
  readonly get: (key: JobKey) => Effect.Effect<Option.Option<JobRecord>, StoreError>
  readonly list: (filter?: JobFilter) => Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /** Jobs that are not terminal, whoever owns them. */
  readonly active: Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /** Every status change of a job, oldest first (empty for an unknown job). */
  readonly transitions: (key: JobKey) => Effect.Effect<ReadonlyArray<TransitionEntry>, StoreError>
  /**
   * Applies `f` to the current record of each job, atomically with respect to every other write.
   * `f` returns the record unchanged (the same object) to leave it alone, and keeps its executor
   * and id. Jobs not in the store are skipped. Returns the writes that changed a status.
   */
  readonly modify: (
    keys: ReadonlyArray<JobKey>,
    f: (current: JobRecord) => JobRecord
  ) => Effect.Effect<ReadonlyArray<JobChange>, StoreError>
  /** Deletes jobs and their transitions. */
  readonly remove: (keys: ReadonlyArray<JobKey>) => Effect.Effect<void, StoreError>
  /**
   * Writes jobs with their recorded transitions (an import). Jobs already present are left as they
   * are; returns the jobs written. Imported jobs have no owner until a program adopts them.
   */
  readonly restore: (jobs: ReadonlyArray<JobHistory>) => Effect.Effect<ReadonlyArray<JobKey>, StoreError>
  /**
   * Takes over, in one transaction, the jobs of an executor whose owner is gone (ended, or dead:
   * its process no longer runs on this host, or it has not shown a sign of life for a minute):
   * those not ended, and those ended without a delivery record.
   */
  readonly adopt: (options: AdoptOptions) => Effect.Effect<Adopted, StoreError>
  /** Writes a submission in flight, owned by this program (before its submit command runs). */
  readonly addIntent: (intent: SubmitIntent) => Effect.Effect<void, StoreError>
  /**
   * Ends a submission in flight: removes its intent and inserts `records` (the job it became, or
   * nothing when the scheduler refused it), in one transaction.
   */
  readonly settleIntent: (token: string, records: ReadonlyArray<JobRecord>) => Effect.Effect<void, StoreError>
  /** The submissions in flight, whoever owns them, oldest first. */
  readonly intents: Effect.Effect<ReadonlyArray<SubmitIntent>, StoreError>
  /**
   * Takes over the submissions in flight of an executor whose owner is gone (the rule of
   * `adopt`), to be settled by asking the scheduler which jobs carry their tokens.
   */
  readonly adoptIntents: (executor: string) => Effect.Effect<ReadonlyArray<SubmitIntent>, StoreError>
  /** Records that these jobs' ends were delivered; `adopt` will not return them again. */
  readonly markDelivered: (keys: ReadonlyArray<JobKey>) => Effect.Effect<void, StoreError>
  /** Status changes this program writes from now on, in write order, for as long as the scope lives. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<JobChange>, never, Scope.Scope>
}

export class JobStore extends Context.Tag("cluster-api/JobStore")<JobStore, JobStoreShape>() {
  /** The in-memory store (same as the module's `layerMemory`). */
  static get layerMemory(): Layer.Layer<JobStore> {
    return layerMemory
  }
}

/** The metadata of every record inserted with none: one object, not one per job. */
const noMetadata: JobRecord["metadata"] = {}

/**
 * A record as the in-memory store keeps it: empty metadata shared, and a `lastSeen` equal to its
 * `submitTime` the same Date (the bytes of each tracked job count when 100,000 are).
 */
const compact = (r: JobRecord): JobRecord => {
  const sameDate = r.submitTime !== undefined && r.lastSeen !== r.submitTime &&
    r.lastSeen.getTime() === r.submitTime.getTime()
  const emptyMetadata = r.metadata !== noMetadata && Object.keys(r.metadata).length === 0
  if (!sameDate && !emptyMetadata) return r
  const out: { -readonly [K in keyof JobRecord]: JobRecord[K] } = { ...r }
  if (sameDate) out.lastSeen = r.submitTime!
  if (emptyMetadata) out.metadata = noMetadata
  return out
}

/** Records held in memory. Terminal jobs stay until removed (the Monitor purges them). */
export const makeMemory: Effect.Effect<JobStoreShape> = Effect.gen(function*() {
  // By keyString: executor and id.
  const records = new Map<string, JobRecord>()
  // A job's transitions: its submission alone (one entry, shared by the jobs one insert wrote
  // with the same status), or the list once it has changed.
  const history = new Map<string, TransitionEntry | Array<TransitionEntry>>()
  const changes = yield* PubSub.unbounded<JobChange>()
  // In one process, a submission's owner is the fiber that submits: once that fiber has ended
  // without settling it (interrupted, or failed to record the job), the submission is orphaned.
  const intents = new Map<string, { readonly intent: SubmitIntent; owner: Option.Option<Fiber.RuntimeFiber<unknown, unknown>> }>()
  // Writes and their publication happen under one permit, so subscribers see changes in write order.
  const lock = yield* Effect.makeSemaphore(1)

  // Keyed by one string per job, shared by `records` and `history`.
  const put = (record: JobRecord, key = keyString(record)) => {
    records.set(key, record)
  }

  const note = (change: JobChange, at: Date) => {
    if (change.before?.status === change.after.status) return
    const entry: TransitionEntry = {
      at,
      from: change.before?.status,
      to: change.after.status,
      reason: change.after.reason
    }
    const key = keyString(change.after)
    const known = change.before === undefined ? undefined : history.get(key)
    if (known === undefined) history.set(key, [entry])
    else if (Array.isArray(known)) known.push(entry)
    else history.set(key, [known, entry])
  }

  const insert = (batch: ReadonlyArray<JobRecord>) =>
    lock.withPermits(1)(
      Effect.flatMap(Clock.currentTimeMillis, (ms) => {
        const out: Array<JobChange> = []
        const at = new Date(ms) // one write, one time: shared by its transitions
        const submitted = new Map<JobStatus, TransitionEntry>()
        for (const given of batch) {
          const record = compact(given)
          const key = keyString(record)
          put(record, key)
          if (record.reason === undefined) {
            let entry = submitted.get(record.status)
            if (entry === undefined) {
              entry = { at, from: undefined, to: record.status, reason: undefined }
              submitted.set(record.status, entry)
            }
            history.set(key, entry)
          } else {
            history.set(key, [{ at, from: undefined, to: record.status, reason: record.reason }])
          }
          out.push({ before: undefined, after: record })
        }
        return PubSub.publishAll(changes, out)
      })
    ).pipe(Effect.asVoid)

  const modify = (keys: ReadonlyArray<JobKey>, f: (current: JobRecord) => JobRecord) =>
    lock.withPermits(1)(
      Effect.flatMap(Clock.currentTimeMillis, (ms) => {
        // applyModify writes the new records into `records` itself.
        const { changes: out } = applyModify(keys, records, f)
        const at = new Date(ms) // one write, one time: shared by its transitions
        for (const change of out) note(change, at)
        return out.length === 0 ? Effect.succeed(out) : PubSub.publishAll(changes, out).pipe(Effect.as(out))
      })
    )

  return {
    persistent: false,
    insert,
    get: (key) => Effect.sync(() => Option.fromNullable(records.get(keyString(key)))),
    list: (filter) =>
      Effect.sync(() => {
        const keep = matchesFilter(filter)
        // One pass, no intermediate copy: the Monitor lists its active jobs on every tick.
        const all: Array<JobRecord> = []
        for (const r of records.values()) if (keep(r)) all.push(r)
        return filter?.limit === undefined || all.length <= filter.limit ? all : all.slice(all.length - filter.limit)
      }),
    // A scan: only a cancel asks, and a set of active ids would cost every tracked job its bytes.
    active: Effect.sync(() => {
      const out: Array<JobRecord> = []
      for (const r of records.values()) if (!isTerminal(r)) out.push(r)
      return out
    }),
    transitions: (key) =>
      Effect.sync(() => {
        const known = history.get(keyString(key))
        return known === undefined ? [] : Array.isArray(known) ? known.slice() : [known]
      }),
    modify,
    remove: (keys) =>
      lock.withPermits(1)(Effect.sync(() => {
        for (const key of keys) {
          const k = keyString(key)
          records.delete(k)
          history.delete(k)
        }
      })),
    restore: (jobs) =>
      lock.withPermits(1)(Effect.sync(() => {
        const written: Array<JobKey> = []
        for (const { record, transitions } of jobs) {
          const key = keyString(record)
          if (records.has(key)) continue
          put(record)
          history.set(key, transitions.slice())
          written.push({ executor: record.executor, jobId: record.jobId })
        }
        return written
      })),
    // One process, one owner: nothing was left behind by anyone else.
    adopt: () => Effect.succeed({ active: [], undelivered: [] }),
    addIntent: (intent) =>
      Effect.sync(() => {
        intents.set(intent.token, { intent, owner: Fiber.getCurrentFiber() })
      }),
    settleIntent: (token, settled) =>
      Effect.zipRight(Effect.sync(() => intents.delete(token)), settled.length === 0 ? Effect.void : insert(settled)),
    intents: Effect.sync(() => Array.from(intents.values(), (i) => i.intent)),
    adoptIntents: (executor) =>
      Effect.sync(() => {
        const out: Array<SubmitIntent> = []
        for (const entry of intents.values()) {
          const owner = Option.getOrUndefined(entry.owner)
          if (entry.intent.executor !== executor) continue
          if (owner !== undefined && owner.unsafePoll() === null) continue
          entry.owner = Fiber.getCurrentFiber()
          out.push(entry.intent)
        }
        return out
      }),
    markDelivered: () => Effect.void,
    subscribe: PubSub.subscribe(changes)
  } satisfies JobStoreShape
})

/** The in-memory store: fast, and gone when the process ends. */
export const layerMemory: Layer.Layer<JobStore> = Layer.effect(JobStore, makeMemory)
