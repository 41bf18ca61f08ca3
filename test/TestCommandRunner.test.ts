import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { CommandRunner } from "../src/CommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"

describe("TestCommandRunner run", () => {
  it.effect("answers by prefix, RegExp and function", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      expect((yield* runner.run({ argv: ["squeue", "-h", "-j", "1"] })).stdout).toBe("prefix")
      expect((yield* runner.run({ argv: ["sacct", "-j", "42", "-P"] })).stdout).toBe("regexp")
      expect((yield* runner.run({ argv: ["scancel", "7"] })).stdout).toBe("function")
      // a string is a prefix of the whole command line, not a substring of it
      expect((yield* Effect.flip(runner.run({ argv: ["squeu"] })))._tag).toBe("CommandNotFound")
      expect((yield* Effect.flip(runner.run({ argv: ["sudo", "squeue"] })))._tag).toBe("CommandNotFound")
    }).pipe(Effect.provide(TestCommandRunner.layer({
      rules: [
        { match: "squeue", reply: { stdout: "prefix" } },
        { match: /^sacct .*-j 42\b/, reply: { stdout: "regexp" } },
        { match: (argv) => argv[0] === "scancel" && argv.length === 2, reply: { stdout: "function" } }
      ]
    }))))

  it.effect("a string rule for one job does not answer another", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      expect((yield* runner.run({ argv: ["scancel", "12"] })).stdout).toBe("one")
      expect((yield* runner.run({ argv: ["scancel", "99"] })).stdout).toBe("other")
    }).pipe(Effect.provide(TestCommandRunner.layer({
      rules: [{ match: "scancel 12", reply: { stdout: "one" } }, { match: "scancel", reply: { stdout: "other" } }]
    }))))

  it.effect("records calls with argv, stdin, env, cwd and time; clearCalls forgets them", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const test = yield* TestCommandRunner
      yield* TestClock.adjust("3 seconds")
      yield* runner.run({ argv: ["sbatch", "--parsable"], stdin: "#!/bin/sh\n", env: { A: "1" }, cwd: "work" })
      yield* Effect.flip(runner.run({ argv: ["unknown-program"] }))
      const calls = yield* test.calls
      expect(calls).toHaveLength(2)
      expect(calls[0]).toMatchObject({
        kind: "run",
        argv: ["sbatch", "--parsable"],
        stdin: "#!/bin/sh\n",
        env: { A: "1" },
        cwd: "work",
        atMillis: 3000
      })
      expect(calls[1]?.argv).toEqual(["unknown-program"])
      expect((yield* test.callsMatching("sbatch")).map((c) => c.argv[0])).toEqual(["sbatch"])
      yield* test.clearCalls
      expect(yield* test.calls).toEqual([])
    }).pipe(Effect.provide(TestCommandRunner.layer({ rules: [{ match: "sbatch", reply: { stdout: "1\n" } }] }))))

  it.effect("a reply function sees the call", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({ argv: ["qsub", "-terse"], stdin: "script body" })
      expect(result.stdout).toBe("got 11 bytes for qsub")
    }).pipe(Effect.provide(TestCommandRunner.layer({
      rules: [{ match: "qsub", reply: (call) => ({ stdout: `got ${call.stdin?.length} bytes for ${call.argv[0]}` }) }]
    }))))

  it.effect("rules added later win over earlier ones", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const test = yield* TestCommandRunner
      expect((yield* runner.run({ argv: ["squeue"] })).stdout).toBe("PENDING")
      yield* test.addRules([{ match: "squeue", reply: { stdout: "RUNNING" } }])
      expect((yield* runner.run({ argv: ["squeue"] })).stdout).toBe("RUNNING")
      yield* test.addRules([{ match: "squeue", reply: { stdout: "COMPLETED" } }])
      expect((yield* runner.run({ argv: ["squeue"] })).stdout).toBe("COMPLETED")
    }).pipe(Effect.provide(TestCommandRunner.layer({ rules: [{ match: "squeue", reply: { stdout: "PENDING" } }] }))))

  it.effect("times makes a rule expire", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const out = (argv: ReadonlyArray<string>) => Effect.map(runner.run({ argv }), (r) => r.stdout)
      expect([yield* out(["squeue"]), yield* out(["squeue"]), yield* out(["squeue"])]).toEqual([
        "PENDING",
        "PENDING",
        "RUNNING"
      ])
    }).pipe(Effect.provide(TestCommandRunner.layer({
      rules: [
        { match: "squeue", reply: { stdout: "PENDING" }, times: 2 },
        { match: "squeue", reply: { stdout: "RUNNING" } }
      ]
    }))))

  it.effect("delay is virtual time", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const fiber = yield* Effect.fork(runner.run({ argv: ["sbatch"] }))
      yield* TestClock.adjust("9 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      const done = yield* Fiber.join(fiber)
      expect(done.stdout).toBe("42\n")
    }).pipe(Effect.provide(TestCommandRunner.layer({ rules: [{ match: "sbatch", reply: { stdout: "42\n", delay: "10 seconds" } }] }))))

  it.effect("a delay longer than the timeout fails with CommandTimeout when the timeout passes", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const fiber = yield* Effect.fork(Effect.flip(runner.run({ argv: ["squeue"], timeout: "5 seconds" })))
      yield* TestClock.adjust("4 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("CommandTimeout")
      if (error._tag === "CommandTimeout") expect(error.timeoutMillis).toBe(5000)
    }).pipe(Effect.provide(TestCommandRunner.layer({ rules: [{ match: "squeue", reply: { delay: "1 minute" } }] }))))

  it.effect("scripted failures", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const failed = yield* Effect.flip(runner.run({ argv: ["sbatch", "job.sh"] }))
      expect(failed).toMatchObject({ _tag: "CommandFailed", exitCode: 1, stdout: "", stderr: "sbatch: error: invalid partition" })
      const killed = yield* Effect.flip(runner.run({ argv: ["squeue"] }))
      expect(killed).toMatchObject({ _tag: "CommandFailed", signal: "SIGKILL" })
      expect((yield* Effect.flip(runner.run({ argv: ["qstat"], timeout: "7 seconds" })))).toMatchObject({
        _tag: "CommandTimeout",
        timeoutMillis: 7000
      })
      expect((yield* Effect.flip(runner.run({ argv: ["bjobs"] })))._tag).toBe("CommandNotFound")
      expect((yield* Effect.flip(runner.run({ argv: ["qdel"] })))._tag).toBe("CommandSpawnFailed")
      expect((yield* Effect.flip(runner.run({ argv: ["no-rule"] })))).toMatchObject({
        _tag: "CommandNotFound",
        argv: ["no-rule"]
      })
    }).pipe(Effect.provide(TestCommandRunner.layer({
      rules: [
        { match: "sbatch", reply: { exitCode: 1, stderr: "sbatch: error: invalid partition" } },
        { match: "squeue", reply: { signal: "SIGKILL" } },
        { match: "qstat", reply: { fail: "timeout" } },
        { match: "bjobs", reply: { fail: "notFound" } },
        { match: "qdel", reply: { fail: "spawnFailed" } }
      ]
    }))))

  it.effect("each layer build starts with fresh state", () =>
    Effect.gen(function*() {
      const layer = TestCommandRunner.layer({ rules: [{ match: "x", reply: {}, times: 1 }] })
      const once = Effect.gen(function*() {
        const runner = yield* CommandRunner
        yield* runner.run({ argv: ["x"] })
        return (yield* (yield* TestCommandRunner).calls).length
      })
      expect(yield* Effect.provide(once, layer)).toBe(1)
      expect(yield* Effect.provide(once, layer)).toBe(1)
    }))
})

