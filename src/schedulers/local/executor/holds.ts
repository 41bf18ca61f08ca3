/**
 * Local jobs held for their dependencies: judged once when they are submitted or taken over
 * (`checkHolds`), then by the Monitor's gate after every tick, which calls `release` (start them)
 * or `withdraw` (never start them).
 */
import { Effect, FiberMap, Option } from "effect"
import type { JobRecord } from "../../../Domain.js"
import type { ExecutorShape } from "../../../Executor.js"
import { JobStore } from "../../../JobStore.js"
import { judgeDependencies, withAttempts, withObservations } from "../../../internal/dependencies.js"
import type { LocalContext } from "./context.js"
import { now } from "./context.js"
import { observeJob } from "./observe.js"

/**
 * Judges, once, the dependencies of the held jobs among `jobIds` (one store read for all of
 * them), when they are submitted or taken over: a job whose dependencies have all ended as they
 * must is started at once, one with a dependency that can never be met is never started (its
 * processes become `Unmet`, reported Failed(DependencyFailed)); the others stay held for the
 * Monitor's gate, which judges them after each tick and calls `release` or `withdraw`. A
 * dependency this executor runs is judged by what it has seen of it, which may be ahead of the
 * store. When the store cannot be read, the jobs stay held for the gate.
 */
export const checkHolds = (ctx: LocalContext, jobIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const waiting = jobIds.flatMap((id) => {
      const hold = ctx.holds.get(id)
      return hold === undefined ? [] : [[id, hold] as const]
    })
    if (waiting.length === 0) return
    const targets = Array.from(new Set(waiting.flatMap(([, hold]) => hold.dependsOn.map((d) => d.jobId))))
    const found = yield* withAttempts({ prefer: "local" }, targets).pipe(
      Effect.provideService(JobStore, ctx.store),
      Effect.map(Option.some),
      Effect.catchAll((e) =>
        Effect.logWarning(
          `could not read the dependencies of held local jobs (they stay held until the next tick): ${e.message}`
        ).pipe(Effect.as(Option.none<ReadonlyMap<string, JobRecord>>()))
      )
    )
    if (Option.isNone(found)) return
    // With what this executor sees of its own jobs now (withObservations).
    const current = withObservations(found.value, (id) => {
      const record = found.value.get(id)
      return record !== undefined && ctx.tracked.has(id) ? observeJob(ctx, record) : undefined
    }, yield* now)
    const ready: Array<string> = []
    const doomed: Array<{ readonly jobId: string; readonly unmet: ReadonlyArray<string> }> = []
    for (const [jobId, hold] of waiting) {
      // Cancelled (or judged) while the store was read.
      if (ctx.holds.get(jobId) !== hold) continue
      const judged = judgeDependencies(hold.dependsOn, current, ctx.options)
      if (judged.never.length > 0) doomed.push({ jobId, unmet: judged.never })
      else if (judged.ready) ready.push(jobId)
    }
    yield* withdraw(ctx, doomed)
    yield* release(ctx, ready)
  })

/** Held jobs whose dependencies the Monitor's gate found met: their processes are started. */
export const release = (ctx: LocalContext, jobIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const at = yield* now
    for (const jobId of jobIds) {
      const hold = ctx.holds.get(jobId)
      if (hold === undefined) continue
      ctx.holds.delete(jobId)
      for (const key of hold.keys) ctx.states.set(key, { _tag: "Queued", queuedAt: at })
      yield* FiberMap.run(ctx.fibers, jobId, hold.run)
    }
  })

/** Held jobs one of whose dependencies can never be met: never started, reported Failed(DependencyFailed). */
export const withdraw = (ctx: LocalContext, jobs: Parameters<ExecutorShape["withdraw"]>[0]) =>
  Effect.gen(function*() {
    const at = yield* now
    for (const { jobId, unmet } of jobs) {
      const hold = ctx.holds.get(jobId)
      if (hold === undefined) continue
      ctx.holds.delete(jobId)
      for (const key of hold.keys) ctx.states.set(key, { _tag: "Unmet", finishTime: at, dependencies: unmet })
    }
  })
