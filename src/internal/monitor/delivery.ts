/**
 * What the Monitor does when a job changes: events published, callbacks fired once, waiters
 * released, deliveries recorded, failed jobs retried (their callbacks and waiters moved to the
 * next attempt). Every decision is a pure step of state.ts, applied to the Monitor's one
 * SynchronizedRef; the effects follow from what the step returned.
 */
import type { FileSystem, Path } from "@effect/platform"
import type { Context, Ref } from "effect"
import { Cause, Deferred, Duration, Effect, FiberSet, Inspectable, Option, PubSub, SynchronizedRef } from "effect"
import type { ConfigOptions } from "../../Config.js"
import type { JobEvent, JobRecord } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import type { ExecutorShape } from "../../Executor.js"
import { Executor } from "../../Executor.js"
import type { JobChange, JobKey, JobStoreShape } from "../../JobStore.js"
import { JobStore } from "../../JobStore.js"
import type { RetryPlan } from "../../Retry.js"
import { planRetry, submitAttempt } from "../../Retry.js"
import { isCancelled } from "../transition.js"
import type { Schedulers } from "../../Scheduler.js"
import * as State from "./state.js"

/** What the Monitor's parts share: its services, its one state, its event hub and fibers. */
export interface MonitorContext {
  readonly options: ConfigOptions
  readonly executor: ExecutorShape
  readonly store: JobStoreShape
  readonly platform: Context.Context<FileSystem.FileSystem | Path.Path | Schedulers>
  readonly state: SynchronizedRef.SynchronizedRef<State.MonitorState>
  readonly events: PubSub.PubSub<JobEvent>
  readonly callbackFibers: FiberSet.FiberSet
  readonly retryFibers: FiberSet.FiberSet
  /** Consecutive failed polls. */
  readonly failures: Ref.Ref<number>
}

/** A job of this Monitor's executor, as the store knows it. */
export const keyOf = (ctx: MonitorContext, jobId: string): JobKey => ({ executor: ctx.executor.kind, jobId })

/** Runs a user callback as an Effect, whatever kind it is (its services are provided by the caller). */
const runCallback = (callback: State.Registration["callback"], record: JobRecord): Effect.Effect<void, unknown> =>
  Effect.suspend(() => {
    const result = callback(record)
    if (Effect.isEffect(result)) return Effect.asVoid(result as Effect.Effect<unknown, unknown>)
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      return Effect.tryPromise({ try: () => result as PromiseLike<unknown>, catch: (e) => e }).pipe(Effect.asVoid)
    }
    return Effect.void
  })

/** What a callback failed with, in words: an Error's message, or the value itself. */
export const failureText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  if (failure instanceof Error) return failure.message === "" ? failure.name : failure.message
  return typeof failure === "string" ? failure : Inspectable.toStringUnknown(failure, 0)
}

/** Events for one change: element changes first (an array's own change is their consequence). */
export const eventsOf = (change: JobChange, at: Date): Array<JobEvent> => {
  const { after, before } = change
  if (before === undefined) return [{ _tag: "JobSubmitted", record: after, at }]
  const out: Array<JobEvent> = []
  // A plain job (no elements) skips the elements' comparison: this runs for every change.
  const previous = after.elements === undefined || after.elements.length === 0 || after.elements === before.elements
    ? undefined
    : new Map((before.elements ?? []).map((e) => [e.index, e.status] as const))
  for (const e of previous === undefined ? [] : after.elements ?? []) {
    const from = previous?.get(e.index)
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

/** Records the delivery of the ends of `jobIds` this program owns (the next start announces only the others). */
export const deliver = (ctx: MonitorContext, jobIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const state = yield* SynchronizedRef.get(ctx.state)
    const mine = jobIds.filter((id) => State.isOwned(state, id))
    if (mine.length === 0) return
    yield* ctx.store.markDelivered(mine.map((id) => keyOf(ctx, id))).pipe(
      Effect.catchAll((e) => Effect.logWarning(`could not record the delivery of ${mine.join(", ")}: ${e.message}`))
    )
  })

/**
 * Runs callbacks the state counted as running (a step returned them) with `record`, each in its
 * own fiber and with its registration's services; its end is counted back. A failure is logged
 * with its cause (so its stack shows), never raised.
 */
export const fire = (ctx: MonitorContext, registrations: ReadonlyArray<State.Registration>, record: JobRecord) =>
  Effect.forEach(registrations, (registration) =>
    FiberSet.run(
      ctx.callbackFibers,
      runCallback(registration.callback, record).pipe(
        Effect.provide(registration.services as Context.Context<never>),
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`callback for job ${record.jobId} (${record.name}) failed: ${failureText(cause)}`, cause)
        ),
        Effect.ensuring(SynchronizedRef.update(ctx.state, (s) => State.callbackDone(s, record.jobId)))
      )
    ), { discard: true })

