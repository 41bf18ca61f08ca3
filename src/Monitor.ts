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
 * ended jobs are purged `completed_retention_minutes` after their end once their callbacks have run
 * (an in-memory store forgets them then; a persistent store keeps them, and the Monitor only stops
 * tracking them).
 *
 * It polls the jobs its program owns (submitted, or adopted at start). On start it adopts, from
 * the store, the jobs of its executor that a program which ended or died left unfinished, hands
 * them to the executor (`resume`), asks the scheduler once about them, and announces what ended
 * while nobody watched. Each ending is announced once: after its callbacks have been started and
 * its events published, the Monitor records the delivery in the store, and the next start
 * announces only endings without that record. The window: a program that dies after writing a
 * job's end but before recording its delivery (a few milliseconds) has it announced again by the
 * next program. Endings found at start wait for a consumer: the first event stream opened gets
 * them first, and a callback registered for such a job fires at once; either records the delivery.
 *
 * A job this program owns that is cancelled (here or by another program) stays in the poll set
 * until the scheduler reports it ended, or for `zombie_timeout_minutes` at most: what the
 * scheduler says then (host, times, memory, each array element) completes its record, which stays
 * Killed(Cancelled); its end is announced once, when the cancel was written.
 *
 * A job owned by another live program (one sharing the store) can still be awaited or given a
 * callback: each tick re-reads it from the store, and its owner's Monitor does the polling.
 *
 * Before a job is recorded Done, what its spec asks of a successful job is checked (expected
 * output files, error lines in its logs; Diagnosis.ts): a check that fails records it Failed
 * instead. A job that ends Failed with a retry policy that covers the failure is not announced
 * as ended: a JobRetrying event is published, its next attempt is submitted after the backoff
 * (Retry.ts), and its callbacks and awaiters move to that attempt. A program that dies during
 * the backoff leaves the failed job's end undelivered, so the next program submits the retry.
 */
import { FileSystem, Path } from "@effect/platform"
import type { Scope } from "effect"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  FiberSet,
  Inspectable,
  Layer,
  Option,
  PubSub,
  Queue,
  Ref,
  Schedule,
  Stream
} from "effect"
import { ClusterConfig } from "./Config.js"
import { observedWithChecks } from "./Diagnosis.js"
import type { JobEvent, JobRecord, JobStatus, Observation } from "./Domain.js"
import { isTerminal } from "./Domain.js"
import { AwaitTimeout, JobNotFound } from "./Errors.js"
import type { StoreError } from "./Errors.js"
import { Executor } from "./Executor.js"
import type { JobChange, JobKey } from "./JobStore.js"
import { JobStore } from "./JobStore.js"
import type { RetryPlan } from "./Retry.js"
import { lastAttemptOf, planRetry, submitAttempt } from "./Retry.js"
import { Schedulers } from "./Scheduler.js"
import { isCancelled, isZombie, observationProblem, reportsEnd, vanish } from "./Transition.js"

/**
 * What the Monitor needs: the config, the executor, the store, and files and the schedulers' log
 * paths (for a job's output checks).
 */
export type Requirements = ClusterConfig | Executor | JobStore | FileSystem.FileSystem | Path.Path | Schedulers

/** Which endings a callback is for. */
export type ExitCondition = "success" | "failure" | "killed" | "any"

/**
 * A callback: a plain function (its result may be a Promise) or one returning an Effect. Its
 * failure or exception is logged, with its message and stack, and never stops the Monitor.
 */
export type JobCallback<Result = unknown> = (record: JobRecord) => Result

/**
 * The services a callback needs: those of the Effect it returns (none for a plain function or a
 * Promise). Registering the callback requires them, and the callback runs with the services its
 * registration was given.
 */
export type CallbackRequirements<Result> = 0 extends (1 & Result) ? never
  : Result extends Effect.Effect<any, any, infer R> ? R
  : never

export type JobRef = string | { readonly jobId: string }

