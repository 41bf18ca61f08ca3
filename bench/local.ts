/**
 * Local throughput: trivial jobs (`true`) through the real local executor, two at a time, from the
 * first submit to the last job seen ended; and beside it `xargs -P2` starting as many processes.
 */
import { Duration, Effect, Option } from "effect"
import { spawnSync } from "node:child_process"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"

export interface ThroughputResult {
  readonly jobs: number
  readonly ms: number
  /** Of which submitting them all (script written, record stored, process queued). */
  readonly submitMs: number
  readonly jobsPerSecond: number
}

/**
 * Runs `jobs` jobs; None if they did not all end within `limit` (the rest are killed when the
 * layer closes). Fails if any job did not end Done.
 */
export const benchLocal = (
  jobs: number,
  dir: string,
  limit: Duration.DurationInput
): Effect.Effect<Option.Option<ThroughputResult>, Error> =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const monitor = yield* Monitor
    const start = performance.now()
    const submitted = yield* Effect.forEach(
      Array.from({ length: jobs }, (_, i) => i),
      (i) => executor.submit({ name: `true-${i}`, command: "true" })
    )
    const submitMs = performance.now() - start
    const ended = yield* monitor.awaitAll(submitted, { timeout: limit }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("AwaitTimeout", () => Effect.succeed(Option.none()))
    )
    const ms = performance.now() - start
    if (Option.isNone(ended)) return Option.none()
    const notDone = ended.value.filter((r) => r.status !== "Done")
    if (notDone.length > 0) {
      return yield* Effect.fail(new Error(`${notDone.length} of ${jobs} jobs did not end Done, e.g. ${JSON.stringify(notDone[0])}`))
    }
    return Option.some({ jobs, ms, submitMs, jobsPerSecond: jobs / (ms / 1000) })
  }).pipe(
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ max_local_jobs: 2, poll_interval: 0.05, log_directory: dir }),
      runner: nodeRunner
    }))
  )

/** `seq N | xargs -P2 -I{} SHELL -c true`: N processes, two at a time, timed from here. */
export const benchXargs = (jobs: number, shell: "sh" | "bash"): Effect.Effect<ThroughputResult, Error> =>
  Effect.try({
    try: () => {
      const start = performance.now()
      const result = spawnSync("sh", ["-c", `seq ${jobs} | xargs -P2 -I{} ${shell} -c true`], { stdio: "inherit" })
      const ms = performance.now() - start
      if (result.status !== 0) throw new Error(`xargs exited with ${result.status ?? result.signal}`)
      return { jobs, ms, submitMs: 0, jobsPerSecond: jobs / (ms / 1000) }
    },
    catch: (e) => e instanceof Error ? e : new Error(String(e))
  })
