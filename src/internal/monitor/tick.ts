/**
 * One tick of the Monitor: ONE `Executor.poll` for its active jobs (and the cancelled ones still
 * closing), what it says written through the store (zombies marked Failed(Vanished)), the gate
 * run on the records as written, ends another program wrote caught up, ended jobs purged.
 */
import { Effect, PubSub, Ref, SynchronizedRef } from "effect"
import { observedWithChecks } from "../diagnosis/verdict.js"
import type { JobRecord, Observation } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import type { StoreError } from "../../Errors.js"
import type { JobChange } from "../store.js"
import { planRetry } from "../../Retry.js"
import { isCancelled, isZombie, observationProblem, reportsEnd, vanish } from "../transition.js"
import type { MonitorContext } from "./delivery.js"
import { handle, handOver, keyOf } from "./delivery.js"
import * as Gate from "./gate.js"
import * as State from "./state.js"

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

/**
 * The observations of a poll that can be applied, by job, and whether any of them says its job is
 * held (else the gate has nothing to judge). One with a problem (an unreadable
 * row, a value out of range) is left out, so its job stays as it was: logged, and published as
 * a PollFailed naming the job when the job is one of `tracked`.
 */
const readable = (ctx: MonitorContext, observations: ReadonlyArray<Observation>, active: ReadonlyArray<JobRecord>, at: Date) =>
  Effect.gen(function*() {
    const kind = ctx.executor.kind
    const seen = new Map<string, Observation>()
    let held = false
    let tracked: ReadonlySet<string> | undefined // built only when an observation has a problem
    for (const o of observations) {
      const problem = observationProblem(o)
      if (problem === undefined) {
        seen.set(o.jobId, o)
        if (o.held === true) held = true
        continue
      }
      tracked ??= new Set(active.map((r) => r.jobId))
      if (!tracked.has(o.jobId)) continue
      const message = `${kind} job ${o.jobId} left as it was: what ${kind} says of it is unreadable (${problem})`
      yield* Effect.logWarning(message)
      yield* PubSub.publish(ctx.events, { _tag: "PollFailed", executor: kind, jobId: o.jobId, message, consecutiveFailures: 0, at })
    }
    return { seen, held }
  })

/**
 * The cancelled jobs still closing, as the store holds them. A job is let go once the store no
 * longer holds it cancelled (purged, removed) or its cancel is older than the zombie timeout.
 */
const closingRecords = (ctx: MonitorContext, nowMillis: number) =>
  Effect.gen(function*() {
    const zombieMillis = ctx.options.zombie_timeout_minutes * 60_000
    const { closing, expired } = yield* SynchronizedRef.modify(
      ctx.state,
      (s) => State.expireClosing(s, nowMillis, zombieMillis)
    )
    for (const jobId of expired) {
      yield* Effect.logDebug(
        `cancelled job ${jobId}: ${ctx.executor.kind} did not report its end within ${ctx.options.zombie_timeout_minutes} min; its record keeps what was known`
      )
    }
    if (closing.length === 0) return []
    const held = (yield* ctx.store.list({ ids: closing })).filter(isCancelled)
    const kept = new Set(held.map((r) => r.jobId))
    yield* SynchronizedRef.update(ctx.state, (s) => State.stopClosing(s, closing.filter((id) => !kept.has(id))))
    return held
  })

/**
 * Jobs whose end was written by another program sharing the store (a cancel from the command
 * line), and jobs of other programs that someone here awaits: re-read, and settled when ended.
 */
const catchUp = (ctx: MonitorContext, activeIds: ReadonlySet<string>, at: Date) =>
  Effect.gen(function*() {
    const ids = State.toCatchUp(yield* SynchronizedRef.get(ctx.state), activeIds)
    if (ids.length === 0) return
    for (const record of yield* ctx.store.list({ ids: [...ids], executor: ctx.executor.kind })) {
      if (!isTerminal(record)) continue
      const state = yield* SynchronizedRef.get(ctx.state)
      if (!State.isOwned(state, record.jobId)) {
        // Another program's job: follow it to its next attempt, or wait for its owner to submit one.
        if (record.retriedBy !== undefined) {
          yield* handOver(ctx, record.jobId, record.retriedBy)
          continue
        }
        if (planRetry(record, ctx.options)._tag === "Some") continue
      }
      const before = State.entry(state, record.jobId).watched
      yield* handle(ctx, { before: before ?? { ...record, status: "Running" }, after: record }, at)
    }
    yield* SynchronizedRef.update(ctx.state, (s) => State.unwatch(s, ids, activeIds))
  })

/** Ended jobs a retention after their end, with nothing left to run for them: forgotten (removed from an in-memory store). */
const purge = (ctx: MonitorContext, nowMillis: number) =>
  Effect.gen(function*() {
    const retentionMillis = ctx.options.completed_retention_minutes * 60_000
    const due = yield* SynchronizedRef.modify(ctx.state, (s) => State.purgeDue(s, nowMillis, retentionMillis))
    if (due.length === 0) return 0
    // A persistent store keeps ended jobs: the Monitor only stops tracking them.
    if (ctx.store.persistent) return 0
    yield* ctx.store.remove(due.map((id) => keyOf(ctx, id)))
    const at = new Date(nowMillis)
    for (const jobId of due) yield* PubSub.publish(ctx.events, { _tag: "JobPurged", jobId, at })
    return due.length
  })

