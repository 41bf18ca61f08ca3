/**
 * Taking over local jobs another program started (it.live: real clock, real processes): their
 * processes run on after that program is gone, and a new executor on the same store learns from
 * the pid and exit files beside each job script how every one of them is doing or ended.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore, makeMemory } from "../src/JobStore.js"
import type { JobStoreShape } from "../src/JobStore.js"
import { programEnded } from "../src/schedulers/local/index.js"
import { Monitor } from "../src/Monitor.js"
import { resumedState } from "./support/parts/local.js"
import { alive, deadPid, localRecord, startWrapped, statusFile, writeJobScript } from "./support/LocalJobs.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-resume-")

/** A program's services on a store shared with other programs (each call: a fresh executor). */
const program = (store: JobStoreShape, dir: string, config: Partial<ConfigOptions> = {}) =>
  ClusterApi.compose({
    config: ClusterConfig.layerTest({
      poll_interval: 0.05,
      job_name_prefix: "test",
      log_directory: dir,
      executor: "local",
      ...config
    }),
    runner: nodeRunner,
    store: Layer.succeed(JobStore, store)
  })

const read = (file: string) => readFileSync(file, "utf8")

/** Puts records in the store, takes them over in a new program, runs `body` there. */
const takeOver = <A, E>(
  records: ReadonlyArray<JobRecord>,
  dir: string,
  body: (store: JobStoreShape) => Effect.Effect<A, E, ClusterApi.Services>
) =>
  Effect.gen(function*() {
    const store = yield* makeMemory
    yield* store.insert(records)
    return yield* Effect.gen(function*() {
      const executor = yield* Executor
      yield* executor.resume(records)
      return yield* body(store)
    }).pipe(Effect.provide(program(store, dir)))
  })

// A bound, not an expectation: the wait returns as soon as the jobs end (a busy machine is slow).
const awaitAll = (records: ReadonlyArray<JobRecord>) =>
  Effect.flatMap(Monitor, (monitor) => monitor.awaitAll(records, { timeout: "90 seconds" }))

/** `n` polls of the Monitor, run now (besides its own, every poll_interval). */
const ticks = (n: number) => Effect.flatMap(Monitor, (monitor) => Effect.repeatN(monitor.tick, n - 1))

/** A command that waits until `file` exists: the job runs on once the test says so (`release`). */
const heldUntil = (file: string) => `until [ -e "${file}" ]; do sleep 0.02; done`
const release = (file: string) => Effect.sync(() => writeFileSync(file, ""))

describe("what the files say about a process taken over (pure)", () => {
  const now = new Date(2026, 0, 1, 12, 0, 0)
  const before = new Date(2026, 0, 1, 11, 0, 0)
  const known = { status: "Running" as const, lastSeen: before }

  it("an exit file: ended with that status, at the file's time", () => {
    const found = { exit: { status: 3, at: before }, pid: { pid: 7, at: before, alive: false } }
    const state = resumedState(found, known, now, "h")
    expect(state).toMatchObject({ _tag: "Exited", exitCode: 3, finishTime: before, startTime: before, host: "h" })
  })

  it("a pid file of a live process of the job: watch it; of a gone one: vanished", () => {
    expect(resumedState({ pid: { pid: 7, at: before, alive: true } }, known, now, "h")).toMatchObject({
      _tag: "Watching",
      pid: 7
    })
    expect(resumedState({ pid: { pid: 7, at: before, alive: false } }, { ...known, status: "Pending" }, now, "h"))
      .toMatchObject({ _tag: "Vanished", lastSeen: before, finishTime: now })
  })

  it("no file: a Pending job never started (start it), a Running one vanished", () => {
    expect(resumedState({}, { ...known, status: "Pending" }, now, "h")).toMatchObject({ _tag: "Queued" })
    expect(resumedState({}, known, now, "h")).toMatchObject({ _tag: "Vanished", lastSeen: before })
  })
})

