/**
 * How a Monitor starts: submissions a dead program left in flight settled, the jobs programs that
 * ended or died left unfinished adopted and handed to the executor (`resume`), asked about once,
 * and what ended while nobody watched kept for the first event stream (or retried, when its retry
 * was never submitted).
 */
import { Effect, Option, SynchronizedRef } from "effect"
import type { JobRecord } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import type { StoreError } from "../../Errors.js"
import type { RetryPlan } from "../../Retry.js"
import { planRetry } from "../../Retry.js"
import { isCancelled } from "../transition.js"
import type { MonitorContext } from "./delivery.js"
import { eventsOf } from "./delivery.js"
import * as State from "./state.js"

/** Which jobs left unfinished by programs that ended or died to take over. */
export type Adopt = "all" | "none" | ReadonlyArray<string>

/** What the Monitor took over when it started. */
export interface ResumeReport {
  /** Jobs left unfinished by a program that ended or died, now watched by this one. */
  readonly adopted: ReadonlyArray<JobRecord>
  /** Of those, and of ended jobs whose end was never delivered: the ones announced at start. */
  readonly ended: ReadonlyArray<JobRecord>
}

export interface Started {
  readonly resumed: ResumeReport
  /** Failed jobs whose retry was never submitted (their program died while waiting), and the plan. */
  readonly retries: ReadonlyArray<readonly [JobRecord, RetryPlan]>
  readonly startedAt: Date
}

/** The jobs to adopt, from the store and from submissions left in flight; adopted into the state and resumed. */
const adoptJobs = (ctx: MonitorContext, adopt: Adopt) =>
  Effect.gen(function*() {
    const { executor, store } = ctx
    // Submissions a dead program left in flight become jobs of this program (or failed submits).
    const recovered = yield* (executor.recoverSubmits ?? Effect.succeed([])).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning(`submissions a program left unfinished stay for the next program to settle: ${e.message}`).pipe(
          Effect.as([] as ReadonlyArray<JobRecord>)
        )
      )
    )
    const fromStore = adopt === "none" ? { active: [], undelivered: [] } : yield* store.adopt({
      executor: executor.kind,
      // Jobs watched only from the host that ran them are left to a program on that host.
      sameHostOnly: executor.capabilities.hostBound,
      ids: adopt === "all" ? undefined : adopt
    })
    const adopted = {
      active: [...recovered.filter((r) => !isTerminal(r)), ...fromStore.active],
      undelivered: [...recovered.filter(isTerminal), ...fromStore.undelivered]
    }
    yield* SynchronizedRef.update(ctx.state, (s) => State.adopt(s, adopted.active, adopted.undelivered))
    if (adopted.active.length > 0) {
      yield* executor.resume(adopted.active)
      yield* Effect.logInfo(`resumed ${adopted.active.length} unfinished ${executor.kind} job(s) from the job store`)
    }
    return adopted
  })

/**
 * Starts the Monitor's state: adopts, asks once about the adopted jobs (`tick`, before the change
 * feed is followed: what it finds is announced through the backlog, to the first event stream),
 * and notes each end found.
 */
export const start = (
  ctx: MonitorContext,
  adopt: Adopt,
  tick: Effect.Effect<unknown, StoreError>,
  now: Effect.Effect<number>
): Effect.Effect<Started, StoreError> =>
  Effect.gen(function*() {
    const { executor, store } = ctx
    const adopted = yield* adoptJobs(ctx, adopt)
    const startedAt = new Date(yield* now)
    if (adopted.active.length > 0) yield* tick
    const after = adopted.active.length === 0
      ? []
      : yield* store.list({ ids: adopted.active.map((r) => r.jobId), executor: executor.kind })
    const beforeResume = new Map(adopted.active.map((r) => [r.jobId, r] as const))
    const ended: Array<JobRecord> = []
    for (const record of after) {
      const before = beforeResume.get(record.jobId)
      if (before === undefined) continue
      yield* SynchronizedRef.update(ctx.state, (s) => {
        const withEvents = State.addBacklog(s, eventsOf({ before, after: record }, startedAt))
        return isTerminal(record) ? withEvents : State.sawUnfinished(withEvents, record)
      })
      if (isTerminal(record)) ended.push(record)
    }
    for (const record of adopted.undelivered) {
      const last = (yield* store.transitions(record)).at(-1)
      yield* SynchronizedRef.update(ctx.state, (s) =>
        State.addBacklog(s, [
          { _tag: "JobStatusChanged", from: last?.from ?? "Running", to: record.status, record, at: startedAt }
        ]))
      ended.push(record)
    }
    // A failed job whose retry was never submitted (its program died while waiting) gets it now.
    const retries: Array<readonly [JobRecord, RetryPlan]> = []
    for (const record of ended) {
      const retry = planRetry(record, ctx.options)
      if (Option.isSome(retry)) retries.push([record, retry.value])
      yield* SynchronizedRef.update(ctx.state, (s) =>
        State.endedOnStart(s, record, startedAt, {
          closing: isCancelled(record) && record.executor === executor.kind,
          retryAttempt: Option.isSome(retry) ? retry.value.attempt : undefined
        }))
    }
    return { resumed: { adopted: adopted.active, ended }, retries, startedAt }
  })
