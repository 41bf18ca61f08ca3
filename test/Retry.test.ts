/**
 * Retries and the checks of a Done job, under TestClock on the toy scheduler: the retry policy's
 * decisions (pure), the Monitor submitting attempts after their backoff, awaiters and callbacks
 * following a job to its last attempt, resource escalation, retries by hand, and a Done job
 * turned Failed by missing outputs or error lines in its logs.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Chunk, Effect, Either, Fiber, Option, Ref, Stream, TestClock } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import type { ConfigOptions } from "../src/Config.js"
import { defaultOptions } from "../src/Config.js"
import type { JobEvent, JobRecord, JobSpec } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import * as Retry from "../src/Retry.js"
import * as Dependencies from "../src/internal/dependencies.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { eventually, toyAccountingScheduler, toyExecutorLayer } from "./support/ToyDialect.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-retry-")

const toyScheduler = toyAccountingScheduler

type Toy = Effect.Effect.Success<typeof toyScheduler>

const withToy = <A, E>(
  body: (toy: Toy, dir: string) => Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>,
  config: Partial<ConfigOptions> = {}
) =>
  Effect.gen(function*() {
    const toy = yield* toyScheduler
    const dir = tempDir()
    return yield* body(toy, dir).pipe(
      Effect.scoped,
      Effect.provide(ClusterApi.layerTest({
        config: { poll_interval: 10, log_directory: dir, ...config },
        rules: toy.rules,
        executor: toyExecutorLayer
      }))
    )
  })

const submits = Effect.flatMap(TestCommandRunner, (t) => t.callsMatching("toysub")).pipe(Effect.map((c) => c.length))
const get = (jobId: string) => Effect.flatMap(JobStore, (s) => s.get({ executor: "toy", jobId })).pipe(Effect.map(Option.getOrThrow))
const tick = Effect.flatMap(Monitor, (m) => m.tick)

const until = eventually

const retriedBy = (jobId: string) =>
  Effect.gen(function*() {
    yield* until(Effect.map(get(jobId), (r) => r.retriedBy !== undefined))
    return (yield* get(jobId)).retriedBy!
  })

const failed = (spec: Partial<JobSpec> & { readonly retry?: JobSpec["retry"] }): JobRecord => ({
  jobId: "1",
  name: "capi-x",
  command: "x",
  executor: "toy",
  status: "Failed",
  reason: { _tag: "NonZeroExit", exitCode: 1 },
  lastSeen: new Date(0),
  metadata: {},
  spec: { name: "x", command: "x", ...spec }
})

describe("the retry policy (pure)", () => {
  it("retries while attempts are left, never a job without a policy or already retried", () => {
    const policy = { maxRetries: 2 }
    expect(Option.map(Retry.planRetry(failed({ retry: policy }), defaultOptions), (p) => p.attempt)).toEqual(
      Option.some(2)
    )
    expect(Option.isSome(Retry.planRetry({ ...failed({ retry: policy }), attempt: 2 }, defaultOptions))).toBe(true)
    expect(Option.isNone(Retry.planRetry({ ...failed({ retry: policy }), attempt: 3 }, defaultOptions))).toBe(true)
    expect(Option.isNone(Retry.planRetry(failed({}), defaultOptions))).toBe(true)
    expect(Option.isNone(Retry.planRetry({ ...failed({ retry: policy }), retriedBy: "2" }, defaultOptions))).toBe(true)
    expect(Option.isNone(Retry.planRetry({ ...failed({ retry: policy }), status: "Killed" }, defaultOptions))).toBe(true)
  })

  it("by default retries every failure but a cancellation, an impossible dependency or an array run without elements; `on` selects", () => {
    const all = { maxRetries: 1 }
    const only = { maxRetries: 1, on: ["NodeFailure", "Preempted"] as const }
    expect(Retry.retriesKind(all, "NonZeroExit")).toBe(true)
    expect(Retry.retriesKind(all, "Cancelled")).toBe(false)
    expect(Retry.retriesKind(all, "DependencyFailed")).toBe(false)
    // Submitted the same way again, it would run without elements again.
    expect(Retry.retriesKind(all, "NoArrayElements")).toBe(false)
    expect(Retry.retriesKind(only, "Preempted")).toBe(true)
    expect(Retry.retriesKind(only, "NonZeroExit")).toBe(false)
    expect(Retry.retriesKind(only, undefined)).toBe(false)
  })

  it("waits backoff × factor^(n-1), at most the cap", () => {
    const policy = { maxRetries: 5, backoffSeconds: 10, backoffFactor: 3, maxBackoffSeconds: 60 }
    expect([2, 3, 4, 5].map((a) => Retry.backoffMillis(policy, a))).toEqual([10_000, 30_000, 60_000, 60_000])
    expect(Retry.backoffMillis({ maxRetries: 1 }, 2)).toBe(0)
    expect(Retry.backoffMillis({ maxRetries: 3, backoffSeconds: 5 }, 3)).toBe(10_000)
  })

  it("escalates memory after OutOfMemory and walltime after Timeout, from the job's or the config's value", () => {
    const policy = { maxRetries: 1, memoryFactor: 2, walltimeFactor: 1.5 }
    const spec: JobSpec = { name: "x", command: "x", resources: { memory: "4 GB", walltime: "01:00" } }
    const oom = Retry.escalate(spec, policy, "OutOfMemory", defaultOptions)
    expect(oom.spec.resources?.memory).toBe("8192 MB")
    expect(oom.spec.resources?.walltime).toBe("01:00")
    expect(oom.escalated).toEqual(["memory 4 GB → 8192 MB"])
    const timeout = Retry.escalate(spec, policy, "Timeout", defaultOptions)
    expect(timeout.spec.resources?.walltime).toBe("01:30:00")
    expect(timeout.spec.resources?.memory).toBe("4 GB")
    const fromConfig = Retry.escalate({ name: "x", command: "x" }, policy, "OutOfMemory", {
      ...defaultOptions,
      memory: "1 GB"
    })
    expect(fromConfig.spec.resources?.memory).toBe("2048 MB")
    const none = Retry.escalate({ name: "x", command: "x" }, policy, "OutOfMemory", defaultOptions)
    expect(none.escalated).toEqual([])
    expect(Retry.escalate(spec, policy, "NonZeroExit", defaultOptions).spec).toBe(spec)
  })
})

describe("a dependency on a retried or checked job (pure)", () => {
  const rec = (jobId: string, status: JobRecord["status"], more: Partial<JobRecord> = {}): JobRecord => ({
    ...failed({ retry: { maxRetries: 1 } }),
    jobId,
    status,
    ...more
  })

  it("counts a retried job as its last attempt, and a failed job about to be retried as not ended", () => {
    const records = new Map([
      ["1", rec("1", "Failed", { retriedBy: "2" })],
      ["2", rec("2", "Done", { attempt: 2, retryOf: "1" })],
      ["3", rec("3", "Failed")],
      ["4", rec("4", "Failed", { attempt: 2 })],
      ["5", rec("5", "Failed", { retriedBy: "6" })]
    ])
    expect(Dependencies.dependencyStatus("1", records, defaultOptions)).toBe("Done")
    expect(Dependencies.dependencyStatus("3", records, defaultOptions)).toBe("Pending")
    expect(Dependencies.dependencyStatus("4", records, defaultOptions)).toBe("Failed")
    expect(Dependencies.dependencyStatus("5", records, defaultOptions)).toBe("Pending")
    expect(Dependencies.dependencyStatus("9", records, defaultOptions)).toBeUndefined()
  })

  it("a job seen ending Done whose spec asks for checks is not Done until the Monitor recorded it", () => {
    const checked = rec("1", "Running", { spec: { name: "x", command: "x", expectedOutputs: ["out"] } })
    const plain = rec("2", "Running", { spec: { name: "y", command: "y" } })
    const seen = Dependencies.withObservations(
      new Map([["1", checked], ["2", plain]]),
      (id) => ({ jobId: id, status: "Done", exitCode: 0 }),
      new Date(0)
    )
    expect(seen.get("1")?.status).toBe("Running")
    expect(seen.get("2")?.status).toBe("Done")
  })
})

describe("retries by the Monitor", () => {
  it.effect("submits the next attempt after the backoff, links the attempts, and await gets the last", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const events = yield* monitor.subscribe
        const first = yield* executor.submit({
          name: "flaky",
          command: "run-it",
          retry: { maxRetries: 2, backoffSeconds: 30 }
        })
        const waiting = yield* Effect.fork(monitor.await(first))
        yield* toy.end(first.jobId, "F|1")
        yield* TestClock.adjust("10 seconds")
        expect((yield* get(first.jobId)).status).toBe("Failed")
        yield* TestClock.adjust("29 seconds")
        expect(yield* submits).toBe(1)
        yield* TestClock.adjust("1 second")
        const second = yield* get(yield* retriedBy(first.jobId))
        expect(yield* submits).toBe(2)
        expect(second.attempt).toBe(2)
        expect(second.retryOf).toBe(first.jobId)
        expect(second.spec?.command).toBe("run-it")
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        yield* toy.end(second.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const final = yield* Fiber.join(waiting)
        expect(final.jobId).toBe(second.jobId)
        expect(final.status).toBe("Done")
        // await on the first attempt afterwards also answers with the last
        expect((yield* monitor.await(first.jobId)).jobId).toBe(second.jobId)
        const seen = Chunk.toArray(yield* Stream.take(events, 5).pipe(Stream.runCollect))
        const retrying = seen.filter((e): e is Extract<JobEvent, { _tag: "JobRetrying" }> => e._tag === "JobRetrying")
        expect(retrying.map((e) => [e.record.jobId, e.attempt, e.delayMillis])).toEqual([[first.jobId, 2, 30_000]])
        expect(Chunk.toArray(yield* Retry.attempts(second).pipe(Effect.map(Chunk.fromIterable))).map((r) => r.jobId))
          .toEqual([first.jobId, second.jobId])
      })
    ))

  it.effect("callbacks fire once, with the last attempt, when the retries are used up", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const fired = yield* Ref.make<Array<string>>([])
        const first = yield* executor.submit({ name: "bad", command: "x", retry: { maxRetries: 1 } })
        yield* monitor.onFailure(first, (r) => Ref.update(fired, (xs) => [...xs, `${r.jobId}:${r.attempt ?? 1}`]))
        yield* toy.end(first.jobId, "F|2")
        yield* TestClock.adjust("10 seconds")
        const second = yield* retriedBy(first.jobId)
        expect(yield* Ref.get(fired)).toEqual([])
        yield* toy.end(second, "F|2")
        yield* TestClock.adjust("10 seconds")
        yield* until(Effect.map(Ref.get(fired), (xs) => xs.length > 0))
        expect(yield* Ref.get(fired)).toEqual([`${second}:2`])
        expect(yield* submits).toBe(2)
        expect((yield* get(second)).retriedBy).toBeUndefined()
      })
    ))

  it.effect("retries only the failures the policy selects", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const retry = { maxRetries: 3, on: ["NodeFailure", "Preempted", "Timeout"] as const }
        const exits = yield* executor.submit({ name: "exits", command: "x", retry })
        const preempted = yield* executor.submit({ name: "preempted", command: "x", retry })
        yield* toy.end(exits.jobId, "F|3")
        yield* toy.end(preempted.jobId, "PR|")
        yield* TestClock.adjust("10 seconds")
        const exitsFinal = yield* monitor.await(exits)
        expect(exitsFinal.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
        expect(exitsFinal.retriedBy).toBeUndefined()
        yield* retriedBy(preempted.jobId)
        expect(yield* submits).toBe(3)
      })
    ))

  it.effect("asks for more memory after OutOfMemory and more time after Timeout", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const retry = { maxRetries: 2, memoryFactor: 2, walltimeFactor: 2 }
        const job = yield* executor.submit({
          name: "big",
          command: "x",
          resources: { memory: "4 GB", walltime: "30m" },
          retry
        })
        yield* toy.end(job.jobId, "OOM|")
        yield* TestClock.adjust("10 seconds")
        const second = yield* get(yield* retriedBy(job.jobId))
        expect(second.spec?.resources).toEqual({ memory: "8192 MB", walltime: "30m" })
        yield* toy.end(second.jobId, "TO|")
        yield* TestClock.adjust("10 seconds")
        const third = yield* get(yield* retriedBy(second.jobId))
        expect(third.attempt).toBe(3)
        expect(third.spec?.resources).toEqual({ memory: "8192 MB", walltime: "01:00:00" })
      })
    ))

  it.effect("a retry whose submit fails leaves the failure as final, and announces it", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "a", command: "x", retry: { maxRetries: 1, backoffSeconds: 5 } })
        const waiting = yield* Effect.fork(monitor.await(job))
        yield* runner.addRules([{ match: "toysub", reply: { exitCode: 1, stderr: "queue closed" }, times: 1 }])
        yield* toy.end(job.jobId, "F|1")
        yield* TestClock.adjust("10 seconds")
        yield* TestClock.adjust("5 seconds")
        const final = yield* Fiber.join(waiting)
        expect(final.jobId).toBe(job.jobId)
        expect(final.status).toBe("Failed")
        expect(final.retriedBy).toBeUndefined()
      })
    ))
})

describe("retry by hand", () => {
  it.effect("submits an ended job again as its next attempt; refuses active, retried and unknown-spec jobs", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "a", command: "x" })
        const early = yield* Effect.either(Retry.retry(job.jobId))
        expect(Either.isLeft(early) && early.left._tag === "RetryRefused" && early.left.message).toContain("Pending")
        yield* toy.end(job.jobId, "F|1")
        yield* tick
        const again = yield* Retry.retry(job.jobId)
        expect(again.attempt).toBe(2)
        expect(again.retryOf).toBe(job.jobId)
        expect((yield* get(job.jobId)).retriedBy).toBe(again.jobId)
        const twice = yield* Effect.either(Retry.retry(job.jobId))
        expect(Either.isLeft(twice) && twice.left.message).toContain(`retried already as job ${again.jobId}`)
        const store = yield* JobStore
        yield* store.insert([{ ...(yield* get(job.jobId)), jobId: "900", retriedBy: undefined, spec: undefined } as JobRecord])
        const tracked = yield* Effect.either(Retry.retry("900"))
        expect(Either.isLeft(tracked) && tracked.left.message).toContain("does not hold the spec")
        const missing = yield* Effect.either(Retry.retry("nope"))
        expect(Either.isLeft(missing) && missing.left._tag).toBe("JobNotFound")
      })
    ))
})

describe("checks of a Done job", () => {
  it.effect("a missing expected output turns Done into Failed(MissingOutput); present ones leave it Done", () =>
    withToy((toy, dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        mkdirSync(join(dir, "work"))
        writeFileSync(join(dir, "work", "result-1.csv"), "a,b\n")
        const resources = { workDir: join(dir, "work") }
        const ok = yield* executor.submit({ name: "ok", command: "x", resources, expectedOutputs: ["result-*.csv"] })
        const bad = yield* executor.submit({
          name: "bad",
          command: "x",
          resources,
          expectedOutputs: ["result-*.csv", "summary.txt"]
        })
        yield* toy.end(ok.jobId, "CD|0")
        yield* toy.end(bad.jobId, "CD|0")
        yield* tick
        expect((yield* get(ok.jobId)).status).toBe("Done")
        const failedRecord = yield* get(bad.jobId)
        expect(failedRecord.status).toBe("Failed")
        expect(failedRecord.reason).toEqual({ _tag: "MissingOutput", missing: ["summary.txt"] })
        expect(failedRecord.exitCode).toBe(0)
      })
    ))

  it.effect("error lines in the logs turn it Failed(LogErrors) with logCheck, and a missing output can be retried", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({
          name: "noisy",
          command: "x",
          logCheck: { whitelist: ["WARN"] },
          retry: { maxRetries: 1, on: ["LogErrors"] }
        })
        const record = yield* get(job.jobId)
        mkdirSync(dirname(record.stdoutPath!), { recursive: true })
        writeFileSync(record.stdoutPath!, "step 1\nWARN: error budget low\nTraceback (most recent call last):\n")
        yield* toy.end(job.jobId, "CD|0")
        yield* tick
        const ended = yield* get(job.jobId)
        expect(ended.status).toBe("Failed")
        expect(ended.reason).toEqual({ _tag: "LogErrors", count: 1, lines: ["Traceback (most recent call last):"] })
        yield* retriedBy(job.jobId)
      })
    ))
})
