/**
 * The local executor with real processes (it.live: real clock, real bash), through the whole
 * service stack: config made in code, Node command runner, in-memory store, Monitor.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { CommandRunner, layerNode as nodeRunner } from "../src/CommandRunner.js"
import type { SpawnSpec } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import { describeReason, failedElementIndices } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore, layerMemory as memoryStore } from "../src/JobStore.js"
import * as LocalExecutor from "../src/schedulers/local/index.js"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Monitor } from "../src/Monitor.js"
import { exitOutcome, parseStatusFile, processLogPath, statusFileName } from "./support/parts/local.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-local-")

const live = (config: Partial<ConfigOptions> = {}) =>
  ClusterApi.compose({
    config: ClusterConfig.layerTest({ poll_interval: 0.05, job_name_prefix: "test", ...config }),
    runner: nodeRunner
  })

const run = <A, E>(body: (dir: string) => Effect.Effect<A, E, ClusterApi.Services>, config: Partial<ConfigOptions> = {}) => {
  const dir = tempDir()
  return body(dir).pipe(Effect.provide(live({ log_directory: dir, ...config })))
}

const read = (file: string | undefined) => readFileSync(file ?? "", "utf8")

// A bound, not an expectation: a wait returns as soon as the jobs end (a busy machine is slow).
const bound = { timeout: "90 seconds" } as const

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("how a local process's end reads (pure)", () => {
  it("0 is Done, another code NonZeroExit, 128+N the signal N, as in a shell", () => {
    expect(exitOutcome({ exitCode: 0 })).toEqual({ status: "Done", exitCode: 0 })
    expect(exitOutcome({ exitCode: 3 })).toEqual({
      status: "Failed",
      reason: { _tag: "NonZeroExit", exitCode: 3 },
      exitCode: 3
    })
    const signalled = (signal: string) => ({ status: "Failed", reason: { _tag: "Signalled", signal } })
    expect(exitOutcome({ exitCode: 137 })).toEqual(signalled("SIGKILL"))
    expect(exitOutcome({ exitCode: 143 })).toEqual(signalled("SIGTERM"))
    expect(exitOutcome({ signal: "SIGTERM" })).toEqual(exitOutcome({ exitCode: 143 }))
    expect(exitOutcome({ exitCode: 128 }).reason).toEqual({ _tag: "NonZeroExit", exitCode: 128 })
    expect(exitOutcome({ exitCode: 255 }).reason).toEqual({ _tag: "NonZeroExit", exitCode: 255 })
  })

  it("a pid or exit file reads only once whole: a number and its final newline", () => {
    expect(parseStatusFile("4242\n")).toBe(4242)
    expect(parseStatusFile("0\n")).toBe(0)
    // Being written: empty, or the number without its newline yet.
    expect(parseStatusFile("")).toBeUndefined()
    expect(parseStatusFile("42")).toBeUndefined()
    expect(parseStatusFile("x\n")).toBeUndefined()
    expect(parseStatusFile("-1\n")).toBeUndefined()
  })

  it("names the pid and exit files, and each array element's log", () => {
    expect(statusFileName("pid", "12-3")).toBe("job.12-3.pid")
    expect(statusFileName("exit", "12-3", 7)).toBe("job.12-3.7.exit")
    expect(processLogPath("/logs/stdout.12-3.{index}.log", "stdout", "12-3", 7)).toBe("/logs/stdout.12-3.7.log")
    expect(processLogPath("/data/out.log", "stdout", "12-3", 7)).toBe("/data/out.log")
    expect(processLogPath("/logs/stderr.12-3.log", "stderr", "12-3")).toBe("/logs/stderr.12-3.log")
  })
})

describe("local jobs", { timeout: 120_000 }, () => {
  it.live("two local executors in one program, on one store, give their jobs different ids, even when both read the store before either writes", () => {
    const dir = tempDir()
    return Effect.gen(function*() {
      const store = yield* JobStore
      // A store whose reads answer late, as one reached over a network does: both submits have read
      // before either writes (the two reads meet at a latch).
      const bothRead = yield* Effect.makeLatch(false)
      let reads = 0
      const slow = JobStore.of({
        ...store,
        get: (key) =>
          Effect.zipLeft(
            store.get(key),
            Effect.suspend(() => (reads += 1) >= 2 ? bothRead.open : bothRead.await)
          )
      })
      const [a, b] = yield* Effect.all([LocalExecutor.make, LocalExecutor.make]).pipe(
        Effect.provideService(JobStore, slow)
      )
      const jobs = yield* Effect.all([a.submit({ name: "a", command: "true" }), b.submit({ name: "b", command: "true" })], {
        concurrency: "unbounded"
      })
      expect(jobs[0].jobId).not.toBe(jobs[1].jobId)
      const stored = yield* Effect.forEach(jobs, (j) => store.get(j))
      expect(stored.map((r) => Option.map(r, (x) => x.name))).toEqual([Option.some("test-a"), Option.some("test-b")])
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        memoryStore,
        ClusterConfig.layerTest({ poll_interval: 0.05, job_name_prefix: "test", log_directory: dir }),
        nodeRunner,
        NodeContext.layer
      ))
    )
  })

  it.live("a process's exit wakes the Monitor: with an hour's poll_interval, await and awaitAll still end once the jobs do", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "a", command: "true" })
        const b = yield* executor.submit({ name: "b", command: "exit 4" })
        // Bounds, not expectations: without the wake-up the first tick after submit is an hour away.
        expect((yield* monitor.await(a, { timeout: "60 seconds" })).status).toBe("Done")
        const both = yield* monitor.awaitAll([a, b], { timeout: "60 seconds" })
        expect(both.map((r) => [r.status, r.exitCode])).toEqual([["Done", 0], ["Failed", 4]])
      }), { poll_interval: 3600 }))

  it.live("runs a job to Done, with its stdout and stderr in stdout.{id}.log / stderr.{id}.log", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "hello", command: "echo hello" })
        expect(job.status).toBe("Pending")
        expect(job.name).toBe("test-hello")
        const done = yield* monitor.await(job, bound)
        expect(done.status).toBe("Done")
        expect(done.exitCode).toBe(0)
        expect(done.execHost).toBeDefined()
        expect(done.startTime).toBeDefined()
        expect(done.stdoutPath).toBe(join(dir, `stdout.${job.jobId}.log`))
        expect(read(done.stdoutPath)).toBe("hello\n")
        expect(read(done.stderrPath)).toBe("")
        expect(read(done.scriptPath)).toContain("echo hello")
      })
    ))

  it.live("inheritEnv false starts from identity variables and a fixed PATH; loginShell adds -l", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        process.env.CAPI_LEAK_CHECK = "leaked"
        const probe =
          `echo "leak=\${CAPI_LEAK_CHECK:-none} own=$OWN path=$PATH home=\${HOME:+set}"; shopt -q login_shell && echo login || echo plain`
        const inherit = yield* executor.submit({ name: "inherit", command: probe, env: { OWN: "x" } })
        const clean = yield* executor.submit({ name: "clean", command: probe, env: { OWN: "x" }, inheritEnv: false })
        // A login shell reads the profiles, which may set PATH as they like.
        const login = yield* executor.submit({ name: "login", command: probe, inheritEnv: false, loginShell: true })
        const ends = yield* monitor.awaitAll([inherit, clean, login], bound)
        expect(ends.map((e) => e.status)).toEqual(["Done", "Done", "Done"])
        expect(read(ends[0]!.stdoutPath)).toMatch(/^leak=leaked own=x path=\S+ home=set\nplain\n$/)
        expect(read(ends[1]!.stdoutPath)).toBe("leak=none own=x path=/usr/local/bin:/usr/bin:/bin home=set\nplain\n")
        expect(read(ends[2]!.stdoutPath)).toMatch(/^leak=none own= path=\S+ home=set\nlogin\n$/)
        expect(read(clean.scriptPath).split("\n")[0]).toBe("#!/bin/bash")
        expect(read(login.scriptPath).split("\n")[0]).toBe("#!/bin/bash -l")
      }).pipe(Effect.ensuring(Effect.sync(() => delete process.env.CAPI_LEAK_CHECK)))
    ))

  it.live("a shebang naming a shell that is not there fails the job as the script would (127), not its start", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "noshell", command: "echo hi" })
        const r = yield* monitor.await(job, bound)
        expect([r.status, r.exitCode, r.reason]).toEqual(["Failed", 127, { _tag: "NonZeroExit", exitCode: 127 }])
      }), { shebang: "#!/nonexistent/bin/bash" }))

  it.live("a script with another interpreter is executed by the wrapper, as before", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "env", command: "echo \"via env $0 $#\"" })
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Done")
        expect(read(r.stdoutPath)).toBe(`via env ${job.scriptPath} 0\n`)
      }), { shebang: "#!/usr/bin/env bash" }))

  it.live("jobs are started by one spawner process, not forked from this program each; this program's environment as it is at each start reaches the job", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const parent = `tr '\\0\\n' '  ' < /proc/$PPID/cmdline; echo; echo "late=\${CAPI_LATE_CHECK:-none} home=\${HOME:+set}"`
        const first = yield* executor.submit({ name: "first", command: parent })
        yield* monitor.await(first, bound)
        process.env.CAPI_LATE_CHECK = "set after the first start"
        const second = yield* executor.submit({ name: "second", command: parent })
        const [a, b] = yield* monitor.awaitAll([first, second], bound)
        expect([a?.status, b?.status]).toEqual(["Done", "Done"])
        const [aParent, aEnv] = read(a?.stdoutPath).split("\n")
        const [bParent, bEnv] = read(b?.stdoutPath).split("\n")
        expect(aParent).toContain("cluster-api-local-spawner")
        expect(bParent).toBe(aParent)
        expect(aEnv).toBe("late=none home=set")
        expect(bEnv).toBe("late=set after the first start home=set")
      }).pipe(Effect.ensuring(Effect.sync(() => delete process.env.CAPI_LATE_CHECK)))
    ))

  it.live("with its spawner gone, the executor starts its jobs itself", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const first = yield* executor.submit({ name: "first", command: "kill -KILL $(ps -o ppid= -p $PPID)" })
        yield* monitor.await(first, bound)
        const second = yield* executor.submit({ name: "second", command: "echo still here" })
        const r = yield* monitor.await(second, bound)
        expect(r.status).toBe("Done")
        expect(read(r.stdoutPath)).toBe("still here\n")
      })
    ))

  it.live("reports a non-zero exit as Failed with the code, stderr kept", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "bad", command: "echo oops >&2; exit 42" })
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Failed")
        expect(r.exitCode).toBe(42)
        expect(r.reason).toEqual({ _tag: "NonZeroExit", exitCode: 42 })
        expect(read(r.stderrPath)).toBe("oops\n")
      })
    ))

  it.live("gives every job its own id and runs several at once", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const jobs = yield* Effect.forEach([1, 2, 3], (i) => executor.submit({ name: `j${i}`, command: "true" }))
        expect(new Set(jobs.map((j) => j.jobId)).size).toBe(3)
        const done = yield* monitor.awaitAll(jobs, bound)
        expect(done.map((r) => r.status)).toEqual(["Done", "Done", "Done"])
        const store = yield* JobStore
        expect((yield* store.active).length).toBe(0)
        expect((yield* store.list()).length).toBe(3)
      })
    ))

  it.live("runs in work_dir and writes the script and logs there; without one, in log_directory", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const work = join(dir, "work dir")
        mkdirSync(work)
        const a = yield* executor.submit({ name: "pwd", command: "pwd", resources: { workDir: work } })
        const b = yield* executor.submit({ name: "pwd2", command: "pwd" })
        const [ra, rb] = yield* monitor.awaitAll([a, b], bound)
        expect(read(ra?.stdoutPath).trim()).toBe(work)
        expect(ra?.scriptPath?.startsWith(work)).toBe(true)
        expect(read(rb?.stdoutPath).trim()).toBe(process.cwd())
        expect(rb?.stdoutPath?.startsWith(dir)).toBe(true)
      })
    ))

  it.live("refuses a work_dir that does not exist, before anything runs", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const error = yield* Effect.flip(
          executor.submit({ name: "x", command: "true", resources: { workDir: join(dir, "missing") } })
        )
        expect(error._tag).toBe("InvalidJobSpec")
        expect(error.message).toContain("does not exist")
      })
    ))

  it.live("cancel kills the whole process tree and records Killed; with done, Done", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const pidFile = join(dir, "child.pid")
        const job = yield* executor.submit({ name: "tree", command: `sleep 60 & echo $! > '${pidFile}'; wait` })
        const other = yield* executor.submit({ name: "other", command: "sleep 60" })
        yield* Effect.sleep("300 millis").pipe(Effect.repeat({ until: () => existsSync(pidFile) }))
        const child = Number(read(pidFile).trim())
        expect(alive(child)).toBe(true)
        const killed = yield* executor.cancel(job.jobId)
        expect(killed.status).toBe("Killed")
        expect(alive(child)).toBe(false)
        const done = yield* executor.cancel(other.jobId, { done: true })
        expect(done.status).toBe("Done")
        const final = yield* monitor.await(job, bound)
        expect(final.status).toBe("Killed")
      })
    ))

  it.live("ends a job that runs past its walltime as Failed(Timeout)", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "slow", command: "sleep 30", resources: { walltime: "1s" } })
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Failed")
        expect(r.reason).toEqual({ _tag: "Timeout" })
      })
    ))

  it.live("runs at most max_local_jobs at once", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const log = join(dir, "log")
        const cmd = `echo start >> '${log}'; sleep 0.5; echo end >> '${log}'`
        const jobs = yield* Effect.forEach([1, 2, 3], (i) => executor.submit({ name: `c${i}`, command: cmd }))
        yield* monitor.awaitAll(jobs, bound)
        let running = 0
        let peak = 0
        for (const line of read(log).trim().split("\n")) {
          running += line === "start" ? 1 : -1
          peak = Math.max(peak, running)
        }
        expect(peak).toBe(1)
      }), { max_local_jobs: 1 }))
})

describe("expected outputs left by an earlier run", { timeout: 120_000 }, () => {
  it.live("a job that leaves an earlier run's output untouched ends Failed(MissingOutput), naming it; one that rewrites it ends Done", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const earlier = new Date(Date.now() - 3_600_000)
        for (const name of ["kept", "rewritten"]) {
          const work = join(dir, name)
          mkdirSync(work)
          writeFileSync(join(work, "output.fits"), "from an earlier run\n")
          utimesSync(join(work, "output.fits"), earlier, earlier)
        }
        const spec = (name: string, command: string) => ({
          name,
          command,
          resources: { workDir: join(dir, name) },
          expectedOutputs: ["output.fits"]
        })
        const kept = yield* executor.submit(spec("kept", "echo computed"))
        const rewritten = yield* executor.submit(spec("rewritten", "echo computed > output.fits"))
        const [k, r] = yield* monitor.awaitAll([kept, rewritten], bound)
        expect(k?.status).toBe("Failed")
        expect(k?.reason).toEqual({
          _tag: "MissingOutput",
          missing: ["output.fits"],
          stale: [{ pattern: "output.fits", file: "output.fits", lastWritten: earlier, since: k?.startTime, from: "start" }]
        })
        expect(describeReason(k!.reason!)).toContain("output.fits exists but was last written before the job started")
        expect(r?.status).toBe("Done")
        expect(read(join(dir, "rewritten", "output.fits"))).toBe("computed\n")
      })
    ))
})

describe("a local job's start time", { timeout: 120_000 }, () => {
  /**
   * A command runner that reports a started process late: only once the process has written
   * `output.fits` in its work directory and the clock has passed that file's second (as when this
   * program's event loop is busy when the process starts).
   */
  const reportsLate = Layer.effect(
    CommandRunner,
    Effect.map(CommandRunner, (real) => ({
      ...real,
      spawn: (spec: SpawnSpec) =>
        real.spawn(spec).pipe(Effect.tap(() => {
          const file = join(spec.cwd ?? ".", "output.fits")
          const written = () => existsSync(file) && Math.floor(Date.now() / 1000) > Math.floor(statSync(file).mtimeMs / 1000)
          return Effect.sleep("10 millis").pipe(Effect.repeat({ until: written }), Effect.timeout("60 seconds"), Effect.orDie)
        }))
    }))
  ).pipe(Layer.provide(nodeRunner))

  it.live("is taken before the process is started: an output it writes at once is never older than its start", () => {
    const dir = tempDir()
    return Effect.gen(function*() {
      const executor = yield* Executor
      const monitor = yield* Monitor
      const job = yield* executor.submit({
        name: "quick",
        command: "echo computed > output.fits",
        resources: { workDir: dir },
        expectedOutputs: ["output.fits"]
      })
      const done = yield* monitor.await(job, bound)
      expect(done.reason).toBeUndefined()
      expect(done.status).toBe("Done")
      expect(done.startTime!.getTime()).toBeLessThanOrEqual(statSync(join(dir, "output.fits")).mtimeMs)
    }).pipe(Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ poll_interval: 0.05, job_name_prefix: "test", log_directory: dir }),
      runner: reportsLate
    })))
  })
})

