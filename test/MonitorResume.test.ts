/**
 * Restart without losing a job, under TestClock, with the SQLite store and a scripted scheduler:
 * a new program adopts what an ended (or dead) program left unfinished, asks the scheduler once,
 * announces what ended meanwhile exactly once, and leaves the jobs of live programs alone.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { Scope } from "effect"
import { Chunk, Effect, Layer, Option, Ref, Stream, TestClock } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobEvent, JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import type { RecordedCall, Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { jobRecord } from "./support/Records.js"
import { eventually, toyExecutorLayer } from "./support/ToyDialect.js"
import { removeDir } from "./support/TempDirs.js"

const dir = mkdtempSync(join(tmpdir(), "capi-resume-"))
afterAll(() => removeDir(dir))
let files = 0
const freshFile = () => join(dir, `store-${++files}.db`)

/** The toy scheduler's tables, shared by every program of a test (it outlives them, as a real one does). */
const toyScheduler = () => {
  const live = new Map<string, string>()
  const finished = new Map<string, string>()
  let next = 100
  const ids = (call: RecordedCall) => call.argv.slice(1)
  const answer = (table: Map<string, string>) => (call: RecordedCall) => ({
    stdout: ids(call).flatMap((id) => table.has(id) ? [`${id}|${table.get(id)}`] : []).join("\n")
  })
  const rules: ReadonlyArray<Rule> = [
    { match: "toysub", reply: () => ({ stdout: `${next++}\n` }) },
    { match: "toystat", reply: answer(live) },
    { match: "toyacct", reply: answer(finished) },
    { match: "toykill", reply: { stdout: "" } }
  ]
  return {
    rules,
    set: (id: string, state: string) => live.set(id, state),
    finish: (id: string, state: string) => {
      live.delete(id)
      finished.set(id, state)
    }
  }
}

type Toy = ReturnType<typeof toyScheduler>

/** One program: its own services on the shared store file. */
const program = (file: string, toy: Toy) =>
  ClusterApi.compose({
    config: ClusterConfig.layerTest({ poll_interval: 10, log_directory: join(dir, "logs") }),
    runner: TestCommandRunner.layer({ rules: toy.rules }),
    store: SqliteJobStore.layer(file),
    executor: toyExecutorLayer
  })

/** Runs `body` as one program that ends (normally) when `body` does. */
const run = <A, E>(
  file: string,
  toy: Toy,
  body: Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>
) => body.pipe(Effect.scoped, Effect.provide(program(file, toy)))

/** The first `n` events a fresh stream gives (the start-up backlog comes first). */
const firstEvents = (n: number) =>
  Effect.flatMap(Monitor, (m) => m.events.pipe(Stream.take(n), Stream.runCollect)).pipe(Effect.map(Chunk.toArray))

const describeEvent = (e: JobEvent) =>
  e._tag === "JobStatusChanged" ? `${e.record.jobId}:${e.from}>${e.to}` : e._tag

/** Raw SQL on the store file, as another tool (or a crash) would leave it. */
const sqlOn = (file: string, statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.provide(SqliteClient.layer({ filename: file }))
  )