/** What the Monitor took over when it started. */
export interface ResumeReport {
  /** Jobs left unfinished by a program that ended or died, now watched by this one. */
  readonly adopted: ReadonlyArray<JobRecord>
  /** Of those, and of ended jobs whose end was never delivered: the ones announced at start. */
  readonly ended: ReadonlyArray<JobRecord>
}

export interface TickReport {
  /** Jobs that were active when the tick started. */
  readonly active: number
  /** Whether the executor was asked (false when no job was active nor a cancelled one closing). */
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
  /**
   * Runs `callback` once the job has ended (its last attempt, when it is retried) as `condition`
   * says. A callback that returns an Effect runs with the services of its registration, which
   * requires what that Effect requires (`CallbackRequirements`).
   */
  readonly onExit: <Result>(
    job: JobRef,
    callback: JobCallback<Result>,
    condition?: ExitCondition
  ) => Effect.Effect<void, JobNotFound | StoreError, CallbackRequirements<Result>>
  readonly onSuccess: <Result>(
    job: JobRef,
    callback: JobCallback<Result>
  ) => Effect.Effect<void, JobNotFound | StoreError, CallbackRequirements<Result>>
  readonly onFailure: <Result>(
    job: JobRef,
    callback: JobCallback<Result>
  ) => Effect.Effect<void, JobNotFound | StoreError, CallbackRequirements<Result>>
  /**
   * Waits until the job has ended and returns its final record. A job its retry policy submits
   * again is waited for until its last attempt has ended, and the record returned is that
   * attempt's (its `jobId` is the new one; `attempt` says which).
   * With a timeout, fails with AwaitTimeout (the job is left running and tracked).
   */
  readonly await: (
    job: JobRef,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<JobRecord, AwaitTimeout | JobNotFound | StoreError>
  /**
   * Waits until every given job has ended and returns their final records, in the order given
   * (retried jobs as `await` says). With a timeout, fails with AwaitTimeout naming every given
   * job when they have not all ended by then (the jobs are left running and tracked).
   */
  readonly awaitAll: (
    jobs: ReadonlyArray<JobRef>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<ReadonlyArray<JobRecord>, AwaitTimeout | JobNotFound | StoreError>
  /**
   * Events from the moment the stream is run. The first stream run (this or `subscribe`) starts
   * with the changes found at start-up for adopted jobs (see `resumed`).
   */
  readonly events: Stream.Stream<JobEvent>
  /**
   * Subscribes now; the stream holds every event from this moment on, for the scope's life
   * (the first one opened also gets the start-up changes, as `events`).
   */
  readonly subscribe: Effect.Effect<Stream.Stream<JobEvent>, never, Scope.Scope>
  /** Consecutive failed polls (0 after a successful one). */
  readonly consecutivePollFailures: Effect.Effect<number>
  /** What was adopted from the store when this Monitor started. */
  readonly resumed: ResumeReport
}

export class Monitor extends Context.Tag("cluster-api/Monitor")<Monitor, MonitorShape>() {
  /** The Monitor layer (same as the module's `layer`). */
  static get layer(): Layer.Layer<Monitor, StoreError, Requirements> {
    return layer
  }
}

const conditionOf = (status: JobStatus): ExitCondition | undefined =>
  status === "Done" ? "success" : status === "Failed" ? "failure" : status === "Killed" ? "killed" : undefined

const idOf = (job: JobRef): string => typeof job === "string" ? job : job.jobId

/** Runs a user callback as an Effect, whatever kind it is (its services are provided by the caller). */
const runCallback = (callback: JobCallback, record: JobRecord): Effect.Effect<void, unknown> =>
  Effect.suspend(() => {
    const result = callback(record)
    if (Effect.isEffect(result)) return Effect.asVoid(result as Effect.Effect<unknown, unknown>)
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      return Effect.tryPromise({ try: () => result as PromiseLike<unknown>, catch: (e) => e }).pipe(Effect.asVoid)
    }
    return Effect.void
  })

/** How a Monitor starts. */
export interface MonitorOptions {
  /**
   * Which jobs left unfinished by programs that ended or died to take over: every one of this
   * executor (the default, for a program that is restarted), none (for a program that only
   * submits and watches its own), or the given ids (a command that waits for those).
   */
  readonly adopt?: "all" | "none" | ReadonlyArray<string> | undefined
}

/** What a callback failed with, in words: an Error's message, or the value itself. */
const failureText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  if (failure instanceof Error) return failure.message === "" ? failure.name : failure.message
  return typeof failure === "string" ? failure : Inspectable.toStringUnknown(failure, 0)
}

