/**
 * Local jobs with dependencies (it.live: real clock, real processes): a job with `dependsOn` is
 * held, Pending and without a slot, until its dependencies are met, and never runs once one can
 * never be met. Marker files written by the jobs' scripts show what ran, and in which order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Option } from "effect"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import type { Dependency, JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { localRecord, startWrapped, statusFile, writeJobScript } from "./support/LocalJobs.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-deps-")

const live = (config: Partial<ConfigOptions>) =>
  ClusterApi.compose({
    config: ClusterConfig.layerTest({ poll_interval: 0.05, job_name_prefix: "test", ...config }),
    runner: nodeRunner
  })

const run = <A, E>(body: (dir: string) => Effect.Effect<A, E, ClusterApi.Services>, config: Partial<ConfigOptions> = {}) => {
  const dir = tempDir()
  return body(dir).pipe(Effect.provide(live({ log_directory: dir, ...config })))
}

// A bound, not an expectation: the wait returns as soon as the jobs end (a busy machine is slow).
const awaitAll = (records: ReadonlyArray<JobRecord>) =>
  Effect.flatMap(Monitor, (monitor) => monitor.awaitAll(records, { timeout: "90 seconds" }))

/** `n` polls of the Monitor, run now (besides its own, every poll_interval). */
const ticks = (n: number) => Effect.flatMap(Monitor, (monitor) => Effect.repeatN(monitor.tick, n - 1))

/** A command that waits until `file` exists: the job runs on once the test says so (`release`). */
const heldUntil = (file: string) => `until [ -e "${file}" ]; do sleep 0.02; done`
const release = (file: string) => Effect.sync(() => writeFileSync(file, ""))

const stored = (jobId: string) =>
  Effect.flatMap(JobStore, (store) => store.get({ executor: "local", jobId })).pipe(Effect.map(Option.getOrThrow))

/** A command that writes the time (ns) to `file` once, as the mark of having run. */
const mark = (file: string) => `date +%s%N > "${file}"`
const markedAt = (file: string) => BigInt(readFileSync(file, "utf8").trim())

/** A record of a job another executor ran, as `track` would have stored it. */
const foreign = (jobId: string, status: JobRecord["status"]): JobRecord => {
  const at = new Date()
  return {
    jobId,
    name: jobId,
    command: "unknown",
    executor: "slurm",
    status,
    submitTime: at,
    lastSeen: at,
    metadata: {},
    ...(status === "Done" ? { exitCode: 0, finishTime: at } : {}),
    ...(status === "Failed" ? { exitCode: 1, finishTime: at, reason: { _tag: "NonZeroExit", exitCode: 1 } } : {})
  }
}

