/**
 * The PBS executor with the Monitor, under TestClock, against a scripted PBS (FakePbs) answering
 * as PBS Pro and as TORQUE: submit, what a tick costs, how qstat's answers (partial, failed,
 * missing jobs) are taken, arrays, cancel, reconnect and track.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Logger, Ref, TestClock } from "effect"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { calls, callsOf, getRecord as get, submitMany } from "./support/FakeScheduler.js"
import { row, withFakePbs } from "./support/FakePbs.js"

const all = Effect.flatMap(JobStore, (s) => s.list())

describe("submit", () => {
  const withPro = withFakePbs("pro", { use_stdin: true })
  const withTorque = withFakePbs("torque")

  it.effect("pro: the script goes to qsub on stdin with its #PBS lines, extra lines and args; the whole id is kept", () =>
    withPro(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "my job",
          command: "echo hello",
          resources: { cpus: 4, memory: "8 GB", walltime: "04:00", extraDirectives: ["-r n"], extraArgs: ["-p", "5"] },
          env: { FOO: "bar" },
          dependsOn: [{ type: "afterany", jobId: "3.pbs" }, { type: "afterok", jobId: "1.pbs" }]
        })
        expect(job).toMatchObject({ jobId: "1000.pbs", name: "capi-my-job", executor: "pbs", status: "Pending" })
        expect(job.stdoutPath).toMatch(/\/stdout\.capi-my-job\.1\.log$/)
        expect(job.stderrPath).toMatch(/\/stderr\.capi-my-job\.1\.log$/)
        const [call] = yield* callsOf("qsub")
        // The submission's token is a variable of the job's environment, so a restart can find the job.
        expect(call?.argv).toEqual([
          "qsub", "-W", "umask=022", "-p", "5", "-v", expect.stringMatching(/^CLUSTER_API_TOKEN=cluster-api:[0-9a-f]{16}$/)
        ])
        const lines = (call?.stdin ?? "").trimEnd().split("\n")
        expect(lines[0]).toBe("#!/bin/bash")
        expect(lines.filter((l) => l.startsWith("#PBS"))).toEqual([
          "#PBS -N capi-my-job",
          `#PBS -o ${job.stdoutPath}`,
          `#PBS -e ${job.stderrPath}`,
          "#PBS -m n",
          "#PBS -q normal",
          "#PBS -l walltime=04:00:00",
          "#PBS -l select=1:ncpus=4:mem=8192mb",
          "#PBS -V",
          "#PBS -S /bin/bash",
          "#PBS -W depend=afterok:1.pbs,afterany:3.pbs",
          "#PBS -r n",
          "#PBS -l place=excl"
        ])
        // PBS starts the job in $HOME: the script goes to its directory first.
        expect(lines.slice(lines.indexOf("#PBS -l place=excl") + 1)).toEqual([
          "export FOO=bar",
          `cd ${job.workDir} || exit 1`,
          "echo hello"
        ])
      }), { queue: "normal", directives_skip: ["-k oed"], extra_directives: ["#PBS -l place=excl"], extra_args: ["-W", "umask=022"] }))

  it.effect("torque: an array gets -t, its index as ARRAY_INDEX, logs recorded with torque's -N suffix, and -d", () =>
    withTorque(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const arr = yield* executor.submitArray({ name: "arr", command: "echo $ARRAY_INDEX" }, { start: 1, end: 4, maxConcurrent: 2 })
        expect(arr.jobId).toBe("1000[].pbs")
        expect(arr.stdoutPath).toMatch(/\/stdout\.capi-arr\.1\.log-\{index\}$/)
        const [call] = yield* callsOf("qsub")
        expect(call?.argv[0]).toBe("qsub")
        expect(call?.stdin).toBeUndefined()
        const script = call?.argv.at(-1) ?? ""
        const text = yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.readFile(script, "utf8")))
        expect(text).toContain("#PBS -t 1-4%2\n")
        expect(text).toContain(`#PBS -d ${arr.workDir}\n`)
        expect(text).toContain(`#PBS -o ${arr.stdoutPath!.replace(/-\{index\}$/, "")}\n`)
        expect(text).toContain(`export ARRAY_INDEX="\${PBS_ARRAYID}"`)
      })
    ))

  it.effect("pro: array logs hold ^array_index^, recorded as {index}", () =>
    withPro(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const arr = yield* executor.submitArray({ name: "arr", command: "true" }, { start: 0, end: 8, step: 2 })
        expect(arr.stdoutPath).toMatch(/\/stdout\.capi-arr\.1\.\{index\}\.log$/)
        const [call] = yield* callsOf("qsub")
        expect(call?.stdin).toContain("#PBS -J 0-8:2\n")
        expect(call?.stdin).toContain(".^array_index^.log\n")
        expect(call?.stdin).toContain(`export ARRAY_INDEX="\${PBS_ARRAY_INDEX}"`)
      })
    ))

  it.effect("qsub refusing is a SubmitError carrying its stderr, and nothing is tracked", () =>
    withPro(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        yield* runner.addRules([{ match: "qsub", reply: { exitCode: 1, stderr: "qsub: Unknown queue\n" } }])
        const failed = yield* Effect.either(executor.submit({ name: "a", command: "true" }))
        expect(Either.isLeft(failed) && failed.left._tag).toBe("SubmitError")
        expect(Either.isLeft(failed) && failed.left.message).toContain("qsub: Unknown queue")
        expect(yield* all).toEqual([])
      })
    ))

  it.effect("what PBS cannot run is refused before qsub: a step on TORQUE", () =>
    withTorque(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const refused = yield* Effect.either(executor.submitArray({ name: "a", command: "true" }, { start: 1, end: 9, step: 2 }))
        expect(Either.isLeft(refused) && refused.left._tag).toBe("InvalidJobSpec")
        expect(Either.isLeft(refused) && refused.left.message).toContain("no step")
        expect(yield* calls("qsub")).toBe(0)
      })
    ))
})

describe.each(["pro", "torque"] as const)("status (%s)", (flavor) => {
  const withPbs = withFakePbs(flavor)

  it.effect("with 1,000 tracked jobs a tick makes exactly one qstat call and no other scheduler call", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const jobs = yield* submitMany(1000)
        for (const [i, j] of jobs.entries()) {
          const state = i % 2 === 0 ? "R" : "F"
          yield* fake.show(j.jobId, [row(j.jobId, j.name, state, state === "F" && i % 4 === 3 ? { exit: 3 } : {})])
        }
        const runner = yield* TestCommandRunner
        const before = (yield* runner.calls).length
        yield* TestClock.adjust("10 seconds")
        const tick = (yield* runner.calls).slice(before)
        expect(tick.map((c) => c.argv[0])).toEqual(["qstat"])
        expect(tick[0]?.argv.filter((a) => a.endsWith(".pbs"))).toHaveLength(1000)
        const records = yield* all
        expect(records.filter((r) => r.status === "Running")).toHaveLength(500)
        expect(records.filter((r) => r.status === "Done")).toHaveLength(250)
        const failed = records.filter((r) => r.status === "Failed")
        expect(failed).toHaveLength(250)
        expect(failed.every((r) => r.exitCode === 3)).toBe(true)
        // Next tick: one call again, for the 500 still running.
        yield* TestClock.adjust("10 seconds")
        const second = (yield* runner.calls).slice(before + 1)
        expect(second.map((c) => c.argv[0])).toEqual(["qstat"])
        expect(second[0]?.argv.filter((a) => a.endsWith(".pbs"))).toHaveLength(500)
      })
    ))

  it.effect("with no unfinished job a tick asks nothing", () =>
    withPbs(() =>
      Effect.gen(function*() {
        yield* Monitor
        yield* TestClock.adjust("1 minute")
        expect(yield* calls("qstat")).toBe(0)
      })
    ))

  it.effect("qstat exiting 153 over an unknown id is still read for the others; the unknown one stays as it was", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        yield* fake.show(a.jobId, [row(a.jobId, a.name, "R")])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Running")
        expect((yield* get(b)).status).toBe("Pending")
        expect(yield* (yield* Monitor).consecutivePollFailures).toBe(0)
        // Every id unknown: nothing on stdout, only unknown-id lines: still no failure.
        yield* fake.show(a.jobId, undefined)
        yield* TestClock.adjust("10 seconds")
        expect(yield* (yield* Monitor).consecutivePollFailures).toBe(0)
        expect((yield* get(a)).status).toBe("Running")
      })
    ))

  it.effect("qstat unable to reach the server skips the tick: no job changes, the next tick asks again", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.show(a.jobId, [row(a.jobId, a.name, "R")])
        yield* TestClock.adjust("10 seconds")
        yield* fake.setDown(true)
        yield* fake.show(a.jobId, [row(a.jobId, a.name, "F")])
        yield* TestClock.adjust("20 seconds")
        expect((yield* get(a)).status).toBe("Running")
        expect(yield* monitor.consecutivePollFailures).toBe(2)
        yield* fake.setDown(false)
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Done")
      })
    ))

  it.effect("a job qstat stops showing is never taken as done: it keeps its state until the zombie timeout, then Failed(Vanished)", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.show(a.jobId, [row(a.jobId, a.name, "R")])
        yield* TestClock.adjust("10 seconds")
        // TORQUE forgets a completed job after keep_completed; PBS Pro after its history time.
        yield* fake.show(a.jobId, undefined)
        yield* TestClock.adjust("9 minutes")
        expect((yield* get(a)).status).toBe("Running")
        yield* TestClock.adjust("2 minutes")
        const vanished = yield* get(a)
        expect(vanished.status).toBe("Failed")
        expect(vanished.reason?._tag).toBe("Vanished")
      }), { zombie_timeout_minutes: 10 }))

  it.effect("how jobs ended: qdel'ed while running, deleted for a dependency, deleted before running, past the walltime", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const [a, b, c, d] = yield* submitMany(4)
        const walltime = flavor === "pro" ? -29 : -11
        yield* fake.show(a!.jobId, [row(a!.jobId, a!.name, "F", { exit: 271 })])
        yield* fake.show(b!.jobId, [
          row(b!.jobId, b!.name, "F", { exit: undefined, comment: `Job deleted as result of dependency on job ${a!.jobId}` })
        ])
        yield* fake.show(c!.jobId, [row(c!.jobId, c!.name, "F", { exit: undefined, started: false })])
        yield* fake.show(d!.jobId, [row(d!.jobId, d!.name, "F", { exit: walltime })])
        yield* TestClock.adjust("10 seconds")
        expect(yield* get(a!)).toMatchObject({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGTERM" } })
        expect(yield* get(b!)).toMatchObject({ status: "Failed", reason: { _tag: "DependencyFailed", dependencies: [a!.jobId] } })
        expect(yield* get(c!)).toMatchObject({ status: "Killed", reason: { _tag: "Cancelled" } })
        expect(yield* get(d!)).toMatchObject({ status: "Failed", reason: { _tag: "Timeout" } })
        void executor
      })
    ))

  it.effect("an array's subjobs are its elements; it ends once every one has, failures named", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const arr = yield* executor.submitArray({ name: "arr", command: "true" }, { start: 1, end: 3 })
        expect(arr.jobId).toBe("1000[].pbs")
        const sub = (i: number, state: string, over: Parameters<typeof row>[3] = {}) =>
          row(arr.jobId.replace("[]", `[${i}]`), arr.name, state, over)
        const parent = (state: string) => row(arr.jobId, arr.name, state, { exit: undefined })
        yield* fake.show(arr.jobId, [parent("B"), sub(1, "X"), sub(2, "R"), sub(3, "Q")])
        yield* TestClock.adjust("10 seconds")
        const running = yield* get(arr)
        expect(running.status).toBe("Running")
        expect(running.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Running"], [3, "Pending"]])
        yield* fake.show(arr.jobId, [parent("F"), sub(1, "X"), sub(2, "X", { exit: 2 }), sub(3, "X")])
        yield* TestClock.adjust("10 seconds")
        const ended = yield* get(arr)
        expect(ended.status).toBe("Failed")
        expect(ended.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
      })
    ))
})

describe("cancel", () => {
  const withPbs = withFakePbs("pro")

  it.effect("qdel ID records Killed (and Done when asked: PBS cannot mark it, the record does)", () =>
    withPbs(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "sleep 100" })
        const b = yield* executor.submit({ name: "b", command: "sleep 100" })
        expect((yield* executor.cancel(a.jobId)).status).toBe("Killed")
        expect((yield* executor.cancel(b.jobId, { done: true })).status).toBe("Done")
        expect((yield* callsOf("qdel")).map((c) => c.argv)).toEqual([["qdel", a.jobId], ["qdel", b.jobId]])
      })
    ))

  it.effect("cancel-all in one qdel; a refused job keeps its state and is named; a finished one keeps its true end", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const jobs = yield* submitMany(3)
        const [a, b, c] = jobs as [typeof jobs[0], typeof jobs[0], typeof jobs[0]]
        yield* fake.refuse([b.jobId])
        // c had finished: qdel says so, and the next poll reads how it ended.
        yield* runner.addRules([{
          match: "qdel",
          times: 1,
          reply: {
            exitCode: 159,
            stderr: `qdel: Unauthorized Request  ${b.jobId}\nqdel: Job has finished ${c.jobId}\n`
          }
        }])
        const logged = yield* Ref.make<Array<string>>([])
        const logger = Logger.make(({ message }) => Effect.runSync(Ref.update(logged, (l) => [...l, String(message)])))
        const cancelled = yield* executor.cancelAll().pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        expect(cancelled.map((r) => r.jobId)).toEqual([a.jobId])
        expect((yield* get(b)).status).toBe("Pending")
        expect((yield* get(c)).status).toBe("Pending")
        expect((yield* Ref.get(logged)).join("\n")).toContain(`job ${b.jobId}: Unauthorized Request`)
        expect((yield* callsOf("qdel")).map((call) => call.argv)).toEqual([["qdel", a.jobId, b.jobId, c.jobId]])
        yield* fake.show(c.jobId, [row(c.jobId, c.name, "F", { exit: 4 })])
        yield* TestClock.adjust("10 seconds")
        expect(yield* get(c)).toMatchObject({ status: "Failed", exitCode: 4 })
        // Cancelling the refused one alone says why.
        const refused = yield* Effect.either(executor.cancel(b.jobId))
        expect(Either.isLeft(refused) && refused.left.message).toContain("Unauthorized Request")
      })
    ))

  it.effect("cancel by name: PBS has none, the tracked matches are cancelled by id in one qdel", () =>
    withPbs(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "align-1", command: "sleep 100" })
        const b = yield* executor.submit({ name: "align-2", command: "sleep 100" })
        const c = yield* executor.submit({ name: "sort", command: "sleep 100" })
        const cancelled = yield* executor.cancelByName("align-*")
        expect(cancelled.map((r) => r.jobId)).toEqual([a.jobId, b.jobId])
        expect((yield* callsOf("qdel")).map((call) => call.argv)).toEqual([["qdel", a.jobId, b.jobId]])
        expect((yield* get(c)).status).toBe("Pending")
      })
    ))

  it.effect("qdel failing without naming a job is a CancelError and records nothing", () =>
    withPbs(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const a = yield* executor.submit({ name: "a", command: "sleep 100" })
        yield* runner.addRules([{ match: "qdel", reply: { exitCode: 15, stderr: "qdel: cannot connect to server pbs (errno=111)\n" } }])
        const failed = yield* Effect.either(executor.cancel(a.jobId))
        expect(Either.isLeft(failed) && failed.left._tag).toBe("CancelError")
        expect(Either.isLeft(failed) && failed.left.message).toContain("cannot connect")
        expect((yield* get(a)).status).toBe("Pending")
      })
    ))
})

describe.each(["pro", "torque"] as const)("reconnect (%s)", (flavor) => {
  const withPbs = withFakePbs(flavor)

  it.effect("tracks this user's unfinished jobs by prefix, arrays rebuilt; skips others', ended and tracked ones; polls them after", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const mine = yield* executor.submit({ name: "tracked", command: "true" })
        yield* fake.show(mine.jobId, [row(mine.jobId, mine.name, "R")])
        yield* fake.show("10.pbs", [row("10.pbs", "capi-single", "R")])
        yield* fake.show("11.pbs", [row("11.pbs", "capi-finished", "F")])
        yield* fake.show("12.pbs", [row("12.pbs", "capi-theirs", "R", { owner: "someone-else" })])
        yield* fake.show("13[].pbs", [
          row("13[].pbs", "capi-live", "B", { exit: undefined }),
          row("13[2].pbs", "capi-live", "X"),
          row("13[3].pbs", "capi-live", "R"),
          row("13[5].pbs", "capi-live", "Q")
        ])
        yield* fake.show("14.pbs", [row("14.pbs", "other-job", "R")])
        const found = yield* executor.reconnect
        expect(found.map((r) => [r.jobId, r.name, r.status])).toEqual([
          ["10.pbs", "capi-single", "Running"],
          ["13[].pbs", "capi-live", "Running"]
        ])
        expect(found[1]!.array).toEqual({ start: 2, end: 5 })
        expect(found[1]!.metadata).toEqual({ reconnected: true })
        const [listing] = yield* callsOf("qstat")
        expect(listing?.argv).toEqual(flavor === "pro" ? ["qstat", "-f", "-F", "json", "-t"] : ["qstat", "-f", "-x", "-t"])
        // Found again: nothing new.
        expect(yield* executor.reconnect).toEqual([])
        yield* fake.show("10.pbs", [row("10.pbs", "capi-single", "F")])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get({ executor: "pbs", jobId: "10.pbs" })).status).toBe("Done")
      })
    ))

  it.effect("with poll_all_users every owner's jobs are found", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.show("12.pbs", [row("12.pbs", "capi-theirs", "R", { owner: "someone-else" })])
        expect((yield* executor.reconnect).map((r) => r.jobId)).toEqual(["12.pbs"])
      }), { poll_all_users: true }))

  it.effect("an empty queue finds nothing; a server that cannot be reached is an error", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        expect(yield* executor.reconnect).toEqual([])
        yield* fake.setDown(true)
        const failed = yield* Effect.either(executor.reconnect)
        expect(Either.isLeft(failed) && failed.left._tag).toBe("PollError")
        expect(Either.isLeft(failed) && failed.left.message).toContain("cannot connect")
      })
    ))
})

describe("track", () => {
  const withPbs = withFakePbs("pro")

  it.effect("tracks a job known by its full id from elsewhere, named as qstat names it, then polls it", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.show("500.pbs", [row("500.pbs", "pipeline-step", "R")])
        const tracked = yield* executor.track("500.pbs", { metadata: { run: "r1" } })
        expect(tracked).toMatchObject({
          jobId: "500.pbs",
          name: "pipeline-step",
          executor: "pbs",
          status: "Running",
          metadata: { run: "r1", reconnected: true }
        })
        expect(yield* calls("qstat")).toBe(1)
        yield* fake.show("500.pbs", [row("500.pbs", "pipeline-step", "F", { exit: 4 })])
        yield* TestClock.adjust("10 seconds")
        expect(yield* get({ executor: "pbs", jobId: "500.pbs" })).toMatchObject({ status: "Failed", exitCode: 4 })
      })
    ))

  it.effect("tracks an array by its id, its range rebuilt from the subjobs qstat shows", () =>
    withPbs((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.show("600[].pbs", [
          row("600[].pbs", "sweep", "B"),
          row("600[1].pbs", "sweep", "X", { exit: 0 }),
          row("600[2].pbs", "sweep", "R")
        ])
        const tracked = yield* executor.track("600[].pbs")
        expect(tracked).toMatchObject({ jobId: "600[].pbs", status: "Running", array: { start: 1, end: 2 } })
      })
    ))

  it.effect("an id PBS does not know is JobNotFound, and nothing is recorded", () =>
    withPbs(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const missing = yield* Effect.either(executor.track("404.pbs"))
        expect(Either.isLeft(missing) && missing.left._tag).toBe("JobNotFound")
        expect(yield* all).toEqual([])
      })
    ))
})
