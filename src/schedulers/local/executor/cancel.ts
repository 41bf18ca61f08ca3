/**
 * Cancelling local jobs: one this executor runs (its fiber interrupted, which terminates its
 * processes), one another program runs or ran (its processes found through their pid files), and
 * the jobs still running when the program ends, recorded Killed by its end.
 */
import { Effect, FiberMap, Option } from "effect"
import type { JobRecord } from "../../../Domain.js"
import { isTerminal } from "../../../Domain.js"
import { JobNotFound } from "../../../Errors.js"
import type { CancelOptions } from "../../../Executor.js"
import * as JobName from "../../../JobName.js"
import { hasEnded } from "../status.js"
import { applyObservation, cancelled } from "../../../internal/transition.js"
import type { LocalContext } from "./context.js"
import { keyOf, now, processesOf, programEnded } from "./context.js"
import { inspect, statusFiles, stopProcess } from "./files.js"
import { observeJob } from "./observe.js"

/** Whether every process of a job this executor runs has already ended on its own. */
const alreadyEnded = (ctx: LocalContext, record: JobRecord): boolean =>
  processesOf(record).every(({ key }) => {
    const s = ctx.states.get(key)
    return s !== undefined && hasEnded(s)
  })

/**
 * Cancels a job this executor does not run (its program died and nobody took it over, or another
 * live program runs it): the processes still running are found through their pid files and their
 * process groups terminated, and the job is recorded as cancelled. The record is written first,
 * so the other program cannot record the kill as a failure. A job whose processes have all ended
 * or vanished is left to be polled.
 */
const cancelElsewhere = (ctx: LocalContext, record: JobRecord, done: boolean) =>
  Effect.gen(function*() {
    const script = record.scriptPath
    const live: Array<number> = []
    let unstarted = 0
    for (const { index } of processesOf(record)) {
      if (script === undefined) {
        unstarted += 1
        continue
      }
      const found = yield* inspect(ctx, statusFiles(ctx, script, record.jobId, index), script)
      if (found.exit !== undefined) continue
      if (found.pid === undefined) unstarted += 1
      else if (found.pid.alive) live.push(found.pid.pid)
    }
    if (live.length === 0 && unstarted === 0) return record
    const at = yield* now
    const changes = yield* ctx.store.modify([record], (r) => cancelled(r, at, done))
    if (script !== undefined) {
      yield* Effect.forEach(live, (pid) => stopProcess(ctx, pid, script), { concurrency: "unbounded", discard: true })
    }
    return changes[0]?.after ?? record
  })

/**
 * Once a cancel has terminated a job's processes: each one not ended is recorded ended now (or
 * withdrawn, when it never started), so the next poll gives the cancelled record their ends.
 */
const markTerminated = (ctx: LocalContext, record: JobRecord) =>
  Effect.map(now, (at) => {
    for (const { key } of processesOf(record)) {
      const state = ctx.states.get(key)
      if (state !== undefined && hasEnded(state)) continue
      const running = state?._tag === "Running" || state?._tag === "Watching" ? state : undefined
      ctx.states.set(
        key,
        running === undefined
          ? { _tag: "Withdrawn", finishTime: at }
          : { _tag: "Exited", pid: running.pid, startTime: running.startTime, finishTime: at, host: running.host, timedOut: false }
      )
    }
  })

export const cancel = Effect.fn("LocalExecutor.cancel")(function*(
  ctx: LocalContext,
  jobId: string,
  cancelOptions?: CancelOptions
) {
  const found = yield* ctx.store.get(keyOf(jobId))
  if (Option.isNone(found)) return yield* new JobNotFound({ jobId })
  const record = found.value
  const done = cancelOptions?.done === true
  if (isTerminal(record)) return record
  if (!ctx.tracked.has(jobId)) return yield* cancelElsewhere(ctx, record, done)
  // A job that ended on its own keeps its true end; the next poll records it.
  if (alreadyEnded(ctx, record)) return record
  const at = yield* now
  // With what this executor knows of it: its processes' starts and host, its elements.
  const changes = yield* ctx.store.modify([keyOf(jobId)], (r) => {
    const seen = observeJob(ctx, r)
    return cancelled(seen === undefined ? r : applyObservation(r, seen, at), at, done)
  })
  // A job held for its dependencies is never started now.
  const hold = ctx.holds.get(jobId)
  if (hold !== undefined) {
    ctx.holds.delete(jobId)
    for (const key of hold.keys) ctx.states.set(key, { _tag: "Withdrawn", finishTime: at })
  }
  yield* FiberMap.remove(ctx.fibers, jobId)
  yield* markTerminated(ctx, record)
  return changes[0]?.after ?? record
})

/**
 * Run when the scope closes, after every process of this executor was terminated: its jobs get
 * what was last seen of them, and those not ended are recorded Killed by the program's end.
 */
export const recordProgramEnd = (ctx: LocalContext) =>
  Effect.gen(function*() {
    if (ctx.tracked.size === 0) return
    const at = yield* now
    yield* ctx.store.modify(Array.from(ctx.tracked, keyOf), (r) => {
      const seen = observeJob(ctx, r)
      return cancelled(seen === undefined ? r : applyObservation(r, seen, at), at, false, programEnded)
    })
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning(`could not record the end of this program's local jobs: ${error.message}`)
    )
  )

const cancelMany = (ctx: LocalContext, records: ReadonlyArray<JobRecord>, cancelOptions?: CancelOptions) =>
  Effect.forEach(
    records,
    (r) =>
      cancel(ctx, r.jobId, cancelOptions).pipe(
        Effect.map(Option.some),
        Effect.catchAll((e) =>
          Effect.logWarning(`cancel of local job ${r.jobId} failed: ${e.message}`).pipe(Effect.as(Option.none()))
        )
      ),
    { concurrency: "unbounded" }
  ).pipe(Effect.map((results) => results.flatMap((o) => Option.isSome(o) ? [o.value] : [])))

/** Cancels the active local jobs whose names match `pattern`; failures are logged. */
export const cancelByName = (ctx: LocalContext, pattern: string, cancelOptions?: CancelOptions) =>
  ctx.store.list({ active: true, executor: "local" }).pipe(
    Effect.flatMap((active) => {
      const matches = JobName.matcher(ctx.options.job_name_prefix, pattern)
      return cancelMany(ctx, active.filter((r) => r.executor === "local" && matches(r.name)), cancelOptions)
    })
  )

/** Cancels every active local job; failures are logged. */
export const cancelAll = (ctx: LocalContext, cancelOptions?: CancelOptions) =>
  ctx.store.active.pipe(
    Effect.flatMap((active) => cancelMany(ctx, active.filter((r) => r.executor === "local"), cancelOptions))
  )
