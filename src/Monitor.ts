/**
 * Monitor: the polling fiber and everything that happens when a job changes.
 *
 * Started with its layer and stopped with the layer's scope, it polls every `poll_interval`:
 * ONE `Executor.poll` for all active jobs per tick, observations turned into transitions by the
 * pure functions in internal/transition.ts and written through the JobStore, and jobs nobody reported for
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
  Chunk,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  FiberSet,
  Layer,
  PubSub,
  Queue,
  Ref,
  Stream,
  SynchronizedRef
} from "effect"
import { ClusterConfig } from "./Config.js"
import type { JobEvent, JobRecord } from "./Domain.js"
import { AwaitTimeout, JobNotFound } from "./Errors.js"
import type { StoreError } from "./Errors.js"
import { Executor } from "./Executor.js"
import * as Delivery from "./internal/monitor/delivery.js"
import type { MonitorContext } from "./internal/monitor/delivery.js"
import * as Startup from "./internal/monitor/startup.js"
import type { ResumeReport } from "./internal/monitor/startup.js"
import * as State from "./internal/monitor/state.js"
import type { ExitCondition } from "./internal/monitor/state.js"
import * as Tick from "./internal/monitor/tick.js"
import type { TickReport } from "./internal/monitor/tick.js"
import { JobStore } from "./JobStore.js"
import { lastAttemptOf } from "./Retry.js"
import { Schedulers } from "./Scheduler.js"

export type { ExitCondition, ResumeReport, TickReport }

/**
 * What the Monitor needs: the config, the executor, the store, and files and the schedulers' log
 * paths (for a job's output checks).
 */
export type Requirements = ClusterConfig | Executor | JobStore | FileSystem.FileSystem | Path.Path | Schedulers

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

const idOf = (job: JobRef): string => typeof job === "string" ? job : job.jobId

/** How a Monitor starts. */
export interface MonitorOptions {
  /**
   * Which jobs left unfinished by programs that ended or died to take over: every one of this
   * executor (the default, for a program that is restarted), none (for a program that only
   * submits and watches its own), or the given ids (a command that waits for those).
   */
  readonly adopt?: Startup.Adopt | undefined
}

/** A job's record, or its last attempt's when it was retried (what waiting on it waits for). */
const lookup = (ctx: MonitorContext, jobId: string) =>
  Effect.gen(function*() {
    const found = yield* ctx.store.get(Delivery.keyOf(ctx, jobId))
    if (found._tag === "None") return yield* new JobNotFound({ jobId })
    return yield* lastAttemptOf(found.value).pipe(Effect.provideService(JobStore, ctx.store))
  })

/** `onExit`: a callback registered (under the state's lock, so it fires exactly once), or run now. */
const onExit = (ctx: MonitorContext): MonitorShape["onExit"] =>
<Result>(job: JobRef, callback: JobCallback<Result>, condition: ExitCondition = "any") =>
  Effect.gen(function*() {
    // What the callback's Effect requires is required here, and given to it when it runs.
    const services: Context.Context<never> = yield* Effect.context<CallbackRequirements<Result>>()
    const registration: State.Registration = { condition, callback, services }
    const delivered = yield* SynchronizedRef.modifyEffect(ctx.state, (state) =>
      Effect.gen(function*() {
        const record = yield* lookup(ctx, idOf(job))
        const [now, next] = State.register(state, record, registration)
        if (now.fire) yield* Delivery.fire(ctx, [registration], record)
        return [now.delivered ? [record.jobId] : [], next] as const
      }))
    if (delivered.length > 0) yield* Delivery.deliver(ctx, delivered)
  })

/** `awaitAll`: one waiter per job (released at once for a settled one), removed when the wait ends. */
const awaitAll = (ctx: MonitorContext): MonitorShape["awaitAll"] => (jobs, awaitOptions) => {
  const ids = jobs.map(idOf)
  const registered: Array<readonly [string, State.Waiter]> = []
  const wait = Effect.gen(function*() {
    const pending = yield* Effect.forEach(ids, (jobId) =>
      SynchronizedRef.modifyEffect(ctx.state, (state) =>
        Effect.gen(function*() {
          const record = yield* lookup(ctx, jobId)
          const d = yield* Deferred.make<JobRecord>()
          const [settled, next] = State.addWaiter(state, record, d)
          if (settled) yield* Deferred.succeed(d, record)
          else registered.push([record.jobId, d])
          return [d, next] as const
        })))
    return yield* Effect.forEach(pending, (d) => Deferred.await(d))
  })
  const cleanup = SynchronizedRef.update(ctx.state, (state) =>
    registered.reduce((s, [jobId, d]) => State.removeWaiter(s, jobId, d), state))
  const timeout = awaitOptions?.timeout
  const bounded = timeout === undefined ? wait : wait.pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new AwaitTimeout({ jobIds: ids, timeoutMillis: Duration.toMillis(Duration.decode(timeout)) })
    })
  )
  return bounded.pipe(Effect.ensuring(cleanup))
}

