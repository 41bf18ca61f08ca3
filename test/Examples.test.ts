/**
 * The programs in examples/ run for real (it.live: real clock, real processes) on the local
 * executor, so that they never rot: each returns its outcome and the test checks it.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import type { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Logger, LogLevel } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { arrayJob, program as arrayProgram } from "../examples/array-job.js"
import { chain, program as chainProgram } from "../examples/callback-chain.js"
import { quickStart } from "../examples/housekeeper-quickstart.js"
import { mlProgram } from "../examples/ml-pipeline.js"
import { program as singleProgram } from "../examples/single-job.js"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import { JobStore } from "../src/JobStore.js"
import { removeDir } from "./support/TempDirs.js"

const dirs: Array<string> = []
afterAll(() => dirs.forEach(removeDir))

/** The whole stack with real processes, logs in a fresh temporary directory. */
const provideLive = <A, E>(
  effect: Effect.Effect<A, E, ClusterApi.Services | FileSystem.FileSystem | Path.Path>
) => {
  const dir = mkdtempSync(join(tmpdir(), "capi-examples-"))
  dirs.push(dir)
  return effect.pipe(
    // The examples log each step; a test shows only warnings and errors.
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ poll_interval: 0.1, log_directory: dir }),
      runner: nodeRunner
    })),
    Effect.provide(NodeContext.layer)
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

describe("examples/ml-pipeline (hpc-runner's Pipeline example)", () => {
  it.live("runs preprocess, train (failing once, then retried) and evaluate in order; a second run keeps them all", () => {
    const work = mkdtempSync(join(tmpdir(), "capi-ml-"))
    dirs.push(work)
    return provideLive(Effect.gen(function*() {
      const { output, result } = yield* mlProgram(work)
      expect(result.ok).toBe(true)
      expect(result.steps.map((s) => [s.step, s.status, s.record?.attempt ?? 1])).toEqual([
        ["preprocess", "Done", 1],
        ["train", "Done", 2],
        ["evaluate", "Done", 1]
      ])
      expect(output).toBe("evaluating\nscore: 50\n")
      const train = result.steps[1]!.record!
      expect(train.retryOf).toBeDefined()
      expect(read(train.stderrPath)).toBe("")
      const again = yield* mlProgram(work)
      expect(again.result.steps.map((s) => [s.step, s.reused, s.record?.jobId])).toEqual(
        result.steps.map((s) => [s.step, true, s.record?.jobId])
      )
    }))
  })

  it.live("a failing step ends Failed with its exit code; the steps before it stay Done", () => {
    const work = mkdtempSync(join(tmpdir(), "capi-ml-"))
    dirs.push(work)
    return provideLive(Effect.gen(function*() {
      const { result } = yield* mlProgram(work, "evaluate")
      expect(result.ok).toBe(false)
      expect(result.steps.map((s) => [s.step, s.summary])).toEqual([
        ["preprocess", "Done"],
        ["train", "Done"],
        ["evaluate", "Failed: exit code 3"]
      ])
    }))
  })

  it.live("when training fails for good, evaluate is never run and names the step it waited for", () => {
    const work = mkdtempSync(join(tmpdir(), "capi-ml-"))
    dirs.push(work)
    return provideLive(Effect.gen(function*() {
      const { result } = yield* mlProgram(work, "train")
      const train = result.steps[1]!
      expect(train.record?.attempt).toBe(2)
      expect(train.summary).toBe("Failed: exit code 3")
      expect(result.steps[2]!.record).toBeUndefined()
      expect(result.steps[2]!.summary).toBe(`Failed: dependency failed: train (job ${train.record?.jobId})`)
    }))
  })
})

describe("examples/housekeeper-quickstart", () => {
  it.live("process then analyze, both Done; the whitelisted warning does not fail process", () => {
    const run = mkdtempSync(join(tmpdir(), "capi-hk-"))
    dirs.push(run)
    return provideLive(Effect.gen(function*() {
      const { failure, jobs } = yield* quickStart(run)
      expect(jobs.map((j) => [j.name, j.status])).toEqual([["capi-process", "Done"], ["capi-analyze", "Done"]])
      expect(failure).toBeUndefined()
      expect(read(join(run, "analysis", "analysis.txt")).trim()).toBe("11")
      expect(read(jobs[0]!.stderrPath)).toContain("WARN: failed to read")
    }))
  })

  it.live("without output.fits: process is Failed (missing output) after its retry, analyze never runs", () => {
    const run = mkdtempSync(join(tmpdir(), "capi-hk-"))
    dirs.push(run)
    return provideLive(Effect.gen(function*() {
      const { failure, jobs } = yield* quickStart(run, { noOutput: true })
      expect(jobs.map((j) => [j.name, j.status, j.attempt ?? 1])).toEqual([
        ["capi-process", "Failed", 1],
        ["capi-analyze", "Failed", 1],
        ["capi-process", "Failed", 2]
      ])
      expect(failure?.reason).toEqual({ _tag: "MissingOutput", missing: ["output.fits"] })
      expect(failure?.missingOutputs).toEqual(["output.fits"])
      expect(failure?.attempt).toBe(2)
      expect(jobs[1]!.reason?._tag).toBe("DependencyFailed")
      expect(existsSync(join(run, "analysis", "analysis.txt"))).toBe(false)
    }))
  })
})