describe("local dependencies", { timeout: 120_000 }, () => {
  it.live("afterok on a job that succeeds: held (not started) while it runs, started after it ends", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const go = join(dir, "go")
        const parent = yield* executor.submit({ name: "parent", command: `${heldUntil(go)}; ${mark(join(dir, "parent.end"))}` })
        const child = yield* executor.submit({
          name: "child",
          command: mark(join(dir, "child.start")),
          dependsOn: [{ type: "afterok", jobId: parent.jobId }],
          metadata: { step: 2 }
        })
        expect(child.status).toBe("Pending")
        expect(child.dependsOn).toEqual([{ type: "afterok", jobId: parent.jobId }])
        expect(child.spec?.dependsOn).toEqual([{ type: "afterok", jobId: parent.jobId }])
        expect(child.metadata).toEqual({ step: 2 })
        // Several ticks later, the parent still running: the child has not been started.
        yield* ticks(3)
        expect((yield* stored(child.jobId)).status).toBe("Pending")
        expect(existsSync(statusFile(dir, "pid", child.jobId))).toBe(false)
        yield* release(go)
        const [p, c] = yield* awaitAll([parent, child])
        expect([p?.status, c?.status]).toEqual(["Done", "Done"])
        expect(markedAt(join(dir, "child.start")) >= markedAt(join(dir, "parent.end"))).toBe(true)
        expect(c!.startTime!.getTime()).toBeGreaterThanOrEqual(p!.finishTime!.getTime())
      })
    ))

  it.live("afterok on a job that fails: Failed(DependencyFailed [parent]), never run", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const parent = yield* executor.submit({ name: "bad", command: "sleep 0.2; exit 3" })
        const child = yield* executor.submit({
          name: "child",
          command: mark(join(dir, "child.ran")),
          dependsOn: [{ type: "afterok", jobId: parent.jobId }]
        })
        const [p, c] = yield* awaitAll([parent, child])
        expect(p?.status).toBe("Failed")
        expect(c?.status).toBe("Failed")
        expect(c?.reason).toEqual({ _tag: "DependencyFailed", dependencies: [parent.jobId] })
        expect(c?.startTime).toBeUndefined()
        yield* ticks(2)
        expect(existsSync(join(dir, "child.ran"))).toBe(false)
        expect(existsSync(statusFile(dir, "pid", child.jobId))).toBe(false)
      })
    ))

  it.live("judged as the store has it: a parent Done but missing its output fails the child; a retried parent is followed to its last attempt", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const noOutput = yield* executor.submit({
          name: "no-output",
          command: "true",
          resources: { workDir: dir },
          expectedOutputs: ["result.txt"]
        })
        const blocked = yield* executor.submit({
          name: "blocked",
          command: mark(join(dir, "blocked.ran")),
          dependsOn: [{ type: "afterok", jobId: noOutput.jobId }]
        })
        // Fails on its first attempt, succeeds on its retry.
        const flaky = yield* executor.submit({
          name: "flaky",
          command: `if [ -f tried ]; then exit 0; fi; touch tried; exit 1`,
          resources: { workDir: dir },
          retry: { maxRetries: 1 }
        })
        const after = yield* executor.submit({
          name: "after-flaky",
          command: mark(join(dir, "after.ran")),
          dependsOn: [{ type: "afterok", jobId: flaky.jobId }]
        })
        const [n, b, f, a] = yield* awaitAll([noOutput, blocked, flaky, after])
        expect(n?.reason).toEqual({ _tag: "MissingOutput", missing: ["result.txt"] })
        expect(b?.reason).toEqual({ _tag: "DependencyFailed", dependencies: [noOutput.jobId] })
        expect(existsSync(join(dir, "blocked.ran"))).toBe(false)
        expect([f?.status, f?.attempt]).toEqual(["Done", 2])
        // Had the first attempt's failure counted, after-flaky would have failed without running.
        expect(a?.status).toBe("Done")
        expect(existsSync(join(dir, "after.ran"))).toBe(true)
      })
    ))

  it.live("afternotok and afterany on a failed job run; afternotok on a Done job fails; several dependencies all count", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const bad = yield* executor.submit({ name: "bad", command: "sleep 0.3; exit 1" })
        const good = yield* executor.submit({ name: "good", command: "sleep 0.3" })
        const dependent = (name: string, dependsOn: ReadonlyArray<Dependency>) =>
          executor.submit({ name, command: mark(join(dir, `${name}.ran`)), dependsOn })
        const notok = yield* dependent("notok", [{ type: "afternotok", jobId: bad.jobId }])
        const any = yield* dependent("any", [{ type: "afterany", jobId: bad.jobId }])
        const notokOnDone = yield* dependent("notok-on-done", [{ type: "afternotok", jobId: good.jobId }])
        const both = yield* dependent("both", [
          { type: "afterok", jobId: good.jobId },
          { type: "afterany", jobId: bad.jobId }
        ])
        // Submitted once both have ended, so that both are judged together and both are named.
        yield* awaitAll([bad, good])
        const mixed = yield* dependent("mixed", [
          { type: "afterany", jobId: good.jobId },
          { type: "afterok", jobId: bad.jobId },
          { type: "afternotok", jobId: good.jobId }
        ])
        const ends = yield* awaitAll([notok, any, notokOnDone, both, mixed])
        expect(ends.map((r) => [r.name, r.status])).toEqual([
          ["test-notok", "Done"],
          ["test-any", "Done"],
          ["test-notok-on-done", "Failed"],
          ["test-both", "Done"],
          ["test-mixed", "Failed"]
        ])
        expect(ends[2]?.reason).toEqual({ _tag: "DependencyFailed", dependencies: [good.jobId] })
        // Every dependency that can never be met is named.
        expect(ends[4]?.reason).toEqual({ _tag: "DependencyFailed", dependencies: [bad.jobId, good.jobId] })
        for (const name of ["notok", "any", "both"]) expect(existsSync(join(dir, `${name}.ran`))).toBe(true)
        for (const name of ["notok-on-done", "mixed"]) expect(existsSync(join(dir, `${name}.ran`))).toBe(false)
      })
    ))

  it.live("checked at submit: a dependency already Done starts the job at once, one already Failed fails it at the next poll", () =>
    // No Monitor tick comes within the test: only the check at submit can start the job.
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        yield* store.insert([foreign("77", "Done"), foreign("78", "Failed")])
        const ready = yield* executor.submit({
          name: "ready",
          command: mark(join(dir, "ready.ran")),
          dependsOn: [{ type: "afterok", jobId: "77" }]
        })
        const doomed = yield* executor.submit({
          name: "doomed",
          command: mark(join(dir, "doomed.ran")),
          dependsOn: [{ type: "afterok", jobId: "78" }]
        })
        yield* Effect.sleep("50 millis").pipe(
          Effect.repeat({ until: () => existsSync(statusFile(dir, "exit", ready.jobId)), times: 1200 })
        )
        expect(existsSync(join(dir, "ready.ran"))).toBe(true)
        const seen = yield* executor.poll([ready, doomed])
        expect(seen.map((o) => [o.jobId, o.status, o.reason])).toEqual([
          [ready.jobId, "Done", undefined],
          [doomed.jobId, "Failed", { _tag: "DependencyFailed", dependencies: ["78"] }]
        ])
        expect(existsSync(join(dir, "doomed.ran"))).toBe(false)
      }), { poll_interval: 3600 }))

  it.live("poll changes nothing: a held job whose dependency is now Done is started by the Monitor's gate, not by poll", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        const monitor = yield* Monitor
        yield* store.insert([foreign("7001", "Running")])
        const started = join(dir, "child.start")
        const child = yield* executor.submit({
          name: "child",
          command: mark(started),
          dependsOn: [{ type: "afterok", jobId: "7001" }]
        })
        yield* store.modify([{ executor: "slurm", jobId: "7001" }], () => foreign("7001", "Done"))
        // Asked directly, as `cluster-api status` asks: held, and not started.
        const seen = yield* executor.poll([yield* stored(child.jobId)])
        expect(seen).toEqual([{ jobId: child.jobId, status: "Pending", held: true }])
        expect(existsSync(started)).toBe(false)
        expect((yield* stored(child.jobId)).status).toBe("Pending")
        // The Monitor's tick: the gate starts it (its fiber ticks once an hour here: the test ticks).
        const ended = yield* monitor.tick.pipe(
          Effect.zipRight(Effect.sleep("20 millis")),
          Effect.zipRight(stored(child.jobId)),
          Effect.repeat({ until: (r) => r.status === "Done" || r.status === "Failed" }),
          Effect.timeout("60 seconds")
        )
        expect(ended.status).toBe("Done")
        expect(existsSync(started)).toBe(true)
      }), { poll_interval: 3600 }))

  it.live("an array gated on a job: no element starts before it ends; gated on a failed job, every element fails", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const parent = yield* executor.submit({ name: "parent", command: `sleep 0.4; ${mark(join(dir, "parent.end"))}` })
        const bad = yield* executor.submit({ name: "bad", command: "exit 2" })
        const array = yield* executor.submit({
          name: "arr",
          command: `${mark(join(dir, "arr.$ARRAY_INDEX"))}`,
          array: { start: 1, end: 3, maxConcurrent: 2 },
          dependsOn: [{ type: "afterok", jobId: parent.jobId }]
        })
        const doomed = yield* executor.submit({
          name: "doomed",
          command: `${mark(join(dir, "doomed.$ARRAY_INDEX"))}`,
          array: { start: 1, end: 2 },
          dependsOn: [{ type: "afterok", jobId: bad.jobId }]
        })
        const [a, d] = yield* awaitAll([array, doomed])
        expect(a?.status).toBe("Done")
        expect(a?.elements?.map((e) => e.status)).toEqual(["Done", "Done", "Done"])
        const parentEnd = markedAt(join(dir, "parent.end"))
        for (const i of [1, 2, 3]) expect(markedAt(join(dir, `arr.${i}`)) >= parentEnd).toBe(true)
        const reason = { _tag: "DependencyFailed", dependencies: [bad.jobId] }
        expect(d?.status).toBe("Failed")
        expect(d?.reason).toEqual(reason)
        expect(d?.elements).toEqual([
          expect.objectContaining({ index: 1, status: "Failed", reason }),
          expect.objectContaining({ index: 2, status: "Failed", reason })
        ])
        for (const i of [1, 2]) expect(existsSync(join(dir, `doomed.${i}`))).toBe(false)
      })
    ))

  it.live("a dependency the store does not hold: the job stays Pending, with one warning naming it", () => {
    const warnings: Array<string> = []
    const capture = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
    )
    return run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "orphan",
          command: mark(join(dir, "orphan.ran")),
          dependsOn: [{ type: "afterok", jobId: "no-such-job" }]
        })
        // Ten ticks at least: still one warning.
        yield* ticks(10)
        expect((yield* stored(job.jobId)).status).toBe("Pending")
        expect(existsSync(join(dir, "orphan.ran"))).toBe(false)
        const about = warnings.filter((w) => w.includes("no-such-job"))
        expect(about).toHaveLength(1)
        expect(about[0]).toContain(job.jobId)
        expect(about[0]).toContain("stays held")
        expect(about[0]).toContain("cancel")
      })
    ).pipe(Effect.provide(capture))
  })

  it.live("cancel while held: Killed, and never run once its dependency ends", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const go = join(dir, "go")
        const parent = yield* executor.submit({ name: "parent", command: heldUntil(go) })
        const child = yield* executor.submit({
          name: "child",
          command: mark(join(dir, "child.ran")),
          dependsOn: [{ type: "afterok", jobId: parent.jobId }]
        })
        // Some ticks while held (the parent runs until released), then the cancel.
        yield* ticks(3)
        const cancelled = yield* executor.cancel(child.jobId)
        expect(cancelled.status).toBe("Killed")
        expect(cancelled.reason).toEqual({ _tag: "Cancelled" })
        yield* release(go)
        const [p] = yield* awaitAll([parent])
        expect(p?.status).toBe("Done")
        yield* ticks(3)
        const c = yield* stored(child.jobId)
        expect(c.status).toBe("Killed")
        expect(c.startTime).toBeUndefined()
        expect(existsSync(join(dir, "child.ran"))).toBe(false)
        expect(existsSync(statusFile(dir, "pid", child.jobId))).toBe(false)
      })
    ))

  it.live("a held job takes no max_local_jobs slot: with one slot, a job submitted after it runs while it waits", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        // Held on a job not in the store yet: a held job that took the only slot would keep it.
        const held = yield* executor.submit({
          name: "held",
          command: mark(join(dir, "held.ran")),
          dependsOn: [{ type: "afterok", jobId: "later-1" }]
        })
        const free = yield* executor.submit({ name: "free", command: mark(join(dir, "free.ran")) })
        const [f] = yield* awaitAll([free])
        expect(f?.status).toBe("Done")
        expect((yield* stored(held.jobId)).status).toBe("Pending")
        expect(existsSync(join(dir, "held.ran"))).toBe(false)
        // Its dependency becomes known, and Done: it runs, in the slot now free.
        yield* store.insert([foreign("later-1", "Done")])
        const [h] = yield* awaitAll([held])
        expect(h?.status).toBe("Done")
        expect(markedAt(join(dir, "held.ran")) >= markedAt(join(dir, "free.ran"))).toBe(true)
      }), { max_local_jobs: 1 }))
})

