/**
 * The Node CommandRunner against real processes. `it.live`: under `it.effect` the TestClock would
 * keep every timeout from firing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll } from "vitest"
import { CommandRunner, layerNode } from "../src/CommandRunner.js"
import { removeDir } from "./support/TempDirs.js"

const tmpRoot = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cluster-api-runner-"))
afterAll(() => removeDir(tmpRoot))
let counter = 0
const tmpDir = (): string => NodeFs.mkdtempSync(NodePath.join(tmpRoot, `t${counter++}-`))

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A killed orphan stays a zombie until init reaps it, which can take a moment in containers. */
const waitDead = (pid: number, within: Duration.DurationInput = "5 seconds") =>
  Effect.suspend(() => (isAlive(pid) ? Effect.fail("alive" as const) : Effect.void)).pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis") }),
    Effect.timeout(within),
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

const readPid = (file: string) =>
  Effect.suspend(() => {
    const text = NodeFs.existsSync(file) ? NodeFs.readFileSync(file, "utf8").trim() : ""
    return text.length > 0 ? Effect.succeed(Number(text)) : Effect.fail("no pid yet" as const)
  }).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 }))

const elapsed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const result = yield* self
    return [result, Date.now() - start] as const
  })

describe("CommandRunner (Node) run", () => {
  it.live("collects stdout and stderr", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({ argv: ["sh", "-c", "echo out; echo err >&2"] })
      expect(result).toEqual({ argv: ["sh", "-c", "echo out; echo err >&2"], exitCode: 0, stdout: "out\n", stderr: "err\n" })
    }).pipe(Effect.provide(layerNode)))

  it.live("passes arguments without a shell", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({ argv: ["printf", "%s|", "a b", "$HOME", "'q'"] })
      expect(result.stdout).toBe("a b|$HOME|'q'|")
    }).pipe(Effect.provide(layerNode)))

  it.live("feeds stdin to cat", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({ argv: ["cat"], stdin: "#!/bin/sh\necho hi\n" })
      expect(result.stdout).toBe("#!/bin/sh\necho hi\n")
    }).pipe(Effect.provide(layerNode)))

  it.live("without stdin, cat sees EOF at once", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const [result, ms] = yield* elapsed(runner.run({ argv: ["cat"], timeout: "5 seconds" }))
      expect(result.stdout).toBe("")
      expect(ms).toBeLessThan(3000)
    }).pipe(Effect.provide(layerNode)))

  it.live("a child that does not read a large stdin still completes", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({ argv: ["sh", "-c", "echo done"], stdin: "x".repeat(1 << 20), timeout: "10 seconds" })
      expect(result.stdout).toBe("done\n")
    }).pipe(Effect.provide(layerNode)))

  it.live("passes env on top of this process's environment", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({ argv: ["/usr/bin/env"], env: { CLUSTER_API_TEST_VAR: "hello world" } })
      const lines = result.stdout.split("\n")
      expect(lines).toContain("CLUSTER_API_TEST_VAR=hello world")
      expect(lines.some((l) => l.startsWith("PATH="))).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.live("extendEnv: false shows the command only the given env", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const inherited = process.env["PATH"] !== undefined ? "PATH" : Object.keys(process.env)[0]!
      expect(process.env[inherited]).toBeDefined()
      const result = yield* runner.run({ argv: ["/usr/bin/env"], env: { ONLY: "1" }, extendEnv: false })
      expect(result.stdout).toBe("ONLY=1\n")
      expect(result.stdout).not.toContain(`${inherited}=`)
    }).pipe(Effect.provide(layerNode)))

  it.live("runs in cwd", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const result = yield* runner.run({ argv: ["pwd"], cwd: dir })
      expect(NodeFs.realpathSync(result.stdout.trim())).toBe(NodeFs.realpathSync(dir))
    }).pipe(Effect.provide(layerNode)))

  it.live("non-zero exit fails with CommandFailed keeping stdout and stderr", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const error = yield* Effect.flip(runner.run({ argv: ["sh", "-c", "echo partial; echo 'bad thing' >&2; exit 3"] }))
      expect(error._tag).toBe("CommandFailed")
      if (error._tag !== "CommandFailed") return
      expect(error.exitCode).toBe(3)
      expect(error.signal).toBeUndefined()
      expect(error.stdout).toBe("partial\n")
      expect(error.stderr).toBe("bad thing\n")
      expect(error.message).toContain("exited with code 3")
      expect(error.message).toContain("bad thing")
    }).pipe(Effect.provide(layerNode)))

  it.live("a missing program fails with CommandNotFound", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const error = yield* Effect.flip(runner.run({ argv: ["cluster-api-no-such-program", "x"] }))
      expect(error._tag).toBe("CommandNotFound")
      expect(error.argv).toEqual(["cluster-api-no-such-program", "x"])
    }).pipe(Effect.provide(layerNode)))

  it.live("a missing cwd fails with CommandSpawnFailed naming the directory", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const missing = NodePath.join(tmpDir(), "nope")
      const error = yield* Effect.flip(runner.run({ argv: ["pwd"], cwd: missing }))
      expect(error._tag).toBe("CommandSpawnFailed")
      if (error._tag !== "CommandSpawnFailed") return
      expect(error.detail).toContain(`working directory ${missing} does not exist`)
    }).pipe(Effect.provide(layerNode)))

  it.live("a program without execute permission fails with CommandSpawnFailed", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const script = NodePath.join(tmpDir(), "script.sh")
      NodeFs.writeFileSync(script, "#!/bin/sh\necho hi\n", { mode: 0o644 })
      const error = yield* Effect.flip(runner.run({ argv: [script] }))
      expect(error._tag).toBe("CommandSpawnFailed")
      if (error._tag !== "CommandSpawnFailed") return
      expect(error.detail).toContain("permission denied")
    }).pipe(Effect.provide(layerNode)))

  it.live("death by signal fails with CommandFailed and the signal", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const error = yield* Effect.flip(runner.run({ argv: ["sh", "-c", "echo before; kill -9 $$"] }))
      expect(error._tag).toBe("CommandFailed")
      if (error._tag !== "CommandFailed") return
      expect(error.signal).toBe("SIGKILL")
      expect(error.exitCode).toBeUndefined()
      expect(error.stdout).toBe("before\n")
    }).pipe(Effect.provide(layerNode)))

  it.live("1 MiB on stderr does not hang", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const result = yield* runner.run({
        argv: ["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' e >&2; echo ok"],
        timeout: "20 seconds"
      })
      expect(result.stderr.length).toBe(1048576)
      expect(result.stdout).toBe("ok\n")
    }).pipe(Effect.provide(layerNode)))

  it.live("timeout kills the whole process group", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const [error, ms] = yield* elapsed(
        Effect.flip(runner.run({ argv: ["sh", "-c", "sleep 30 & echo $! > pidfile; echo started; sleep 30"], cwd: dir, timeout: "300 millis" }))
      )
      expect(error._tag).toBe("CommandTimeout")
      if (error._tag !== "CommandTimeout") return
      expect(error.timeoutMillis).toBe(300)
      expect(error.stdout).toBe("started\n")
      expect(ms).toBeLessThan(4000)
      const pid = yield* readPid(NodePath.join(dir, "pidfile"))
      expect(yield* waitDead(pid)).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.live("a child ignoring SIGTERM is killed after killGrace", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const [error, ms] = yield* elapsed(
        Effect.flip(runner.run({ argv: ["sh", "-c", "trap '' TERM; sleep 30"], timeout: "200 millis", killGrace: "300 millis" }))
      )
      expect(error._tag).toBe("CommandTimeout")
      expect(ms).toBeGreaterThanOrEqual(450)
      expect(ms).toBeLessThan(3000)
    }).pipe(Effect.provide(layerNode)))
})

