/**
 * JobStore: every job record and every transition.
 *
 * Executors insert records when they submit and write cancellations; the Monitor writes what each
 * poll observed. All writes go through `modify`, which applies a function to the CURRENT record
 * atomically, so a poll that read a job as Running can never overwrite a cancellation written in
 * between. Status changes are published on `subscribe` in the order they were written.
 *
 * The in-memory layer here keeps records for the life of the process; a persistent layer
 * implements the same contract.
 */
import type { Scope } from "effect"
import { Context, Effect, Layer, Option, PubSub, Queue } from "effect"
import type { JobRecord } from "./Domain.js"
import { isTerminal } from "./Domain.js"
import type { StoreError } from "./Errors.js"

/** One write that changed a job's status or an element's status; `before` is absent for an insert. */
export interface JobChange {
  readonly before: JobRecord | undefined
  readonly after: JobRecord
}

export interface JobFilter {
  /** Only jobs that are not terminal (true) or only terminal ones (false). */
  readonly active?: boolean | undefined
}

export interface JobStoreShape {
  /** Adds new records. A job id already present is replaced (a resubmission under the same id). */
  readonly insert: (records: ReadonlyArray<JobRecord>) => Effect.Effect<void, StoreError>
  readonly get: (jobId: string) => Effect.Effect<Option.Option<JobRecord>, StoreError>
  readonly list: (filter?: JobFilter) => Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /** Jobs that are not terminal: what the Monitor polls. */
  readonly active: Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /**
   * Applies `f` to the current record of each id, atomically with respect to every other write.
   * `f` returns the record unchanged (the same object) to leave it alone. Ids not in the store are
   * skipped. Returns the writes that changed a status.
   */
  readonly modify: (
    jobIds: ReadonlyArray<string>,
    f: (current: JobRecord) => JobRecord
  ) => Effect.Effect<ReadonlyArray<JobChange>, StoreError>
  readonly remove: (jobIds: ReadonlyArray<string>) => Effect.Effect<void, StoreError>
  /** Status changes from now on, in write order, for as long as the scope lives. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<JobChange>, never, Scope.Scope>
}

export class JobStore extends Context.Tag("cluster-api/JobStore")<JobStore, JobStoreShape>() {
  /** The in-memory store (same as the module's `layerMemory`). */
  static get layerMemory(): Layer.Layer<JobStore> {
    return layerMemory
  }
}

const elementsChanged = (before: JobRecord, after: JobRecord): boolean => {
  const a = before.elements ?? []
  const b = after.elements ?? []
  if (a === b) return false
  if (a.length !== b.length) return true
  return a.some((e, i) => e.status !== b[i]?.status || e.index !== b[i]?.index)
}

/** Whether a write is worth telling subscribers about: a status of the job or of an element changed. */
export const isStatusChange = (before: JobRecord | undefined, after: JobRecord): boolean =>
  before === undefined || before.status !== after.status || elementsChanged(before, after)

/** Records held in memory. Terminal jobs stay until removed (the Monitor purges them). */
export const makeMemory: Effect.Effect<JobStoreShape> = Effect.gen(function*() {
  const records = new Map<string, JobRecord>()
  const activeIds = new Set<string>()
  const changes = yield* PubSub.unbounded<JobChange>()
  // Writes and their publication happen under one permit, so subscribers see changes in write order.
  const lock = yield* Effect.makeSemaphore(1)

  const put = (record: JobRecord) => {
    records.set(record.jobId, record)
    if (isTerminal(record)) activeIds.delete(record.jobId)
    else activeIds.add(record.jobId)
  }

  const insert = (batch: ReadonlyArray<JobRecord>) =>
    lock.withPermits(1)(
      Effect.suspend(() => {
        const out: Array<JobChange> = []
        for (const record of batch) {
          put(record)
          out.push({ before: undefined, after: record })
        }
        return PubSub.publishAll(changes, out)
      })
    ).pipe(Effect.asVoid)

  const modify = (jobIds: ReadonlyArray<string>, f: (current: JobRecord) => JobRecord) =>
    lock.withPermits(1)(
      Effect.suspend(() => {
        const out: Array<JobChange> = []
        for (const id of jobIds) {
          const before = records.get(id)
          if (before === undefined) continue
          const after = f(before)
          if (after === before) continue
          put(after)
          if (isStatusChange(before, after)) out.push({ before, after })
        }
        return out.length === 0 ? Effect.succeed(out) : PubSub.publishAll(changes, out).pipe(Effect.as(out))
      })
    )

  return {
    insert,
    get: (jobId) => Effect.sync(() => Option.fromNullable(records.get(jobId))),
    list: (filter) =>
      Effect.sync(() => {
        const all = Array.from(records.values())
        return filter?.active === undefined ? all : all.filter((r) => isTerminal(r) !== filter.active)
      }),
    active: Effect.sync(() => {
      const out: Array<JobRecord> = []
      for (const id of activeIds) {
        const r = records.get(id)
        if (r !== undefined) out.push(r)
      }
      return out
    }),
    modify,
    remove: (jobIds) =>
      lock.withPermits(1)(Effect.sync(() => {
        for (const id of jobIds) {
          records.delete(id)
          activeIds.delete(id)
        }
      })),
    subscribe: PubSub.subscribe(changes)
  } satisfies JobStoreShape
})

/** The in-memory store: fast, and gone when the process ends. */
export const layerMemory: Layer.Layer<JobStore> = Layer.effect(JobStore, makeMemory)
