/**
 * The programs in examples/ run for real (it.live: real clock, real processes) on the local
 * executor, so that they never rot: each returns its outcome and the test checks it.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { arrayJob, program as arrayProgram } from "../examples/array-job.js"
import { chain, program as chainProgram } from "../examples/callback-chain.js"
import { program as singleProgram } from "../examples/single-job.js"
import * as ClusterApi from "../src/ClusterApi.js"
import { layer as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import { JobStore } from "../src/JobStore.js"

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** The whole stack with real processes, logs in a fresh temporary directory. */
const provideLive = <A, E>(effect: Effect.Effect<A, E, ClusterApi.Services>) => {
  const dir = mkdtempSync(join(tmpdir(), "capi-examples-"))
  dirs.push(dir)
  return effect.pipe(
    // The examples log each step; a test shows only warnings and errors.
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ poll_interval: 0.1, log_directory: dir }),
      runner: nodeRunner
    }))
  )
}

const read = (file: string | undefined) => readFileSync(file ?? "", "utf8")

describe("examples/single-job", () => {
  it.live("ends Done with exit code 0, the env variable in its output, the resources accepted", () =>
    provideLive(Effect.gen(function*() {
      const record = yield* singleProgram
      expect(record.status).toBe("Done")
      expect(record.exitCode).toBe(0)
      expect(record.execHost).toBeDefined()
      expect(record.name).toBe("capi-single")
      const out = read(record.stdoutPath)
      expect(out).toContain("hello, cluster-api\n")
      expect(out).toContain(`job ${record.jobId} ran on `)
      expect(read(record.stderrPath)).toBe("")
    })))
})

describe("examples/array-job", () => {
  it.live("ends Failed naming exactly the failing element; every element printed its index", () =>
    provideLive(Effect.gen(function*() {
      const { failed, record } = yield* arrayProgram
      expect(record.status).toBe("Failed")
      expect(failed).toEqual([4])
      expect(record.reason).toEqual({ _tag: "ElementsFailed", indices: [4] })
      expect(record.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([
        [1, "Done", 0],
        [2, "Done", 0],
        [3, "Done", 0],
        [4, "Failed", 3],
        [5, "Done", 0],
        [6, "Done", 0]
      ])
      for (const i of [1, 2, 3, 4, 5, 6]) {
        expect(read(record.stdoutPath?.replace("{index}", String(i)))).toBe(`element ${i}\n`)
      }
    })))

  it.live("with no failing element, ends Done and names none", () =>
    provideLive(Effect.gen(function*() {
      const { failed, record } = yield* arrayJob(99)
      expect(record.status).toBe("Done")
      expect(failed).toEqual([])
    })))
})

describe("examples/callback-chain", () => {
  it.live("runs A, then B on A's output, then C on B's: all Done, C's output carries A's", () =>
    provideLive(Effect.gen(function*() {
      const [a, b, c] = yield* chainProgram
      expect([a.status, b.status, c.status]).toEqual(["Done", "Done", "Done"])
      expect(read(a.stdoutPath)).toBe("A says: the answer is 42\n")
      expect(read(b.stdoutPath)).toBe("B read: A says: the answer is 42\n")
      expect(read(c.stdoutPath)).toBe("C read: B read: A says: the answer is 42\n")
      // Each step started only after the one before had ended.
      expect(b.submitTime!.getTime()).toBeGreaterThanOrEqual(a.finishTime!.getTime())
      expect(c.submitTime!.getTime()).toBeGreaterThanOrEqual(b.finishTime!.getTime())
    })))

  it.live("reports the step that failed, and submits nothing after it", () =>
    provideLive(Effect.gen(function*() {
      const error = yield* Effect.flip(chain({ failAt: "B", timeout: "30 seconds" }))
      expect(error._tag).toBe("ChainStepFailed")
      if (error._tag !== "ChainStepFailed") return
      expect(error.step).toBe("B")
      expect(error.message).toBe("step B failed: exit code 7")
      expect(error.record?.status).toBe("Failed")
      const store = yield* JobStore
      const names = (yield* store.list()).map((r) => r.name).sort()
      expect(names).toEqual(["capi-chain-a", "capi-chain-b"])
    })))

  it.live("fails with a timeout naming the step it was waiting on", () =>
    provideLive(Effect.gen(function*() {
      const error = yield* Effect.flip(chain({ timeout: "1 millis" }))
      expect(error._tag).toBe("ChainTimeout")
      if (error._tag !== "ChainTimeout") return
      expect(error.step).toBe("A")
    })))
})
