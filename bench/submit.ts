/**
 * What submitting costs in this process, without running anything: the local executor with the
 * TestCommandRunner's fake processes, so each submit is validation, the script written, the record
 * stored and the (fake) process started. Jobs with distinct names against jobs that all share one
 * name (scripts are named `{name}.{n}.sh`, taking the first free n).
 */
import { Effect } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import { Executor } from "../src/Executor.js"

export interface SubmitResult {
  readonly jobs: number
  readonly sameName: boolean
  readonly ms: number
  readonly msPerJob: number
  /** Mean of the last tenth of the submits: how the cost grows as scripts accumulate. */
  readonly lastTenthMsPerJob: number
}

export const benchSubmit = (jobs: number, sameName: boolean, dir: string): Effect.Effect<SubmitResult, Error> =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const times: Array<number> = []
    const start = performance.now()
    for (let i = 0; i < jobs; i++) {
      const t = performance.now()
      yield* executor.submit({ name: sameName ? "step" : `step-${i}`, command: "true" })
      times.push(performance.now() - t)
    }
    const ms = performance.now() - start
    const tail = times.slice(Math.floor(jobs * 0.9))
    return {
      jobs,
      sameName,
      ms,
      msPerJob: ms / jobs,
      lastTenthMsPerJob: tail.reduce((a, b) => a + b, 0) / tail.length
    } satisfies SubmitResult
  }).pipe(
    Effect.provide(ClusterApi.layerTest({
      config: { log_directory: dir, poll_interval: 3600, max_local_jobs: 2 },
      spawnRules: [{ match: () => true, reply: {} }]
    }))
  )