describe("TestCommandRunner spawn", () => {
  const files = { stdoutFile: "out.log", stderrFile: "err.log" }

  it.effect("a fake process exits after its delay with its exit code", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const test = yield* TestCommandRunner
      const proc = yield* runner.spawn({ argv: ["job.sh"], ...files })
      expect(proc.pid).toBe(10000)
      const waiting = yield* Effect.fork(proc.exit)
      yield* TestClock.adjust("59 seconds")
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(waiting)).toEqual({ exitCode: 3 })
      expect(yield* proc.exit).toEqual({ exitCode: 3 })
      const second = yield* runner.spawn({ argv: ["other.sh"], ...files })
      expect(second.pid).toBe(10001)
      expect(yield* second.exit).toEqual({ exitCode: 0 })
      expect(yield* test.calls).toMatchObject([
        { kind: "spawn", argv: ["job.sh"], stdoutFile: "out.log", stderrFile: "err.log" },
        { kind: "spawn", argv: ["other.sh"] }
      ])
    }).pipe(Effect.provide(TestCommandRunner.layer({
      spawnRules: [{ match: "job.sh", reply: { exitCode: 3, delay: "1 minute" } }, { match: "other.sh", reply: {} }]
    }))))

  it.effect("kill records the signal and ends the process with it", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const test = yield* TestCommandRunner
      const proc = yield* runner.spawn({ argv: ["long.sh"], ...files })
      yield* proc.kill("SIGINT")
      expect(yield* proc.exit).toEqual({ signal: "SIGINT" })
      const other = yield* runner.spawn({ argv: ["long.sh"], ...files })
      expect(yield* other.terminate("5 seconds")).toEqual({ signal: "SIGTERM" })
      yield* other.kill("SIGKILL") // after the end: recorded, the outcome stays
      expect(yield* other.exit).toEqual({ signal: "SIGTERM" })
      expect(yield* test.signals).toEqual([
        { pid: proc.pid, signal: "SIGINT" },
        { pid: other.pid, signal: "SIGTERM" },
        { pid: other.pid, signal: "SIGKILL" }
      ])
    }).pipe(Effect.provide(TestCommandRunner.layer({ spawnRules: [{ match: "long.sh", reply: { delay: "1 hour" } }] }))))

  it.effect("a signal reply, scripted failures and unmatched spawns", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const test = yield* TestCommandRunner
      const oom = yield* runner.spawn({ argv: ["oom.sh"], ...files })
      expect(yield* oom.exit).toEqual({ signal: "SIGKILL" })
      expect((yield* Effect.flip(runner.spawn({ argv: ["missing"], ...files })))._tag).toBe("CommandNotFound")
      yield* test.addSpawnRules([{ match: "missing", reply: { fail: "spawnFailed" } }])
      expect((yield* Effect.flip(runner.spawn({ argv: ["missing"], ...files })))._tag).toBe("CommandSpawnFailed")
      expect((yield* Effect.flip(runner.spawn({ argv: ["nothing-matches"], ...files })))._tag).toBe("CommandNotFound")
    }).pipe(Effect.provide(TestCommandRunner.layer({
      spawnRules: [{ match: "oom.sh", reply: { signal: "SIGKILL" } }, { match: "missing", reply: { fail: "notFound" } }]
    }))))
})