/** Releases waiters with `record`. */
const release = (waiters: ReadonlyArray<State.Waiter>, record: JobRecord) =>
  Effect.forEach(waiters, (d) => Deferred.succeed(d, record), { discard: true })

/** A claimed end: callbacks fire and waiters are released. */
export const settle = (ctx: MonitorContext, record: JobRecord) => settleAll(ctx, [record])

/** Claimed ends: their callbacks fire and their waiters are released, under one hold of the state. */
export const settleAll = (ctx: MonitorContext, records: ReadonlyArray<JobRecord>) =>
  SynchronizedRef.modifyEffect(ctx.state, (state) =>
    Effect.gen(function*() {
      let s = state
      for (const record of records) {
        const [settlement, next] = State.settle(s, record)
        s = next
        if (settlement.fire.length > 0) yield* fire(ctx, settlement.fire, record)
        if (settlement.release.length > 0) yield* release(settlement.release, record)
      }
      return [undefined, s] as const
    }))

/**
 * Hands what waits on attempt `from` (callbacks, awaiters) to its next attempt `to`; if `to`
 * has ended and settled already, they get its end at once.
 */
export const handOver = (ctx: MonitorContext, from: string, to: string) =>
  SynchronizedRef.modifyEffect(ctx.state, (state) =>
    Effect.gen(function*() {
      const [waiting, taken] = State.takeWaiting(state, from)
      const toEntry = State.entry(taken, to)
      if (toEntry.endedAt !== undefined && toEntry.retryAttempt === undefined) {
        const current = yield* ctx.store.get(keyOf(ctx, to))
        if (Option.isSome(current)) {
          const [fired, next] = State.fireNow(taken, current.value, waiting.callbacks)
          yield* fire(ctx, fired, current.value)
          yield* release(waiting.release, current.value)
          return [undefined, next] as const
        }
      }
      return [undefined, State.attach(taken, to, waiting.callbacks, waiting.release)] as const
    }))

/** The JobRetrying event announcing a failed job's next attempt, `delayMillis` from `at`. */
const retrying = (record: JobRecord, plan: RetryPlan, at: Date, delayMillis: number): JobEvent => ({
  _tag: "JobRetrying",
  record,
  attempt: plan.attempt,
  delayMillis,
  escalated: plan.escalated,
  at
})

/**
 * A failed job's next attempt: announced now, submitted after the policy's backoff (minus
 * `elapsedMillis` already waited), linked to it in the store; what waited on the failed job
 * then waits on the new one, and the failed job's end counts as delivered. If the submit
 * fails, the failed job's end is announced as final.
 */
export const scheduleRetry = (ctx: MonitorContext, record: JobRecord, plan: RetryPlan, at: Date, elapsedMillis = 0) =>
  Effect.gen(function*() {
    const delayMillis = Math.max(0, plan.delayMillis - elapsedMillis)
    yield* PubSub.publish(ctx.events, retrying(record, plan, at, delayMillis))
    yield* startRetry(ctx, record, plan, delayMillis)
  })