describe("taking over local jobs", { timeout: 120_000 }, () => {
  it.live("a job whose exit file says 3 is Failed(NonZeroExit 3), ended when the file was written", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "three", "exit 3")
    writeFileSync(statusFile(dir, "pid", "9-1"), "4242\n")
    writeFileSync(statusFile(dir, "exit", "9-1"), "3\n")
    const record = localRecord(dir, "9-1", script)
    return takeOver([record], dir, () =>
      Effect.gen(function*() {
        const [r] = yield* awaitAll([record])
        expect(r?.status).toBe("Failed")
        expect(r?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
        expect(r?.exitCode).toBe(3)
        expect(r?.finishTime?.getTime()).toBe(statSync(statusFile(dir, "exit", "9-1")).mtime.getTime())
      }))
  })

  it.live("a process still running is Running, then Done once it ends", () => {
    const dir = tempDir()
    const go = join(dir, "go")
    const script = writeJobScript(dir, "slow", `${heldUntil(go)}; echo slept`)
    return Effect.gen(function*() {
      const pid = yield* Effect.promise(() => startWrapped(dir, "9-2", script))
      const record = localRecord(dir, "9-2", script)
      yield* takeOver([record], dir, () =>
        Effect.gen(function*() {
          const executor = yield* Executor
          const [seen] = yield* executor.poll([record])
          expect(seen).toMatchObject({ jobId: "9-2", status: "Running" })
          expect(seen?.startTime).toBeDefined()
          yield* release(go)
          const [r] = yield* awaitAll([record])
          expect(r?.status).toBe("Done")
          expect(r?.exitCode).toBe(0)
          expect(read(join(dir, "stdout.9-2.log"))).toBe("slept\n")
          expect(alive(pid)).toBe(false)
        }))
    })
  })

  it.live("a pid file whose process is gone (or is another program now), no exit file: Failed(Vanished)", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "gone", "sleep 60")
    writeFileSync(statusFile(dir, "pid", "9-3"), `${deadPid()}\n`)
    // A pid reused by an unrelated process (this test) is not the job's process.
    writeFileSync(statusFile(dir, "pid", "9-4"), `${process.pid}\n`)
    const lastSeen = new Date(Date.now() - 60_000)
    const records = [
      localRecord(dir, "9-3", script, { lastSeen }),
      localRecord(dir, "9-4", script, { lastSeen }),
      localRecord(dir, "9-5", script, { lastSeen }) // no file at all, but the record says it was running
    ]
    return takeOver(records, dir, () =>
      Effect.gen(function*() {
        const ended = yield* awaitAll(records)
        for (const r of ended) {
          expect(r.status).toBe("Failed")
          expect(r.reason).toEqual({ _tag: "Vanished", lastSeen })
          // Reported by the executor at once, not by the Monitor's zombie timeout.
          expect(r.metadata["zombie"]).toBeUndefined()
        }
      }))
  })

  it.live("a Pending job that never started is started here, as submit would have, and ends Done", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "late", "echo \"late $CLUSTER_API_JOB_ID\"; pwd")
    const record = localRecord(dir, "9-6", script, { status: "Pending" })
    return takeOver([record], dir, () =>
      Effect.gen(function*() {
        const [r] = yield* awaitAll([record])
        expect(r?.status).toBe("Done")
        expect(read(record.stdoutPath!)).toBe(`late 9-6\n${dir}\n`)
        expect(read(statusFile(dir, "exit", "9-6"))).toBe("0\n")
      }))
  })

  it.live("an array: elements that ended, one running, one gone and one never started, each handled", () => {
    const dir = tempDir()
    const script = writeJobScript(
      dir,
      "mix",
      "[ \"$ARRAY_INDEX\" = 3 ] && sleep 1; echo \"element $ARRAY_INDEX\""
    )
    const id = "9-7"
    writeFileSync(statusFile(dir, "exit", id, 1), "0\n")
    writeFileSync(statusFile(dir, "exit", id, 2), "3\n")
    writeFileSync(statusFile(dir, "pid", id, 4), `${deadPid()}\n`)
    return Effect.gen(function*() {
      yield* Effect.promise(() => startWrapped(dir, id, script, 3))
      const running = (index: number) => ({ index, status: "Running" as const })
      const record = localRecord(dir, id, script, {
        array: { start: 1, end: 5, maxConcurrent: 2 },
        elements: [running(1), running(2), running(3), running(4)]
      })
      yield* takeOver([record], dir, () =>
        Effect.gen(function*() {
          const [r] = yield* awaitAll([record])
          expect(r?.elements?.map((e) => [e.index, e.status, e.reason?._tag])).toEqual([
            [1, "Done", undefined],
            [2, "Failed", "NonZeroExit"],
            [3, "Done", undefined],
            [4, "Failed", "Vanished"],
            [5, "Done", undefined]
          ])
          expect(r?.status).toBe("Failed")
          expect(r?.reason).toEqual({ _tag: "ElementsFailed", indices: [2, 4] })
          expect(read(join(dir, `stdout.${id}.3.log`))).toBe("element 3\n")
          expect(read(join(dir, `stdout.${id}.5.log`))).toBe("element 5\n")
        }))
    })
  })
})

describe("the walltime of a job taken over", { timeout: 120_000 }, () => {
  const withWalltime = (command: string, walltime: string) => ({ spec: { name: "w", command, resources: { walltime } } })

  it.live("a never-started job is started here held to its spec's walltime: Failed(Timeout)", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "long", "sleep 30")
    const record = localRecord(dir, "9-20", script, { status: "Pending", ...withWalltime("sleep 30", "0:00:01") })
    return takeOver([record], dir, () =>
      Effect.gen(function*() {
        const [r] = yield* awaitAll([record])
        expect(r?.status).toBe("Failed")
        expect(r?.reason).toEqual({ _tag: "Timeout" })
        const ran = r!.finishTime!.getTime() - r!.startTime!.getTime()
        expect(ran).toBeGreaterThanOrEqual(900)
        expect(ran).toBeLessThan(10_000)
      }))
  })

  it.live("a process still running is ended once it has run its spec's walltime since its start; without a spec it runs on", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "long", "sleep 30")
    return Effect.gen(function*() {
      const pid = yield* Effect.promise(() => startWrapped(dir, "9-21", script))
      const other = yield* Effect.promise(() => startWrapped(dir, "9-22", script))
      const startTime = new Date(Date.now() - 500)
      const record = localRecord(dir, "9-21", script, { startTime, ...withWalltime("sleep 30", "0:00:01") })
      const unknown = localRecord(dir, "9-22", script, { startTime })
      yield* takeOver([record, unknown], dir, () =>
        Effect.gen(function*() {
          const [r] = yield* awaitAll([record])
          expect(r?.status).toBe("Failed")
          expect(r?.reason).toEqual({ _tag: "Timeout" })
          expect(alive(pid)).toBe(false)
          const [seen] = yield* (yield* Executor).poll([unknown])
          expect(seen?.status).toBe("Running")
          expect(alive(other)).toBe(true)
        }))
      // The end of the program ended it.
      expect(alive(other)).toBe(false)
    })
  })
})