interface Registration {
  readonly condition: ExitCondition
  readonly callback: JobCallback
  /** The services the callback was registered with: it runs with them. */
  readonly services: Context.Context<never>
}

export const makeWith = (monitorOptions: MonitorOptions) => Effect.gen(function*() {
  const { options } = yield* ClusterConfig
  const executor = yield* Executor
  const store = yield* JobStore
  const platform = Context.make(FileSystem.FileSystem, yield* FileSystem.FileSystem).pipe(
    Context.add(Path.Path, yield* Path.Path),
    Context.add(Schedulers, yield* Schedulers)
  )
  const pollInterval = Duration.seconds(options.poll_interval)
  const zombieMillis = options.zombie_timeout_minutes * 60_000
  const retentionMillis = options.completed_retention_minutes * 60_000

  const events = yield* PubSub.unbounded<JobEvent>()
  yield* Effect.addFinalizer(() => PubSub.shutdown(events))
  const callbackFibers = yield* FiberSet.make()
  const failures = yield* Ref.make(0)

  // Callback and waiter registration and the handling of a job's end take this lock, so a
  // callback registered while its job ends fires exactly once.
  const lock = yield* Effect.makeSemaphore(1)
  const callbacks = new Map<string, Array<Registration>>()
  const waiters = new Map<string, Set<Deferred.Deferred<JobRecord>>>()
  /** Callbacks still running, per job: a job is purged only once this is zero. */
  const running = new Map<string, number>()
  /** Ended jobs waiting for purge, in order of their end. */
  const ended = new Map<string, number>()
  /** This program's unfinished jobs as last seen, to notice ends that another program wrote. */
  const watched = new Map<string, JobRecord>()
  /** Jobs this program owns (submitted or adopted): only their deliveries are recorded. */
  const owned = new Set<string>()
  /** Cancelled jobs the scheduler has not yet reported ended, and when the cancel was seen (ms). */
  const closing = new Map<string, number>()
  /** Failed jobs whose next attempt is waiting to be submitted, and that attempt's number. */
  const retrying = new Map<string, number>()
  const retryFibers = yield* FiberSet.make()
  /** Endings found at start, held for the first event stream; their jobs' ids. */
  let backlog: Array<JobEvent> = []
  const backlogIds = new Set<string>()

  const now = Clock.currentTimeMillis
  /** A job of this Monitor's executor, as the store knows it. */
  const keyOf = (jobId: string): JobKey => ({ executor: executor.kind, jobId })

  const deliver = (jobIds: ReadonlyArray<string>) => {
    const mine = jobIds.filter((id) => owned.has(id))
    return mine.length === 0 ? Effect.void : store.markDelivered(mine.map(keyOf)).pipe(
      Effect.catchAll((e) => Effect.logWarning(`could not record the delivery of ${mine.join(", ")}: ${e.message}`))
    )
  }

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
        Effect.provide(registration.services),
        // The cause itself, so that the log shows its stack (an Error alone prints as `{}`).
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`callback for job ${record.jobId} (${record.name}) failed: ${failureText(cause)}`, cause)
        ),
        Effect.ensuring(done)
      )
    ).pipe(Effect.asVoid)
  }

  /** Events for one change: element changes first (an array's own change is their consequence). */
  const eventsOf = (change: JobChange, at: Date): Array<JobEvent> => {
    const { after, before } = change
    if (before === undefined) return [{ _tag: "JobSubmitted", record: after, at }]
    const out: Array<JobEvent> = []
    const previous = new Map((before.elements ?? []).map((e) => [e.index, e.status] as const))
    for (const e of after.elements ?? []) {
      const from = previous.get(e.index)
      if (from !== e.status) {
        out.push({
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
      out.push({ _tag: "JobStatusChanged", from: before.status, to: after.status, record: after, at })
    }
    return out
  }

  /**
   * Claims a job's end for announcement: true the first time only. The check and the claim are one
   * synchronous step, so the change feed and a tick's catch-up never both announce one end.
   */
  const claimEnd = (record: JobRecord, at: Date, retry: Option.Option<RetryPlan>) =>
    Effect.sync(() => {
      if (ended.has(record.jobId)) return false
      ended.set(record.jobId, (record.finishTime ?? at).getTime())
      watched.delete(record.jobId)
      if (Option.isSome(retry)) retrying.set(record.jobId, retry.value.attempt)
      return true
    })

  /**
   * Hands what waits on attempt `from` (callbacks, awaiters) to its next attempt `to`; if `to`
   * has ended and settled already, they get its end at once.
   */
  const handOver = (from: string, to: string) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const registered = callbacks.get(from) ?? []
      const waiting = waiters.get(from) ?? new Set<Deferred.Deferred<JobRecord>>()
      callbacks.delete(from)
      waiters.delete(from)
      if (ended.has(to) && !retrying.has(to)) {
        const current = yield* store.get(keyOf(to))
        if (Option.isSome(current)) {
          for (const r of registered) yield* fire(r, current.value)
          for (const d of waiting) yield* Deferred.succeed(d, current.value)
          return
        }
      }
      if (registered.length > 0) callbacks.set(to, [...(callbacks.get(to) ?? []), ...registered])
      if (waiting.size > 0) waiters.set(to, new Set([...(waiters.get(to) ?? []), ...waiting]))
    }))

  /**
   * A failed job's next attempt: announced now, submitted after the policy's backoff (minus
   * `elapsedMillis` already waited), linked to it in the store; what waited on the failed job
   * then waits on the new one, and the failed job's end counts as delivered. If the submit
   * fails, the failed job's end is announced as final.
   */
  const scheduleRetry = (record: JobRecord, plan: RetryPlan, at: Date, elapsedMillis = 0) =>
    Effect.gen(function*() {
      const delayMillis = Math.max(0, plan.delayMillis - elapsedMillis)
      yield* PubSub.publish(events, {
        _tag: "JobRetrying",
        record,
        attempt: plan.attempt,
        delayMillis,
        escalated: plan.escalated,
        at
      })
      yield* Effect.logDebug(
        `job ${record.jobId} (${record.name}) failed; attempt ${plan.attempt} in ${delayMillis / 1000}s${
          plan.escalated.length > 0 ? ` with ${plan.escalated.join(", ")}` : ""
        }`
      )
      const resubmit = submitAttempt(record, plan.spec, plan.attempt).pipe(
        Effect.provideService(Executor, executor),
        Effect.provideService(JobStore, store),
        Effect.matchCauseEffect({
          onFailure: (cause) =>
            Effect.gen(function*() {
              retrying.delete(record.jobId)
              yield* Effect.logWarning(
                `could not submit attempt ${plan.attempt} of job ${record.jobId} (${record.name}); its failure stands`,
                Cause.squash(cause)
              )
              const latest = Option.getOrElse(yield* store.get(record), () => record)
              yield* settle(latest)
              yield* deliver([record.jobId])
            }),
          onSuccess: (next) =>
            Effect.gen(function*() {
              yield* handOver(record.jobId, next.jobId)
              retrying.delete(record.jobId)
              yield* deliver([record.jobId])
            })
        })
      )
      yield* FiberSet.run(retryFibers, Effect.sleep(Duration.millis(delayMillis)).pipe(Effect.zipRight(resubmit)))
    })

  /** A claimed end: callbacks fire and waiters are released (under the lock). */
  const settle = (record: JobRecord) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const registered = callbacks.get(record.jobId) ?? []
      callbacks.delete(record.jobId)
      for (const r of registered) yield* fire(r, record)
      for (const d of waiters.get(record.jobId) ?? []) yield* Deferred.succeed(d, record)
      waiters.delete(record.jobId)
    }))

  /** Called for every status change, in write order. */
  const handle = (change: JobChange, at: Date) =>
    Effect.gen(function*() {
      const { after, before } = change
      // Another executor's job sharing the store (its own Monitor follows it).
      if (after.executor !== executor.kind) return
      if (before === undefined) owned.add(after.jobId)
      if (!isTerminal(after)) {
        if (owned.has(after.jobId)) watched.set(after.jobId, after)
        return yield* PubSub.publishAll(events, eventsOf(change, at))
      }
      const retry = owned.has(after.jobId) ? planRetry(after, options) : Option.none()
      if (!(yield* claimEnd(after, at, retry))) return
      if (owned.has(after.jobId) && after.executor === executor.kind && isCancelled(after)) {
        closing.set(after.jobId, at.getTime())
      }
      yield* PubSub.publishAll(events, eventsOf(change, at))
      if (Option.isSome(retry)) return yield* scheduleRetry(after, retry.value, at)
      yield* settle(after)
      yield* deliver([after.jobId])
    })

  // Start: adopt what a program that ended or died left unfinished, and ask about it once.
  const adopt = monitorOptions.adopt ?? "all"
  // Submissions a dead program left in flight become jobs of this program (or failed submits).
  const recovered = yield* (executor.recoverSubmits ?? Effect.succeed([])).pipe(
    Effect.catchAll((e) =>
      Effect.logWarning(`submissions a program left unfinished stay for the next program to settle: ${e.message}`).pipe(
        Effect.as([])
      )
    )
  )
  const adoptedFromStore = adopt === "none" ? { active: [], undelivered: [] } : yield* store.adopt({
    executor: executor.kind,
    // Jobs watched only from the host that ran them are left to a program on that host.
    sameHostOnly: executor.capabilities.hostBound,
    ids: adopt === "all" ? undefined : adopt
  })
  const adopted = {
    active: [...recovered.filter((r) => !isTerminal(r)), ...adoptedFromStore.active],
    undelivered: [...recovered.filter(isTerminal), ...adoptedFromStore.undelivered]
  }
  for (const r of [...adopted.active, ...adopted.undelivered]) owned.add(r.jobId)
  for (const r of adopted.active) watched.set(r.jobId, r)
  if (adopted.active.length > 0) {
    yield* executor.resume(adopted.active)
    yield* Effect.logInfo(`resumed ${adopted.active.length} unfinished ${executor.kind} job(s) from the job store`)
  }

  const purge = (nowMillis: number) =>
    Effect.gen(function*() {
      const due: Array<string> = []
      for (const [jobId, endMillis] of ended) {
        if (nowMillis - endMillis < retentionMillis) continue
        if ((running.get(jobId) ?? 0) > 0 || callbacks.has(jobId) || waiters.has(jobId) || retrying.has(jobId)) continue
        due.push(jobId)
      }
      if (due.length === 0) return 0
      for (const jobId of due) {
        ended.delete(jobId)
        owned.delete(jobId)
      }
      // A persistent store keeps ended jobs: the Monitor only stops tracking them.
      if (store.persistent) return 0
      yield* store.remove(due.map(keyOf))
      const at = new Date(nowMillis)
      for (const jobId of due) yield* PubSub.publish(events, { _tag: "JobPurged", jobId, at })
      return due.length
    })

  /**
   * Jobs whose end was written by another program sharing the store (a cancel from the command
   * line), and jobs of other programs that someone here awaits: re-read, and settled when ended.
   */
  const catchUp = (activeIds: ReadonlySet<string>, at: Date) =>
    Effect.gen(function*() {
      const ids = new Set<string>()
      for (const id of watched.keys()) if (!activeIds.has(id)) ids.add(id)
      for (const id of [...waiters.keys(), ...callbacks.keys()]) if (!owned.has(id)) ids.add(id)
      if (ids.size === 0) return
      for (const record of yield* store.list({ ids: [...ids], executor: executor.kind })) {
        if (!isTerminal(record)) continue
        if (!owned.has(record.jobId)) {
          // Another program's job: follow it to its next attempt, or wait for its owner to submit one.
          if (record.retriedBy !== undefined) {
            yield* handOver(record.jobId, record.retriedBy)
            continue
          }
          if (Option.isSome(planRetry(record, options))) continue
        }
        const before = watched.get(record.jobId)
        yield* handle({ before: before ?? { ...record, status: "Running" }, after: record }, at)
      }
      // Owned jobs that left this program's hands some other way (removed, adopted elsewhere).
      for (const id of ids) if (watched.has(id) && !activeIds.has(id)) watched.delete(id)
    })

  /**
   * The observations of a poll that can be applied, by job. One with a problem (an unreadable
   * row, a value out of range) is left out, so its job stays as it was: logged, and published as
   * a PollFailed naming the job when the job is one of `tracked`.
   */
  const readable = (observations: ReadonlyArray<Observation>, tracked: ReadonlySet<string>, at: Date) =>
    Effect.gen(function*() {
      const seen = new Map<string, Observation>()
      for (const o of observations) {
        const problem = observationProblem(o)
        if (problem === undefined) {
          seen.set(o.jobId, o)
          continue
        }
        if (!tracked.has(o.jobId)) continue
        const message = `${executor.kind} job ${o.jobId} left as it was: what ${executor.kind} says of it is unreadable (${problem})`
        yield* Effect.logWarning(message)
        yield* PubSub.publish(events, { _tag: "PollFailed", executor: executor.kind, jobId: o.jobId, message, consecutiveFailures: 0, at })
      }
      return seen
    })

  /**
   * The cancelled jobs still closing, as the store holds them. A job is let go once the store no
   * longer holds it cancelled (purged, removed) or its cancel is older than the zombie timeout.
   */
  const closingRecords = (nowMillis: number) =>
    Effect.gen(function*() {
      for (const [jobId, since] of closing) {
        if (nowMillis - since <= zombieMillis) continue
        closing.delete(jobId)
        yield* Effect.logDebug(
          `cancelled job ${jobId}: ${executor.kind} did not report its end within ${options.zombie_timeout_minutes} min; its record keeps what was known`
        )
      }
      if (closing.size === 0) return []
      const held = (yield* store.list({ ids: [...closing.keys()] })).filter(isCancelled)
      const kept = new Set(held.map((r) => r.jobId))
      for (const jobId of closing.keys()) if (!kept.has(jobId)) closing.delete(jobId)
      return held
    })

  // Ticks never overlap: the fiber's and any caller's run one after the other.
  const tickLock = yield* Effect.makeSemaphore(1)

  const tick: MonitorShape["tick"] = Effect.gen(function*() {
    const active = yield* store.list({ active: true, owned: true, executor: executor.kind })
    const startMillis = yield* now
    // Cancelled jobs are asked about with the active ones until the scheduler reports their end.
    const cancelled = yield* closingRecords(startMillis)
    const polledJobs = [...active, ...cancelled]
    let polled = false
    let failed = false
    let observed = 0
    let changed = 0
    let vanished = 0
    if (polledJobs.length > 0) {
      polled = true
      const result = yield* Effect.either(executor.poll(polledJobs))
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
        const seen = yield* readable(result.right, new Set(active.map((r) => r.jobId)), at)
        observed = seen.size
        // A job about to end Done is first checked against its spec (expected outputs, log errors).
        const withObservation = yield* observedWithChecks(active, seen, at, options).pipe(Effect.provide(platform))
        const changes = yield* store.modify(polledJobs, (current) => {
          const o = seen.get(current.jobId)
          if (o !== undefined) return withObservation(current, o)
          return isZombie(current, at, zombieMillis) ? vanish(current, at) : current
        })
        changed = changes.length
        for (const r of cancelled) {
          const o = seen.get(r.jobId)
          if (o !== undefined && reportsEnd(r, o)) closing.delete(r.jobId)
        }
        vanished = changes.filter((c) => c.after.reason?._tag === "Vanished").length
        if (vanished > 0) {
          yield* Effect.logWarning(
            `${vanished} job(s) unseen for over ${options.zombie_timeout_minutes} min marked Failed (vanished)`
          )
        }
      }
    }
    yield* catchUp(new Set(active.map((r) => r.jobId)), new Date(startMillis))
    const purged = yield* purge(startMillis)
    return { active: active.length, polled, failed, observed, changed, vanished, purged }
  }).pipe(tickLock.withPermits(1), Effect.withSpan("Monitor.tick"))

  // The first tick runs before the change feed is followed: what it finds about adopted jobs is
  // announced through the backlog, to the first event stream, rather than to nobody.
  const startedAt = new Date(yield* now)
  if (adopted.active.length > 0) yield* tick
  const after = adopted.active.length === 0
    ? []
    : yield* store.list({ ids: adopted.active.map((r) => r.jobId), executor: executor.kind })
  const beforeResume = new Map(adopted.active.map((r) => [r.jobId, r] as const))
  const endedOnStart: Array<JobRecord> = []
  for (const record of after) {
    const before = beforeResume.get(record.jobId)
    if (before === undefined) continue
    backlog.push(...eventsOf({ before, after: record }, startedAt))
    if (isTerminal(record)) endedOnStart.push(record)
    else watched.set(record.jobId, record)
  }
  for (const record of adopted.undelivered) {
    const last = (yield* store.transitions(record)).at(-1)
    backlog.push({ _tag: "JobStatusChanged", from: last?.from ?? "Running", to: record.status, record, at: startedAt })
    endedOnStart.push(record)
  }
  // A failed job whose retry was never submitted (its program died while waiting) gets it now.
  const retriesOnStart: Array<readonly [JobRecord, RetryPlan]> = []
  for (const record of endedOnStart) {
    ended.set(record.jobId, (record.finishTime ?? startedAt).getTime())
    watched.delete(record.jobId)
    if (isCancelled(record) && record.executor === executor.kind) closing.set(record.jobId, startedAt.getTime())
    const retry = planRetry(record, options)
    if (Option.isSome(retry)) {
      retrying.set(record.jobId, retry.value.attempt)
      retriesOnStart.push([record, retry.value])
    } else backlogIds.add(record.jobId)
  }
  const resumed: ResumeReport = { adopted: adopted.active, ended: endedOnStart }

  /** Hands the start-up announcements to the first consumer that asks, once. */
  const takeBacklog = Effect.gen(function*() {
    const taken = backlog
    backlog = []
    const ids = [...backlogIds]
    backlogIds.clear()
    if (ids.length > 0) yield* deliver(ids)
    return taken
  })

  // Subscribe before anything else can be written, then follow the feed for the layer's life.
  const feed = yield* store.subscribe
  yield* Queue.take(feed).pipe(
    Effect.flatMap((change) => now.pipe(Effect.flatMap((ms) => handle(change, new Date(ms))))),
    Effect.catchAllCause((cause) => Effect.logError("Monitor could not handle a job change", cause)),
    Effect.forever,
    Effect.forkScoped
  )

  // The polling fiber: a failing tick (the store itself failing) is logged, never fatal.
  yield* tick.pipe(
    Effect.catchAllCause((cause) => Effect.logError("Monitor tick failed", cause)),
    Effect.repeat(Schedule.spaced(pollInterval)),
    Effect.delay(adopted.active.length > 0 ? pollInterval : Duration.zero),
    Effect.forkScoped
  )

  for (const [record, plan] of retriesOnStart) {
    const waited = startedAt.getTime() - (record.finishTime ?? startedAt).getTime()
    yield* scheduleRetry(record, plan, startedAt, waited)
  }

  /** A job's record, or its last attempt's when it was retried (what waiting on it waits for). */
  const lookup = (jobId: string) =>
    Effect.gen(function*() {
      const found = yield* store.get(keyOf(jobId))
      if (Option.isNone(found)) return yield* new JobNotFound({ jobId })
      return yield* lastAttemptOf(found.value).pipe(Effect.provideService(JobStore, store))
    })

  /** Ended for good: terminal, and no next attempt is on its way. */
  const settled = (record: JobRecord) => isTerminal(record) && !retrying.has(record.jobId)

  const onExit: MonitorShape["onExit"] = <Result>(job: JobRef, callback: JobCallback<Result>, condition: ExitCondition = "any") =>
    lock.withPermits(1)(Effect.gen(function*() {
      const record = yield* lookup(idOf(job))
      // What the callback's Effect requires is required here, and given to it when it runs.
      const services: Context.Context<never> = yield* Effect.context<CallbackRequirements<Result>>()
      const registration: Registration = { condition, callback, services }
      if (settled(record)) {
        yield* fire(registration, record)
        if (backlogIds.delete(record.jobId)) yield* deliver([record.jobId])
        return
      }
      const list = callbacks.get(record.jobId)
      if (list === undefined) callbacks.set(record.jobId, [registration])
      else list.push(registration)
    }))

  const awaitAll: MonitorShape["awaitAll"] = (jobs, awaitOptions) => {
    const ids = jobs.map(idOf)
    const registered: Array<readonly [string, Deferred.Deferred<JobRecord>]> = []
    const wait = Effect.gen(function*() {
      const pending = yield* lock.withPermits(1)(Effect.forEach(ids, (jobId) =>
        Effect.gen(function*() {
          const record = yield* lookup(jobId)
          const d = yield* Deferred.make<JobRecord>()
          if (settled(record)) yield* Deferred.succeed(d, record)
          else {
            const set = waiters.get(record.jobId) ?? new Set()
            set.add(d)
            waiters.set(record.jobId, set)
            registered.push([record.jobId, d])
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

  /** The event stream: the start-up backlog (to the first stream only), then live events. */
  const stream = Effect.gen(function*() {
    const live = yield* PubSub.subscribe(events)
    const first = yield* takeBacklog
    return Stream.concat(Stream.fromIterable(first), Stream.fromQueue(live))
  })

  const shape: MonitorShape = {
    tick,
    onExit,
    onSuccess: (job, callback) => onExit(job, callback, "success"),
    onFailure: (job, callback) => onExit(job, callback, "failure"),
    await: (job, awaitOptions) =>
      awaitAll([job], awaitOptions).pipe(Effect.map((records) => records[0] as JobRecord)),
    awaitAll,
    events: Stream.unwrapScoped(stream),
    subscribe: stream,
    consecutivePollFailures: Ref.get(failures),
    resumed
  }
  return shape
})

/** The Monitor that adopts every job a program before it left unfinished. */
export const make = makeWith({})

/** The Monitor, polling from the moment the layer is built until its scope closes. */
export const layer: Layer.Layer<Monitor, StoreError, Requirements> = Layer.scoped(
  Monitor,
  make
)

/** The Monitor, started as `options` say. */
export const layerWith = (
  options: MonitorOptions
): Layer.Layer<Monitor, StoreError, Requirements> => Layer.scoped(Monitor, makeWith(options))
