/**
 * A program that watches jobs through the Monitor and writes down every job end it is told of,
 * one line `jobId status` per delivery, appended to a file. The restart tests run it as a real
 * process, kill it with SIGKILL mid-run, and start it again on the same store.
 *
 *   node WatchProgram.js CONFIG_JSON submit N   submits N jobs, then watches until each has ended
 *   node WatchProgram.js CONFIG_JSON resume     watches what the last program left, until it has ended
 *
 * CONFIG_JSON holds the config options (executor, state_path, log_directory, …) plus
 * `deliveries`, the file the lines go to, `runs`, a file each job (each array element) appends
 * `i.INDEX` to when it starts, and `scale`, a factor on the sleeps. Job i sleeps
 * `(0.5 + 0.7 * i) * scale` seconds and exits `i % 3 === 2 ? 3 : 0`; job 0 is an array of three.
 * The last job instead runs until the file `release` exists, then creates `release.ended` and
 * exits, so that a test decides when it ends. Once every job is submitted, the program creates
 * the file `submitted`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Effect, Stream } from "effect"
import { appendFileSync, writeFileSync } from "node:fs"
import * as ClusterApi from "../../src/ClusterApi.js"
import * as CommandRunnerNode from "../../src/CommandRunner.js"
import { ClusterConfig } from "../../src/Config.js"
import type { ConfigOptions } from "../../src/Config.js"
import { isTerminalStatus } from "../../src/Domain.js"
import { Executor } from "../../src/Executor.js"
import { Monitor } from "../../src/Monitor.js"
import { shellQuote } from "../../src/internal/script.js"

export interface WatchConfig extends Partial<ConfigOptions> {
  readonly deliveries: string
  readonly runs: string
  readonly scale: number
  readonly submitted: string
  readonly release: string
}

/** The exit code job i ends with. */
export const exitCodeOf = (i: number): number => i % 3 === 2 ? 3 : 0

const [configJson, mode, count] = process.argv.slice(2)
const { deliveries, release, runs, scale, submitted, ...options } = JSON.parse(configJson ?? "{}") as WatchConfig

const jobCommand = (i: number, last: boolean): string =>
  `echo "${i}.\${ARRAY_INDEX:-x}" >> ${shellQuote(runs)}; ${
    last
      ? `until [ -e ${shellQuote(release)} ]; do sleep 0.05; done; touch ${shellQuote(`${release}.ended`)}`
      : `sleep ${((0.5 + 0.7 * i) * scale).toFixed(1)}`
  }; exit ${exitCodeOf(i)}`

const main = Effect.gen(function*() {
  const executor = yield* Executor
  const monitor = yield* Monitor
  const waiting = new Set<string>()
  const seen = new Set<string>()
  const allEnded = yield* Deferred.make<void>()
  const check = Effect.suspend(() =>
    [...waiting].every((id) => seen.has(id)) ? Deferred.succeed(allEnded, undefined) : Effect.void
  )
  const endOf = (jobId: string) => Effect.sync(() => seen.add(jobId)).pipe(Effect.zipRight(check))
  // Opened first, so it gets the endings found at start.
  const endings = monitor.events.pipe(
    Stream.filter((e) => e._tag === "JobStatusChanged" && isTerminalStatus(e.to)),
    Stream.runForEach((e) =>
      e._tag === "JobStatusChanged"
        ? Effect.sync(() => appendFileSync(deliveries, `${e.record.jobId} ${e.to}\n`)).pipe(
          Effect.zipRight(endOf(e.record.jobId))
        )
        : Effect.void
    )
  )
  yield* Effect.forkScoped(endings)
  if (mode === "submit") {
    for (let i = 0; i < Number(count); i++) {
      const job = yield* executor.submit({
        name: `restart-${i}`,
        command: jobCommand(i, i === Number(count) - 1),
        ...(i === 0 ? { array: { start: 1, end: 3 } } : {})
      })
      waiting.add(job.jobId)
    }
    writeFileSync(submitted, "")
  } else {
    for (const r of [...monitor.resumed.adopted, ...monitor.resumed.ended]) waiting.add(r.jobId)
  }
  yield* check
  yield* Deferred.await(allEnded)
}).pipe(
  Effect.scoped,
  Effect.provide(ClusterApi.compose({
    config: ClusterConfig.layerTest(options),
    runner: CommandRunnerNode.layerNode,
    store: ClusterApi.layerStore
  }))
)

if (mode !== undefined) NodeRuntime.runMain(main)
