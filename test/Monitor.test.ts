/**
 * The Monitor under TestClock: every poll, zombie and retention decision is driven by
 * `TestClock.adjust`, never by real sleeps. Scheduler answers come from TestCommandRunner rules.
 */
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Chunk, Clock, Context, Deferred, Effect, Fiber, Layer, Logger, Option, Queue, Ref, Stream, TestClock } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import type { ConfigOptions } from "../src/Config.js"
import type { JobEvent, JobRecord } from "../src/Domain.js"
import type { AwaitTimeout, JobNotFound, StoreError } from "../src/Errors.js"
import { Executor } from "../src/Executor.js"
import { JobStore, makeMemory } from "../src/JobStore.js"
import { ClusterConfig } from "../src/Config.js"
import { Monitor } from "../src/Monitor.js"
import type { RecordedCall, Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { getRecord, submitMany, withFakeScheduler } from "./support/FakeScheduler.js"
import { makeFakeSlurm } from "./support/FakeSlurm.js"
import { toyExecutorLayer } from "./support/ToyDialect.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-monitor-")

/** A toy scheduler whose job table the test controls. */
const toyScheduler = Effect.gen(function*() {
  const table = yield* Ref.make(new Map<string, string>()) // id -> "STATE|EXIT"
  const accounting = yield* Ref.make(new Map<string, string>())
  let next = 100
  const ids = (call: RecordedCall) => call.argv.slice(1)
  const rules: ReadonlyArray<Rule> = [
    { match: "toysub", reply: () => ({ stdout: `${next++}\n` }) },
    {
      match: "toystat",
      reply: (call) => {
        const t = Effect.runSync(Ref.get(table))
        return { stdout: ids(call).flatMap((id) => t.has(id) ? [`${id}|${t.get(id)}`] : []).join("\n") }
      }
    },
    {
      match: "toyacct",
      reply: (call) => {
        const t = Effect.runSync(Ref.get(accounting))
        return { stdout: ids(call).flatMap((id) => t.has(id) ? [`${id}|${t.get(id)}`] : []).join("\n") }
      }
    },
    { match: "toykill", reply: { stdout: "" } }
  ]
  const set = (id: string, state: string) => Ref.update(table, (m) => new Map(m).set(id, state))
  const finish = (id: string, state: string) =>
    Ref.update(table, (m) => {
      const n = new Map(m)
      n.delete(id)
      return n
    }).pipe(Effect.zipRight(Ref.update(accounting, (m) => new Map(m).set(id, state))))
  /** The job leaves the live queue and the accounting tool has no record of it either. */
  const forget = (id: string) =>
    Ref.update(table, (m) => {
      const n = new Map(m)
      n.delete(id)
      return n
    })
  return { rules, set, finish, forget }
})

/** A service that only a callback's registration is given. */
class Greeter extends Context.Tag("test/Greeter")<Greeter, { readonly greet: (name: string) => Effect.Effect<void> }>() {}

/**
 * The Monitor's log lines about failed callbacks (`lines`), as Effect's own logger writes them
 * (what a library user sees by default), once `logger` is provided.
 */
const callbackFailureLog = Effect.gen(function*() {
  const lines = yield* Queue.unbounded<string>()
  const logger = Logger.add(Logger.make((options) => {
    const line = Logger.stringLogger.log(options)
    if (line.includes("callback for job")) Queue.unsafeOffer(lines, line)
  }))
  return { lines, logger }
})

const toyLayer = (rules: ReadonlyArray<Rule>, config: Partial<ConfigOptions> = {}) =>
  ClusterApi.layerTest({
    config: { poll_interval: 10, log_directory: tempDir(), ...config },
    rules,
    executor: toyExecutorLayer
  })

const withToy = <A, E>(
  body: (
    toy: Effect.Effect.Success<typeof toyScheduler>
  ) => Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>,
  config: Partial<ConfigOptions> = {}
) =>
  Effect.gen(function*() {
    const toy = yield* toyScheduler
    return yield* body(toy).pipe(Effect.scoped, Effect.provide(toyLayer(toy.rules, config)))
  })

