/**
 * Cancelling jobs on a real Slurm (scripts/slurm-setup.sh starts one on this host) before any poll
 * saw them run: the polls after the cancel complete the record with what Slurm reports of the
 * cancelled job (its start time, host and end time, each element of an array).
 *
 * In CI (CI=true) these tests FAIL when Slurm is not up. Elsewhere they are left out with a
 * message saying how to start Slurm.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect, ManagedRuntime, Option, Schedule } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import type { JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { endSlurmRuntime, failUnlessSlurmIsUp, inCI, slurmUpOrWarn } from "./support/RealSlurm.js"
import { removeDir } from "./support/TempDirs.js"

const slurmUp = slurmUpOrWarn("The real-Slurm cancel tests are left out")

const host = os.hostname()
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "capi-slurm-cancel-"))
fs.writeFileSync(path.join(scratch, "none.yaml"), "# all options come from the test's overrides\n")

// The Monitor polls once at start and then only when a test calls `tick`: what a cancel records
// is seen before any poll, and each poll after it is the test's.
const runtime = ManagedRuntime.make(
  ClusterApi.layer({
    configPath: path.join(scratch, "none.yaml"),
    overrides: {
      executor: "slurm",
      poll_interval: 3600,
      log_directory: path.join(scratch, "logs"),
      job_name_prefix: `capic${process.pid}`,
      command_timeout: 20
    }
  })
)
const run = <A, E>(effect: Effect.Effect<A, E, ClusterApi.Services | Scope.Scope>): Promise<A> =>
  runtime.runPromise(Effect.scoped(effect))

/** Waits until squeue shows `count` elements (or the job) of `jobId` RUNNING. */
const runningInSlurm = (jobId: string, count: number) =>
  Effect.sync(() => spawnSync("squeue", ["-h", "-j", jobId, "-t", "R", "-o", "%i"], { encoding: "utf8" }).stdout).pipe(
    Effect.repeat({
      until: (out) => out.split("\n").filter((l) => l.trim() !== "").length >= count,
      schedule: Schedule.spaced("200 millis")
    }),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`job ${jobId} never ran`) })
  )

/** When sacct says the job ended (its allocation row's End, local time), once it says so. */
const accountedEnd = (jobId: string): Date | undefined => {
  const end = spawnSync("sacct", ["-X", "-n", "-P", "-j", jobId, "-o", "End"], { encoding: "utf8" }).stdout.trim()
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)$/.exec(end)
  return m === null ? undefined : new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
}

/** Polls (one Monitor tick at a time) until the store's record of `jobId` satisfies `done`. */
const tickUntil = (jobId: string, done: (r: JobRecord) => boolean, what: string) =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const store = yield* JobStore
    return yield* monitor.tick.pipe(
      Effect.zipRight(store.get({ executor: "slurm", jobId })),
      Effect.map(Option.getOrThrow),
      Effect.filterOrFail(done, () => new Error(`job ${jobId}: ${what} not yet`)),
      Effect.retry(Schedule.spaced("500 millis")),
      Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error(`job ${jobId}: ${what} never happened`) })
    )
  })

describe.runIf(slurmUp || inCI)("real Slurm: cancel", () => {
  beforeAll(failUnlessSlurmIsUp)

  afterAll(async () => {
    await endSlurmRuntime(runtime)
    removeDir(scratch)
  })

  // One after the other: a tick polls every tracked job, so a test running beside another would see
  // its job polled (by the other's ticks) before its cancel, which is what each test rules out.
  describe("records", { timeout: 180_000 }, () => {
    it("a running job cancelled before any poll saw it start gets its start time and host, and Slurm's end time, from the next polls", async () => {
      const { atCancel, final } = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "long", command: "sleep 300", resources: { workDir: scratch } })
        yield* runningInSlurm(job.jobId, 1)
        const atCancel = yield* executor.cancel(job.jobId)
        const final = yield* tickUntil(job.jobId, (r) => {
          const end = accountedEnd(r.jobId)
          return end !== undefined && r.finishTime?.getTime() === end.getTime()
        }, "Slurm's end time recorded")
        return { atCancel, final }
      }))
      expect([atCancel.status, atCancel.startTime, atCancel.execHost]).toEqual(["Killed", undefined, undefined])
      expect(final.status).toBe("Killed")
      expect(final.reason).toEqual({ _tag: "Cancelled" })
      expect(final.execHost).toBe(host)
      expect(final.startTime!.getTime()).toBeGreaterThanOrEqual(final.submitTime!.getTime())
      expect(final.finishTime!.getTime()).toBeGreaterThanOrEqual(final.startTime!.getTime())
    })

    it("a running array cancelled before any poll saw its elements ends with every element ended", async () => {
      const { atCancel, final } = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "arr",
          command: "sleep 300",
          resources: { workDir: scratch },
          array: { start: 0, end: 3, maxConcurrent: 2 }
        })
        yield* runningInSlurm(job.jobId, 2)
        const atCancel = yield* executor.cancel(job.jobId)
        const final = yield* tickUntil(
          job.jobId,
          // sacct's row of the range can end every element before the rows of the two that ran
          // (with their host and start) appear: wait for those too.
          (r) =>
            (r.elements ?? []).length === 4 && r.elements!.every((e) => e.finishTime !== undefined) &&
            r.elements!.filter((e) => e.execHost !== undefined && e.startTime !== undefined).length >= 2,
          "every element ended, the two that ran with their host and start"
        )
        return { atCancel, final }
      }))
      expect([atCancel.status, atCancel.elements]).toEqual(["Killed", undefined])
      expect(final.status).toBe("Killed")
      expect(final.reason).toEqual({ _tag: "Cancelled" })
      expect(final.elements!.map((e) => [e.index, e.status])).toEqual([
        [0, "Killed"],
        [1, "Killed"],
        [2, "Killed"],
        [3, "Killed"]
      ])
      // The two that ran have their host and start time.
      expect(final.elements!.filter((e) => e.execHost === host && e.startTime !== undefined)).toHaveLength(2)
    })
  })
})
