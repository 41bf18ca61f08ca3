/**
 * The Monitor's tick at scale, in four shapes, each against a floor measured in the same run
 * (JSON.parse of a status answer of the same size):
 *
 * - steady: N Running jobs the scheduler reports Running again (nothing changes);
 * - changing: every job changes every tick (Running ↔ Pending), timed until the Monitor has
 *   handled every change (its events published);
 * - ending: every job ends Done in one tick, timed until every end is announced, with the number
 *   of `markDelivered` calls it took;
 * - memory: heap per tracked job after the first tick (needs --expose-gc).
 *
 * `npm run build && node --expose-gc dist/bench/monitorTick.js [sizes…]` (default 10000 100000).
 * Through the toy dialect (test/support/ToyDialect.ts) and the TestCommandRunner, in-memory store:
 * scheduler time excluded, replies computed before anything is timed.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Ref, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { chunkJobs } from "../src/internal/batch/observe.js"
import { JobStore, makeMemory } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import type { Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { toyExecutorLayer } from "../test/support/ToyDialect.js"

const gc = (globalThis as { gc?: () => void }).gc

const settledHeap = () => {
  if (gc === undefined) return undefined
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

/** Records like the ones BatchExecutor.submit writes, each with its own strings and dates. */
const makeRecords = (n: number, dir: string): Array<JobRecord> => {
  const out: Array<JobRecord> = []
  const base = Date.now()
  for (let i = 1; i <= n; i++) {
    const jobId = String(i)
    const name = `capi-step-${i}`
    out.push({
      jobId,
      name,
      command: `run-step --input data/part-${i}.csv --output out/part-${i}.parquet`,
      executor: "toy",
      status: "Running",
      submitTime: new Date(base),
      lastSeen: new Date(base),
      workDir: dir,
      scriptPath: `${dir}/${name}.sh`,
      stdoutPath: `${dir}/stdout.${jobId}.log`,
      stderrPath: `${dir}/stderr.${jobId}.log`,
      metadata: {}
    })
  }
  return out
}

export interface MonitorTickResult {
  readonly jobs: number
  /** JSON.parse of an array of N small objects (the floor), median ms. */
  readonly floorMs: number
  readonly steadyMs: number
  readonly changingMs: number
  readonly endingMs: number
  readonly markDeliveredCalls: number
  readonly bytesPerJob: number | undefined
}

/** The answer `toystat` gives, per state, per argv chunk: built once, before anything is timed. */
const replyTable = (n: number) => {
  const ids = Array.from({ length: n }, (_, i) => String(i + 1))
  const table = new Map<string, string>()
  for (const state of ["R", "PD", "CD|0"]) {
    for (const chunk of chunkJobs(ids.map((jobId) => ({ jobId }) as JobRecord))) {
      table.set(`${state}:${chunk[0]?.jobId}:${chunk.length}`, chunk.map((j) => `${j.jobId}|${state}`).join("\n"))
    }
  }
  return table
}