const calls = (prefix: string) =>
  Effect.flatMap(TestCommandRunner, (t) => t.callsMatching(prefix)).pipe(Effect.map((c) => c.length))

const statusOf = (jobId: string) =>
  Effect.flatMap(JobStore, (s) => s.get({ executor: "toy", jobId })).pipe(Effect.map(Option.map((r) => r.status)))

describe("polling", () => {
  it.effect("makes exactly one status call per tick for 1,000 tracked jobs", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const jobs = yield* Effect.forEach(
          Array.from({ length: 1000 }, (_, i) => i),
          (i) => executor.submit({ name: `j${i}`, command: "true" })
        )
        for (const j of jobs) yield* toy.set(j.jobId, "R|")
        expect(yield* calls("toystat")).toBe(0)
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("toystat")).toBe(1)
        expect(yield* calls("toyacct")).toBe(0)
        const store = yield* JobStore
        expect((yield* store.active).every((r) => r.status === "Running")).toBe(true)
        yield* TestClock.adjust("10 seconds")
        expect(yield* calls("toystat")).toBe(2)
      })
    ))

  it.effect("asks nothing when no job is active", () =>
    withToy(() =>
      Effect.gen(function*() {
        yield* TestClock.adjust("60 seconds")
        expect(yield* calls("toystat")).toBe(0)
        const report = yield* (yield* Monitor).tick
        expect(report.polled).toBe(false)
      })
    ))

  it.effect("asks the accounting tool once, only about jobs that left the live queue", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "false" })
        const c = yield* executor.submit({ name: "c", command: "sleep 100" })
        yield* toy.set(c.jobId, "R|")
        yield* toy.finish(a.jobId, "CD|0")
        yield* toy.finish(b.jobId, "F|2")
        yield* TestClock.adjust("10 seconds")
        const runner = yield* TestCommandRunner
        const acct = yield* runner.callsMatching("toyacct")
        expect(acct.map((call) => call.argv.slice(1))).toEqual([[a.jobId, b.jobId]])
        const store = yield* JobStore
        const final = yield* store.get(b)
        expect(Option.getOrThrow(final).status).toBe("Failed")
        expect(Option.getOrThrow(final).reason).toEqual({ _tag: "NonZeroExit", exitCode: 2 })
        expect(yield* statusOf(a.jobId)).toEqual(Option.some("Done"))
        expect(yield* statusOf(c.jobId)).toEqual(Option.some("Running"))
      })
    ))

  it.effect("a failed status command changes no job, is published, and is retried next tick", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const runner = yield* TestCommandRunner
        const events = yield* monitor.subscribe
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "R|")
        yield* runner.addRules([{
          match: "toystat",
          reply: { exitCode: 1, stderr: "slurm_load_jobs error: Unable to contact slurm controller" },
          times: 2
        }])
        yield* TestClock.adjust("10 seconds")
        yield* TestClock.adjust("10 seconds")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Pending"))
        expect(yield* monitor.consecutivePollFailures).toBe(2)
        yield* TestClock.adjust("10 seconds")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Running"))
        expect(yield* monitor.consecutivePollFailures).toBe(0)
        const seen = yield* Stream.take(events, 4).pipe(Stream.runCollect)
        const failures = Chunk.toArray(seen).filter((e): e is Extract<JobEvent, { _tag: "PollFailed" }> =>
          e._tag === "PollFailed"
        )
        expect(failures.map((f) => f.consecutiveFailures)).toEqual([1, 2])
        expect(failures[0]?.message).toContain("Unable to contact slurm controller")
      })
    ))

  it.effect("garbled status output changes no job", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "CD|0")
        yield* runner.addRules([{ match: "toystat", reply: { stdout: "<html>proxy error</html>" }, times: 1 }])
        yield* TestClock.adjust("10 seconds")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Pending"))
        yield* TestClock.adjust("10 seconds")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Done"))
      })
    ))

  it.effect("marks a job unseen past the zombie timeout Failed(Vanished), and fires its failure callback", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const fired = yield* Ref.make<Array<string>>([])
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "R|")
        yield* monitor.onFailure(job, (r) => Ref.update(fired, (xs) => [...xs, r.reason?._tag ?? "none"]))
        yield* TestClock.adjust("10 seconds")
        yield* toy.forget(job.jobId)
        yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => TestClock.adjust("10 seconds"))
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Running"))
        yield* TestClock.adjust("10 seconds")
        const record = Option.getOrThrow(yield* (yield* JobStore).get(job))
        expect(record.status).toBe("Failed")
        expect(record.reason?._tag).toBe("Vanished")
        expect(record.metadata["zombie"]).toBe(true)
        yield* Effect.yieldNow()
        expect(yield* Ref.get(fired)).toEqual(["Vanished"])
      }), { zombie_timeout_minutes: 1 }))

  it.effect("counts the zombie timeout from a job's last sighting, though a report that changes nothing leaves its record as it is", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "R|")
        // Seen Running on every poll for 20 minutes: its record's lastSeen is refreshed only
        // now and then, a tenth of the zombie timeout apart at most.
        yield* Effect.forEach(Array.from({ length: 125 }), () => TestClock.adjust("10 seconds"))
        const lastSighting = new Date(yield* Clock.currentTimeMillis)
        const written = Option.getOrThrow(yield* store.get(job)).lastSeen.getTime()
        expect(lastSighting.getTime() - written).toBeGreaterThan(0)
        expect(lastSighting.getTime() - written).toBeLessThanOrEqual(60_000)
        yield* toy.forget(job.jobId)
        // Ten minutes after the last sighting, not after the record's lastSeen.
        yield* Effect.forEach(Array.from({ length: 60 }), () => TestClock.adjust("10 seconds"))
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Running"))
        yield* TestClock.adjust("10 seconds")
        const record = Option.getOrThrow(yield* store.get(job))
        expect(record.reason).toEqual({ _tag: "Vanished", lastSeen: lastSighting })
      }), { zombie_timeout_minutes: 10 }))

  it.effect("records the delivery of every end one tick found in one store write", () =>
    Effect.gen(function*() {
      const toy = yield* toyScheduler
      const marks = yield* Ref.make<Array<ReadonlyArray<string>>>([])
      const fired = yield* Ref.make<Array<string>>([])
      const counting = Layer.effect(
        JobStore,
        Effect.map(makeMemory, (store) => ({
          ...store,
          markDelivered: (keys: ReadonlyArray<{ readonly jobId: string }>) =>
            Ref.update(marks, (xs) => [...xs, keys.map((k) => k.jobId)])
        }))
      )
      yield* Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const jobs = yield* Effect.forEach(["a", "b", "c"], (name) => executor.submit({ name, command: "true" }))
        for (const j of jobs) {
          yield* toy.set(j.jobId, "R|")
          yield* monitor.onExit(j, (r) => Ref.update(fired, (xs) => [...xs, r.jobId]))
        }
        yield* TestClock.adjust("10 seconds")
        for (const j of jobs) yield* toy.set(j.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        yield* Effect.forEach(jobs, (j) => monitor.await(j))
        yield* Effect.yieldNow()
        expect(yield* Ref.get(marks)).toEqual([jobs.map((j) => j.jobId)])
        expect([...(yield* Ref.get(fired))].sort()).toEqual(jobs.map((j) => j.jobId).sort())
      }).pipe(
        Effect.scoped,
        Effect.provide(ClusterApi.compose({
          config: ClusterConfig.layerTest({ poll_interval: 10, log_directory: tempDir() }),
          runner: TestCommandRunner.layer({ rules: toy.rules, spawnRules: [] }),
          executor: toyExecutorLayer,
          store: counting
        }))
      )
    }))

  it.effect("never turns a job into a zombie while polls fail", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "R|")
        yield* runner.addRules([{ match: "toystat", reply: { fail: "timeout" } }])
        yield* TestClock.adjust("5 minutes")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Pending"))
      }), { zombie_timeout_minutes: 1 }))
})

