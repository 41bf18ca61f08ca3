/**
 * A scheduler cluster-api does not ship, defined here and nowhere else: "toy", a dialect of three
 * commands (`toysub SCRIPT` prints the job id, `toystat IDS` prints `ID STATE` lines, `toydel IDS`)
 * answered by TestCommandRunner rules, run by the shared BatchExecutor.
 *
 * What it shows: a program adds a scheduler by giving ClusterApi the list `[...builtin, toy]`, and
 * the config's `executor: toy` then submits, watches and awaits its jobs like any built-in
 * scheduler's. No file of cluster-api knows the name "toy": no switch, no list, no check to add to.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, TestClock } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import * as BatchExecutor from "../src/BatchExecutor.js"
import * as ClusterApi from "../src/ClusterApi.js"
import type { Observation } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import type { Dialect, Scheduler } from "../src/Scheduler.js"
import { batchCapabilities, Schedulers } from "../src/Scheduler.js"
import { builtin } from "../src/schedulers/builtin.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-toy-")

const toyStates: Readonly<Record<string, Observation["status"]>> = { Q: "Pending", R: "Running", D: "Done", F: "Failed" }

/** The toy scheduler's whole syntax. */
const toyDialect: Dialect = {
  kind: "toy",
  logFileName: (stream) => `${stream}.%J.log`,
  resolveLogPath: (template, jobId) => template.split("%J").join(jobId),
  directives: (job) => [`#TOY name=${job.name}`],
  submit: (request) => ({ argv: ["toysub", request.scriptPath] }),
  parseSubmit: (stdout) => /^\d+$/.test(stdout.trim()) ? Either.right(stdout.trim()) : Either.left(`not a job id: ${stdout}`),
  status: (jobs) => ({ argv: ["toystat", ...jobs.map((j) => j.jobId)] }),
  parseStatus: (stdout) =>
    Either.right(stdout.split("\n").filter((l) => l.trim() !== "").map((line): Observation => {
      const [jobId = "", state = ""] = line.trim().split(/\s+/)
      return { jobId, status: toyStates[state] ?? "Unknown" }
    })),
  cancel: (jobIds) => ({ argv: ["toydel", ...jobIds] })
}

/** The toy scheduler as cluster-api knows a scheduler: a descriptor, defined by the program. */
const toy: Scheduler<"toy"> = {
  name: "toy",
  capabilities: batchCapabilities,
  layer: BatchExecutor.layer(toyDialect)
}

describe("a scheduler a program adds", () => {
  it.effect("executor: toy submits through the toy's commands, the Monitor sees the job end, await gives its record", () =>
    Effect.gen(function*() {
      const executor = yield* Executor
      const monitor = yield* Monitor
      expect(executor.kind).toBe("toy")
      expect((yield* Schedulers).map((s) => s.name)).toEqual(["local", "slurm", "lsf", "sge", "pbs", "toy"])

      const job = yield* executor.submit({ name: "hello", command: "echo hello" })
      expect(job).toMatchObject({ jobId: "41", executor: "toy", status: "Pending", name: "capi-hello" })
      expect(job.stdoutPath).toMatch(/stdout\.41\.log$/)

      const waiting = yield* Effect.fork(monitor.await(job))
      yield* TestClock.adjust("10 seconds")
      const ended = yield* Fiber.join(waiting)
      expect(ended).toMatchObject({ jobId: "41", executor: "toy", status: "Done" })

      const runner = yield* TestCommandRunner
      expect((yield* runner.callsMatching("toysub")).map((c) => c.argv)).toEqual([["toysub", job.scriptPath]])
      expect((yield* runner.callsMatching("toystat")).map((c) => c.argv)).toContainEqual(["toystat", "41"])
    }).pipe(
      Effect.scoped,
      Effect.provide(ClusterApi.layerTest({
        config: { executor: "toy", poll_interval: 10, log_directory: tempDir() },
        schedulers: [...builtin, toy],
        rules: [
          { match: "toysub", reply: { stdout: "41\n" } },
          { match: "toystat", reply: { stdout: "41 D\n" } }
        ]
      }))
    ))

  it.effect("without the toy in the list, executor: toy is a ConfigInvalid naming the schedulers there are", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Layer.build(ClusterApi.layerTest({ config: { executor: "toy" } }))))
      expect(error._tag).toBe("ConfigInvalid")
      expect(error.message).toContain(`executor: expected one of local, slurm, lsf, sge, pbs, auto, got "toy"`)
    }))

  it.effect("each built-in scheduler's descriptor says what its executor says of its jobs", () =>
    Effect.forEach(builtin, (scheduler) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        expect([executor.kind, executor.capabilities]).toEqual([scheduler.name, scheduler.capabilities])
      }).pipe(
        Effect.scoped,
        Effect.provide(ClusterApi.layerTest({ config: { executor: scheduler.name, log_directory: tempDir() } }))
      )))

  it.live("a config file may say executor: toy to ClusterApi.layer given the toy; the loader refuses it otherwise", () =>
    Effect.gen(function*() {
      const configPath = join(tempDir(), "cluster-api.yaml")
      writeFileSync(configPath, `executor: toy\nstate_path: ":memory:"\nlog_directory: ${JSON.stringify(tempDir())}\n`)
      const kind = yield* Effect.map(Executor, (e) => e.kind).pipe(
        Effect.provide(ClusterApi.layer({ configPath, schedulers: [...builtin, toy] }))
      )
      expect(kind).toBe("toy")
      const error = yield* Effect.flip(Effect.scoped(Layer.build(ClusterApi.layer({ configPath }))))
      expect(error._tag).toBe("ConfigInvalid")
      expect(error.message).toContain(`executor: expected one of local, slurm, lsf, sge, pbs, auto, got "toy"`)
    }))
})
