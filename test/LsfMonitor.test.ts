/**
 * The LSF executor with the Monitor, under TestClock, against a scripted LSF (FakeLsf) answering
 * in LSF's formats: what a tick costs, how bjobs' answers (partial, failed, about other jobs) are
 * taken, arrays, cancel (by id, by name, all), reconnect and track.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Logger, Ref, TestClock } from "effect"
import { readFileSync } from "node:fs"
import { failedElementIndices } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { makeFakeLsf, record } from "./support/FakeLsf.js"
import { calls, callsOf, getRecord, submitMany, withFakeScheduler } from "./support/FakeScheduler.js"

const withLsf = withFakeScheduler(makeFakeLsf(), { executor: "lsf", use_stdin: true }, "capi-lsf-tick-")

const get = getRecord

describe("submit (seeds §6 item 3)", () => {
  it.effect("the script goes to bsub on stdin with every directive, extra lines and args at both levels, skips applied", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "my job",
          command: "echo hello",
          resources: { cpus: 4, gpus: 1, memory: "8 GB", walltime: "04:00", extraDirectives: ["-P proj1"], extraArgs: ["-x"] },
          env: { FOO: "bar" },
          prologue: ["echo job-prologue"]
        })
        expect(job).toMatchObject({ jobId: "1000", name: "capi-my-job", executor: "lsf", status: "Pending" })
        const [call] = yield* callsOf("bsub")
        // The submission's token is the job's description, so a restart can find the job.
        expect(call?.argv).toEqual(["bsub", "-app", "short", "-x", "-Jd", expect.stringMatching(/^cluster-api:[0-9a-f]{16}$/)])
        expect(call?.env).toEqual({ LSB_JOB_REPORT_MAIL: "N" })
        const lines = (call?.stdin ?? "").trimEnd().split("\n")
        expect(lines[0]).toBe("#!/bin/bash")
        expect(lines.filter((l) => l.startsWith("#BSUB"))).toEqual([
          "#BSUB -J capi-my-job",
          // Paths are always quoted; -cwd is left out by directives_skip.
          `#BSUB -o "${job.stdoutPath!.replace("1000", "%J")}"`,
          `#BSUB -e "${job.stderrPath!.replace("1000", "%J")}"`,
          "#BSUB -q normal",
          "#BSUB -n 4",
          `#BSUB -R "span[hosts=1]"`,
          `#BSUB -gpu "num=1"`,
          "#BSUB -M 8192",
          `#BSUB -R "rusage[mem=8192]"`,
          "#BSUB -W 04:00",
          "#BSUB -P proj1",
          "#BSUB -G grp"
        ])
        expect(lines.slice(lines.indexOf("#BSUB -G grp") + 1)).toEqual([
          "export FOO=bar",
          "module load java/11",
          "echo job-prologue",
          "echo hello",
          "echo config-epilogue"
        ])
      }), {
        queue: "normal",
        extra_directives: ["#BSUB -G grp"],
        extra_args: ["-app", "short"],
        directives_skip: ["-cwd"],
        script_prologue: ["module load java/11"],
        script_epilogue: ["echo config-epilogue"]
      }))

  it.effect("with use_stdin false the script still goes to bsub on stdin, no path given, and stays on disk", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submitArray(
          { name: "arr", command: "echo hi", dependsOn: [{ type: "afterok", jobId: "77" }] },
          { start: 1, end: 4, maxConcurrent: 2 }
        )
        const [call] = yield* callsOf("bsub")
        expect(call?.argv).toEqual(["bsub", "-Jd", expect.stringMatching(/^cluster-api:[0-9a-f]{16}$/)])
        expect(call?.argv).not.toContain(job.scriptPath)
        // What bsub reads is the script written for the job, #BSUB lines and all.
        expect(call?.stdin).toBe(readFileSync(job.scriptPath!, "utf8"))
        expect(call?.stdin).toContain(`#BSUB -J "capi-arr[1-4]%2"`)
        expect(call?.stdin).toContain(`#BSUB -w "done(77)"`)
      }), { use_stdin: false }))

  it.effect("bsub printing no job id is a SubmitError carrying what it printed, and nothing is tracked", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        yield* runner.addRules([{ match: "bsub", reply: { stdout: "Request aborted by esub. Job not submitted.\n" } }])
        const failed = yield* Effect.either(executor.submit({ name: "a", command: "true" }))
        expect(Either.isLeft(failed) && failed.left._tag).toBe("SubmitError")
        expect(Either.isLeft(failed) && failed.left.message).toContain("Request aborted by esub")
        expect(yield* Effect.flatMap(JobStore, (s) => s.list())).toEqual([])
      })
    ))
})

describe("status (seeds §6 item 5)", () => {
  it.effect("with 1,000 tracked jobs a tick makes one bjobs call", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const jobs = yield* submitMany(1000)
        for (const [i, j] of jobs.entries()) {
          const stat = i % 2 === 0 ? "RUN" : i % 4 === 1 ? "DONE" : "EXIT"
          yield* fake.show(j.jobId, [record(j.jobId, j.name, stat, stat === "EXIT" ? { EXIT_CODE: "3" } : {})])
        }
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("bjobs")).toBe(1)
        const [call] = yield* callsOf("bjobs")
        expect(call?.argv.filter((a) => /^\d+$/.test(a))).toHaveLength(1000)
        const all = yield* Effect.flatMap(JobStore, (s) => s.list())
        expect(all.filter((r) => r.status === "Running")).toHaveLength(500)
        expect(all.filter((r) => r.status === "Done")).toHaveLength(250)
        const failed = all.filter((r) => r.status === "Failed")
        expect(failed).toHaveLength(250)
        expect(failed.every((r) => r.exitCode === 3)).toBe(true)
        // Next tick: one call again, for the 500 still running.
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("bjobs")).toBe(2)
        const [, second] = yield* callsOf("bjobs")
        expect(second?.argv.filter((a) => /^\d+$/.test(a))).toHaveLength(500)
      })
    ))

  it.effect("with no unfinished job a tick asks nothing", () =>
    withLsf(() =>
      Effect.gen(function*() {
        yield* Monitor
        yield* TestClock.adjust("1 minute")
        expect(yield* calls("bjobs")).toBe(0)
      })
    ))

  it.effect("bjobs exiting 255 over an unknown id is still read for the others; the unknown one stays as it was", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        yield* fake.show(a.jobId, [record(a.jobId, a.name, "RUN")])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Running")
        expect((yield* get(b)).status).toBe("Pending")
        expect(yield* (yield* Monitor).consecutivePollFailures).toBe(0)
      })
    ))

  it.effect("bjobs printing nothing (LSF down) skips the tick: no job changes, and the next tick asks again", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.show(a.jobId, [record(a.jobId, a.name, "RUN")])
        yield* TestClock.adjust("10 seconds")
        yield* fake.setDown(true)
        yield* fake.show(a.jobId, [record(a.jobId, a.name, "DONE")])
        yield* TestClock.adjust("20 seconds")
        expect((yield* get(a)).status).toBe("Running")
        expect(yield* monitor.consecutivePollFailures).toBe(2)
        yield* fake.setDown(false)
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Done")
        expect(yield* calls("bjobs")).toBe(4)
      })
    ))

  it.effect("records of jobs this program does not track are ignored", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        // bjobs answers with more than it was asked about (as with -u all and a shared id space).
        yield* fake.show(a.jobId, [record(a.jobId, a.name, "DONE"), record("77", "capi-someone", "RUN")])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Done")
        const all = yield* Effect.flatMap(JobStore, (s) => s.list())
        expect(all.map((r) => r.jobId)).toEqual([a.jobId])
      })
    ))

  it.effect("a job bjobs stops showing keeps its state until the zombie timeout, then is Failed(Vanished)", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.show(a.jobId, [record(a.jobId, a.name, "RUN")])
        yield* TestClock.adjust("10 seconds")
        yield* fake.show(a.jobId, undefined)
        yield* TestClock.adjust("9 minutes")
        expect((yield* get(a)).status).toBe("Running")
        yield* TestClock.adjust("2 minutes")
        expect((yield* get(a)).reason?._tag).toBe("Vanished")
      }), { zombie_timeout_minutes: 10 }))
})

describe("arrays (seeds §6 item 4)", () => {
  it.effect("Running while elements are missing or unfinished; then Failed over Killed over Done, failures named", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const arr = yield* executor.submitArray({ name: "arr", command: "echo $ARRAY_INDEX" }, {
          start: 1,
          end: 4,
          maxConcurrent: 2
        })
        const el = (i: number, stat: string, over: Record<string, string> = {}) =>
          record(`${arr.jobId}[${i}]`, `${arr.name}[${i}]`, stat, over)
        yield* fake.show(arr.jobId, [el(1, "DONE"), el(4, "DONE")])
        yield* TestClock.adjust("10 seconds")
        // Only two of four elements seen, both ended: the array is still running.
        expect((yield* get(arr)).status).toBe("Running")
        yield* fake.show(arr.jobId, [el(1, "DONE"), el(2, "RUN"), el(3, "EXIT", { EXIT_REASON: "TERM_OWNER" }), el(4, "DONE")])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(arr)).status).toBe("Running")
        yield* fake.show(arr.jobId, [
          el(1, "DONE"),
          el(2, "EXIT", { EXIT_CODE: "2" }),
          el(3, "EXIT", { EXIT_REASON: "TERM_OWNER" }),
          el(4, "DONE")
        ])
        yield* TestClock.adjust("10 seconds")
        const ended = yield* get(arr)
        expect(ended.status).toBe("Failed")
        // As py-cluster-api: failed and killed elements both count.
        expect(failedElementIndices(ended)).toEqual([2, 3])
        expect(ended.reason).toMatchObject({ _tag: "ElementsFailed" })
        expect(ended.elements?.map((e) => e.status)).toEqual(["Done", "Failed", "Killed", "Done"])
      })
    ))

  it.effect("an array LSF ran as one plain job (no element reported) ends Failed(NoArrayElements), never Done", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const arr = yield* executor.submitArray({ name: "arr", command: "true" }, { start: 1, end: 4, maxConcurrent: 2 })
        // What bjobs shows of a job whose #BSUB lines LSF did not read: one record, no element.
        yield* fake.show(arr.jobId, [record(arr.jobId, "/logs/capi-arr.1.sh", "DONE", { EXIT_CODE: "0" })])
        const waited = yield* Effect.fork(monitor.await(arr))
        yield* TestClock.adjust("10 seconds")
        const ended = yield* get(arr)
        expect(ended.status).toBe("Failed")
        expect(ended.reason).toEqual({ _tag: "NoArrayElements", elements: 4 })
        const seen = yield* Fiber.join(waited)
        expect(seen).toMatchObject({ status: "Failed", reason: { _tag: "NoArrayElements", elements: 4 } })
      })
    ))

  it.effect("an array with a killed element and none failed is Killed", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const arr = yield* executor.submitArray({ name: "arr", command: "true" }, { start: 1, end: 2 })
        yield* fake.show(arr.jobId, [
          record(`${arr.jobId}[1]`, "capi-arr[1]", "DONE"),
          record(`${arr.jobId}[2]`, "capi-arr[2]", "EXIT", { EXIT_REASON: "TERM_OWNER", EXIT_CODE: "130" })
        ])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(arr)).status).toBe("Killed")
      })
    ))
})

describe("cancel (seeds §6 item 6)", () => {
  it.effect("bkill ID records Killed; bkill -d ID records Done", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "sleep 100" })
        const b = yield* executor.submit({ name: "b", command: "sleep 100" })
        expect((yield* executor.cancel(a.jobId)).status).toBe("Killed")
        expect((yield* executor.cancel(b.jobId, { done: true })).status).toBe("Done")
        expect((yield* callsOf("bkill")).map((c) => c.argv)).toEqual([["bkill", a.jobId], ["bkill", "-d", b.jobId]])
      })
    ))

  it.effect("cancel-all records every job bkill cancelled; one refused job fails nothing and keeps its state", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const jobs = yield* Effect.forEach(["a", "b", "c"], (name) => executor.submit({ name, command: "sleep 100" }))
        yield* fake.refuse([jobs[1]!.jobId])
        const logged = yield* Ref.make<Array<string>>([])
        const logger = Logger.make(({ message }) => Effect.runSync(Ref.update(logged, (l) => [...l, String(message)])))
        const cancelled = yield* executor.cancelAll().pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        expect(cancelled.map((r) => r.jobId)).toEqual([jobs[0]!.jobId, jobs[2]!.jobId])
        expect((yield* get(jobs[1]!)).status).toBe("Pending")
        expect((yield* Ref.get(logged)).join("\n")).toContain(`job ${jobs[1]!.jobId}: User permission denied`)
        expect(yield* calls("bkill")).toBe(1)
        // Cancelling the refused one alone says why.
        const refused = yield* Effect.either(executor.cancel(jobs[1]!.jobId))
        expect(Either.isLeft(refused) && refused.left.message).toContain("User permission denied")
      })
    ))

  it.effect("cancel by name runs bkill -J PREFIX-GLOB 0 and records the jobs it names", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const a = yield* executor.submit({ name: "align-1", command: "sleep 100" })
        const b = yield* executor.submit({ name: "align-2", command: "sleep 100" })
        const c = yield* executor.submit({ name: "sort", command: "sleep 100" })
        // align-2 had already ended: bkill names only align-1 (and a job of another program).
        yield* runner.addRules([{
          match: "bkill -J",
          reply: { stdout: `Job <${a.jobId}> is being terminated\nJob <9999> is being terminated\n` }
        }])
        const cancelled = yield* executor.cancelByName("align-*")
        expect(cancelled.map((r) => r.jobId)).toEqual([a.jobId])
        expect((yield* callsOf("bkill")).map((call) => call.argv)).toEqual([["bkill", "-J", "capi-align-*", "0"]])
        expect((yield* get(b)).status).toBe("Pending")
        expect((yield* get(c)).status).toBe("Pending")
      })
    ))

  it.effect("cancel by name with ? or [...], which bkill -J cannot match, cancels the tracked matches by id", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "align-1", command: "sleep 100" })
        yield* executor.submit({ name: "align-22", command: "sleep 100" })
        const cancelled = yield* executor.cancelByName("align-?")
        expect(cancelled.map((r) => r.jobId)).toEqual([a.jobId])
        expect((yield* callsOf("bkill")).map((call) => call.argv)).toEqual([["bkill", a.jobId]])
      })
    ))

  it.effect("cancel by name tolerates 'No matching job found'", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        yield* executor.submit({ name: "a", command: "sleep 100" })
        yield* runner.addRules([{ match: "bkill -J", reply: { exitCode: 255, stderr: "No matching job found\n" } }])
        expect(yield* executor.cancelByName("nothing-*")).toEqual([])
      })
    ))
})

describe("reconnect (seeds §6 item 8)", () => {
  it.effect("needs job_name_prefix, and says so before asking LSF", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const refused = yield* Effect.either(executor.reconnect)
        expect(Either.isLeft(refused) && refused.left.message).toContain("job_name_prefix")
        expect(yield* calls("bjobs")).toBe(0)
      }), { job_name_prefix: "" }))

  it.effect("tracks unfinished singles and arrays by prefix, rebuilding ranges, skipping ended and tracked jobs; polls them after", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const mine = yield* executor.submit({ name: "tracked", command: "true" })
        yield* fake.show(mine.jobId, [record(mine.jobId, mine.name, "RUN")])
        yield* fake.show("10", [record("10", "capi-single", "RUN")])
        yield* fake.show("11", [record("11", "capi-finished", "DONE")])
        yield* fake.show("12", [record("12[1]", "capi-arr[1]", "DONE"), record("12[2]", "capi-arr[2]", "EXIT")])
        yield* fake.show("13", [
          record("13[2]", "capi-live[2]", "DONE"),
          record("13[3]", "capi-live[3]", "RUN"),
          record("13[5]", "capi-live[5]", "PEND")
        ])
        yield* fake.show("14", [record("14", "other-job", "RUN")])
        const found = yield* executor.reconnect
        expect(found.map((r) => [r.jobId, r.name, r.status])).toEqual([
          ["10", "capi-single", "Running"],
          ["13", "capi-live", "Running"]
        ])
        const live = found[1]!
        expect(live.array).toEqual({ start: 2, end: 5 })
        expect(live.metadata).toEqual({ reconnected: true })
        expect(live.command).toBe("")
        const [listing] = yield* callsOf("bjobs")
        expect(listing?.argv).toContain("-J")
        expect(listing?.argv[listing.argv.indexOf("-J") + 1]).toBe("capi-*")
        // Found again: nothing new.
        expect(yield* executor.reconnect).toEqual([])
        // The next tick polls them like any other job.
        yield* fake.show("10", [record("10", "capi-single", "DONE")])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get({ executor: "lsf", jobId: "10" })).status).toBe("Done")
      })
    ))

  it.effect("an empty queue ('No unfinished job found', exit 255) finds nothing; any other failure is an error", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        yield* runner.addRules([{ match: "bjobs", times: 1, reply: { exitCode: 255, stderr: "No unfinished job found\n" } }])
        expect(yield* executor.reconnect).toEqual([])
        yield* fake.setDown(true)
        const failed = yield* Effect.either(executor.reconnect)
        expect(Either.isLeft(failed) && failed.left._tag).toBe("PollError")
        expect(Either.isLeft(failed) && failed.left.message).toContain("LSF is down")
      })
    ))
})

describe("track", () => {
  it.effect("tracks a job known by id from elsewhere, named as bjobs names it, then polls it", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.show("500", [record("500", "pipeline-step", "RUN")])
        const tracked = yield* executor.track("500", { metadata: { run: "r1" } })
        expect(tracked).toMatchObject({
          jobId: "500",
          name: "pipeline-step",
          executor: "lsf",
          status: "Running",
          metadata: { run: "r1", reconnected: true }
        })
        expect(yield* calls("bjobs")).toBe(1)
        // Tracking it again returns the record as it stands, asking nothing.
        expect((yield* executor.track("500")).jobId).toBe("500")
        expect(yield* calls("bjobs")).toBe(1)
        yield* fake.show("500", [record("500", "pipeline-step", "EXIT", { EXIT_CODE: "4" })])
        yield* TestClock.adjust("10 seconds")
        expect(yield* get({ executor: "lsf", jobId: "500" })).toMatchObject({ status: "Failed", exitCode: 4 })
      })
    ))

  it.effect("an id LSF does not know is JobNotFound, and nothing is recorded", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const missing = yield* Effect.either(executor.track("404"))
        expect(Either.isLeft(missing) && missing.left._tag).toBe("JobNotFound")
        const bad = yield* Effect.either(executor.track("1; rm -rf /"))
        expect(Either.isLeft(bad) && bad.left._tag).toBe("JobNotFound")
        expect(yield* Effect.flatMap(JobStore, (s) => s.list())).toEqual([])
      })
    ))
})
