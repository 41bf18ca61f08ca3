/**
 * The Slurm executor with the Monitor, under TestClock, against a scripted Slurm (FakeSlurm) that
 * answers in the formats recorded from the real one: how many commands a tick costs, the two
 * tiers (squeue, then sacct for what left it), array elements, the accounting-disabled fallback,
 * cancel and reconnect.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { readFileSync } from "node:fs"
import type { JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { calls, getRecord, submitMany, withFakeScheduler } from "./support/FakeScheduler.js"
import { makeFakeSlurm } from "./support/FakeSlurm.js"

const withSlurm = withFakeScheduler(makeFakeSlurm(), { executor: "slurm" }, "capi-slurm-")

const get = getRecord

// Lines in the recorded formats (test/fixtures/slurm): squeue `%i|%T|%r|%N|%V|%S|%j` and
// sacct `JobID|JobIDRaw|State|ExitCode|Reason|MaxRSS|ReqMem|NodeList|Submit|Start|End|JobName`.
const T0 = "2026-11-21T12:00:00"
const T1 = "2026-11-21T12:00:01"
const T2 = "2026-11-21T12:00:09"
const running = (id: string, name = "capi-x") => `${id}|RUNNING|None|n1|${T0}|${T1}|${name}`
const pending = (id: string, reason = "Priority", name = "capi-x") => `${id}|PENDING|${reason}||${T0}|N/A|${name}`
const ended = (id: string, state: string, exit: string, maxRss = "2048K", reason = "None") => [
  `${id}|${id}|${state}|${exit}|${reason}||100M|n1|${T0}|${T1}|${T2}|capi-x`,
  `${id}.batch|${id}.batch|${state}|${exit}||${maxRss}||n1|${T1}|${T1}|${T2}|batch`
]

describe("submit", () => {
  it.effect("writes #SBATCH lines, submits with sbatch --parsable and tracks the id", () =>
    withSlurm(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const record = yield* executor.submit({
          name: "align",
          command: "bwa mem ref.fa reads.fq",
          resources: { cpus: 4, memory: "8 GB", walltime: "04:00", queue: "short" },
          env: { SAMPLE: "a b" }
        })
        expect(record).toMatchObject({ jobId: "1000", name: "capi-align", executor: "slurm", status: "Pending" })
        // The script names the log with %j; the record with the id sbatch gave.
        expect(record.stdoutPath).toMatch(/stdout\.1000\.log$/)
        const [call] = yield* (yield* TestCommandRunner).callsMatching("sbatch")
        expect(call?.argv.slice(0, 2)).toEqual(["sbatch", "--parsable"])
        // The submission's token rides in the job's comment, so a restart can find the job.
        expect(call?.argv[2]).toMatch(/^--comment=cluster-api:[0-9a-f]{16}$/)
        expect(call?.argv[3]).toBe(record.scriptPath)
        const script = readFileSync(record.scriptPath!, "utf8")
        expect(script).toContain("#SBATCH --job-name=capi-align\n")
        expect(script).toMatch(/#SBATCH --output=\S+stdout\.%j\.log\n/)
        expect(script).toContain("#SBATCH --cpus-per-task=4\n")
        expect(script).toContain("#SBATCH --mem=8192M\n")
        expect(script).toContain("#SBATCH --time=04:00:00\n")
        expect(script).toContain("#SBATCH --partition=short\n")
        expect(script).toContain("export SAMPLE='a b'\n")
        expect(script.indexOf("#SBATCH")).toBeLessThan(script.indexOf("export SAMPLE"))
      })
    ))

  it.effect("login_shell puts -l on the script's shebang; inheritEnv false adds --export=NONE", () =>
    withSlurm(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const login = yield* executor.submit({ name: "login", command: "module load x" })
        expect(readFileSync(login.scriptPath!, "utf8").split("\n")[0]).toBe("#!/bin/bash -l")
        const clean = yield* executor.submit({ name: "clean", command: "true", inheritEnv: false, loginShell: false })
        expect(readFileSync(clean.scriptPath!, "utf8").split("\n")[0]).toBe("#!/bin/bash")
        const argvs = (yield* (yield* TestCommandRunner).callsMatching("sbatch")).map((c) => c.argv)
        expect(argvs[0]).not.toContain("--export=NONE")
        expect(argvs[1]).toContain("--export=NONE")
      }), { login_shell: true }))

  it.effect("gives array elements $ARRAY_INDEX and names their logs %A_%a", () =>
    withSlurm(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const record = yield* executor.submitArray({ name: "arr", command: "echo $ARRAY_INDEX" }, {
          start: 1,
          end: 50,
          maxConcurrent: 10
        })
        const script = readFileSync(record.scriptPath!, "utf8")
        expect(script).toContain("#SBATCH --array=1-50%10\n")
        expect(script).toContain(`export ARRAY_INDEX="\${SLURM_ARRAY_TASK_ID}"\n`)
        expect(script).toMatch(/#SBATCH --output=\S+stdout\.%A_%a\.log\n/)
        expect(record.stdoutPath).toMatch(new RegExp(`stdout\\.${record.jobId}_%a\\.log$`))
      })
    ))

  it.effect("directives_skip leaves out the config's extra_directives as well as the generated lines", () =>
    withSlurm(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const record = yield* executor.submit({ name: "skip", command: "true", resources: { cpus: 2, queue: "short" } })
        const directives = readFileSync(record.scriptPath!, "utf8").split("\n").filter((l) => l.startsWith("#SBATCH"))
        expect(directives).toContain("#SBATCH --cpus-per-task=2")
        expect(directives).toContain("#SBATCH --qos=normal")
        expect(directives.filter((l) => l.includes("--partition") || l.includes("--exclusive"))).toEqual([])
      }), {
        extra_directives: ["#SBATCH --exclusive", "#SBATCH --qos=normal", "#SBATCH --partition=debug"],
        directives_skip: ["--partition", "--exclusive"]
      }))

  it.effect("a bad dependency id is refused before anything is submitted", () =>
    withSlurm(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const error = yield* Effect.flip(
          executor.submit({ name: "d", command: "true", dependsOn: [{ type: "afterok", jobId: "12; rm -rf /" }] })
        )
        expect(error._tag).toBe("InvalidJobSpec")
        expect(error.message).toContain("dependsOn")
        expect(yield* calls("sbatch")).toBe(0)
      })
    ))
})

describe("polling", () => {
  it.effect("with 1,000 tracked jobs a tick makes one squeue call and one sacct call", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const jobs = yield* submitMany(1000)
        for (const [i, j] of jobs.entries()) {
          if (i % 2 === 0) yield* fake.queue(j.jobId, [running(j.jobId)])
          else yield* fake.account(j.jobId, ended(j.jobId, i % 4 === 1 ? "COMPLETED" : "FAILED", i % 4 === 1 ? "0:0" : "3:0"))
        }
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("squeue")).toBe(1)
        expect(yield* calls("sacct")).toBe(1)
        const [acct] = yield* (yield* TestCommandRunner).callsMatching("sacct")
        const asked = acct?.argv[acct.argv.indexOf("-j") + 1]?.split(",") ?? []
        expect(asked).toHaveLength(500)
        const store = yield* JobStore
        const all = yield* store.list()
        expect(all.filter((r) => r.status === "Running")).toHaveLength(500)
        expect(all.filter((r) => r.status === "Done")).toHaveLength(250)
        expect(all.filter((r) => r.status === "Failed").every((r) => r.exitCode === 3)).toBe(true)
        // Next tick: only the running half is left; nothing left the queue, so no sacct.
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("squeue")).toBe(2)
        expect(yield* calls("sacct")).toBe(1)
      })
    ))

  it.effect("a job that left squeue is read from sacct, never assumed done", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "a", command: "exit 7" })
        yield* fake.queue(job.jobId, [running(job.jobId)])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(job)).status).toBe("Running")
        // Gone from squeue, not yet in sacct: it stays Running.
        yield* fake.queue(job.jobId, undefined)
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(job)).status).toBe("Running")
        yield* fake.account(job.jobId, ended(job.jobId, "FAILED", "7:0"))
        yield* TestClock.adjust("10 seconds")
        const final = yield* get(job)
        expect(final).toMatchObject({ status: "Failed", exitCode: 7, reason: { _tag: "NonZeroExit", exitCode: 7 } })
        expect(final.maxMem).toBe(2048 * 1024)
        expect(final.execHost).toBe("n1")
        expect(final.finishTime).toEqual(new Date(2026, 10, 21, 12, 0, 9))
      })
    ))

  it.effect("a job in neither squeue nor sacct keeps its state until the zombie timeout", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.queue(job.jobId, [running(job.jobId)])
        yield* TestClock.adjust("10 seconds")
        yield* fake.queue(job.jobId, undefined)
        yield* TestClock.adjust("9 minutes")
        expect((yield* get(job)).status).toBe("Running")
        yield* TestClock.adjust("2 minutes")
        expect((yield* get(job)).reason?._tag).toBe("Vanished")
      }), { zombie_timeout_minutes: 10 }))

  it.effect("array elements that leave squeue are read from sacct while the rest still run", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submitArray({ name: "arr", command: "work" }, { start: 1, end: 4, maxConcurrent: 2 })
        const id = job.jobId
        yield* fake.queue(id, [pending(`${id}_[3-4%2]`, "JobArrayTaskLimit"), running(`${id}_1`), running(`${id}_2`)])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(job)).status).toBe("Running")
        expect(yield* calls("sacct")).toBe(0)
        // 1 and 2 ended; 3 and 4 run.
        yield* fake.queue(id, [running(`${id}_3`), running(`${id}_4`)])
        yield* fake.account(id, [
          ...ended(`${id}_1`, "COMPLETED", "0:0"),
          ...ended(`${id}_2`, "FAILED", "5:0"),
          `${id}_3|${id}|RUNNING|0:0|None||100M|n1|${T0}|${T1}|Unknown|capi-arr`,
          `${id}_4|9999|RUNNING|0:0|None||100M|n1|${T0}|${T1}|Unknown|capi-arr`
        ])
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("sacct")).toBe(1)
        const mid = yield* get(job)
        expect(mid.status).toBe("Running")
        expect(mid.elements?.map((e) => [e.index, e.status])).toEqual([
          [1, "Done"],
          [2, "Failed"],
          [3, "Running"],
          [4, "Running"]
        ])
        // All ended: the array fails because element 2 did.
        yield* fake.queue(id, undefined)
        yield* fake.account(id, [
          ...ended(`${id}_1`, "COMPLETED", "0:0"),
          ...ended(`${id}_2`, "FAILED", "5:0"),
          ...ended(`${id}_3`, "COMPLETED", "0:0"),
          ...ended(`${id}_4`, "COMPLETED", "0:0")
        ])
        yield* TestClock.adjust("10 seconds")
        const final = yield* get(job)
        expect(final.status).toBe("Failed")
        expect(final.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
      })
    ))

  it.effect("without accounting, jobs that left squeue are read from scontrol, with one warning", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "exit 2" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        yield* fake.disableAccounting
        yield* fake.controller(a.jobId, [
          `JobId=${a.jobId} JobName=capi-a UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=2:0 SubmitTime=${T0} StartTime=${T1} EndTime=${T2} NodeList=n1 Command=/tmp/my dir/capi-a.1.sh`
        ])
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("sacct")).toBe(1)
        expect(yield* calls("scontrol")).toBe(1)
        expect(yield* get(a)).toMatchObject({ status: "Failed", exitCode: 2, execHost: "n1" })
        // b is in neither: it keeps its state.
        expect((yield* get(b)).status).toBe("Pending")
      })
    ))

  it.effect("while the controller is down no job changes, and the true end is read afterwards", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "a", command: "sleep 60" })
        yield* fake.queue(job.jobId, [running(job.jobId)])
        yield* TestClock.adjust("10 seconds")
        yield* fake.setControllerDown(true)
        yield* fake.queue(job.jobId, undefined)
        yield* fake.account(job.jobId, ended(job.jobId, "COMPLETED", "0:0"))
        yield* TestClock.adjust("30 seconds")
        expect((yield* get(job)).status).toBe("Running")
        expect(yield* monitor.consecutivePollFailures).toBe(3)
        expect(yield* calls("sacct")).toBe(0)
        yield* fake.setControllerDown(false)
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(job)).status).toBe("Done")
      })
    ))

  it.effect("a dependency that can never be met ends the dependent Failed, naming it", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "after",
          command: "true",
          dependsOn: [{ type: "afterok", jobId: "77" }]
        })
        yield* fake.account(job.jobId, [
          `${job.jobId}|${job.jobId}|CANCELLED|0:0|Dependency||100M|None assigned|${T0}|${T2}|${T2}|capi-after`
        ])
        yield* TestClock.adjust("10 seconds")
        expect(yield* get(job)).toMatchObject({
          status: "Failed",
          reason: { _tag: "DependencyFailed", dependencies: ["77"] }
        })
      })
    ))
})

describe("cancel and reconnect", () => {
  it.effect("cancel runs scancel and records the job Killed", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "a", command: "sleep 100" })
        yield* fake.queue(job.jobId, [running(job.jobId)])
        const after = yield* executor.cancel(job.jobId)
        expect(after.status).toBe("Killed")
        const [call] = yield* (yield* TestCommandRunner).callsMatching("scancel")
        expect(call?.argv).toEqual(["scancel", "-v", job.jobId])
      })
    ))

  it.effect("cancelling a job that already ended is not an error and keeps its true end", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* runner.addRules([{
          match: "scancel",
          // As the real scancel -v: exit 0, the error only on stderr.
          reply: {
            stderr: `scancel: Terminating job ${job.jobId}\nscancel: error: Kill job error on job id ${job.jobId}: Job/step already completing or completed\n`
          }
        }])
        const after = yield* executor.cancel(job.jobId)
        expect(after.status).toBe("Pending")
        yield* fake.account(job.jobId, ended(job.jobId, "COMPLETED", "0:0"))
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(job)).status).toBe("Done")
      })
    ))

  it.effect("track records a job known by id, read from squeue or, once it left, from sacct, named as Slurm names it", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.queue("61", [running("61", "pipeline-a")])
        yield* fake.account("62", ended("62", "FAILED", "2:0"))
        expect(yield* executor.track("61")).toMatchObject({ name: "pipeline-a", executor: "slurm", status: "Running" })
        expect(yield* executor.track("62")).toMatchObject({ name: "capi-x", status: "Failed", exitCode: 2 })
        expect((yield* Effect.either(executor.track("63")))._tag).toBe("Left")
      })
    ))

  it.effect("reconnect adopts this user's jobs with the prefix, arrays included, once", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.queue("51", [running("51", "capi-align")])
        yield* fake.queue("52", [pending("52_[3-6%2]", "JobArrayTaskLimit", "capi-arr"), running("52_1", "capi-arr"), running("52_2", "capi-arr")])
        yield* fake.queue("53", [running("53", "someone-elses")])
        const found = yield* executor.reconnect
        expect(found.map((r) => r.jobId).sort()).toEqual(["51", "52"])
        const array = found.find((r) => r.jobId === "52") as JobRecord
        expect(array.array).toEqual({ start: 1, end: 6 })
        expect(array.status).toBe("Running")
        expect(array.elements).toHaveLength(6)
        expect(found.find((r) => r.jobId === "51")?.status).toBe("Running")
        expect(yield* executor.reconnect).toEqual([])
        const [call] = yield* (yield* TestCommandRunner).callsMatching("squeue")
        expect(call?.argv).toContain("--me")
      })
    ))
})