describe("pid and exit files", { timeout: 120_000 }, () => {
  it.live("every job leaves its pid and its exit status beside its script; the status reads as before", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const jobs = yield* Effect.forEach(
          [["ok", "true"], ["three", "exit 3"], ["killed", "kill -KILL $$"]] as const,
          ([name, command]) => executor.submit({ name, command })
        )
        const [ok, three, killed] = yield* monitor.awaitAll(jobs, bound)
        const file = (r: typeof ok, kind: "pid" | "exit") =>
          join(dirname(r?.scriptPath ?? ""), statusFileName(kind, r?.jobId ?? ""))
        expect(ok?.status).toBe("Done")
        expect(read(file(ok, "exit"))).toBe("0\n")
        expect(Number(read(file(ok, "pid")))).toBeGreaterThan(1)
        expect(three?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
        expect(read(file(three, "exit"))).toBe("3\n")
        expect(killed?.status).toBe("Failed")
        expect(killed?.reason).toEqual({ _tag: "Signalled", signal: "SIGKILL" })
        expect(killed?.exitCode).toBeUndefined()
        expect(read(file(killed, "exit"))).toBe("137\n")
      })
    ))

  it.live("array elements write job.{id}.{index}.pid / .exit", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray({ name: "arr", command: "exit $ARRAY_INDEX" }, { start: 0, end: 2 })
        const r = yield* monitor.await(job, bound)
        expect(r.reason).toEqual({ _tag: "ElementsFailed", indices: [1, 2] })
        for (const i of [0, 1, 2]) {
          expect(read(join(dir, `job.${job.jobId}.${i}.exit`))).toBe(`${i}\n`)
          expect(existsSync(join(dir, `job.${job.jobId}.${i}.pid`))).toBe(true)
        }
        expect(existsSync(join(dir, `job.${job.jobId}.exit`))).toBe(false)
      })
    ))

  it.live("a cancelled job leaves no exit file: its wrapper dies with its group", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "long", command: "sleep 60" })
        const pidFile = join(dir, `job.${job.jobId}.pid`)
        yield* Effect.sleep("50 millis").pipe(Effect.repeat({ until: () => existsSync(pidFile) }))
        const pid = Number(read(pidFile).trim())
        yield* executor.cancel(job.jobId)
        expect(alive(pid)).toBe(false)
        expect(existsSync(join(dir, `job.${job.jobId}.exit`))).toBe(false)
      })
    ))
})

