/**
 * A batch submission is written to the job store (an intent with a token the scheduler keeps in
 * the job's comment) before sbatch runs, so that a program dying between sbatch and the job's
 * record loses no job: the next Monitor finds the job by its token and watches it to its end, or
 * records a submission the scheduler never got as Failed(SubmitFailed). A store that fails right
 * after a successful submit gives SubmittedNotRecorded naming the job id. Under TestClock, with
 * the scripted Slurm (FakeSlurm) on one in-memory store shared by the "programs".
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import { StoreError } from "../src/Errors.js"
import { Executor } from "../src/Executor.js"
import type { JobStoreShape, SubmitIntent } from "../src/JobStore.js"
import { JobStore, makeMemory } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { slurmJob } from "./support/Records.js"
import { makeFakeSlurm } from "./support/FakeSlurm.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-intent-")

type Fake = Effect.Effect.Success<ReturnType<typeof makeFakeSlurm>>

/** One program: the services on `store`, speaking to the fake Slurm. */
const program = (fake: Fake, store: JobStoreShape, logs: string) =>
  ClusterApi.compose({
    config: ClusterConfig.layerTest({ executor: "slurm", poll_interval: 10, log_directory: logs }),
    runner: TestCommandRunner.layer({ rules: fake.rules }),
    store: Layer.succeed(JobStore, store)
  })

/** A program that dies (is interrupted) right after sbatch answered, before the job is recorded. */
const diesAfterSbatch = (fake: Fake, store: JobStoreShape, logs: string) =>
  Effect.gen(function*() {
    const dying: JobStoreShape = { ...store, settleIntent: () => Effect.interrupt }
    const exit = yield* Effect.flatMap(Executor, (e) => e.submit({ name: "lost", command: "true" })).pipe(
      Effect.fork,
      Effect.flatMap(Fiber.await),
      Effect.scoped,
      Effect.provide(program(fake, dying, logs))
    )
    expect(Exit.isInterrupted(exit)).toBe(true)
  })

const running = (id: string) => `${id}|RUNNING|None|n1|2026-11-21T12:00:00|2026-11-21T12:00:01|capi-lost`
const ended = (id: string) => [
  `${id}|${id}|COMPLETED|0:0|None||100M|n1|2026-11-21T12:00:00|2026-11-21T12:00:01|2026-11-21T12:00:09|capi-lost`,
  `${id}.batch|${id}.batch|COMPLETED|0:0||2048K||n1|2026-11-21T12:00:01|2026-11-21T12:00:01|2026-11-21T12:00:09|batch`
]

describe("a submission in flight", () => {
  it.effect("is in the job store, with the token sbatch is given, when sbatch runs; the record replaces it", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSlurm()
      const store = yield* makeMemory
      let seen: ReadonlyArray<SubmitIntent> | undefined
      let argv: ReadonlyArray<string> = []
      const record = yield* Effect.gen(function*() {
        yield* (yield* TestCommandRunner).addRules([{
          match: "sbatch",
          times: 1,
          reply: (call) => {
            seen = Effect.runSync(store.intents)
            argv = call.argv
            return { stdout: "4242\n" }
          }
        }])
        return yield* (yield* Executor).submit({ name: "align", command: "bwa mem", resources: { cpus: 2 } })
      }).pipe(Effect.scoped, Effect.provide(program(fake, store, tempDir())))
      expect(seen).toHaveLength(1)
      const [intent] = seen!
      expect(intent).toMatchObject({ executor: "slurm", name: "capi-align" })
      expect(intent!.draft).toMatchObject({ command: "bwa mem", scriptPath: record.scriptPath })
      expect(intent!.draft.spec?.resources?.cpus).toBe(2)
      expect(argv).toContain(`--comment=cluster-api:${intent!.token}`)
      expect(record.jobId).toBe("4242")
      expect(yield* store.intents).toEqual([])
      expect(Option.isSome(yield* store.get(slurmJob("4242")))).toBe(true)
    }))

  it.effect("left by a program killed after sbatch, is adopted by the next Monitor, which watches the job to its end", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSlurm()
      const store = yield* makeMemory
      const logs = tempDir()
      yield* diesAfterSbatch(fake, store, logs)
      // sbatch ran (job 1000), nothing recorded it: only the intent is in the store.
      expect(yield* store.list()).toEqual([])
      expect(yield* store.intents).toHaveLength(1)
      yield* fake.queue("1000", [running("1000")])
      yield* Effect.gen(function*() {
        const monitor = yield* Monitor
        expect(monitor.resumed.adopted.map((r) => [r.jobId, r.name, r.command])).toEqual([["1000", "capi-lost", "true"]])
        expect(yield* store.intents).toEqual([])
        // One squeue answered for every interrupted submission.
        expect((yield* (yield* TestCommandRunner).callsMatching("squeue")).filter((c) => c.argv.includes("%F|%k")))
          .toHaveLength(1)
        yield* fake.queue("1000", undefined)
        yield* fake.account("1000", ended("1000"))
        const done = yield* Effect.fork(monitor.await("1000"))
        yield* TestClock.adjust("30 seconds")
        const final = yield* Fiber.join(done)
        expect([final.jobId, final.status, final.exitCode]).toEqual(["1000", "Done", 0])
      }).pipe(Effect.scoped, Effect.provide(program(fake, store, logs)))
    }))

  it.effect("whose job the scheduler does not have, is recorded Failed(SubmitFailed) by the next Monitor", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSlurm()
      const store = yield* makeMemory
      const logs = tempDir()
      yield* diesAfterSbatch(fake, store, logs)
      const [intent] = yield* store.intents
      yield* Effect.gen(function*() {
        const monitor = yield* Monitor
        expect(monitor.resumed.adopted).toEqual([])
        expect(monitor.resumed.ended).toHaveLength(1)
      }).pipe(Effect.scoped, Effect.provide(program(fake, store, logs)))
      const [record] = yield* store.list()
      expect(record).toMatchObject({ jobId: `unsubmitted-${intent!.token}`, name: "capi-lost", status: "Failed" })
      expect(record?.reason?._tag).toBe("SubmitFailed")
      expect(record?.reason?._tag === "SubmitFailed" && record.reason.message).toMatch(
        /the program ended during the submit and slurm has no such job/
      )
      expect(yield* store.intents).toEqual([])
    }))

  it.effect("of a program still submitting is left alone", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSlurm()
      const store = yield* makeMemory
      const logs = tempDir()
      yield* Effect.gen(function*() {
        yield* (yield* TestCommandRunner).addRules([{ match: "sbatch", times: 1, reply: { stdout: "77\n", delay: "5 seconds" } }])
        const submitting = yield* Effect.fork((yield* Executor).submit({ name: "slow", command: "true" }))
        // The script is written to disk first: wait (on the event loop, not the clock) for sbatch to run.
        yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve))).pipe(
          Effect.repeat({ until: () => Effect.runSync(store.intents).length > 0 })
        )
        yield* TestClock.adjust("1 second")
        // Another program opens the store meanwhile: the submission is not its to settle.
        yield* Effect.gen(function*() {
          expect((yield* Monitor).resumed.ended).toEqual([])
        }).pipe(Effect.scoped, Effect.provide(program(fake, store, logs)))
        expect(yield* store.intents).toHaveLength(1)
        yield* TestClock.adjust("5 seconds")
        expect((yield* Fiber.join(submitting)).jobId).toBe("77")
      }).pipe(Effect.scoped, Effect.provide(program(fake, store, logs)))
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["77"])
      expect(yield* store.intents).toEqual([])
    }))

  it.effect("of a job sbatch refused is removed, and the submit fails as before", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSlurm()
      const store = yield* makeMemory
      const error = yield* Effect.gen(function*() {
        yield* (yield* TestCommandRunner).addRules([{
          match: "sbatch",
          reply: { exitCode: 1, stderr: "sbatch: error: Batch job submission failed: Invalid account\n" }
        }])
        return yield* Effect.flip((yield* Executor).submit({ name: "refused", command: "true" }))
      }).pipe(Effect.scoped, Effect.provide(program(fake, store, tempDir())))
      expect(error._tag).toBe("SubmitError")
      expect(yield* store.intents).toEqual([])
    }))
})

