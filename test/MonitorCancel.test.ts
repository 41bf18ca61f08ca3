/**
 * A cancelled job under the Monitor (TestClock, a scripted Slurm answering with outputs recorded
 * from the real one): the cancel ends it at once, and the polls after it complete its record with
 * what Slurm reports of the cancelled job, until Slurm says it ended.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect, Fiber, Layer, Option, Ref, Stream, TestClock } from "effect"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobEvent } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import type { Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { fixtures } from "./support/Dialects.js"
import { calls, getRecord, withFakeScheduler } from "./support/FakeScheduler.js"
import { makeFakeSlurm } from "./support/FakeSlurm.js"
import { tempDirs } from "./support/TempDirs.js"
import { toyExecutorLayer } from "./support/ToyDialect.js"

const slurm = fixtures("slurm")
const lines = (name: string, id: string) =>
  slurm(name).split("\n").filter((l) => l.startsWith(`${id}|`) || l.startsWith(`${id}.`) || l.startsWith(`${id}_`))

/**
 * An array of 4 submitted and cancelled before any poll, whose sacct answer is, for now, one row
 * for the whole range: slurmdbd has not split the elements that ran off the array's row yet.
 */
const cancelledArray = (fake: Effect.Effect.Success<ReturnType<typeof makeFakeSlurm>>) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const job = yield* executor.submit({ name: "arrcancel2", command: "sleep 300", array: { start: 0, end: 3, maxConcurrent: 2 } })
    yield* executor.cancel(job.jobId)
    yield* fake.account(job.jobId, [
      "367_[0-3%2]|367|CANCELLED by 0|0:0|JobArrayTaskLimit||100M|None assigned|2026-12-07T16:11:22|2026-12-07T16:11:23|2026-12-07T16:11:23|capi-arrcancel2"
    ])
    return job
  })

/** Everything the Monitor publishes from now on, and how many times a callback for the job's end ran. */
const watch = (jobId: string) =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const seen = yield* Ref.make<ReadonlyArray<JobEvent>>([])
    const events = yield* monitor.subscribe
    const collector = yield* Stream.runForEach(events, (e) => Ref.update(seen, (all) => [...all, e])).pipe(Effect.fork)
    const fired = yield* Ref.make(0)
    yield* monitor.onExit(jobId, () => Ref.update(fired, (n) => n + 1))
    return {
      ends: Effect.gen(function*() {
        yield* Fiber.interrupt(collector)
        const all = yield* Ref.get(seen)
        return {
          statusChanges: all.flatMap((e) => e._tag === "JobStatusChanged" ? [e.to] : []),
          callbacks: yield* Ref.get(fired)
        }
      })
    }
  })

