/**
 * A poll of more jobs than one command line can name asks the scheduler ONCE for the user's jobs
 * (`squeue --me`, `bjobs -J capi-*`) instead of splitting the ids into several calls: counted on
 * the TestCommandRunner with 100,000 tracked jobs, against the scripted Slurm and LSF. What the
 * listing shows of jobs the executor does not track is dropped; a tracked job it leaves out is
 * asked of accounting, as when an answer by id leaves one out.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ConfigOptions } from "../src/Config.js"
import type { JobRecord, Observation } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { argvBudget, chunkJobs, statusPlan } from "../src/internal/batch/observe.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { dialect as lsfDialect } from "../src/schedulers/lsf/dialect.js"
import { slurmDialect } from "../src/schedulers/slurm/dialect.js"
import { squeueFormat } from "../src/schedulers/slurm/status.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { makeFakeLsf, record } from "./support/FakeLsf.js"
import { callsOf, withFakeScheduler } from "./support/FakeScheduler.js"
import { makeFakeSlurm } from "./support/FakeSlurm.js"
import { jobRecord } from "./support/Records.js"
import { toyDialect, toyExecutorLayer } from "./support/ToyDialect.js"
import * as ClusterApi from "../src/ClusterApi.js"

const withSlurm = withFakeScheduler(makeFakeSlurm(), { executor: "slurm" }, "capi-byuser-slurm-")
const withLsf = withFakeScheduler(makeFakeLsf(), { executor: "lsf" }, "capi-byuser-lsf-")

/** 100,000 jobs: their ids (7 digits) fill eight command lines of `argvBudget`. */
const N = 100_000
const idOf = (i: number) => String(1_000_000 + i)

/** `n` Running jobs of `executor`, named `capi-j{i}` as submitted with the default prefix. */
const tracked = (executor: string, n = N): Array<JobRecord> =>
  Array.from({ length: n }, (_, i) => jobRecord(idOf(i), { executor, name: `capi-j${i}`, status: "Running" }))

// squeue `%i|%T|%r|%N|%V|%S|%j` and sacct `JobID|JobIDRaw|State|ExitCode|Reason|MaxRSS|ReqMem|
// NodeList|Submit|Start|End|JobName`, as recorded (test/fixtures/slurm).
const T0 = "2026-11-21T12:00:00"
const running = (id: string, name: string) => `${id}|RUNNING|None|n1|${T0}|${T0}|${name}`
const completed = (id: string) => [
  `${id}|${id}|COMPLETED|0:0|None||100M|n1|${T0}|${T0}|${T0}|capi-x`,
  `${id}.batch|${id}.batch|COMPLETED|0:0||2048K||n1|${T0}|${T0}|${T0}|batch`
]

const statuses = (observations: ReadonlyArray<Observation>) => {
  const out = new Map<string, number>()
  for (const o of observations) out.set(String(o.status), (out.get(String(o.status)) ?? 0) + 1)
  return Object.fromEntries(out)
}

describe("when the ids fit one command line nothing changes; past it, one listing", () => {
  const options = { job_name_prefix: "capi", poll_all_users: false } as ConfigOptions
  const context = { user: "alice" }

  it("ids that fit the budget are named, in one command", () => {
    const jobs = tracked("slurm", Math.floor(argvBudget / 8))
    const plan = statusPlan(slurmDialect, jobs, options, context)
    expect(plan._tag).toBe("Ids")
    expect(plan._tag === "Ids" && plan.chunks).toHaveLength(1)
  })

  it("one more id than fits: Slurm and LSF list the user's jobs, once", () => {
    const jobs = tracked("slurm", Math.floor(argvBudget / 8) + 1)
    expect(chunkJobs(jobs)).toHaveLength(2)
    const slurm = statusPlan(slurmDialect, jobs, options, context)
    expect(slurm._tag === "Listing" && slurm.invocation.argv).toEqual(["squeue", "--me", "-a", "-h", "-o", squeueFormat])
    const lsf = statusPlan(lsfDialect, jobs, options, context)
    expect(lsf._tag === "Listing" && lsf.invocation.argv).toEqual([
      "bjobs", "-a", "-json", "-o", expect.any(String), "-J", "capi-*"
    ])
  })

  it.effect("a scheduler without a listing still gets the ids, split where they pass the budget", () =>
    Effect.gen(function*() {
      const executor = yield* Executor
      const observations = yield* executor.poll(tracked("toy"))
      expect(observations).toHaveLength(N)
      expect(yield* callsOf("toystat")).toHaveLength(8)
    }).pipe(
      Effect.provide(ClusterApi.layerTest({
        executor: toyExecutorLayer,
        rules: [{ match: "toystat", reply: (call) => ({ stdout: call.argv.slice(1).map((id) => `${id}|R|`).join("\n") }) }]
      }))
    ))

  it("the toy dialect has no listing (what the test above relies on)", () => {
    expect(toyDialect.statusByUser).toBeUndefined()
  })
})