/** Applies one poll's answer: observations written, zombies ended, the gate run. */
const apply = (
  ctx: MonitorContext,
  active: ReadonlyArray<JobRecord>,
  cancelled: ReadonlyArray<JobRecord>,
  polledJobs: ReadonlyArray<JobRecord>,
  observations: ReadonlyArray<Observation>,
  at: Date
) =>
  Effect.gen(function*() {
    const { options, store } = ctx
    const zombieMillis = options.zombie_timeout_minutes * 60_000
    const { held, seen } = yield* readable(ctx, observations, active, at)
    // A job about to end Done is first checked against its spec (expected outputs, log errors).
    const withObservation = yield* observedWithChecks(active, seen, at, options).pipe(Effect.provide(ctx.platform))
    const state0 = yield* SynchronizedRef.get(ctx.state)
    const atMillis = at.getTime()
    const changes = yield* store.modify(polledJobs, (current) => {
      const o = seen.get(current.jobId)
      if (o !== undefined) {
        const next = withObservation(current, o)
        // Nothing changed: the record stays as it is (nothing is written), unless its lastSeen is
        // older than a tenth of the zombie timeout. The exact sighting is the state's; the record's
        // is what a program taking over after a restart judges from, so it never vanishes a job
        // more than a tenth of the timeout early.
        return next !== current || atMillis - current.lastSeen.getTime() <= zombieMillis / 10
          ? next
          : { ...current, lastSeen: at }
      }
      const sighted = State.sighting(state0, current.jobId)
      return isZombie(current, at, zombieMillis, sighted) ? vanish(current, at, sighted) : current
    })
    yield* SynchronizedRef.update(ctx.state, (s) => State.sighted(s, active, seen, atMillis))
    // The gate, on the records as now written: held jobs released, or given up and recorded. It
    // judges only jobs this poll reports held: with none, it is not run (nothing built per job).
    const gated = held ? yield* runGate(ctx, polledJobs, changes, seen, at) : Gate.nothing
    if (cancelled.length === 0 && gated.warned.length === 0 && gated.givenUp.length === 0) {
      return yield* finish(options, seen, changes, gated)
    }
    yield* SynchronizedRef.update(ctx.state, (s) =>
      State.stopClosing(
        State.gateWarned(s, gated.warned, gated.givenUp),
        cancelled.filter((r) => {
          const o = seen.get(r.jobId)
          if (o === undefined) return false
          // An array none of whose elements is known to have started, all ended at once (sacct's
          // row of the whole range): the rows of those that ran may still come.
          const started = (e: { readonly startTime?: Date | undefined }) => e.startTime !== undefined
          const complete = r.array === undefined || (o.elements ?? []).some(started) || (r.elements ?? []).some(started)
          return State.doneClosing(s, r.jobId, at.getTime(), reportsEnd(r, o), complete)
        }).map((r) => r.jobId)
      ))
    return yield* finish(options, seen, changes, gated)
  })

/** The gate over the polled jobs as the store now holds them (`changes` written over `polledJobs`). */
const runGate = (
  ctx: MonitorContext,
  polledJobs: ReadonlyArray<JobRecord>,
  changes: ReadonlyArray<JobChange>,
  seen: ReadonlyMap<string, Observation>,
  at: Date
) =>
  Effect.gen(function*() {
    const current = new Map(polledJobs.map((r) => [r.jobId, r] as const))
    for (const c of changes) current.set(c.after.jobId, c.after)
    const state = yield* SynchronizedRef.get(ctx.state)
    return yield* Gate.run({
      executor: ctx.executor,
      store: ctx.store,
      options: ctx.options,
      jobs: current.values(),
      seen,
      at,
      warned: (id) => State.entry(state, id).warnedHeld
    })
  })

/** What a tick's write did, the vanished jobs logged. */
const finish = (
  options: MonitorContext["options"],
  seen: ReadonlyMap<string, Observation>,
  changes: ReadonlyArray<JobChange>,
  gated: Gate.GateReport
) =>
  Effect.gen(function*() {
    const vanished = changes.filter((c) => c.after.reason?._tag === "Vanished").length
    if (vanished > 0) {
      yield* Effect.logWarning(
        `${vanished} job(s) unseen for over ${options.zombie_timeout_minutes} min marked Failed (vanished)`
      )
    }
    return { observed: seen.size, changed: changes.length + gated.changes.length, vanished }
  })

/** One tick (ticks never overlap: `lock` is the Monitor's). */
export const tick = (ctx: MonitorContext, now: Effect.Effect<number>): Effect.Effect<TickReport, StoreError> =>
  Effect.gen(function*() {
    const { executor, store } = ctx
    const active = yield* store.list({ active: true, owned: true, executor: executor.kind })
    const startMillis = yield* now
    // Cancelled jobs are asked about with the active ones until the scheduler reports their end.
    const cancelled = yield* closingRecords(ctx, startMillis)
    const polledJobs = cancelled.length === 0 ? active : [...active, ...cancelled]
    let report = { polled: false, failed: false, observed: 0, changed: 0, vanished: 0 }
    if (polledJobs.length > 0) {
      const result = yield* Effect.either(executor.poll(polledJobs))
      const at = new Date(yield* now)
      if (result._tag === "Left") {
        const n = yield* Ref.updateAndGet(ctx.failures, (k) => k + 1)
        yield* Effect.logWarning(`${result.left.message} (${n} failed poll${n === 1 ? "" : "s"} in a row)`)
        yield* PubSub.publish(ctx.events, {
          _tag: "PollFailed",
          executor: executor.kind,
          message: result.left.message,
          consecutiveFailures: n,
          at
        })
        report = { ...report, polled: true, failed: true }
      } else {
        yield* Ref.set(ctx.failures, 0)
        report = { polled: true, failed: false, ...(yield* apply(ctx, active, cancelled, polledJobs, result.right, at)) }
      }
    }
    yield* catchUp(ctx, new Set(active.map((r) => r.jobId)), new Date(startMillis))
    const purged = yield* purge(ctx, startMillis)
    return { active: active.length, ...report, purged }
  }).pipe(Effect.withSpan("Monitor.tick"))