describe("local dependencies across a restart (SQLite store)", { timeout: 120_000 }, () => {
  it.live("a held job taken over by a new program stays held, and runs once its dependency is Done", () => {
    const dir = tempDir()
    const file = join(dir, "jobs.db")
    const go = join(dir, "go")
    const parentScript = writeJobScript(dir, "parent", `${heldUntil(go)}; ${mark(join(dir, "parent.end"))}`)
    return Effect.gen(function*() {
      // The parent: a process another program started, still running when it died.
      yield* Effect.promise(() => startWrapped(dir, "9-1", parentScript))
      const parent = localRecord(dir, "9-1", parentScript)
      // The dependent, as a program's submit recorded it (that program's own end is not the
      // crash simulated here: only its record, as written at submit, is kept).
      const child = yield* Effect.gen(function*() {
        yield* (yield* JobStore).insert([parent])
        return yield* (yield* Executor).submit({
          name: "child",
          command: mark(join(dir, "child.start")),
          dependsOn: [{ type: "afterok", jobId: parent.jobId }]
        })
      }).pipe(Effect.provide(live({ log_directory: dir, poll_interval: 3600 })))
      expect(child.status).toBe("Pending")
      // The store the crashed program left: both jobs unfinished, their owner gone.
      yield* Effect.flatMap(JobStore, (s) => s.insert([parent, child])).pipe(Effect.provide(SqliteJobStore.layer(file)))

      yield* Effect.gen(function*() {
        const monitor = yield* Monitor
        expect(monitor.resumed.adopted.map((r) => r.jobId)).toEqual([parent.jobId, child.jobId])
        // Several ticks while the parent runs (until released): the child stays held.
        yield* ticks(3)
        expect((yield* stored(child.jobId)).status).toBe("Pending")
        expect(existsSync(join(dir, "child.start"))).toBe(false)
        yield* release(go)
        const [p, c] = yield* awaitAll([parent, child])
        expect([p?.status, c?.status]).toEqual(["Done", "Done"])
        expect(markedAt(join(dir, "child.start")) >= markedAt(join(dir, "parent.end"))).toBe(true)
      }).pipe(
        Effect.provide(
          ClusterApi.compose({
            config: ClusterConfig.layerTest({
              poll_interval: 0.05,
              job_name_prefix: "test",
              log_directory: dir,
              executor: "local"
            }),
            runner: nodeRunner,
            store: SqliteJobStore.layer(file)
          })
        )
      )
    })
  })
})