describe("a program that ended", () => {
  it.effect("leaves its unfinished jobs to the next, which asks once and announces what ended meanwhile, once", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const toy = toyScheduler()
      const [a, b, c] = yield* run(file, toy, Effect.gen(function*() {
        const executor = yield* Executor
        const jobs = yield* Effect.forEach(["a", "b", "c"], (name) => executor.submit({ name, command: "true" }))
        toy.set(jobs[0]!.jobId, "R|")
        yield* TestClock.adjust("10 seconds")
        return jobs.map((j) => j.jobId)
      }))
      // While no program runs: a ends, b starts, c still waits.
      toy.finish(a!, "CD|0")
      toy.set(b!, "R|")

      const second = yield* run(file, toy, Effect.gen(function*() {
        const monitor = yield* Monitor
        const runner = yield* TestCommandRunner
        expect(monitor.resumed.adopted.map((r) => r.jobId)).toEqual([a, b, c])
        expect(monitor.resumed.ended.map((r) => [r.jobId, r.status])).toEqual([[a, "Done"]])
        // One status call and one accounting call at start, for all three.
        expect((yield* runner.callsMatching("toystat")).length).toBe(1)
        expect((yield* runner.callsMatching("toyacct")).length).toBe(1)
        const backlog = (yield* firstEvents(2)).map(describeEvent)
        expect(backlog).toEqual([`${a}:Running>Done`, `${b}:Pending>Running`])
        // A second stream does not get the backlog again: its first event is a live one.
        const next = yield* Effect.fork(firstEvents(1))
        toy.finish(b!, "F|3")
        yield* TestClock.adjust("10 seconds")
        const live = yield* next.await
        return live._tag === "Success" ? live.value.map(describeEvent) : []
      }))
      expect(second).toEqual([`${b}:Running>Failed`])

      const third = yield* run(file, toy, Effect.gen(function*() {
        const monitor = yield* Monitor
        return [monitor.resumed.adopted.map((r) => r.jobId), monitor.resumed.ended.map((r) => r.jobId)]
      }))
      expect(third).toEqual([[c], []])
    }))

  it.effect("an end written but never delivered (the program died in between) is announced by the next program, once", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const toy = toyScheduler()
      const id = yield* run(file, toy, Effect.gen(function*() {
        const job = yield* (yield* Executor).submit({ name: "x", command: "true" })
        toy.set(job.jobId, "R|")
        yield* TestClock.adjust("10 seconds")
        toy.finish(job.jobId, "F|2")
        yield* TestClock.adjust("10 seconds")
        return job.jobId
      }))
      // The crash window: the end is written, its delivery is not.
      yield* sqlOn(file, `UPDATE jobs SET delivered_at = NULL WHERE job_id = '${id}'`)
      const fired = yield* Ref.make<Array<string>>([])
      const announced = yield* run(file, toy, Effect.gen(function*() {
        const monitor = yield* Monitor
        yield* monitor.onFailure(id, (r) => Ref.update(fired, (xs) => [...xs, `${r.jobId}:${r.status}`]))
        return monitor.resumed.ended.map((r) => `${r.jobId}:${r.status}:${r.reason?._tag}`)
      }))
      expect(announced).toEqual([`${id}:Failed:NonZeroExit`])
      expect(yield* Ref.get(fired)).toEqual([`${id}:Failed`])
      const again = yield* run(file, toy, Effect.map(Monitor, (m) => m.resumed.ended.length))
      expect(again).toBe(0)
    }))
})

describe("programs sharing one store", () => {
  it.scoped("a live program's jobs are not adopted; an end another program writes reaches the owner's consumers", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const toy = toyScheduler()
      const owner = yield* Layer.build(program(file, toy))
      const job = yield* Effect.flatMap(Executor, (e) => e.submit({ name: "shared", command: "true" })).pipe(
        Effect.provide(owner)
      )
      toy.set(job.jobId, "R|")
      const fired = yield* Ref.make(0)
      yield* Effect.flatMap(Monitor, (m) => m.onExit(job, () => Ref.update(fired, (n) => n + 1))).pipe(
        Effect.provide(owner)
      )
      const events = yield* Effect.fork(firstEvents(2).pipe(Effect.provide(owner)))
      yield* TestClock.adjust("10 seconds")

      // Another program (the command line, say) opens the same store and cancels the job.
      yield* run(file, toy, Effect.gen(function*() {
        expect((yield* Monitor).resumed.adopted).toEqual([])
        const cancelled = yield* (yield* Executor).cancel(job.jobId)
        expect(cancelled.status).toBe("Killed")
      }))
      yield* TestClock.adjust("10 seconds")
      const seen = yield* events.await
      expect(seen._tag === "Success" ? seen.value.map(describeEvent) : seen).toEqual([
        `${job.jobId}:Pending>Running`,
        `${job.jobId}:Running>Killed`
      ])
      expect(yield* Ref.get(fired)).toBe(1)
      yield* TestClock.adjust("30 seconds")
      expect(yield* Ref.get(fired)).toBe(1)
    }))

  it.scoped("a program can await a job another live program owns: it reads the end from the store", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const toy = toyScheduler()
      const owner = yield* Layer.build(program(file, toy))
      const other = yield* Layer.build(program(file, toy))
      const job = yield* Effect.flatMap(Executor, (e) => e.submit({ name: "theirs", command: "true" })).pipe(
        Effect.provide(owner)
      )
      const waiting = yield* Effect.fork(Effect.flatMap(Monitor, (m) => m.await(job)).pipe(Effect.provide(other)))
      toy.finish(job.jobId, "CD|0")
      yield* TestClock.adjust("10 seconds")
      yield* TestClock.adjust("10 seconds")
      const result = yield* waiting.await
      expect(result._tag === "Success" ? result.value.status : result).toEqual("Done")
      // Only the owner asked the scheduler.
      const otherCalls = yield* Effect.flatMap(TestCommandRunner, (t) => t.callsMatching("toystat")).pipe(
        Effect.provide(other)
      )
      expect(otherCalls).toHaveLength(0)
    }))
})