describe("Slurm: 100,000 tracked jobs, one squeue per tick", () => {
  it.effect("a tick asks `squeue --me` once; the jobs that left it are asked of sacct, once, by id", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const jobs = tracked("slurm")
        // The last 10 left the queue and ended; the others run.
        const gone = jobs.slice(-10)
        yield* fake.queueMany(jobs.slice(0, -10).map((j) => [j.jobId, [running(j.jobId, j.name)]] as const))
        for (const j of gone) yield* fake.account(j.jobId, completed(j.jobId))
        yield* (yield* JobStore).insert(jobs)
        const report = yield* (yield* Monitor).tick
        expect(report.observed).toBe(N)

        const squeue = yield* callsOf("squeue")
        expect(squeue.map((c) => c.argv)).toEqual([["squeue", "--me", "-a", "-h", "-o", squeueFormat]])
        const sacct = yield* callsOf("sacct")
        expect(sacct).toHaveLength(1)
        expect(sacct[0]?.argv[sacct[0].argv.indexOf("-j") + 1]?.split(",")).toEqual(gone.map((j) => j.jobId))

        const all = yield* (yield* JobStore).list()
        expect(all.filter((r) => r.status === "Running")).toHaveLength(N - 10)
        expect(all.filter((r) => r.status === "Done").map((r) => r.jobId)).toEqual(gone.map((j) => j.jobId))

        // The next tick: one squeue again.
        yield* (yield* Monitor).tick
        expect(yield* callsOf("squeue")).toHaveLength(2)
      })
    ), { timeout: 120_000 })

  it.effect("jobs of other programs and other users in the answer are not observed", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const jobs = tracked("slurm")
        yield* fake.queueMany([
          ...jobs.map((j) => [j.jobId, [running(j.jobId, j.name)]] as const),
          // Another program of this user, and another user (not listed with --me).
          ["42", [running("42", "their-job")]],
          ["43", ["43_1|RUNNING|None|n1|" + `${T0}|${T0}|capi-theirs`]]
        ])
        yield* fake.queueOther("44", [running("44", "capi-j1")])
        const observations = yield* (yield* Executor).poll(jobs)
        expect(observations).toHaveLength(N)
        expect(observations.some((o) => ["42", "43", "44"].includes(o.jobId))).toBe(false)
        expect(statuses(observations)).toEqual({ Running: N })
        expect(yield* callsOf("squeue")).toHaveLength(1)
      })
    ), { timeout: 120_000 })

  it.effect("with poll_all_users the listing is everyone's: a tracked job of another user is seen", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const jobs = tracked("slurm")
        const theirs = jobs[0]!
        yield* fake.queueMany(jobs.slice(1).map((j) => [j.jobId, [running(j.jobId, j.name)]] as const))
        yield* fake.queueOther(theirs.jobId, [running(theirs.jobId, theirs.name)])
        const observations = yield* (yield* Executor).poll(jobs)
        expect(observations.find((o) => o.jobId === theirs.jobId)?.status).toBe("Running")
        const [call] = yield* callsOf("squeue")
        expect(call?.argv).toEqual(["squeue", "-a", "-h", "-o", squeueFormat])
        expect(yield* callsOf("sacct")).toHaveLength(0)
      }), { poll_all_users: true }), { timeout: 120_000 })
})