describe("a job store that fails right after sbatch", () => {
  /** The store, with `settleIntent` failing `failures` times (a full disk) and counting its calls. */
  const failing = (store: JobStoreShape, failures: number, how: "fail" | "die" = "fail") => {
    let calls = 0
    const wrapped: JobStoreShape = {
      ...store,
      settleIntent: (token, records) =>
        Effect.suspend(() => {
          calls++
          if (calls > failures) return store.settleIntent(token, records)
          const error = new StoreError({ operation: "settleIntent", detail: "database or disk is full" })
          return how === "fail" ? Effect.fail(error) : Effect.die(error)
        })
    }
    return { store: wrapped, calls: () => calls }
  }

  const submitThrough = (fake: Fake, store: JobStoreShape) =>
    Effect.gen(function*() {
      const submitting = yield* Effect.fork((yield* Executor).submit({ name: "full", command: "true" }))
      // The submit writes its script for real (file I/O) before it waits on the clock between its
      // tries: move the clock on, a second at a time, until it has finished (a busy machine makes
      // it reach its waits late, after a single move of the clock would have passed).
      while (Option.isNone(yield* Fiber.poll(submitting))) {
        yield* TestClock.adjust("1 second")
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      }
      return yield* Fiber.await(submitting)
    }).pipe(Effect.scoped, Effect.provide(program(fake, store, tempDir())))

  it.effect("is tried again: a store that recovers within the tries records the job", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSlurm()
      const memory = yield* makeMemory
      const { calls, store } = failing(memory, 2)
      const exit = yield* submitThrough(fake, store)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(calls()).toBe(3)
      expect((yield* memory.list()).map((r) => r.jobId)).toEqual(["1000"])
      expect(yield* memory.intents).toEqual([])
    }))

  for (const how of ["fail", "die"] as const) {
    it.effect(`gives SubmittedNotRecorded naming the job id and how to track it, and keeps the intent (store errors that ${how})`, () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeSlurm()
        const memory = yield* makeMemory
        const { calls, store } = failing(memory, Number.POSITIVE_INFINITY, how)
        const exit = yield* submitThrough(fake, store)
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        expect(Option.map(error, (e) => e._tag)).toEqual(Option.some("SubmittedNotRecorded"))
        const e = Option.getOrThrow(error)
        expect(e.message).toContain("as job 1000")
        expect(e.message).toContain("database or disk is full")
        expect(e.message).toContain("cluster-api track 1000 --name 'capi-full'")
        expect(e._tag === "SubmittedNotRecorded" && e.cause).toBeInstanceOf(StoreError)
        expect(calls()).toBe(5)
        expect(yield* memory.list()).toEqual([])
        expect((yield* memory.intents).map((i) => i.name)).toEqual(["capi-full"])
      }))
  }
})