describe("cancelling local jobs this program did not start", { timeout: 120_000 }, () => {
  it.live("a job taken over: its whole process group is killed, and it is recorded Killed", () => {
    const dir = tempDir()
    const childFile = join(dir, "child.pid")
    const script = writeJobScript(dir, "tree", `sleep 60 & echo $! > '${childFile}'; wait`)
    return Effect.gen(function*() {
      const pid = yield* Effect.promise(() => startWrapped(dir, "9-8", script))
      const record = localRecord(dir, "9-8", script)
      yield* takeOver([record], dir, () =>
        Effect.gen(function*() {
          const executor = yield* Executor
          yield* Effect.sleep("50 millis").pipe(Effect.repeat({ until: () => existsSync(childFile) }))
          const child = Number(read(childFile).trim())
          expect(alive(child)).toBe(true)
          const killed = yield* executor.cancel("9-8")
          expect(killed.status).toBe("Killed")
          expect(killed.reason).toEqual({ _tag: "Cancelled" })
          expect(alive(pid)).toBe(false)
          expect(alive(child)).toBe(false)
          const [r] = yield* awaitAll([record])
          expect(r?.status).toBe("Killed")
        }))
    })
  })

  it.live("another program's job: killed through its pid file; not started: recorded Killed; gone: left", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "other", "sleep 60")
    writeFileSync(statusFile(dir, "pid", "9-11"), `${deadPid()}\n`)
    return Effect.gen(function*() {
      const pid = yield* Effect.promise(() => startWrapped(dir, "9-9", script))
      const store = yield* makeMemory
      const records = [
        localRecord(dir, "9-9", script),
        localRecord(dir, "9-10", script, { status: "Pending" }),
        localRecord(dir, "9-11", script)
      ]
      yield* store.insert(records)
      yield* Effect.gen(function*() {
        const executor = yield* Executor
        const running = yield* executor.cancel("9-9")
        expect(running.status).toBe("Killed")
        expect(alive(pid)).toBe(false)
        expect((yield* executor.cancel("9-10")).status).toBe("Killed")
        expect((yield* executor.cancel("9-11")).status).toBe("Running")
        const missing = yield* Effect.flip(executor.cancel("9-404"))
        expect(missing._tag).toBe("JobNotFound")
      }).pipe(Effect.provide(program(store, dir, { zombie_timeout_minutes: 60 })))
    })
  })
})

describe("the end of the program", { timeout: 120_000 }, () => {
  it.live("ends the jobs it started or took over and records them Killed, queued ones too", () => {
    const dir = tempDir()
    const script = writeJobScript(dir, "adopted", "sleep 60")
    return Effect.gen(function*() {
      const adoptedPid = yield* Effect.promise(() => startWrapped(dir, "9-12", script))
      const store = yield* makeMemory
      const adopted = localRecord(dir, "9-12", script)
      yield* store.insert([adopted])
      const [running, queued] = yield* Effect.gen(function*() {
        const executor = yield* Executor
        const a = yield* executor.submit({ name: "long", command: "sleep 60" })
        const b = yield* executor.submit({ name: "queued", command: "sleep 60" })
        yield* Effect.sleep("50 millis").pipe(
          Effect.repeat({ until: () => existsSync(statusFile(dir, "pid", a.jobId)) })
        )
        // Already running, it is watched even with no slot free: several polls later, still running.
        yield* executor.resume([adopted])
        yield* ticks(3)
        expect(alive(adoptedPid)).toBe(true)
        return [a, b] as const
      }).pipe(Effect.provide(program(store, dir, { max_local_jobs: 1 })))
      const runningPid = Number(read(statusFile(dir, "pid", running.jobId)).trim())
      expect(alive(runningPid)).toBe(false)
      expect(alive(adoptedPid)).toBe(false)
      expect(existsSync(statusFile(dir, "pid", queued.jobId))).toBe(false)
      for (const job of [adopted, running, queued]) {
        const r = Option.getOrThrow(yield* store.get(job))
        expect(r.status).toBe("Killed")
        expect(r.reason).toEqual({ _tag: "Cancelled", by: programEnded })
      }
    })
  })
})