describe("callbacks", () => {
  it.effect("fire exactly once, by condition; plain, Promise and Effect callbacks all run", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const log: Array<string> = []
        const ok = yield* executor.submit({ name: "ok", command: "true" })
        const bad = yield* executor.submit({ name: "bad", command: "false" })
        yield* monitor.onSuccess(ok, (r) => {
          log.push(`plain success ${r.name}`)
        })
        yield* monitor.onSuccess(ok, async (r) => {
          log.push(`promise success ${r.name}`)
        })
        yield* monitor.onFailure(ok, () => log.push("WRONG: failure for ok"))
        yield* monitor.onFailure(bad, (r) => Effect.sync(() => log.push(`effect failure ${r.exitCode}`)))
        yield* monitor.onExit(bad, () => log.push("any for bad"), "any")
        yield* monitor.onExit(bad, () => log.push("WRONG: killed for bad"), "killed")
        yield* toy.set(ok.jobId, "CD|0")
        yield* toy.set(bad.jobId, "F|7")
        yield* TestClock.adjust("10 seconds")
        yield* TestClock.adjust("10 seconds")
        yield* Effect.yieldNow()
        expect(log.sort()).toEqual(
          ["any for bad", "effect failure 7", "plain success capi-ok", "promise success capi-ok"].sort()
        )
      })
    ))

  it.effect("a failing callback is logged and the monitor goes on", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        const later = yield* Deferred.make<string>()
        yield* monitor.onExit(a, () => {
          throw new Error("boom")
        })
        yield* monitor.onExit(a, () => Effect.fail("typed failure"))
        yield* monitor.onExit(b, (r) => Deferred.succeed(later, r.jobId))
        yield* toy.set(a.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        yield* toy.set(b.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        expect(yield* Deferred.await(later)).toBe(b.jobId)
      })
    ))

  it.effect("a callback that throws, fails or rejects is logged with its message and its stack", () =>
    Effect.gen(function*() {
      const { lines, logger } = yield* callbackFailureLog
      yield* withToy((toy) =>
        Effect.gen(function*() {
          const executor = yield* Executor
          const monitor = yield* Monitor
          const a = yield* executor.submit({ name: "a", command: "true" })
          yield* monitor.onExit(a, () => {
            throw new Error("boom from a plain callback")
          })
          yield* monitor.onExit(a, () => Effect.fail("typed failure"))
          yield* monitor.onExit(a, () => Promise.reject(new Error("rejected from a Promise callback")))
          yield* toy.set(a.jobId, "CD|0")
          yield* TestClock.adjust("10 seconds")
          const logged = Chunk.toReadonlyArray(yield* Queue.takeN(lines, 3))
          const all = logged.join("\n\n")
          const find = (text: string) => logged.find((line) => line.includes(text)) ?? ""
          const thrown = find("boom from a plain callback")
          expect(thrown, all).toContain(`callback for job ${a.jobId} (capi-a) failed: boom from a plain callback`)
          // A stack line of the throw, in this file.
          expect(thrown, all).toMatch(/\n\s+at .*Monitor\.test\.ts/)
          expect(find("typed failure"), all).toContain(`callback for job ${a.jobId} (capi-a) failed: typed failure`)
          const rejected = find("rejected from a Promise callback")
          expect(rejected, all).toContain(`callback for job ${a.jobId} (capi-a) failed: rejected from a Promise callback`)
          expect(rejected, all).toMatch(/\n\s+at .*Monitor\.test\.ts/)
        })
      ).pipe(Effect.provide(logger))
    }))

  it.effect("a callback's Effect runs with the services of its registration, which requires them", () =>
    Effect.gen(function*() {
      const { lines, logger } = yield* callbackFailureLog
      yield* withToy((toy) =>
        Effect.gen(function*() {
          const executor = yield* Executor
          const monitor = yield* Monitor
          const job = yield* executor.submit({ name: "a", command: "true" })
          const register = monitor.onSuccess(job, (r) => Effect.flatMap(Greeter, (g) => g.greet(r.name)))
          expectTypeOf(register).toEqualTypeOf<Effect.Effect<void, JobNotFound | StoreError, Greeter>>()
          // @ts-expect-error a registration whose callback needs Greeter cannot run where Greeter is not given
          const unprovided: Effect.Effect<void, JobNotFound | StoreError> = register
          void unprovided
          // Plain functions, Promises and Effects that need nothing require nothing.
          type Registered = Effect.Effect<void, JobNotFound | StoreError>
          expectTypeOf(monitor.onExit(job, () => 1)).toEqualTypeOf<Registered>()
          expectTypeOf(monitor.onFailure(job, async () => {})).toEqualTypeOf<Registered>()
          expectTypeOf(monitor.onExit(job, () => Effect.void, "killed")).toEqualTypeOf<Registered>()
          expectTypeOf(monitor.onExit(job, (): unknown => undefined)).toEqualTypeOf<Registered>()
          const greeted = yield* Deferred.make<string>()
          yield* register.pipe(Effect.provideService(Greeter, { greet: (name) => Deferred.succeed(greeted, name) }))
          yield* toy.set(job.jobId, "CD|0")
          yield* TestClock.adjust("10 seconds")
          // A callback run without Greeter fails, and its failure is logged: wait for either.
          const outcome = yield* Effect.raceFirst(
            Deferred.await(greeted).pipe(Effect.map((name) => `greeted ${name}`)),
            Queue.take(lines)
          )
          expect(outcome).toBe("greeted capi-a")
        })
      ).pipe(Effect.provide(logger))
    }))

  it.effect("a callback registered after the job ended fires at once, once", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const count = yield* Ref.make(0)
        yield* monitor.onSuccess(job, () => Ref.update(count, (n) => n + 1))
        yield* TestClock.adjust("10 seconds")
        yield* Effect.yieldNow()
        expect(yield* Ref.get(count)).toBe(1)
      })
    ))

  it.effect("registering on an unknown job is a JobNotFound error", () =>
    withToy(() =>
      Effect.gen(function*() {
        const monitor = yield* Monitor
        const error = yield* Effect.flip(monitor.onSuccess("nope", () => undefined))
        expect(error._tag).toBe("JobNotFound")
      })
    ))
})

