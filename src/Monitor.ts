/**
 * Monitor: the polling fiber and everything that happens when a job changes.
 *
 * Started with its layer and stopped with the layer's scope, it polls every `poll_interval`:
 * ONE `Executor.poll` for all active jobs per tick, observations turned into transitions by the
 * pure functions in Transition.ts and written through the JobStore, and jobs nobody reported for
 * `zombie_timeout_minutes` marked Failed(Vanished). A poll that fails changes no job: it is
 * logged, published as a PollFailed event, and tried again on the next tick.
 *
 * Whatever writes a change (a poll, a cancel), the Monitor reacts to the store's change feed:
 * callbacks fire exactly once when a job ends, awaiters are released, events are published, and
 * ended jobs are purged `completed_retention_minutes` after their end once their callbacks have run.
 */
import type { Scope } from "effect"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  FiberSet,
  Layer,
  Option,
  PubSub,
  Queue,
  Ref,
  Schedule,
  Stream
} from "effect"
import { ClusterConfig } from "./Config.js"
import type { JobEvent, JobRecord, JobStatus, Observation } from "./Domain.js"
import { isTerminal } from "./Domain.js"
import { AwaitTimeout, JobNotFound } from "./Errors.js"
import type { StoreError } from "./Errors.js"
import { Executor } from "./Executor.js"
import type { JobChange } from "./JobStore.js"
import { JobStore } from "./JobStore.js"
import { applyObservation, isZombie, vanish } from "./Transition.js"

/** Which endings a callback is for. */
export type ExitCondition = "success" | "failure" | "killed" | "any"

/**
 * A callback: a plain function (its result may be a Promise) or one returning an Effect. Its
 * failure or exception is logged and never stops the Monitor.
 */
export type JobCallback = (record: JobRecord) => unknown

export type JobRef = string | { readonly jobId: string }

export interface TickReport {
  /** Jobs that were active when the tick started. */
  readonly active: number
  /** Whether the executor was asked (false when no job was active). */
  readonly polled: boolean
  /** Whether that poll failed (no job was changed). */
  readonly failed: boolean
  readonly observed: number
  readonly changed: number
  readonly vanished: number
  readonly purged: number
}

export interface MonitorShape {
  /** Runs one poll now (the fiber does this every `poll_interval`). */
  readonly tick: Effect.Effect<TickReport, StoreError>
  readonly onExit: (
    job: JobRef,
    callback: JobCallback,
    condition?: ExitCondition
  ) => Effect.Effect<void, JobNotFound | StoreError>
  readonly onSuccess: (job: JobRef, callback: JobCallback) => Effect.Effect<void, JobNotFound | StoreError>
  readonly onFailure: (job: JobRef, callback: JobCallback) => Effect.Effect<void, JobNotFound | StoreError>
  /**
   * Waits until every given job has ended and returns their final records, in the order given.
   * With a timeout, fails with AwaitTimeout (the jobs are left running and tracked).
   */
  readonly await: (
    jobs: JobRef | ReadonlyArray<JobRef>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<ReadonlyArray<JobRecord>, AwaitTimeout | JobNotFound | StoreError>
  /** Events from the moment the stream is run. */
  readonly events: Stream.Stream<JobEvent>
  /** Subscribes now; the stream holds every event from this moment on, for the scope's life. */
  readonly subscribe: Effect.Effect<Stream.Stream<JobEvent>, never, Scope.Scope>
  /** Consecutive failed polls (0 after a successful one). */
  readonly consecutivePollFailures: Effect.Effect<number>
}

export class Monitor extends Context.Tag("cluster-api/Monitor")<Monitor, MonitorShape>() {
  /** The Monitor layer (same as the module's `layer`). */
  static get layer(): Layer.Layer<Monitor, never, ClusterConfig | Executor | JobStore> {
    return layer
  }
}

const conditionOf = (status: JobStatus): ExitCondition | undefined =>
  status === "Done" ? "success" : status === "Failed" ? "failure" : status === "Killed" ? "killed" : undefined

const idOf = (job: JobRef): string => typeof job === "string" ? job : job.jobId

/** Runs a user callback as an Effect, whatever kind it is. */
const runCallback = (callback: JobCallback, record: JobRecord): Effect.Effect<void, unknown> =>
  Effect.suspend(() => {
    const result = callback(record)
    if (Effect.isEffect(result)) return Effect.asVoid(result as Effect.Effect<unknown, unknown>)
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      return Effect.tryPromise({ try: () => result as PromiseLike<unknown>, catch: (e) => e }).pipe(Effect.asVoid)
    }
    return Effect.void
  })

interface Registration {
  readonly condition: ExitCondition
  readonly callback: JobCallback
}