describe("local arrays", { timeout: 120_000 }, () => {
  it.live("runs every element with ARRAY_INDEX set and its own log files", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray({ name: "arr", command: "echo element $ARRAY_INDEX" }, {
          start: 5,
          end: 7
        })
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Done")
        expect(r.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([
          [5, "Done", 0],
          [6, "Done", 0],
          [7, "Done", 0]
        ])
        for (const i of [5, 6, 7]) {
          expect(read(join(dir, `stdout.${job.jobId}.${i}.log`))).toBe(`element ${i}\n`)
        }
      })
    ))

  it.live("starts elements in index order when slots are scarce", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const log = join(dir, "order")
        const job = yield* executor.submitArray(
          { name: "ordered", command: `echo $ARRAY_INDEX >> '${log}'` },
          { start: 1, end: 6 }
        )
        yield* monitor.await(job, bound)
        expect(read(log).trim().split("\n")).toEqual(["1", "2", "3", "4", "5", "6"])
      }), { max_local_jobs: 1 }))

  it.live("a failing element fails the array, naming it", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray(
          { name: "arr", command: "[ \"$ARRAY_INDEX\" != 2 ]" },
          { start: 1, end: 3, maxConcurrent: 2 }
        )
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Failed")
        expect(failedElementIndices(r)).toEqual([2])
        expect(r.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
      })
    ))

  it.live("cancelling an array kills every element", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray({ name: "arr", command: "sleep 60" }, { start: 1, end: 3 })
        // Every element running (it has written its pid file), however slowly the machine starts them.
        const pidFiles = [1, 2, 3].map((i) => join(dir, `job.${job.jobId}.${i}.pid`))
        yield* Effect.sleep("50 millis").pipe(Effect.repeat({ until: () => pidFiles.every((f) => existsSync(f)) }))
        const killed = yield* executor.cancel(job.jobId)
        expect(killed.status).toBe("Killed")
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Killed")
        expect(r.elements?.every((e) => e.status === "Killed")).toBe(true)
      }), { max_local_jobs: 3 }))
})