/** The event stream: the start-up backlog (to the first stream only, its deliveries then recorded), then live events. */
const eventStream = (ctx: MonitorContext) =>
  Effect.gen(function*() {
    const live = yield* PubSub.subscribe(ctx.events)
    const first = yield* SynchronizedRef.modify(ctx.state, State.takeBacklog)
    if (first.delivered.length > 0) yield* Delivery.deliver(ctx, first.delivered)
    return Stream.concat(Stream.fromIterable(first.events), Stream.fromQueue(live))
  })

export const makeWith = (monitorOptions: MonitorOptions) =>
  Effect.gen(function*() {
    const { options } = yield* ClusterConfig
    const events = yield* PubSub.unbounded<JobEvent>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(events))
    const ctx: MonitorContext = {
      options,
      executor: yield* Executor,
      store: yield* JobStore,
      platform: Context.make(FileSystem.FileSystem, yield* FileSystem.FileSystem).pipe(
        Context.add(Path.Path, yield* Path.Path),
        Context.add(Schedulers, yield* Schedulers)
      ),
      state: yield* SynchronizedRef.make(State.empty),
      events,
      callbackFibers: yield* FiberSet.make(),
      retryFibers: yield* FiberSet.make(),
      failures: yield* Ref.make(0)
    }
    const pollInterval = Duration.seconds(options.poll_interval)
    const now = Clock.currentTimeMillis
    // Ticks never overlap: the fiber's and any caller's run one after the other.
    const tickLock = yield* Effect.makeSemaphore(1)
    const tick = Tick.tick(ctx, now).pipe(tickLock.withPermits(1))

    const started = yield* Startup.start(ctx, monitorOptions.adopt ?? "all", tick, now)

    // Subscribe before anything else can be written, then follow the feed for the layer's life:
    // every change waiting is handled at once (one store write's changes come together, so the
    // ends one tick wrote have their deliveries recorded in one write).
    const feed = yield* ctx.store.subscribe
    const waiting = Effect.flatMap(Queue.take(feed), (first) =>
      Effect.map(Queue.takeAll(feed), (rest) => [first, ...Chunk.toReadonlyArray(rest)]))
    yield* waiting.pipe(
      Effect.flatMap((changes) => now.pipe(Effect.flatMap((ms) => Delivery.handleAll(ctx, changes, new Date(ms))))),
      Effect.catchAllCause((cause) => Effect.logError("Monitor could not handle a job change", cause)),
      Effect.forever,
      Effect.forkScoped
    )

    // The polling fiber: a tick every poll_interval, or at once when the executor says one of its
    // jobs has ended (a local process's exit). A failing tick (the store itself failing) is
    // logged, never fatal.
    const wake = ctx.executor.ended ?? Effect.never
    yield* tick.pipe(
      Effect.catchAllCause((cause) => Effect.logError("Monitor tick failed", cause)),
      Effect.zipRight(Effect.race(Effect.sleep(pollInterval), wake)),
      Effect.forever,
      Effect.delay(started.resumed.adopted.length > 0 ? pollInterval : Duration.zero),
      Effect.forkScoped
    )

    for (const [record, plan] of started.retries) {
      const waited = started.startedAt.getTime() - (record.finishTime ?? started.startedAt).getTime()
      yield* Delivery.scheduleRetry(ctx, record, plan, started.startedAt, waited)
    }

    const register = onExit(ctx)
    const waitAll = awaitAll(ctx)
    const shape: MonitorShape = {
      tick,
      onExit: register,
      onSuccess: (job, callback) => register(job, callback, "success"),
      onFailure: (job, callback) => register(job, callback, "failure"),
      await: (job, awaitOptions) => waitAll([job], awaitOptions).pipe(Effect.map((records) => records[0] as JobRecord)),
      awaitAll: waitAll,
      events: Stream.unwrapScoped(eventStream(ctx)),
      subscribe: eventStream(ctx),
      consecutivePollFailures: Ref.get(ctx.failures),
      resumed: started.resumed
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