describe("adoption in the store", () => {
  const insertAs = (file: string, records: ReadonlyArray<JobRecord>) =>
    Effect.flatMap(JobStore, (s) => s.insert(records)).pipe(Effect.provide(SqliteJobStore.layer(file)))

  it.scoped("takes jobs whose owner's process is gone or whose heartbeat stopped, never a live owner's", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const live = yield* Layer.build(SqliteJobStore.layer(file))
      yield* Effect.flatMap(JobStore, (s) => s.insert([jobRecord("live")])).pipe(Effect.provide(live))
      yield* insertAs(file, [jobRecord("dead-pid"), jobRecord("silent"), jobRecord("other-host")])
      // Three dead owners: a process gone from this host, a heartbeat two minutes old (its pid is
      // alive: a reused pid, or a hung program), and a program on another host that ended.
      const host = hostname()
      const deadPid = spawnSync("true").pid!
      yield* TestClock.adjust("2 minutes")
      const now = 120_000
      yield* sqlOn(file, `INSERT INTO owners VALUES ('${host}:${deadPid}:aa', '${host}', ${deadPid}, 0, ${now})`)
      yield* sqlOn(file, `UPDATE jobs SET owner = '${host}:${deadPid}:aa' WHERE job_id = 'dead-pid'`)
      yield* sqlOn(file, `INSERT INTO owners VALUES ('${host}:${process.pid}:bb', '${host}', ${process.pid}, 0, 0)`)
      yield* sqlOn(file, `UPDATE jobs SET owner = '${host}:${process.pid}:bb' WHERE job_id = 'silent'`)
      yield* sqlOn(file, `UPDATE jobs SET owner = 'elsewhere:1:cc' WHERE job_id = 'other-host'`)

      const adopter = yield* Layer.build(SqliteJobStore.layer(file))
      const local = yield* Effect.flatMap(JobStore, (s) => s.adopt({ executor: "slurm", sameHostOnly: true })).pipe(
        Effect.provide(adopter)
      )
      expect(local.active.map((r) => r.jobId).sort()).toEqual(["dead-pid", "silent"])
      const batch = yield* Effect.flatMap(JobStore, (s) => s.adopt({ executor: "slurm", sameHostOnly: false })).pipe(
        Effect.provide(adopter)
      )
      expect(batch.active.map((r) => r.jobId)).toEqual(["other-host"])
      const owned = yield* Effect.flatMap(JobStore, (s) => s.list({ owned: true })).pipe(Effect.provide(adopter))
      expect(owned.map((r) => r.jobId).sort()).toEqual(["dead-pid", "other-host", "silent"])
      expect(Option.isSome(yield* Effect.flatMap(JobStore, (s) => s.get({ executor: "slurm", jobId: "live" })).pipe(Effect.provide(live)))).toBe(true)
    }))
})