export const make = Effect.gen(function*() {
  const { options } = yield* ClusterConfig
  const executor = yield* Executor
  const store = yield* JobStore
  const pollInterval = Duration.seconds(options.poll_interval)
  const zombieMillis = options.zombie_timeout_minutes * 60_000
  const retentionMillis = options.completed_retention_minutes * 60_000

  const events = yield* PubSub.unbounded<JobEvent>()
  yield* Effect.addFinalizer(() => PubSub.shutdown(events))
  const callbackFibers = yield* FiberSet.make()
  const failures = yield* Ref.make(0)

  // Callback and waiter registration and the change feed's handling of a job's end take this
  // lock, so a callback registered while its job ends fires exactly once.
  const lock = yield* Effect.makeSemaphore(1)
  const callbacks = new Map<string, Array<Registration>>()
  const waiters = new Map<string, Set<Deferred.Deferred<JobRecord>>>()
  /** Callbacks still running, per job: a job is purged only once this is zero. */
  const running = new Map<string, number>()
  /** Ended jobs waiting for purge, in order of their end. */
  const ended = new Map<string, number>()

  const now = Clock.currentTimeMillis

  const fire = (registration: Registration, record: JobRecord) => {
    const c = conditionOf(record.status)
    if (registration.condition !== "any" && registration.condition !== c) return Effect.void
    running.set(record.jobId, (running.get(record.jobId) ?? 0) + 1)
    const done = Effect.sync(() => {
      const n = (running.get(record.jobId) ?? 1) - 1
      if (n <= 0) running.delete(record.jobId)
      else running.set(record.jobId, n)
    })
    return FiberSet.run(
      callbackFibers,
      runCallback(registration.callback, record).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`callback for job ${record.jobId} (${record.name}) failed`, Cause.squash(cause))
        ),
        Effect.ensuring(done)
      )
    ).pipe(Effect.asVoid)
  }

  /** Called for every status change, in write order. */
  const handle = (change: JobChange, at: Date) =>
    Effect.gen(function*() {
      const { after, before } = change
      if (before === undefined) {
        yield* PubSub.publish(events, { _tag: "JobSubmitted", record: after, at })
      } else {
        // Elements first: an array's own change is the consequence of its elements'.
        const previous = new Map((before.elements ?? []).map((e) => [e.index, e.status] as const))
        for (const e of after.elements ?? []) {
          const from = previous.get(e.index)
          if (from !== e.status) {
            yield* PubSub.publish(events, {
              _tag: "ArrayElementChanged",
              jobId: after.jobId,
              index: e.index,
              ...(from === undefined ? {} : { from }),
              to: e.status,
              at
            })
          }
        }
        if (before.status !== after.status) {
          yield* PubSub.publish(events, {
            _tag: "JobStatusChanged",
            from: before.status,
            to: after.status,
            record: after,
            at
          })
        }
      }
      if (isTerminal(after) && (before === undefined || !isTerminal(before))) {
        yield* lock.withPermits(1)(Effect.gen(function*() {
          const registered = callbacks.get(after.jobId) ?? []
          callbacks.delete(after.jobId)
          for (const r of registered) yield* fire(r, after)
          for (const d of waiters.get(after.jobId) ?? []) yield* Deferred.succeed(d, after)
          waiters.delete(after.jobId)
          ended.set(after.jobId, (after.finishTime ?? at).getTime())
        }))
      }
    })

  // Subscribe before anything can be written, then follow the feed for the layer's life.
  const feed = yield* store.subscribe
  yield* Queue.take(feed).pipe(
    Effect.flatMap((change) => now.pipe(Effect.flatMap((ms) => handle(change, new Date(ms))))),
    Effect.forever,
    Effect.forkScoped
  )

  const purge = (nowMillis: number) =>
    Effect.gen(function*() {
      const due: Array<string> = []
      for (const [jobId, endMillis] of ended) {
        if (nowMillis - endMillis < retentionMillis) continue
        if ((running.get(jobId) ?? 0) > 0 || callbacks.has(jobId) || waiters.has(jobId)) continue
        due.push(jobId)
      }
      if (due.length === 0) return 0
      yield* store.remove(due)
      const at = new Date(nowMillis)
      for (const jobId of due) {
        ended.delete(jobId)
        yield* PubSub.publish(events, { _tag: "JobPurged", jobId, at })
      }
      return due.length
    })

  // Ticks never overlap: the fiber's and any caller's run one after the other.
  const tickLock = yield* Effect.makeSemaphore(1)

  const tick: MonitorShape["tick"] = Effect.gen(function*() {
    const active = yield* store.active
    const startMillis = yield* now
    let polled = false
    let failed = false
    let observed = 0
    let changed = 0
    let vanished = 0
    if (active.length > 0) {
      polled = true
      const result = yield* Effect.either(executor.poll(active))
      const at = new Date(yield* now)
      if (result._tag === "Left") {
        failed = true
        const n = yield* Ref.updateAndGet(failures, (k) => k + 1)
        yield* Effect.logWarning(`${result.left.message} (${n} failed poll${n === 1 ? "" : "s"} in a row)`)
        yield* PubSub.publish(events, {
          _tag: "PollFailed",
          executor: executor.kind,
          message: result.left.message,
          consecutiveFailures: n,
          at
        })
      } else {
        yield* Ref.set(failures, 0)
        const seen = new Map<string, Observation>()
        for (const o of result.right) seen.set(o.jobId, o)
        observed = seen.size
        const changes = yield* store.modify(active.map((r) => r.jobId), (current) => {
          const o = seen.get(current.jobId)
          if (o !== undefined) return applyObservation(current, o, at)
          return isZombie(current, at, zombieMillis) ? vanish(current, at) : current
        })
        changed = changes.length
        vanished = changes.filter((c) => c.after.reason?._tag === "Vanished").length
        if (vanished > 0) {
          yield* Effect.logWarning(
            `${vanished} job(s) unseen for over ${options.zombie_timeout_minutes} min marked Failed (vanished)`
          )
        }
      }
    }
    const purged = yield* purge(startMillis)
    return { active: active.length, polled, failed, observed, changed, vanished, purged }
  }).pipe(tickLock.withPermits(1), Effect.withSpan("Monitor.tick"))

  // The polling fiber: a failing tick (the store itself failing) is logged, never fatal.
  yield* tick.pipe(
    Effect.catchAllCause((cause) => Effect.logError("Monitor tick failed", cause)),
    Effect.repeat(Schedule.spaced(pollInterval)),
    Effect.forkScoped
  )

  const lookup = (jobId: string) =>
    store.get(jobId).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail(new JobNotFound({ jobId })),
        onSome: Effect.succeed
      }))
    )

  const onExit: MonitorShape["onExit"] = (job, callback, condition = "any") =>
    lock.withPermits(1)(Effect.gen(function*() {
      const record = yield* lookup(idOf(job))
      const registration: Registration = { condition, callback }
      if (isTerminal(record)) return yield* fire(registration, record)
      const list = callbacks.get(record.jobId)
      if (list === undefined) callbacks.set(record.jobId, [registration])
      else list.push(registration)
    }))

  const awaitJobs: MonitorShape["await"] = (jobs, awaitOptions) => {
    const ids = (Array.isArray(jobs) ? jobs as ReadonlyArray<JobRef> : [jobs as JobRef]).map(idOf)
    const registered: Array<readonly [string, Deferred.Deferred<JobRecord>]> = []
    const wait = Effect.gen(function*() {
      const pending = yield* lock.withPermits(1)(Effect.forEach(ids, (jobId) =>
        Effect.gen(function*() {
          const record = yield* lookup(jobId)
          const d = yield* Deferred.make<JobRecord>()
          if (isTerminal(record)) yield* Deferred.succeed(d, record)
          else {
            const set = waiters.get(jobId) ?? new Set()
            set.add(d)
            waiters.set(jobId, set)
            registered.push([jobId, d])
          }
          return d
        })))
      return yield* Effect.forEach(pending, (d) => Deferred.await(d))
    })
    const cleanup = Effect.sync(() => {
      for (const [jobId, d] of registered) {
        const set = waiters.get(jobId)
        if (set === undefined) continue
        set.delete(d)
        if (set.size === 0) waiters.delete(jobId)
      }
    })
    const timeout = awaitOptions?.timeout
    const bounded = timeout === undefined ? wait : wait.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new AwaitTimeout({ jobIds: ids, timeoutMillis: Duration.toMillis(Duration.decode(timeout)) })
      })
    )
    return bounded.pipe(Effect.ensuring(cleanup))
  }

  const shape: MonitorShape = {
    tick,
    onExit,
    onSuccess: (job, callback) => onExit(job, callback, "success"),
    onFailure: (job, callback) => onExit(job, callback, "failure"),
    await: awaitJobs,
    events: Stream.fromPubSub(events),
    subscribe: Stream.fromPubSub(events, { scoped: true }),
    consecutivePollFailures: Ref.get(failures)
  }
  return shape
})

/** The Monitor, polling from the moment the layer is built until its scope closes. */
export const layer: Layer.Layer<Monitor, never, ClusterConfig | Executor | JobStore> = Layer.scoped(Monitor, make)