describe("LSF: 100,000 tracked jobs, one bjobs per tick", () => {
  it.effect("a tick asks bjobs once, by the jobs' shared name prefix; a job it leaves out stays as it was", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const jobs = tracked("lsf")
        const gone = jobs[N - 1]!
        yield* fake.showMany([
          ...jobs.slice(0, -1).map((j, i) => [j.jobId, [record(j.jobId, j.name, i % 2 === 0 ? "RUN" : "DONE")]] as const),
          // Another program of this user with the same prefix: listed, not tracked.
          ["42", [record("42", "capi-other", "RUN")]],
          // Another program's job under another name: -J leaves it out.
          ["43", [record("43", "theirs", "RUN")]]
        ])
        yield* (yield* JobStore).insert(jobs)
        const report = yield* (yield* Monitor).tick
        expect(report.observed).toBe(N - 1)

        const bjobs = yield* callsOf("bjobs")
        expect(bjobs).toHaveLength(1)
        expect(bjobs[0]?.argv.filter((a) => /^\d+$/.test(a))).toEqual([])
        expect(bjobs[0]?.argv.slice(-2)).toEqual(["-J", "capi-*"])

        const store = yield* JobStore
        const all = yield* store.list()
        // Of the 99,999 it shows, even positions run, odd ones are done.
        expect(all.filter((r) => r.status === "Done")).toHaveLength(N / 2 - 1)
        expect(all.filter((r) => r.status === "Running" && r.jobId !== gone.jobId)).toHaveLength(N / 2)
        expect(all.some((r) => r.jobId === "42" || r.jobId === "43")).toBe(false)
        // LSF has no accounting tool: the job bjobs no longer shows waits, as by id, for the zombie timeout.
        expect(all.find((r) => r.jobId === gone.jobId)?.status).toBe("Running")
      })
    ), { timeout: 120_000 })

  it.effect("a tracked job named otherwise lists every job of the user; only tracked ones are observed", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const jobs = tracked("lsf")
        jobs[0] = { ...jobs[0]!, name: "tracked-from-elsewhere" }
        yield* fake.showMany([
          ...jobs.map((j) => [j.jobId, [record(j.jobId, j.name, "PEND")]] as const),
          ["42", [record("42", "theirs", "RUN")]]
        ])
        const observations = yield* (yield* Executor).poll(jobs)
        const bjobs = yield* callsOf("bjobs")
        expect(bjobs).toHaveLength(1)
        expect(bjobs[0]?.argv.filter((a) => /^\d+$/.test(a))).toEqual([])
        expect(bjobs[0]?.argv).not.toContain("-J")
        expect(observations).toHaveLength(N)
        expect(statuses(observations)).toEqual({ Pending: N })
        expect(observations.find((o) => o.jobId === "42")).toBeUndefined()
      })
    ), { timeout: 120_000 })

  it.effect("bjobs saying it has no job to list is an answer: no observation, no failed poll", () =>
    withLsf(() =>
      Effect.gen(function*() {
        const observations = yield* (yield* Executor).poll(tracked("lsf"))
        expect(observations).toEqual([])
        const calls = yield* (yield* TestCommandRunner).calls
        expect(calls).toHaveLength(1)
      })
    ), { timeout: 120_000 })

  it.effect("with poll_all_users the listing is everyone's (`-u all`): a tracked job of another user is seen", () =>
    withLsf((fake) =>
      Effect.gen(function*() {
        const jobs = tracked("lsf")
        const theirs = jobs[0]!
        yield* fake.showMany(jobs.slice(1).map((j) => [j.jobId, [record(j.jobId, j.name, "RUN")]] as const))
        yield* fake.showOther(theirs.jobId, [record(theirs.jobId, theirs.name, "RUN")])
        const observations = yield* (yield* Executor).poll(jobs)
        expect(observations.find((o) => o.jobId === theirs.jobId)?.status).toBe("Running")
        const [call] = yield* callsOf("bjobs")
        expect(call?.argv.slice(-4)).toEqual(["-u", "all", "-J", "capi-*"])
      }), { poll_all_users: true }), { timeout: 120_000 })
})
