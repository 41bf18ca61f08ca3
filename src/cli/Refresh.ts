/**
 * The scheduler's word on the unfinished jobs a command shows, with no Monitor: one batched
 * `Executor.poll` (as a Monitor tick makes), what it says written to the store, so that a job that
 * ended while nothing watched shows its true end. No job is adopted or taken over: a job another
 * live program owns stays its own (its Monitor announces the end from the store's change).
 */
import { Clock, Console, Duration, Effect, Layer, Option } from "effect"
import { layerExecutor } from "../ClusterApi.js"
import * as CommandRunner from "../CommandRunner.js"
import { ClusterConfig } from "../Config.js"
import { observedWithChecks } from "../internal/diagnosis/verdict.js"
import type { JobRecord } from "../Domain.js"
import { isTerminal } from "../Domain.js"
import { Executor } from "../Executor.js"
import { JobStore, keyString } from "../JobStore.js"

/** What a refresh says on stderr beside the table: jobs it could not ask about, and why. */
export const otherExecutorNote = (others: ReadonlyArray<JobRecord>, configured: string): string => {
  const kinds = Array.from(new Set(others.map((r) => r.executor))).sort().join(", ")
  return `note: ${others.length} unfinished job(s) of ${kinds} shown as the job store last saw them: this config submits to ${configured} (give the config or profile for ${kinds} to ask that scheduler)`
}

/** One poll of `jobs` (all of the configured executor, none ended) and the changes written. */
const pollAndWrite = (jobs: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const store = yield* JobStore
    const { options } = yield* ClusterConfig
    const observations = yield* executor.poll(jobs)
    const at = new Date(yield* Clock.currentTimeMillis)
    const seen = new Map(observations.map((o) => [o.jobId, o] as const))
    // A job about to end Done is first checked against its spec (expected outputs, log errors).
    const observed = yield* observedWithChecks(jobs, seen, at, options)
    yield* store.modify(jobs, (current) => {
      const o = seen.get(current.jobId)
      return o === undefined ? current : observed(current, o)
    })
  }).pipe(Effect.provide(layerExecutor.pipe(Layer.provide(CommandRunner.layerNode))), Effect.scoped)

/**
 * `records` as the scheduler now has them: the unfinished ones of the configured executor polled
 * once and what was learnt written to the store; those of another executor left as stored, with
 * a note. A poll that fails (scheduler down) is a warning and the stored records are shown.
 */
export const refreshed = (records: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    const open = records.filter((r) => !isTerminal(r))
    if (open.length === 0) return records
    const { options } = yield* ClusterConfig
    const store = yield* JobStore
    const mine = open.filter((r) => r.executor === options.executor)
    const others = open.filter((r) => r.executor !== options.executor)
    if (others.length > 0) yield* Console.error(otherExecutorNote(others, options.executor))
    if (mine.length === 0) return records
    const polled = yield* pollAndWrite(mine).pipe(
      Effect.as(true),
      Effect.catchAll((e) =>
        Console.error(
          `warning: could not ask ${options.executor} about ${mine.length} unfinished job(s) (${
            mine.map(keyString).join(", ")
          }); showing what the job store last saw: ${e.message}`
        ).pipe(Effect.as(false))
      )
    )
    if (!polled) return records
    return yield* Effect.forEach(records, (r) =>
      isTerminal(r) || r.executor !== options.executor
        ? Effect.succeed(r)
        : Effect.map(store.get(r), Option.getOrElse(() => r)))
  })

/**
 * Asks about `records` every poll_interval (every second at most when the configured executor's
 * poll costs next to nothing, `capabilities.cheapPoll`: local files) until none is
 * unfinished, for a command that waits on jobs whose program may be gone without its Monitor
 * having taken them over: what is learnt is written, and the waiters see it in the store.
 */
export const keepAsking = (records: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const { options } = yield* ClusterConfig
    const { capabilities } = yield* Executor
    const every = Duration.seconds(capabilities.cheapPoll ? Math.min(options.poll_interval, 1) : options.poll_interval)
    while (true) {
      yield* Effect.sleep(every)
      const current = yield* Effect.forEach(records, (r) => store.get(r))
      const open = current.flatMap((r) => Option.isSome(r) && !isTerminal(r.value) ? [r.value] : [])
      if (open.length === 0) return
      yield* refreshed(open)
    }
  })