describe("await", () => {
  it.effect("await gives the one job's final record, once it has ended", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        expectTypeOf(monitor.await(a)).toEqualTypeOf<Effect.Effect<JobRecord, AwaitTimeout | JobNotFound | StoreError>>()
        const waiting = yield* Effect.fork(monitor.await(a))
        yield* toy.set(a.jobId, "R|")
        yield* TestClock.adjust("10 seconds")
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        yield* toy.set(a.jobId, "F|1")
        yield* TestClock.adjust("10 seconds")
        const record = yield* Fiber.join(waiting)
        expect(Array.isArray(record)).toBe(false)
        expect([record.jobId, record.status, record.exitCode]).toEqual([a.jobId, "Failed", 1])
      })
    ))

  it.effect("awaitAll returns the final records once every job has ended", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        const waiting = yield* Effect.fork(monitor.awaitAll([a, b]))
        yield* toy.set(a.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        yield* toy.set(b.jobId, "F|1")
        yield* TestClock.adjust("10 seconds")
        const records = yield* Fiber.join(waiting)
        expect(records.map((r) => [r.jobId, r.status])).toEqual([[a.jobId, "Done"], [b.jobId, "Failed"]])
      })
    ))

  it.effect("awaitAll answers in the order given, not the order the jobs end, for records and ids alike", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        const c = yield* executor.submit({ name: "c", command: "true" })
        const waiting = yield* Effect.fork(monitor.awaitAll([b, c.jobId, a]))
        yield* toy.set(a.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        yield* toy.set(c.jobId, "F|2")
        yield* TestClock.adjust("10 seconds")
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        yield* toy.set(b.jobId, "F|3")
        yield* TestClock.adjust("10 seconds")
        const records = yield* Fiber.join(waiting)
        expect(records.map((r) => [r.jobId, r.status, r.exitCode])).toEqual([
          [b.jobId, "Failed", 3],
          [c.jobId, "Failed", 2],
          [a.jobId, "Done", 0]
        ])
      })
    ))

  it.effect("returns at once for jobs that already ended", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(a.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const r = yield* monitor.await(a)
        expect(r.status).toBe("Done")
        expect((yield* monitor.awaitAll([a])).map((e) => e.status)).toEqual(["Done"])
      })
    ))

  it.effect("fails with AwaitTimeout when the jobs outlive the timeout, leaving them tracked", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "sleep 1000" })
        yield* toy.set(a.jobId, "R|")
        const waiting = yield* Effect.fork(Effect.flip(monitor.await(a, { timeout: "30 seconds" })))
        yield* TestClock.adjust("31 seconds")
        const error = yield* Fiber.join(waiting)
        expect(error._tag).toBe("AwaitTimeout")
        expect(error.message).toContain(a.jobId)
        expect(yield* statusOf(a.jobId)).toEqual(Option.some("Running"))
      })
    ))

  it.effect("awaitAll fails with AwaitTimeout naming every job given when one outlives the timeout", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const ended = yield* executor.submit({ name: "ended", command: "true" })
        const running = yield* executor.submit({ name: "running", command: "sleep 1000" })
        yield* toy.set(ended.jobId, "CD|0")
        yield* toy.set(running.jobId, "R|")
        const waiting = yield* Effect.fork(Effect.flip(monitor.awaitAll([ended, running], { timeout: "30 seconds" })))
        yield* TestClock.adjust("29 seconds")
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(waiting)
        expect(error._tag).toBe("AwaitTimeout")
        expect(error._tag === "AwaitTimeout" ? [error.jobIds, error.timeoutMillis] : error)
          .toEqual([[ended.jobId, running.jobId], 30_000])
        expect(yield* statusOf(ended.jobId)).toEqual(Option.some("Done"))
        expect(yield* statusOf(running.jobId)).toEqual(Option.some("Running"))
        // Still tracked: it ends, and a later wait sees the end.
        yield* toy.set(running.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        expect((yield* monitor.awaitAll([running, ended])).map((r) => [r.jobId, r.status])).toEqual([
          [running.jobId, "Done"],
          [ended.jobId, "Done"]
        ])
      })
    ))
})

