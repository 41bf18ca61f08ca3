/**
 * Monitor.tick with many tracked jobs, through the toy dialect (test/support/ToyDialect.ts) and
 * the TestCommandRunner: what one poll of N jobs costs in this process, scheduler time excluded.
 *
 * The N records go straight into the JobStore (submitting them would write N scripts), all
 * Running, ids "1".."N". `toystat` answers every job Running from replies computed once per size,
 * before anything is measured, so the double's own work is a map lookup.
 */
import { Effect, Stream } from "effect"
import { chunkJobs } from "../src/internal/batch/observe.js"
import * as ClusterApi from "../src/ClusterApi.js"
import type { JobRecord } from "../src/Domain.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import type { Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { toyExecutorLayer } from "../test/support/ToyDialect.js"

export interface TickResult {
  readonly jobs: number
  readonly iterations: number
  readonly meanMs: number
  readonly minMs: number
  readonly maxMs: number
  /** `toystat` commands per tick (more than 1 once the ids pass BatchExecutor's argv budget). */
  readonly statusCallsPerTick: number
  /** Heap growth per tracked job, after a tick, both sides after a full GC; undefined without --expose-gc. */
  readonly bytesPerJob: number | undefined
}

const gc = (globalThis as { gc?: () => void }).gc

/** Heap used after full collections, or undefined when `gc` is not exposed. */
const settledHeap = Effect.sync(() => {
  if (gc === undefined) return undefined
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
})

const isStatus = (argv: ReadonlyArray<string>) => argv[0] === "toystat"
const replyKey = (ids: ReadonlyArray<string>) => `${ids[0]}:${ids.length}`

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

/**
 * Tracks `n` Running jobs, then: 1 tick and a heap measurement, 1 more warm-up tick, and
 * `iterations` timed ticks.
 */
export const benchTick = (n: number, iterations: number, dir: string): Effect.Effect<TickResult, Error> => {
  // The replies, per status command the executor will send (one per argv chunk), built up front.
  const replies = new Map<string, string>()
  const ids = Array.from({ length: n }, (_, i) => String(i + 1))
  for (const chunk of chunkJobs(ids.map((jobId) => ({ jobId }) as JobRecord))) {
    replies.set(replyKey(chunk.map((j) => j.jobId)), chunk.map((j) => `${j.jobId}|R|`).join("\n"))
  }
  const rules: ReadonlyArray<Rule> = [
    {
      match: isStatus,
      reply: (call) => {
        const asked = call.argv.slice(1)
        return { stdout: replies.get(replyKey(asked)) ?? asked.map((id) => `${id}|R|`).join("\n") }
      }
    }
  ]

  return Effect.gen(function*() {
    const store = yield* JobStore
    const monitor = yield* Monitor
    const runner = yield* TestCommandRunner

    const before = yield* settledHeap
    // Wait until the Monitor has handled every insert (it publishes one JobSubmitted for each).
    const events = yield* monitor.subscribe
    yield* store.insert(makeRecords(n, dir)) // no reference kept here: the store holds the only one
    yield* events.pipe(Stream.filter((e) => e._tag === "JobSubmitted"), Stream.take(n), Stream.runDrain)

    const first = yield* monitor.tick
    if (first.observed !== n || first.failed) {
      return yield* Effect.fail(new Error(`tick@${n}: observed ${first.observed} of ${n} jobs (failed: ${first.failed})`))
    }
    // The double records every call's argv: forget them so they do not count as the store's.
    yield* runner.clearCalls
    const after = yield* settledHeap
    const bytesPerJob = before === undefined || after === undefined ? undefined : (after - before) / n

    yield* monitor.tick
    yield* runner.clearCalls
    const times: Array<number> = []
    for (let i = 0; i < iterations; i++) {
      const start = performance.now()
      const report = yield* monitor.tick
      times.push(performance.now() - start)
      if (report.observed !== n) return yield* Effect.fail(new Error(`tick@${n}: observed ${report.observed}`))
    }
    const calls = (yield* runner.callsMatching(isStatus)).length
    return {
      jobs: n,
      iterations,
      meanMs: times.reduce((a, b) => a + b, 0) / times.length,
      minMs: Math.min(...times),
      maxMs: Math.max(...times),
      statusCallsPerTick: calls / iterations,
      bytesPerJob
    } satisfies TickResult
  }).pipe(
    Effect.scoped,
    Effect.provide(ClusterApi.layerTest({
      executor: toyExecutorLayer,
      rules,
      // The polling fiber ticks once at start (nothing tracked yet) and then not for an hour.
      config: { poll_interval: 3600, log_directory: dir }
    }))
  )
}
