/**
 * The SGE executor with the Monitor, under TestClock, against a scripted Grid Engine (FakeSge)
 * answering in SGE's formats: what a tick costs (one qstat, at most one qacct), jobs that left
 * qstat (read from qacct, never assumed done), error state, the afterok gate over -hold_jid,
 * arrays, cancel, reconnect and track.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import { failedElementIndices } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { accounted, makeFakeSge } from "./support/FakeSge.js"
import { calls, callsOf, getRecord, submitMany, withFakeScheduler } from "./support/FakeScheduler.js"

const withSge = withFakeScheduler(makeFakeSge(), { executor: "sge" }, "capi-sge-tick-")
const get = getRecord

describe("submit", () => {
  it.effect("the script goes to qsub -terse with every directive, extra lines and args at both levels", () =>
    withSge(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "my job",
          command: "echo hello",
          resources: { cpus: 4, gpus: 1, memory: "8 GB", walltime: "04:00", queue: "all.q", account: "proj1", extraDirectives: ["-notify"], extraArgs: ["-R", "y"] },
          env: { FOO: "bar" }
        })
        expect(job).toMatchObject({ jobId: "100", name: "capi-my-job", executor: "sge", status: "Pending" })
        expect(job.stdoutPath).toMatch(/\/stdout\.100\.log$/)
        const [call] = yield* callsOf("qsub")
        // The submission's token is a context variable, so a restart can find the job.
        expect(call?.argv).toEqual([
          "qsub", "-terse", "-p", "-5", "-R", "y", "-ac", expect.stringMatching(/^cluster_api=cluster-api:[0-9a-f]{16}$/), job.scriptPath
        ])
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        const lines = readFileSync(job.scriptPath!, "utf8").trimEnd().split("\n")
        expect(lines[0]).toBe("#!/bin/bash")
        const dir = job.stdoutPath!.slice(0, job.stdoutPath!.lastIndexOf("/"))
        expect(lines.filter((l) => l.startsWith("#$"))).toEqual([
          "#$ -N capi-my-job",
          `#$ -o ${dir}/stdout.$JOB_ID.log`,
          `#$ -e ${dir}/stderr.$JOB_ID.log`,
          `#$ -wd ${job.workDir}`,
          "#$ -S /bin/bash",
          "#$ -pe smp 4",
          // 8 GB over 4 slots: SGE counts memory per slot.
          "#$ -l h_vmem=2048M",
          "#$ -l h_rt=04:00:00",
          "#$ -l gpu=1",
          "#$ -q all.q",
          "#$ -P proj1",
          "#$ -V",
          "#$ -notify",
          "#$ -l scratch=1G"
        ])
        expect(lines.at(-1)).toBe("echo hello")
      }), { extra_args: ["-p", "-5"], extra_directives: ["#$ -l scratch=1G"] }))

  it.effect("the config names the parallel environment and the memory and GPU resources", () =>
    withSge(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "a", command: "true", resources: { cpus: 2, memory: "3G", gpus: 2 } })
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        const text = readFileSync(job.scriptPath!, "utf8")
        expect(text).toContain("#$ -pe mpi 2\n")
        expect(text).toContain("#$ -l mem_free=1536M\n")
        expect(text).toContain("#$ -l ngpus=2\n")
      }), { sge_parallel_environment: "mpi", sge_memory_resource: "mem_free", sge_gpu_resource: "ngpus" }))

  it.effect("an array is -t with -tc as its throttle (never %N), its elements see $SGE_TASK_ID as $ARRAY_INDEX", () =>
    withSge(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submitArray({ name: "arr", command: "echo $ARRAY_INDEX" }, { start: 1, end: 9, step: 2, maxConcurrent: 3 })
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        const text = readFileSync(job.scriptPath!, "utf8")
        expect(text).toContain("#$ -t 1-9:2\n#$ -tc 3\n")
        expect(text).not.toContain("%")
        expect(text).toContain(`export ARRAY_INDEX="\${SGE_TASK_ID}"`)
        expect(job.stdoutPath).toMatch(/\/stdout\.100\.\{index\}\.log$/)
      })))

  it.effect("an array starting at 0 is refused before qsub: SGE numbers elements from 1", () =>
    withSge(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const result = yield* Effect.either(executor.submitArray({ name: "arr", command: "true" }, { start: 0, end: 3 }))
        expect(Either.isLeft(result) && result.left._tag).toBe("InvalidJobSpec")
        expect(Either.isLeft(result) && result.left.message).toMatch(/from 1/)
        expect(yield* calls("qsub")).toBe(0)
      })))
})

describe("status: one qstat per tick, qacct for jobs that left it", () => {
  it.effect("with 1,000 tracked jobs a tick makes one qstat call and one qacct call", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const jobs = yield* submitMany(1000)
        for (const [i, j] of jobs.entries()) {
          if (i % 2 === 0) yield* fake.queue(j.jobId, [{ state: "r", name: j.name }])
          else yield* fake.end(j.jobId, [accounted(j.name, i % 4 === 1 ? 0 : 3)])
        }
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("qstat")).toBe(1)
        expect(yield* calls("qacct")).toBe(1)
        const [qstat] = yield* callsOf("qstat")
        expect(qstat?.argv.slice(0, 3)).toEqual(["qstat", "-xml", "-u"])
        const [qacct] = yield* callsOf("qacct")
        expect(qacct?.argv).toEqual(expect.arrayContaining(["qacct", "-b", "-j"]))
        const all = yield* Effect.flatMap(JobStore, (s) => s.list())
        expect(all.filter((r) => r.status === "Running")).toHaveLength(500)
        expect(all.filter((r) => r.status === "Done")).toHaveLength(250)
        const failed = all.filter((r) => r.status === "Failed")
        expect(failed).toHaveLength(250)
        expect(failed.every((r) => r.exitCode === 3 && r.reason?._tag === "NonZeroExit")).toBe(true)
        expect(all.find((r) => r.status === "Done")).toMatchObject({ execHost: "node1", maxMem: 12.5 * 1024 * 1024 })
        // Next tick: the 500 still running are all in qstat; nothing to ask qacct.
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("qstat")).toBe(2)
        expect(yield* calls("qacct")).toBe(1)
      })))

  it.effect("with no unfinished job a tick asks nothing", () =>
    withSge(() =>
      Effect.gen(function*() {
        yield* Monitor
        yield* TestClock.adjust("1 minute")
        expect(yield* calls("qstat")).toBe(0)
      })))

  it.effect("a job that left qstat but is not in qacct yet stays as it was, then the zombie timeout ends it", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.queue(a.jobId, [{ state: "r", name: a.name }])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Running")
        yield* fake.end(a.jobId, [])
        yield* TestClock.adjust("5 minutes")
        // Never "assumed done": qacct's "job id not found" is no answer, not a failed poll.
        expect((yield* get(a)).status).toBe("Running")
        expect(yield* monitor.consecutivePollFailures).toBe(0)
        expect((yield* callsOf("qacct")).at(-1)?.argv).toEqual(["qacct", "-j", a.jobId])
        yield* TestClock.adjust("6 minutes")
        expect((yield* get(a)).reason?._tag).toBe("Vanished")
      }), { zombie_timeout_minutes: 10 }))

  it.effect("qstat failing (qmaster down) skips the tick: nothing changes, the next tick asks again", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.queue(a.jobId, [{ state: "r", name: a.name }])
        yield* TestClock.adjust("10 seconds")
        yield* fake.setDown(true)
        yield* fake.end(a.jobId, [accounted(a.name, 0)])
        yield* TestClock.adjust("20 seconds")
        expect((yield* get(a)).status).toBe("Running")
        expect(yield* monitor.consecutivePollFailures).toBe(2)
        expect(yield* calls("qacct")).toBe(0)
        yield* fake.setDown(false)
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Done")
      })))

  it.effect("jobs of others in qstat's answer are ignored", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.queue(a.jobId, [{ state: "qw", name: a.name }])
        yield* fake.queue("77", [{ state: "r", name: "capi-someone" }])
        yield* TestClock.adjust("10 seconds")
        const all = yield* Effect.flatMap(JobStore, (s) => s.list())
        expect(all.map((r) => r.jobId)).toEqual([a.jobId])
        expect(all[0]?.status).toBe("Pending")
      })))

  it.effect("Eqw is Failed with the reason qstat -j gives, asked once", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* fake.queue(a.jobId, [{ state: "Eqw", name: a.name }])
        yield* fake.errorReason(a.jobId, "11/21/2026 17:30:01 [0:1234]: error: can't chdir to /nonexistent: No such file or directory")
        yield* TestClock.adjust("10 seconds")
        const record = yield* get(a)
        expect(record.status).toBe("Failed")
        expect(record.reason).toEqual({
          _tag: "SchedulerFailure",
          detail: "SGE put the job in error state (Eqw): 11/21/2026 17:30:01 [0:1234]: error: can't chdir to /nonexistent: No such file or directory"
        })
        yield* TestClock.adjust("30 seconds")
        expect((yield* callsOf("qstat")).filter((c) => c.argv.includes("-j"))).toHaveLength(1)
      })))
})

describe("dependencies: -hold_jid orders, the executor gates afterok/afternotok", () => {
  const submitPair = (type: "afterok" | "afternotok" | "afterany") =>
    Effect.gen(function*() {
      const executor = yield* Executor
      const a = yield* executor.submit({ name: "a", command: "true" })
      const b = yield* executor.submit({ name: "b", command: "true", dependsOn: [{ type, jobId: a.jobId }] })
      return { a, b }
    })

  it.effect("afterok: held with -h; released with qrls once the other ended Done", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const { a, b } = yield* submitPair("afterok")
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        expect(readFileSync(b.scriptPath!, "utf8")).toContain(`#$ -hold_jid ${a.jobId}\n#$ -h\n`)
        yield* fake.queue(a.jobId, [{ state: "r", name: a.name }])
        yield* fake.queue(b.jobId, [{ state: "hqw", name: b.name }])
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("qrls")).toBe(0)
        yield* fake.end(a.jobId, [accounted(a.name, 0)])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Done")
        expect((yield* callsOf("qrls")).map((c) => c.argv)).toEqual([["qrls", "-h", "u", b.jobId]])
        expect((yield* fake.listed(b.jobId))?.[0]?.state).toBe("qw")
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("qrls")).toBe(1)
        expect((yield* get(b)).status).toBe("Pending")
      })))

  it.effect("afterok: the other ending Failed deletes the held job, recorded Failed(DependencyFailed) — it never runs", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const { a, b } = yield* submitPair("afterok")
        yield* fake.queue(b.jobId, [{ state: "hqw", name: b.name }])
        yield* fake.end(a.jobId, [accounted(a.name, 1)])
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(a)).status).toBe("Failed")
        const record = yield* get(b)
        expect(record.status).toBe("Failed")
        expect(record.reason).toEqual({ _tag: "DependencyFailed", dependencies: [a.jobId] })
        expect((yield* callsOf("qdel")).map((c) => c.argv)).toEqual([["qdel", b.jobId]])
        expect(yield* fake.listed(b.jobId)).toBeUndefined()
        expect(yield* calls("qrls")).toBe(0)
      })))

  it.effect("afternotok: released when the other failed, deleted when it succeeded", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const first = yield* submitPair("afternotok")
        const second = yield* submitPair("afternotok")
        yield* fake.queue(first.b.jobId, [{ state: "hqw", name: first.b.name }])
        yield* fake.queue(second.b.jobId, [{ state: "hqw", name: second.b.name }])
        yield* fake.end(first.a.jobId, [accounted(first.a.name, 2)])
        yield* fake.end(second.a.jobId, [accounted(second.a.name, 0)])
        yield* TestClock.adjust("10 seconds")
        expect((yield* callsOf("qrls")).map((c) => c.argv)).toEqual([["qrls", "-h", "u", first.b.jobId]])
        expect((yield* get(second.b)).reason?._tag).toBe("DependencyFailed")
      })))

  it.effect("poll changes nothing: a held job whose dependency is Done is released by the Monitor's gate, never by poll", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        const { a, b } = yield* submitPair("afterok")
        yield* fake.queue(b.jobId, [{ state: "hqw", name: b.name }])
        yield* fake.end(a.jobId, [accounted(a.name, 0)])
        yield* store.modify([a], (r) => ({ ...r, status: "Done", exitCode: 0 }))
        // Asked directly, as `cluster-api status` asks: the answer says held, and nothing is released.
        const seen = yield* executor.poll([yield* get(b)])
        expect(seen.find((o) => o.jobId === b.jobId)?.held).toBe(true)
        expect(yield* calls("qrls")).toBe(0)
        expect(yield* calls("qdel")).toBe(0)
        yield* TestClock.adjust("10 seconds")
        expect((yield* callsOf("qrls")).map((c) => c.argv)).toEqual([["qrls", "-h", "u", b.jobId]])
      })))

  it.effect("afterany needs no gate: -hold_jid alone, never held by cluster-api", () =>
    withSge(() =>
      Effect.gen(function*() {
        const { a, b } = yield* submitPair("afterany")
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        const text = readFileSync(b.scriptPath!, "utf8")
        expect(text).toContain(`#$ -hold_jid ${a.jobId}\n`)
        expect(text).not.toContain("#$ -h\n")
      })))

  it.effect("a dependency on a job the store does not hold keeps the job held, with a warning", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const b = yield* executor.submit({ name: "b", command: "true", dependsOn: [{ type: "afterok", jobId: "4242" }] })
        yield* fake.queue(b.jobId, [{ state: "hqw", name: b.name }])
        yield* TestClock.adjust("30 seconds")
        expect(yield* calls("qrls")).toBe(0)
        expect(yield* calls("qdel")).toBe(0)
        expect((yield* get(b)).status).toBe("Pending")
      })))
})

describe("arrays", () => {
  it.effect("running tasks, a pending range, then qacct per task: Failed naming the failed task", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submitArray({ name: "arr", command: "true" }, { start: 1, end: 3 })
        yield* fake.queue(job.jobId, [{ state: "r", name: job.name, tasks: "1" }, { state: "qw", name: job.name, tasks: "2-3:1" }])
        yield* TestClock.adjust("10 seconds")
        let record = yield* get(job)
        expect(record.status).toBe("Running")
        expect(record.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Running"], [2, "Pending"], [3, "Pending"]])
        yield* fake.queue(job.jobId, [{ state: "r", name: job.name, tasks: "3" }])
        yield* fake.end(job.jobId, [])
        yield* fake.queue(job.jobId, [{ state: "r", name: job.name, tasks: "3" }])
        yield* TestClock.adjust("10 seconds")
        // Tasks 1 and 2 left qstat and qacct has no record yet: they stay as they were.
        record = yield* get(job)
        expect(record.elements?.map((e) => e.status)).toEqual(["Running", "Pending", "Running"])
        yield* fake.end(job.jobId, [
          accounted(job.name, 0, { taskid: "1" }),
          accounted(job.name, 1, { taskid: "2" }),
          accounted(job.name, 0, { taskid: "3" })
        ])
        yield* TestClock.adjust("10 seconds")
        record = yield* get(job)
        expect(record.status).toBe("Failed")
        expect(failedElementIndices(record)).toEqual([2])
        expect(record.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
      })))
})

describe("cancel, reconnect, track", () => {
  it.effect("qdel records Killed; a refused job fails cancel-all for nothing and keeps its state", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        yield* fake.queue(a.jobId, [{ state: "r", name: a.name }])
        yield* fake.queue(b.jobId, [{ state: "r", name: b.name }])
        yield* fake.refuse([b.jobId])
        const changed = yield* executor.cancelAll()
        expect(changed.map((r) => [r.jobId, r.status])).toEqual([[a.jobId, "Killed"]])
        expect((yield* get(b)).status).toBe("Pending")
        const result = yield* Effect.either(executor.cancel(b.jobId))
        expect(Either.isLeft(result) && result.left._tag).toBe("CancelError")
      })))

  it.effect("cancel by name is qdel -u USER with SGE's own name pattern", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "align-1", command: "true" })
        const b = yield* executor.submit({ name: "other", command: "true" })
        yield* fake.queue(a.jobId, [{ state: "r", name: a.name }])
        yield* fake.queue(b.jobId, [{ state: "r", name: b.name }])
        const changed = yield* executor.cancelByName("align-*")
        const { userInfo } = yield* Effect.promise(() => import("node:os"))
        expect((yield* callsOf("qdel")).map((c) => c.argv)).toEqual([["qdel", "-u", userInfo().username, "capi-align-*"]])
        expect(changed.map((r) => r.jobId)).toEqual([a.jobId])
        expect((yield* get(b)).status).toBe("Pending")
      })))

  it.effect("reconnect adopts the user's unfinished prefixed jobs from qstat, arrays rebuilt from their tasks", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.queue("501", [{ state: "r", name: "capi-lost" }])
        yield* fake.queue("502", [{ state: "r", name: "capi-arr", tasks: "2" }, { state: "qw", name: "capi-arr", tasks: "3-5:1" }])
        yield* fake.queue("503", [{ state: "r", name: "not-ours" }])
        const found = yield* executor.reconnect
        expect(found.map((r) => [r.jobId, r.name, r.array])).toEqual([
          ["501", "capi-lost", undefined],
          ["502", "capi-arr", { start: 2, end: 5 }]
        ])
      })))

  it.effect("track adopts a job by id, named as qstat names it", () =>
    withSge((fake) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        yield* fake.queue("777", [{ state: "qw", name: "someone-elses" }])
        const record = yield* executor.track("777")
        expect(record).toMatchObject({ jobId: "777", name: "someone-elses", status: "Pending", executor: "sge" })
        const missing = yield* Effect.either(executor.track("778"))
        expect(Either.isLeft(missing) && missing.left._tag).toBe("JobNotFound")
      })))
})