/** The retry `scheduleRetry` announced: logged, and submitted after `delayMillis` in its own fiber. */
const startRetry = (ctx: MonitorContext, record: JobRecord, plan: RetryPlan, delayMillis: number) =>
  Effect.gen(function*() {
    yield* Effect.logDebug(
      `job ${record.jobId} (${record.name}) failed; attempt ${plan.attempt} in ${delayMillis / 1000}s${
        plan.escalated.length > 0 ? ` with ${plan.escalated.join(", ")}` : ""
      }`
    )
    const retryDone = SynchronizedRef.update(ctx.state, (s) => State.retryDone(s, record.jobId))
    const resubmit = submitAttempt(record, plan.spec, plan.attempt).pipe(
      Effect.provideService(Executor, ctx.executor),
      Effect.provideService(JobStore, ctx.store),
      Effect.matchCauseEffect({
        onFailure: (cause) =>
          Effect.gen(function*() {
            yield* retryDone
            yield* Effect.logWarning(
              `could not submit attempt ${plan.attempt} of job ${record.jobId} (${record.name}); its failure stands`,
              Cause.squash(cause)
            )
            const latest = Option.getOrElse(yield* ctx.store.get(record), () => record)
            yield* settle(ctx, latest)
            yield* deliver(ctx, [record.jobId])
          }),
        onSuccess: (next) =>
          Effect.gen(function*() {
            yield* handOver(ctx, record.jobId, next.jobId)
            yield* retryDone
            yield* deliver(ctx, [record.jobId])
          })
      })
    )
    yield* FiberSet.run(ctx.retryFibers, Effect.sleep(Duration.millis(delayMillis)).pipe(Effect.zipRight(resubmit)))
  })

/** What handling a batch of changes does, decided in one step of the state. */
interface Handling {
  /** Every event of the batch, in write order. */
  readonly events: Array<JobEvent>
  /** Ends claimed now that a retry follows. */
  readonly retries: Array<readonly [JobRecord, RetryPlan]>
  /** Ends claimed now that are final: their callbacks fire, their waiters are released. */
  readonly settled: Array<JobRecord>
}

/**
 * The state step for `changes` (this executor's, in write order): new jobs owned, unfinished ones
 * watched, ends claimed (once: the change feed and a tick's catch-up never both announce one end)
 * with their retries planned; the events to publish and the ends to settle or retry.
 */
const decide = (
  ctx: MonitorContext,
  state: State.MonitorState,
  changes: ReadonlyArray<JobChange>,
  at: Date
): readonly [Handling, State.MonitorState] => {
  const out: Handling = { events: [], retries: [], settled: [] }
  let s = state
  for (const change of changes) {
    const { after, before } = change
    if (before === undefined) s = State.own(s, after.jobId)
    if (!isTerminal(after)) {
      s = State.sawUnfinished(s, after)
      for (const e of eventsOf(change, at)) out.events.push(e)
      continue
    }
    const owned = State.isOwned(s, after.jobId)
    const retry = owned ? planRetry(after, ctx.options) : Option.none<RetryPlan>()
    const [claimed, next] = State.claimEnd(s, after, at, {
      retryAttempt: Option.isSome(retry) ? retry.value.attempt : undefined,
      closing: owned && isCancelled(after)
    })
    s = next
    if (!claimed) continue
    for (const e of eventsOf(change, at)) out.events.push(e)
    if (Option.isSome(retry)) {
      out.events.push(retrying(after, retry.value, at, Math.max(0, retry.value.delayMillis)))
      out.retries.push([after, retry.value])
    } else {
      out.settled.push(after)
    }
  }
  return [out, s]
}

/**
 * Handles the status changes of one batch, in write order (all those one store write made come
 * together): events published, retries started, ends settled (callbacks fired, waiters released),
 * and then the delivery of every settled end recorded in one store write.
 */
export const handleAll = (ctx: MonitorContext, changes: ReadonlyArray<JobChange>, at: Date) =>
  Effect.gen(function*() {
    // Another executor's jobs sharing the store (its own Monitor follows them).
    const mine = changes.filter((c) => c.after.executor === ctx.executor.kind)
    if (mine.length === 0) return
    const handling = yield* SynchronizedRef.modify(ctx.state, (s) => State.batch(s, (t) => decide(ctx, t, mine, at)))
    if (handling.events.length > 0) yield* PubSub.publishAll(ctx.events, handling.events)
    for (const [record, plan] of handling.retries) yield* startRetry(ctx, record, plan, Math.max(0, plan.delayMillis))
    if (handling.settled.length === 0) return
    yield* settleAll(ctx, handling.settled)
    yield* deliver(ctx, handling.settled.map((r) => r.jobId))
  })

/** Called for one status change. */
export const handle = (ctx: MonitorContext, change: JobChange, at: Date) => handleAll(ctx, [change], at)