describe("a cancelled Slurm job is completed by the polls after the cancel", () => {
  it.effect("an array of 4 cancelled before any poll saw it: the next polls record each element Killed with its end (4/4 ended), announced once", () =>
    withFakeScheduler(makeFakeSlurm(367), { executor: "slurm" }, "capi-monitor-cancel-")((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "arrcancel", command: "sleep 300", array: { start: 0, end: 3, maxConcurrent: 2 } })
        const watching = yield* watch(job.jobId)
        const atCancel = yield* executor.cancel(job.jobId)
        expect([atCancel.status, atCancel.elements]).toEqual(["Killed", undefined])

        // Right after scancel the running elements are COMPLETING; the pending ones are gone.
        yield* fake.queue(job.jobId, lines("squeue-array-cancel-completing.txt", "367"))
        yield* TestClock.adjust("10 seconds")
        const winding = yield* getRecord(job)
        expect(winding.status).toBe("Killed")
        expect(winding.elements?.map((e) => [e.index, e.status, e.execHost])).toEqual([[0, "Killed", "vm"], [1, "Killed", "vm"]])

        // Then squeue no longer shows the array, and sacct first holds one row for the whole array.
        yield* fake.queue(job.jobId, undefined)
        yield* fake.account(job.jobId, lines("sacct-array-cancelled-placeholder.txt", "367"))
        yield* TestClock.adjust("10 seconds")
        expect((yield* getRecord(job)).elements).toHaveLength(2)

        // Then every element.
        yield* fake.account(job.jobId, lines("sacct-array-cancelled.txt", "367"))
        yield* TestClock.adjust("10 seconds")
        const final = yield* getRecord(job)
        const end = new Date(2026, 11, 7, 16, 11, 23)
        expect(final.status).toBe("Killed")
        expect(final.reason).toEqual({ _tag: "Cancelled" })
        expect(final.elements?.map((e) => [e.index, e.status, e.finishTime, e.execHost])).toEqual([
          [0, "Killed", end, "vm"],
          [1, "Killed", end, "vm"],
          [2, "Killed", end, undefined],
          [3, "Killed", end, undefined]
        ])
        expect(final.finishTime).toEqual(end)

        // Slurm said it ended: it is asked about no more.
        const asked = (yield* calls("squeue")) + (yield* calls("sacct"))
        yield* TestClock.adjust("30 seconds")
        expect((yield* calls("squeue")) + (yield* calls("sacct"))).toBe(asked)
        expect(yield* watching.ends).toEqual({ statusChanges: ["Killed"], callbacks: 1 })
      })
    ))

  it.effect("an array cancelled before any poll saw it, whose first sacct answer is one row for the whole range: still asked about until the rows of the elements that ran give their host, within a minute", () =>
    withFakeScheduler(makeFakeSlurm(367), { executor: "slurm" }, "capi-monitor-cancel-")((fake) =>
      Effect.gen(function*() {
        const job = yield* cancelledArray(fake)
        yield* TestClock.adjust("10 seconds")
        const early = yield* getRecord(job)
        expect(early.elements?.map((e) => [e.index, e.status, e.execHost])).toEqual([
          [0, "Killed", undefined],
          [1, "Killed", undefined],
          [2, "Killed", undefined],
          [3, "Killed", undefined]
        ])
        // Nothing says an element started: the next poll asks again, and the rows of those that ran are there.
        yield* fake.account(job.jobId, lines("sacct-array-cancelled.txt", "367"))
        yield* TestClock.adjust("10 seconds")
        const final = yield* getRecord(job)
        expect(final.elements?.map((e) => [e.index, e.status, e.execHost])).toEqual([
          [0, "Killed", "vm"],
          [1, "Killed", "vm"],
          [2, "Killed", undefined],
          [3, "Killed", undefined]
        ])
        // Now some element is known to have run: it is asked about no more.
        const asked = yield* calls("sacct")
        yield* TestClock.adjust("30 seconds")
        expect(yield* calls("sacct")).toBe(asked)
      })
    ))

  it.effect("an array cancelled before any of its elements ran is let go a minute after the cancel, its one range row being all sacct will say", () =>
    withFakeScheduler(makeFakeSlurm(367), { executor: "slurm" }, "capi-monitor-cancel-")((fake) =>
      Effect.gen(function*() {
        const job = yield* cancelledArray(fake)
        yield* TestClock.adjust("30 seconds")
        const during = yield* calls("sacct")
        yield* TestClock.adjust("40 seconds")
        const after = yield* calls("sacct")
        expect(after).toBeGreaterThan(during)
        yield* TestClock.adjust("60 seconds")
        expect(yield* calls("sacct")).toBe(after)
        expect((yield* getRecord(job)).elements?.every((e) => e.status === "Killed")).toBe(true)
      })
    ))

  it.effect("a running job cancelled before any poll saw it start gets its start, host, end and memory from sacct", () =>
    withFakeScheduler(makeFakeSlurm(12), { executor: "slurm" }, "capi-monitor-cancel-")((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "cancel", command: "sleep 300" })
        const watching = yield* watch(job.jobId)
        const atCancel = yield* executor.cancel(job.jobId)
        expect([atCancel.status, atCancel.startTime, atCancel.execHost]).toEqual(["Killed", undefined, undefined])
        yield* fake.account(job.jobId, lines("sacct-cancelled-by-id-and-by-name.txt", "12"))
        yield* TestClock.adjust("10 seconds")
        const final = yield* getRecord(job)
        expect(final.status).toBe("Killed")
        expect(final.reason).toEqual({ _tag: "Cancelled" })
        expect([final.startTime, final.finishTime, final.execHost, final.maxMem]).toEqual([
          new Date(2026, 10, 21, 12, 51, 45),
          new Date(2026, 10, 21, 12, 51, 50),
          "vm",
          3248 * 1024
        ])
        expect(yield* watching.ends).toEqual({ statusChanges: ["Killed"], callbacks: 1 })
      })
    ))

  it.effect("a cancelled job Slurm never reports again is asked about until the zombie timeout, then let go", () =>
    withFakeScheduler(makeFakeSlurm(12), { executor: "slurm" }, "capi-monitor-cancel-")(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "cancel", command: "sleep 300" })
        const atCancel = yield* executor.cancel(job.jobId)
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("sacct")).toBe(1)
        yield* TestClock.adjust("2 minutes")
        const asked = yield* calls("sacct")
        expect(asked).toBeGreaterThan(1)
        yield* TestClock.adjust("2 minutes")
        expect(yield* calls("sacct")).toBe(asked)
        expect(yield* getRecord(job)).toEqual(atCancel)
      }), { zombie_timeout_minutes: 1 }))
})

