/**
 * Local jobs: throughput of trivial jobs (`true`) through the real local executor and through the
 * CLI's array form, beside `xargs -P<same>` starting as many processes; and how soon after a local
 * process exits `monitor.await` returns.
 */
import { Duration, Effect, Layer, Option } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { CommandRunner, layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig, defaultOptions } from "../src/Config.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import type { CliSetup } from "./cli.js"
import { runCli } from "./cli.js"
import { median, percentile } from "./report.js"

/** The concurrency a user gets without configuring any: `max_local_jobs`'s default. */
export const defaultConcurrency = defaultOptions.max_local_jobs

export interface ThroughputResult {
  readonly jobs: number
  readonly ms: number
  /** Of which submitting them all (script written, record stored, process queued); 0 outside the library. */
  readonly submitMs: number
  readonly jobsPerSecond: number
}

/**
 * `jobs` jobs through the library with the default config (concurrency, poll interval) and the
 * in-memory store; None if they did not all end within `limit` (the rest are killed when the
 * layer closes). Fails if any job did not end Done. With `direct`, every process is forked from
 * this program, as before the spawner (a runner other than the Node runner itself gets none).
 */
export const benchLocal = (
  jobs: number,
  dir: string,
  limit: Duration.DurationInput,
  direct = false
): Effect.Effect<Option.Option<ThroughputResult>, unknown> =>
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
      config: ClusterConfig.layerTest({ executor: "local", log_directory: dir }),
      runner: direct
        ? Layer.effect(CommandRunner, Effect.map(CommandRunner, (real) => ({ ...real }))).pipe(Layer.provide(nodeRunner))
        : nodeRunner
    }))
  )

/** `seq N | xargs -P<parallel> -I{} SHELL -c true`: N processes, `parallel` at a time, timed from here. */
export const benchXargs = (jobs: number, parallel: number, shell: "sh" | "bash"): ThroughputResult => {
  const start = performance.now()
  const result = spawnSync("sh", ["-c", `seq ${jobs} | xargs -P${parallel} -I{} ${shell} -c true`], { stdio: "inherit" })
  const ms = performance.now() - start
  if (result.status !== 0) throw new Error(`xargs exited with ${result.status ?? result.signal}`)
  return { jobs, ms, submitMs: 0, jobsPerSecond: jobs / (ms / 1000) }
}

/** The median of three xargs runs (the machine's noise hits a short baseline hardest). */
export const xargsMedian = (jobs: number, parallel: number, shell: "sh" | "bash"): ThroughputResult => {
  const runs = [0, 1, 2].map(() => benchXargs(jobs, parallel, shell)).sort((a, b) => a.ms - b.ms)
  return runs[1] ?? runs[0]!
}

/** `cluster-api submit --array 1-N -- true` on the local executor (it waits for the elements), timed whole. */
export const benchCliArray = (jobs: number, setup: CliSetup): ThroughputResult => {
  const run = runCli(setup, ["submit", "--array", `1-${jobs}`, "--json", "--", "true"], 600_000)
  if (run.status !== 0) throw new Error(`cluster-api submit --array exited with ${run.status}: ${run.stderr.slice(0, 500)}`)
  return { jobs, ms: run.ms, submitMs: 0, jobsPerSecond: jobs / (run.ms / 1000) }
}

export interface LatencyResult {
  readonly jobs: number
  readonly medianMs: number
  readonly p95Ms: number
  readonly maxMs: number
  readonly runsMs: ReadonlyArray<number>
}

/**
 * How long after a local job's process ends `monitor.await` returns, with the default config
 * (poll_interval 10 s, the SQLite store in `dir`). Each job sleeps a little (so the wait is
 * registered first), then writes the time as its last act (`date +%s%N`); the latency is the
 * time `await` returned minus that. Jobs one after another.
 */
export const benchEndLatency = (jobs: number, dir: string): Effect.Effect<LatencyResult, unknown> =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const monitor = yield* Monitor
    const runsMs: Array<number> = []
    for (let i = 0; i < jobs; i++) {
      const stamp = join(dir, `end.${i}`)
      const job = yield* executor.submit({ name: `end-${i}`, command: `sleep 0.2; date +%s%N > '${stamp}'` })
      const record = yield* monitor.await(job, { timeout: "60 seconds" })
      const seen = Date.now()
      if (record.status !== "Done") return yield* Effect.fail(new Error(`latency job ${i} ended ${record.status}`))
      const endedNs = BigInt(readFileSync(stamp, "utf8").trim())
      runsMs.push(seen - Number(endedNs / 1_000_000n) - Number(endedNs % 1_000_000n) / 1e6)
    }
    return { jobs, medianMs: median(runsMs), p95Ms: percentile(runsMs, 0.95), maxMs: Math.max(...runsMs), runsMs }
  }).pipe(
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ executor: "local", log_directory: dir, state_path: join(dir, "jobs.db") }),
      runner: nodeRunner,
      store: ClusterApi.layerStore
    }))
  )

/** Bytes this process writes (`wchar` of /proc/self/io), undefined where there is no such file. */
export const bytesWritten = (): number | undefined => {
  try {
    const m = /^wchar:\s*(\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))
    return m?.[1] === undefined ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

export interface WrittenResult {
  readonly jobs: number
  /** /proc/self/io wchar growth per job (this process only: the job processes' own writes are not in it). */
  readonly wcharPerJob: number | undefined
  /** Growth of the store's files (db, -wal, -shm) per job. */
  readonly fileGrowthPerJob: number
  /** The final record's JSON text, bytes per job (the floor: what the job's row holds). */
  readonly rowBytes: number
}

const storeFilesSize = (file: string): number =>
  ["", "-wal", "-shm"].reduce((sum, suffix) => sum + (statSync(`${file}${suffix}`, { throwIfNoEntry: false })?.size ?? 0), 0)

/**
 * Bytes written per local job's whole life (submit, start, end, delivery) with the SQLite store
 * and the default config: `jobs` `true` jobs submitted together, waited for, all measured between
 * the store's opening and the last end.
 */
export const benchWritten = (jobs: number, dir: string): Effect.Effect<WrittenResult, unknown> => {
  const file = join(dir, "jobs.db")
  return Effect.gen(function*() {
    const executor = yield* Executor
    const monitor = yield* Monitor
    const sizeBefore = storeFilesSize(file)
    const before = bytesWritten()
    const submitted = yield* Effect.forEach(
      Array.from({ length: jobs }, (_, i) => i),
      (i) => executor.submit({ name: `written-${i}`, command: "true" })
    )
    const ended = yield* monitor.awaitAll(submitted, { timeout: "5 minutes" })
    const after = bytesWritten()
    const sizeAfter = storeFilesSize(file)
    const rowBytes = ended.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)), 0) / ended.length
    return {
      jobs,
      wcharPerJob: before === undefined || after === undefined ? undefined : (after - before) / jobs,
      fileGrowthPerJob: (sizeAfter - sizeBefore) / jobs,
      rowBytes
    } satisfies WrittenResult
  }).pipe(
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ executor: "local", log_directory: dir, state_path: file }),
      runner: nodeRunner,
      store: ClusterApi.layerStore
    }))
  )
}