describe("events", () => {
  it.effect("publish submit and every status change in order", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const events = yield* monitor.subscribe
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* toy.set(job.jobId, "R|")
        yield* TestClock.adjust("10 seconds")
        yield* toy.set(job.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const seen = Chunk.toArray(yield* Stream.take(events, 3).pipe(Stream.runCollect))
        expect(seen.map((e) => e._tag === "JobStatusChanged" ? `${e.from}->${e.to}` : e._tag)).toEqual([
          "JobSubmitted",
          "Pending->Running",
          "Running->Done"
        ])
      })
    ))
})

describe("retention", () => {
  it.effect("purges ended jobs after completed_retention_minutes, once their callbacks have run", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const store = yield* JobStore
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "true" })
        // b's callback takes 5 minutes: b must outlive its retention until the callback is done.
        yield* monitor.onSuccess(b, () => Effect.sleep("5 minutes"))
        yield* toy.set(a.jobId, "CD|0")
        yield* toy.set(b.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        expect(Option.isSome(yield* store.get(a))).toBe(true)
        yield* TestClock.adjust("70 seconds")
        expect(Option.isNone(yield* store.get(a))).toBe(true)
        expect(Option.isSome(yield* store.get(b))).toBe(true)
        yield* TestClock.adjust("5 minutes")
        expect(Option.isNone(yield* store.get(b))).toBe(true)
      }), { completed_retention_minutes: 1 }))
})