describe("a job cancelled by another program sharing the store", () => {
  const tempDir = tempDirs("capi-monitor-cancel-shared-")

  it.scoped("its owner asks the scheduler about it until it reports the end, which completes the record; the end is announced once", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      // The toy scheduler: `ID|STATE|EXIT` lines; the job leaves the live queue once killed.
      const live = new Map<string, string>()
      const finished = new Map<string, string>()
      const answer = (table: Map<string, string>): Rule["reply"] => (call) => ({
        stdout: call.argv.slice(1).flatMap((id) => table.has(id) ? [`${id}|${table.get(id)}`] : []).join("\n")
      })
      const rules: ReadonlyArray<Rule> = [
        { match: "toysub", reply: { stdout: "100\n" } },
        { match: "toystat", reply: answer(live) },
        { match: "toyacct", reply: answer(finished) },
        { match: "toykill", reply: { stdout: "" } }
      ]
      const program = ClusterApi.compose({
        config: ClusterConfig.layerTest({ poll_interval: 10, log_directory: join(dir, "logs") }),
        runner: TestCommandRunner.layer({ rules }),
        store: SqliteJobStore.layer(join(dir, "store.db")),
        executor: toyExecutorLayer
      })
      const owner = yield* Layer.build(program)
      const inOwner = <A, E>(effect: Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>) =>
        Effect.provide(effect, owner)
      const job = yield* inOwner(Effect.flatMap(Executor, (e) => e.submit({ name: "shared", command: "true" })))
      live.set(job.jobId, "R|")
      const watching = yield* inOwner(watch(job.jobId))
      yield* TestClock.adjust("10 seconds")

      // The command line opens the same store and cancels the job.
      yield* Effect.flatMap(Executor, (e) => e.cancel(job.jobId)).pipe(Effect.scoped, Effect.provide(program))
      // The owner reads the end from the store on its next tick, and asks about the job on the one
      // after: it is still in the live queue, being killed.
      yield* TestClock.adjust("10 seconds")
      expect(yield* inOwner(calls("toystat"))).toBe(1)
      yield* TestClock.adjust("10 seconds")
      expect(yield* inOwner(calls("toystat"))).toBe(2)
      live.delete(job.jobId)
      finished.set(job.jobId, "CA|143")
      yield* TestClock.adjust("10 seconds")
      const final = Option.getOrThrow(yield* inOwner(Effect.flatMap(JobStore, (s) => s.get(job))))
      expect([final.status, final.reason, final.exitCode]).toEqual(["Killed", { _tag: "Cancelled" }, 143])
      const asked = yield* inOwner(calls("toyacct"))
      yield* TestClock.adjust("30 seconds")
      expect(yield* inOwner(calls("toyacct"))).toBe(asked)
      expect(yield* inOwner(watching.ends)).toEqual({ statusChanges: ["Running", "Killed"], callbacks: 1 })
    }))
})