describe("hostile input", { timeout: 120_000 }, () => {
  it.live("names, env values, paths and commands with quotes, $(…), backticks, newlines and spaces run nothing unwritten", () =>
    run((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const canary = join(dir, "canary")
        const evil = `$(touch '${canary}')\`touch '${canary}'\`'"; touch '${canary}' #`
        const work = join(dir, "w $(touch canary) `touch canary` '\"")
        mkdirSync(work)
        const job = yield* executor.submit({
          name: evil,
          command: "printf '%s\\n' \"$EVIL\" \"$MULTI\"; pwd",
          env: { EVIL: evil, MULTI: "line1\nline2 $(touch canary)" },
          resources: { workDir: work, stdoutPath: "out $(x).log" }
        })
        const r = yield* monitor.await(job, bound)
        expect(r.status).toBe("Done")
        expect(existsSync(canary)).toBe(false)
        expect(existsSync(join(work, "canary"))).toBe(false)
        expect(existsSync(join(process.cwd(), "canary"))).toBe(false)
        expect(read(join(work, "out $(x).log"))).toBe(`${evil}\nline1\nline2 $(touch canary)\n${work}\n`)
        expect(r.name).not.toMatch(/[$`'" ;]/)
      })
    ))

  it.live("refuses values that would open a new line in a script, and nothing is submitted", () =>
    run(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        const error = yield* Effect.flip(executor.submit({
          name: "x",
          command: "true",
          resources: { stdoutPath: "a\ntouch canary" }
        }))
        expect(error._tag).toBe("InvalidJobSpec")
        expect((yield* store.list()).length).toBe(0)
        expect(Option.isNone(yield* store.get({ executor: "local", jobId: "1" }))).toBe(true)
      })
    ))
})