describe("cancel through a batch scheduler", () => {
  it.effect("runs the cancel command, records Killed and fires killed callbacks", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "a", command: "sleep 100" })
        yield* toy.set(job.jobId, "R|")
        const killed = yield* Deferred.make<string>()
        yield* monitor.onExit(job, (r) => Deferred.succeed(killed, r.status), "killed")
        const after = yield* executor.cancel(job.jobId)
        expect(after.status).toBe("Killed")
        expect(after.reason).toEqual({ _tag: "Cancelled" })
        expect((yield* runner.callsMatching("toykill")).map((c) => c.argv)).toEqual([["toykill", job.jobId]])
        expect(yield* Deferred.await(killed)).toBe("Killed")
        // A later poll saying it is still running changes nothing: Killed is final.
        yield* TestClock.adjust("10 seconds")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Killed"))
      })
    ))

  it.effect("cancelling a job that already finished is not an error and keeps its true end", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "a", command: "true" })
        yield* runner.addRules([{ match: "toykill", reply: { exitCode: 1, stderr: "job already finished" } }])
        const after = yield* executor.cancel(job.jobId)
        expect(after.status).toBe("Pending")
        yield* toy.finish(job.jobId, "CD|0")
        yield* TestClock.adjust("10 seconds")
        expect(yield* statusOf(job.jobId)).toEqual(Option.some("Done"))
      })
    ))

  it.effect("cancel by name matches with or without the prefix; cancel all takes the rest", () =>
    withToy(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const align = yield* Effect.forEach([1, 2], (i) => executor.submit({ name: `align-${i}`, command: "x" }))
        const other = yield* executor.submit({ name: "sort", command: "x" })
        const byName = yield* executor.cancelByName("align-*")
        expect(byName.map((r) => r.jobId).sort()).toEqual(align.map((r) => r.jobId).sort())
        expect(yield* statusOf(other.jobId)).toEqual(Option.some("Pending"))
        const rest = yield* executor.cancelAll({ done: true })
        expect(rest.map((r) => [r.jobId, r.status])).toEqual([[other.jobId, "Done"]])
      })
    ))
})