export const benchMonitorTick = (n: number, iterations: number, dir: string) => {
  const table = replyTable(n)
  let state = "R"
  const rules: ReadonlyArray<Rule> = [{
    match: (argv) => argv[0] === "toystat",
    reply: (call) => {
      const asked = call.argv.slice(1)
      const stdout = table.get(`${state}:${asked[0]}:${asked.length}`) ?? asked.map((id) => `${id}|${state}`).join("\n")
      return { stdout }
    }
  }]
  const floorText = JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: String(i + 1), state: "R" })))
  const floorTimes: Array<number> = []
  for (let i = 0; i < Math.max(5, iterations); i++) {
    const start = performance.now()
    JSON.parse(floorText)
    floorTimes.push(performance.now() - start)
  }

  return Effect.gen(function*() {
    const store = yield* JobStore
    const monitor = yield* Monitor
    const runner = yield* TestCommandRunner
    const delivered = yield* Ref.get(deliveredCalls)
    const before = settledHeap()
    const events = yield* monitor.subscribe
    yield* store.insert(makeRecords(n, dir))
    yield* events.pipe(Stream.filter((e) => e._tag === "JobSubmitted"), Stream.take(n), Stream.runDrain)
    yield* monitor.tick
    yield* runner.clearCalls
    const after = settledHeap()
    const bytesPerJob = before === undefined || after === undefined ? undefined : (after - before) / n

    // Steady: nothing changes.
    yield* monitor.tick
    const steady: Array<number> = []
    for (let i = 0; i < iterations; i++) {
      const start = performance.now()
      const report = yield* monitor.tick
      steady.push(performance.now() - start)
      if (report.observed !== n || report.changed !== 0) {
        return yield* Effect.dieMessage(`steady tick@${n}: observed ${report.observed}, changed ${report.changed}`)
      }
      yield* runner.clearCalls
    }

    // Changing: every job flips between Running and Pending, timed until every change is handled.
    const changing: Array<number> = []
    for (let i = 0; i < iterations; i++) {
      state = state === "R" ? "PD" : "R"
      const start = performance.now()
      const report = yield* monitor.tick
      yield* events.pipe(Stream.filter((e) => e._tag === "JobStatusChanged"), Stream.take(n), Stream.runDrain)
      changing.push(performance.now() - start)
      if (report.changed !== n) return yield* Effect.dieMessage(`changing tick@${n}: changed ${report.changed}`)
      yield* runner.clearCalls
    }

    // Ending: every job ends Done in one tick, timed until every end is announced and recorded.
    state = "CD|0"
    const start = performance.now()
    yield* monitor.tick
    yield* events.pipe(Stream.filter((e) => e._tag === "JobStatusChanged"), Stream.take(n), Stream.runDrain)
    // The delivery record is written after the events are published: wait for the last one.
    while ((yield* Ref.get(deliveredJobs)) < n) yield* Effect.yieldNow()
    const endingMs = performance.now() - start

    return {
      jobs: n,
      floorMs: median(floorTimes),
      steadyMs: median(steady),
      changingMs: median(changing),
      endingMs,
      markDeliveredCalls: (yield* Ref.get(deliveredCalls)) - delivered,
      bytesPerJob
    } satisfies MonitorTickResult
  }).pipe(
    Effect.scoped,
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ poll_interval: 3600, log_directory: dir }),
      runner: TestCommandRunner.layer({ rules, spawnRules: [] }),
      executor: toyExecutorLayer,
      store: countingStore
    })),
    Effect.provide(NodeContext.layer)
  )
}

// The in-memory store, with its markDelivered calls and the jobs they named counted.
const deliveredCalls = Ref.unsafeMake(0)
const deliveredJobs = Ref.unsafeMake(0)
const countingStore = Layer.effect(
  JobStore,
  Effect.map(makeMemory, (store) => ({
    ...store,
    markDelivered: (keys) =>
      Ref.update(deliveredCalls, (k) => k + 1).pipe(
        Effect.zipRight(Ref.update(deliveredJobs, (k) => k + keys.length)),
        Effect.zipRight(store.markDelivered(keys))
      )
  }))
)

const main = Effect.gen(function*() {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0)
  const dir = mkdtempSync(join(tmpdir(), "cluster-api-bench-"))
  const lines: Array<string> = []
  for (const n of sizes.length > 0 ? sizes : [10_000, 100_000]) {
    yield* Ref.set(deliveredJobs, 0)
    const r = yield* benchMonitorTick(n, n >= 100_000 ? 5 : 11, dir)
    const ratio = (ms: number) => `${ms.toFixed(1)} ms (${(ms / r.floorMs).toFixed(1)}× JSON.parse)`
    lines.push(
      `N=${n}: JSON.parse ${r.floorMs.toFixed(1)} ms; steady ${ratio(r.steadyMs)}; all changing ${ratio(r.changingMs)}; ` +
        `all ending ${ratio(r.endingMs)}, ${r.markDeliveredCalls} markDelivered call(s); ` +
        `heap/job ${r.bytesPerJob === undefined ? "n/a (--expose-gc)" : `${r.bytesPerJob.toFixed(0)} B`}`
    )
    console.log(lines.at(-1))
  }
})

if (import.meta.url === `file://${process.argv[1]}`) Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