describe("CommandRunner (Node) spawn", () => {
  it.live("writes stdout and stderr to their files and reports the exit code", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const out = NodePath.join(dir, "out.log")
      const err = NodePath.join(dir, "err.log")
      NodeFs.writeFileSync(out, "old content that must be truncated\n")
      const proc = yield* runner.spawn({
        argv: ["sh", "-c", "echo to-out; echo to-err >&2; echo $JOB_VAR; pwd; exit 7"],
        env: { JOB_VAR: "v1" },
        cwd: dir,
        stdoutFile: out,
        stderrFile: err
      })
      expect(proc.pid).toBeGreaterThan(0)
      expect(yield* proc.exit).toEqual({ exitCode: 7 })
      expect(yield* proc.exit).toEqual({ exitCode: 7 })
      const lines = NodeFs.readFileSync(out, "utf8").split("\n")
      expect(lines.slice(0, 2)).toEqual(["to-out", "v1"])
      expect(NodeFs.realpathSync(lines[2]!)).toBe(NodeFs.realpathSync(dir))
      expect(NodeFs.readFileSync(err, "utf8")).toBe("to-err\n")
    }).pipe(Effect.provide(layerNode)))

  it.live("stdout and stderr may share one file", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const log = NodePath.join(tmpDir(), "job.log")
      const proc = yield* runner.spawn({
        argv: ["sh", "-c", "echo one; echo two >&2; echo three"],
        stdoutFile: log,
        stderrFile: log
      })
      expect(yield* proc.exit).toEqual({ exitCode: 0 })
      expect(NodeFs.readFileSync(log, "utf8")).toBe("one\ntwo\nthree\n")
    }).pipe(Effect.provide(layerNode)))

  it.live("reports death by signal", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const proc = yield* runner.spawn({
        argv: ["sh", "-c", "kill -KILL $$"],
        stdoutFile: NodePath.join(dir, "o"),
        stderrFile: NodePath.join(dir, "e")
      })
      expect(yield* proc.exit).toEqual({ signal: "SIGKILL" })
    }).pipe(Effect.provide(layerNode)))

  it.live("kill signals the process group", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const proc = yield* runner.spawn({
        argv: ["sleep", "30"],
        stdoutFile: NodePath.join(dir, "o"),
        stderrFile: NodePath.join(dir, "e")
      })
      yield* proc.kill("SIGINT")
      expect(yield* proc.exit.pipe(Effect.timeout("5 seconds"))).toEqual({ signal: "SIGINT" })
      yield* proc.kill() // after the end: no error
    }).pipe(Effect.provide(layerNode)))

  it.live("terminate kills the whole tree, grandchildren included", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const proc = yield* runner.spawn({
        argv: ["sh", "-c", "sh -c 'sleep 30 & echo $! > grandchild.pid; wait' & wait"],
        cwd: dir,
        stdoutFile: NodePath.join(dir, "o"),
        stderrFile: NodePath.join(dir, "e")
      })
      const grandchild = yield* readPid(NodePath.join(dir, "grandchild.pid"))
      expect(isAlive(grandchild)).toBe(true)
      const [exit, ms] = yield* elapsed(proc.terminate("5 seconds"))
      expect(exit).toEqual({ signal: "SIGTERM" })
      expect(ms).toBeLessThan(4000)
      expect(yield* waitDead(grandchild)).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.live("terminate escalates to SIGKILL after the grace period", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const proc = yield* runner.spawn({
        argv: ["sh", "-c", "trap '' TERM; echo ready; sleep 30"],
        stdoutFile: NodePath.join(dir, "o"),
        stderrFile: NodePath.join(dir, "e")
      })
      // wait until the trap is installed
      yield* Effect.suspend(() =>
        NodeFs.readFileSync(NodePath.join(dir, "o"), "utf8").includes("ready") ? Effect.void : Effect.fail("not yet")
      ).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 }))
      const [exit, ms] = yield* elapsed(proc.terminate("300 millis"))
      expect(exit).toEqual({ signal: "SIGKILL" })
      expect(ms).toBeGreaterThanOrEqual(250)
      expect(ms).toBeLessThan(3000)
    }).pipe(Effect.provide(layerNode)))

  it.live("a missing program fails with CommandNotFound", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const error = yield* Effect.flip(runner.spawn({
        argv: ["cluster-api-no-such-program"],
        stdoutFile: NodePath.join(dir, "o"),
        stderrFile: NodePath.join(dir, "e")
      }))
      expect(error._tag).toBe("CommandNotFound")
    }).pipe(Effect.provide(layerNode)))

  it.live("a missing cwd fails with CommandSpawnFailed, not CommandNotFound", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const error = yield* Effect.flip(runner.spawn({
        argv: ["true"],
        cwd: NodePath.join(dir, "missing"),
        stdoutFile: NodePath.join(dir, "o"),
        stderrFile: NodePath.join(dir, "e")
      }))
      expect(error._tag).toBe("CommandSpawnFailed")
      if (error._tag !== "CommandSpawnFailed") return
      expect(error.detail).toContain("does not exist")
    }).pipe(Effect.provide(layerNode)))

  it.live("an unwritable log file fails with CommandSpawnFailed naming it", () =>
    Effect.gen(function*() {
      const runner = yield* CommandRunner
      const dir = tmpDir()
      const bad = NodePath.join(dir, "no-such-dir", "out.log")
      const error = yield* Effect.flip(runner.spawn({
        argv: ["true"],
        stdoutFile: bad,
        stderrFile: NodePath.join(dir, "e")
      }))
      expect(error._tag).toBe("CommandSpawnFailed")
      if (error._tag !== "CommandSpawnFailed") return
      expect(error.detail).toContain(bad)
    }).pipe(Effect.provide(layerNode)))
})