describe("an unreadable value from the scheduler", () => {
  const withSlurm = withFakeScheduler(makeFakeSlurm(), { executor: "slurm" }, "capi-monitor-slurm-")
  const T0 = "2026-11-21T12:00:00"
  const T1 = "2026-11-21T12:00:09"
  const ended = (id: string, state: string, exit: string) => [
    `${id}|${id}|${state}|${exit}|None||100M|n1|${T0}|${T0}|${T1}|capi-x`,
    `${id}.batch|${id}.batch|${state}|${exit}||2048K||n1|${T0}|${T0}|${T1}|batch`
  ]

  it.effect("a sacct exit code of 99999999999999999999 is reported and skipped; the other jobs end and the Monitor goes on", () =>
    withSlurm((fake) =>
      Effect.gen(function*() {
        const monitor = yield* Monitor
        const events = yield* monitor.subscribe
        const [good, bad, other] = yield* submitMany(3)
        yield* fake.account(good!.jobId, ended(good!.jobId, "COMPLETED", "0:0"))
        yield* fake.account(bad!.jobId, ended(bad!.jobId, "FAILED", "99999999999999999999:0"))
        yield* fake.account(other!.jobId, ended(other!.jobId, "FAILED", "3:0"))
        yield* TestClock.adjust("10 seconds")
        expect((yield* getRecord(good!)).status).toBe("Done")
        expect((yield* getRecord(other!)).reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
        expect((yield* getRecord(bad!)).status).toBe("Pending")
        const failed = Chunk.toArray(
          yield* events.pipe(
            Stream.filter((e): e is Extract<JobEvent, { _tag: "PollFailed" }> => e._tag === "PollFailed"),
            Stream.take(1),
            Stream.runCollect
          )
        )
        expect(failed.map((e) => e.jobId)).toEqual([bad!.jobId])
        expect(failed[0]?.message).toContain("99999999999999999999")
        // The store stays readable, and the Monitor keeps polling: once sacct reads, the job ends.
        expect(yield* (yield* JobStore).list()).toHaveLength(3)
        yield* fake.account(bad!.jobId, ended(bad!.jobId, "FAILED", "2:0"))
        yield* TestClock.adjust("10 seconds")
        expect((yield* getRecord(bad!)).reason).toEqual({ _tag: "NonZeroExit", exitCode: 2 })
      })
    ))
})
