/**
 * Cancelling local jobs (real processes, it.live) before any poll saw them run: the cancel records
 * what the executor knows of them, and the next poll gives each process its end.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-local-cancel-")

// The Monitor polls only when the test calls `tick` (and once at start, with nothing to poll).
const run = <A, E>(body: (dir: string) => Effect.Effect<A, E, ClusterApi.Services>, config: Partial<ConfigOptions> = {}) => {
  const dir = tempDir()
  return body(dir).pipe(
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ poll_interval: 3600, job_name_prefix: "test", log_directory: dir, ...config }),
      runner: nodeRunner
    }))
  )
}

/** Waits until every file exists (a process writes its pid file once it runs). */
const exist = (files: ReadonlyArray<string>, bound: Duration.DurationInput = "60 seconds") =>
  Effect.sleep("50 millis").pipe(
    Effect.repeat({ until: () => files.every((f) => existsSync(f)) }),
    Effect.timeoutFail({ duration: bound, onTimeout: () => new Error(`${files.join(", ")} never appeared`) })
  )

const stored = (jobId: string) => Effect.flatMap(JobStore, (s) => s.get({ executor: "local", jobId })).pipe(Effect.map(Option.getOrThrow))

describe("cancelling local jobs before any poll saw them run", { timeout: 120_000 }, () => {
  it.live("a running job keeps its start time and host through the cancel and the next poll", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "long", command: "sleep 60" })
        yield* exist([join(dir, `job.${job.jobId}.pid`)])
        const atCancel = yield* executor.cancel(job.jobId)
        expect(atCancel.status).toBe("Killed")
        expect(atCancel.startTime).toBeDefined()
        expect(atCancel.execHost).toBe(hostname())
        yield* monitor.tick
        const final = yield* stored(job.jobId)
        expect([final.status, final.reason, final.startTime, final.execHost]).toEqual([
          "Killed",
          { _tag: "Cancelled" },
          atCancel.startTime,
          hostname()
        ])
      })
    ))

  it.live("an array of 4 with 2 running: every element ends with the cancel, and the next poll gives each its end", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray({ name: "arr", command: "sleep 60" }, { start: 0, end: 3 })
        yield* exist([0, 1].map((i) => join(dir, `job.${job.jobId}.${i}.pid`)))
        const atCancel = yield* executor.cancel(job.jobId)
        expect(atCancel.status).toBe("Killed")
        expect(atCancel.elements?.map((e) => [e.index, e.status, e.execHost])).toEqual([
          [0, "Killed", hostname()],
          [1, "Killed", hostname()],
          [2, "Killed", undefined],
          [3, "Killed", undefined]
        ])
        yield* monitor.tick
        const final = yield* stored(job.jobId)
        expect([final.status, final.reason]).toEqual(["Killed", { _tag: "Cancelled" }])
        expect(final.elements?.map((e) => [e.index, e.status, e.finishTime !== undefined])).toEqual([
          [0, "Killed", true],
          [1, "Killed", true],
          [2, "Killed", true],
          [3, "Killed", true]
        ])
      }), { max_local_jobs: 2 }))
})