describe("adoption by what the executor's jobs are like, not by its name", () => {
  /** The toy scheduler with the local executor's capabilities: its jobs are watched from their host only. */
  const hostBoundToy = Layer.effect(
    Executor,
    Effect.map(Executor, (toy) => ({
      ...toy,
      capabilities: { outlivesProgram: false, hostBound: true, cheapPoll: true, nativeDependencies: false }
    }))
  ).pipe(Layer.provide(toyExecutorLayer))

  const programWith = (file: string, toy: Toy, executor: typeof toyExecutorLayer) =>
    ClusterApi.compose({
      config: ClusterConfig.layerTest({ poll_interval: 10, log_directory: join(dir, "logs") }),
      runner: TestCommandRunner.layer({ rules: toy.rules }),
      store: SqliteJobStore.layer(file),
      executor
    })

  it.effect("a host-bound executor leaves the jobs a program on another host left; the same toy, not host-bound, takes them", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const toy = toyScheduler()
      yield* Effect.flatMap(JobStore, (s) => s.insert([jobRecord("7", { executor: "toy" })])).pipe(
        Effect.provide(SqliteJobStore.layer(file))
      )
      // Left by a program on another host that ended.
      yield* sqlOn(file, `UPDATE jobs SET owner = 'elsewhere:1:cc' WHERE job_id = '7'`)
      toy.set("7", "R|")

      const hostBound = yield* Effect.gen(function*() {
        const executor = yield* Executor
        return [executor.kind, executor.capabilities.hostBound, (yield* Monitor).resumed.adopted.map((r) => r.jobId)] as const
      }).pipe(Effect.scoped, Effect.provide(programWith(file, toy, hostBoundToy)))
      expect(hostBound).toEqual(["toy", true, []])

      const batch = yield* Effect.gen(function*() {
        const executor = yield* Executor
        return [executor.kind, executor.capabilities.hostBound, (yield* Monitor).resumed.adopted.map((r) => r.jobId)] as const
      }).pipe(Effect.scoped, Effect.provide(programWith(file, toy, toyExecutorLayer)))
      expect(batch).toEqual(["toy", false, ["7"]])
    }))
})

describe("a retry waiting for its backoff when the program ends", () => {
  it.effect("is submitted by the next program, once the rest of the backoff has passed, and linked to the failed job", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const toy = toyScheduler()
      const first = yield* run(file, toy, Effect.gen(function*() {
        const executor = yield* Executor
        const runner = yield* TestCommandRunner
        const job = yield* executor.submit({ name: "flaky", command: "x", retry: { maxRetries: 1, backoffSeconds: 60 } })
        toy.finish(job.jobId, "F|1")
        yield* TestClock.adjust("10 seconds") // seen Failed at 10 s: the retry is due at 70 s
        yield* TestClock.adjust("20 seconds")
        expect((yield* runner.callsMatching("toysub")).length).toBe(1)
        return job.jobId
      }))
      // The program ended at 30 s without submitting the retry; the next starts at once.
      const second = yield* run(file, toy, Effect.gen(function*() {
        const runner = yield* TestCommandRunner
        const monitor = yield* Monitor
        expect(monitor.resumed.ended.map((r) => r.jobId)).toEqual([first])
        yield* TestClock.adjust("39 seconds")
        expect((yield* runner.callsMatching("toysub")).length).toBe(0)
        yield* TestClock.adjust("1 second")
        const store = yield* JobStore
        yield* eventually(Effect.map(store.get({ executor: "toy", jobId: first }), (r) => Option.getOrThrow(r).retriedBy !== undefined))
        expect((yield* runner.callsMatching("toysub")).length).toBe(1)
        const failed = Option.getOrThrow(yield* store.get({ executor: "toy", jobId: first }))
        const next = Option.getOrThrow(yield* store.get({ executor: "toy", jobId: failed.retriedBy! }))
        return [next.attempt, next.retryOf]
      }))
      expect(second).toEqual([2, first])
      // Delivered once the retry was submitted: a third program has nothing to announce or retry.
      const third = yield* run(file, toy, Effect.flatMap(Monitor, (m) => Effect.succeed(m.resumed.ended.length)))
      expect(third).toBe(0)
    }))
})
