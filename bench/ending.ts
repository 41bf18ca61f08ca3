/**
 * Every tracked job ending in one tick: N Running jobs, then the scheduler reports them all Done;
 * timed from the tick's start until every end is announced (one JobStatusChanged each) and marked
 * delivered in the store, with the number of `markDelivered` calls that took (one when the marks
 * are batched). Through the toy dialect (test/support/ToyDialect.ts) and the TestCommandRunner,
 * in-memory store: scheduler time excluded, replies computed before anything is timed. The floor
 * is JSON.parse of an array of N small objects, measured in the same run.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Ref, Stream } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { chunkJobs } from "../src/internal/batch/observe.js"
import { JobStore, makeMemory } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import type { Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { toyExecutorLayer } from "../test/support/ToyDialect.js"
import { median } from "./report.js"
import { makeRecords } from "./storeTick.js"

export interface EndingResult {
  readonly jobs: number
  /** JSON.parse of an array of N small objects (the floor), median ms. */
  readonly floorMs: number
  readonly endingMs: number
  readonly markDeliveredCalls: number
}

/** The answer `toystat` gives, per state, per argv chunk: built once, before anything is timed. */
const replyTable = (n: number) => {
  const ids = Array.from({ length: n }, (_, i) => String(i + 1))
  const table = new Map<string, string>()
  for (const state of ["R", "CD|0"]) {
    for (const chunk of chunkJobs(ids.map((jobId) => ({ jobId }) as JobRecord))) {
      table.set(`${state}:${chunk[0]?.jobId}:${chunk.length}`, chunk.map((j) => `${j.jobId}|${state}`).join("\n"))
    }
  }
  return table
}

export const benchEnding = (n: number, dir: string): Effect.Effect<EndingResult, unknown> => {
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
  for (let i = 0; i < 5; i++) {
    const start = performance.now()
    JSON.parse(floorText)
    floorTimes.push(performance.now() - start)
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

  return Effect.gen(function*() {
    const store = yield* JobStore
    const monitor = yield* Monitor
    const events = yield* monitor.subscribe
    yield* store.insert(makeRecords(n, dir, "toy", "Running"))
    yield* events.pipe(Stream.filter((e) => e._tag === "JobSubmitted"), Stream.take(n), Stream.runDrain)
    yield* monitor.tick
    yield* monitor.tick
    const delivered = yield* Ref.get(deliveredCalls)

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
      endingMs,
      markDeliveredCalls: (yield* Ref.get(deliveredCalls)) - delivered
    } satisfies EndingResult
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
