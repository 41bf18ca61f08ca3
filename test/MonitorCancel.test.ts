/**
 * A cancelled job under the Monitor (TestClock, a scripted Slurm answering with outputs recorded
 * from the real one): the cancel ends it at once, and the polls after it complete its record with
 * what Slurm reports of the cancelled job, until Slurm says it ended.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Stream, TestClock } from "effect"
import type { JobEvent } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import { fixtures } from "./support/Dialects.js"
import { calls, getRecord, withFakeScheduler } from "./support/FakeScheduler.js"
import { makeFakeSlurm } from "./support/FakeSlurm.js"

const slurm = fixtures("slurm")
const lines = (name: string, id: string) =>
  slurm(name).split("\n").filter((l) => l.startsWith(`${id}|`) || l.startsWith(`${id}.`) || l.startsWith(`${id}_`))

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
        const winding = yield* getRecord(job.jobId)
        expect(winding.status).toBe("Killed")
        expect(winding.elements?.map((e) => [e.index, e.status, e.execHost])).toEqual([[0, "Killed", "vm"], [1, "Killed", "vm"]])

        // Then squeue no longer shows the array, and sacct first holds one row for the whole array.
        yield* fake.queue(job.jobId, undefined)
        yield* fake.account(job.jobId, lines("sacct-array-cancelled-placeholder.txt", "367"))
        yield* TestClock.adjust("10 seconds")
        expect((yield* getRecord(job.jobId)).elements).toHaveLength(2)

        // Then every element.
        yield* fake.account(job.jobId, lines("sacct-array-cancelled.txt", "367"))
        yield* TestClock.adjust("10 seconds")
        const final = yield* getRecord(job.jobId)
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
        const final = yield* getRecord(job.jobId)
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
        expect(yield* getRecord(job.jobId)).toEqual(atCancel)
      }), { zombie_timeout_minutes: 1 }))
})
