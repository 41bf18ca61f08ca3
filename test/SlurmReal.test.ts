/**
 * The Slurm executor against a real Slurm (scripts/slurm-setup.sh installs and starts one on this
 * host: munge, MariaDB, slurmdbd, slurmctld, slurmd). Real jobs, real squeue/sacct/scancel.
 *
 * In CI (CI=true) these tests FAIL when Slurm is not up. Elsewhere they are left out with a
 * message saying how to start Slurm.
 *
 * The jobs of the first group run side by side (the test cluster has 8 slots) so the slow ones
 * (the time limit is a minute) overlap; the controller outage runs alone afterwards, since it stops
 * the controller every other test needs.
 *
 * The command line's tests here run it in this process; its signal test, which sends a real
 * signal to the built bin, is in CliSignals.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Chunk, Duration, Effect, Either, Fiber, ManagedRuntime, Option, Queue, Ref, Stream } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as ClusterApi from "../src/ClusterApi.js"
import type { JobEvent, JobSpec, JobStatus } from "../src/Domain.js"
import { describeReason, isTerminalStatus } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { builtin } from "../src/schedulers/builtin.js"
import type { JobChange } from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import * as Pipeline from "../src/Pipeline.js"
import { runCli } from "./support/CliInProcess.js"
import { until } from "./support/Until.js"
import { endSlurmRuntime, failUnlessSlurmIsUp, inCI, slurmIsUp, slurmUpOrWarn } from "./support/RealSlurm.js"
import { submitAndWait as submitInScratch, waitForStatus } from "./support/RealJobs.js"
import { killedDuringSubmit } from "./support/KilledSubmit.js"
import { crashAndRestart } from "./support/Restart.js"
import { removeDir } from "./support/TempDirs.js"
import { logPath } from "../src/internal/queries/files.js"

const repoRoot = fileURLToPath(new URL("..", import.meta.url))
const setupScript = path.join(repoRoot, "scripts", "slurm-setup.sh")

const slurmUp = slurmUpOrWarn("The real-Slurm tests are left out")

const host = os.hostname()
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "capi-real-slurm-"))
// A prefix of this run's own, so reconnect finds only this run's jobs.
const prefix = `capit${process.pid}`

const runtime = ManagedRuntime.make(
  ClusterApi.layer({
    configPath: path.join(scratch, "none.yaml"),
    overrides: {
      executor: "slurm",
      poll_interval: 1,
      log_directory: path.join(scratch, "logs"),
      job_name_prefix: prefix,
      command_timeout: 20
    }
  })
)
type Services = ClusterApi.Services
const run = <A, E>(effect: Effect.Effect<A, E, Services | Scope.Scope>): Promise<A> =>
  runtime.runPromise(Effect.scoped(effect))

fs.writeFileSync(path.join(scratch, "none.yaml"), "# all options come from the test's overrides\n")

const submitAndWait = (spec: JobSpec, timeout: Duration.DurationInput = "3 minutes") => submitInScratch(scratch, spec, timeout)

const slurmctl = (command: "stop-controller" | "start-controller") => {
  const r = spawnSync("bash", [setupScript, command], { encoding: "utf8", timeout: 120_000 })
  if (r.status !== 0) throw new Error(`${command} failed:\n${r.stdout}\n${r.stderr}`)
}

/** How far along a status is: Pending, then Running, then ended. */
const progress = (status: JobStatus): number => status === "Pending" ? 0 : status === "Running" ? 1 : isTerminalStatus(status) ? 2 : -1

/** Every step back a written change made (an element, or the job, moving back to an earlier status). */
const backwardSteps = (changes: ReadonlyArray<JobChange>): ReadonlyArray<string> =>
  changes.flatMap(({ after, before }) => {
    const steps: Array<string> = []
    if (before !== undefined && progress(after.status) < progress(before.status)) {
      steps.push(`job ${after.jobId}: ${before.status} -> ${after.status}`)
    }
    for (const was of before?.elements ?? []) {
      const now = after.elements?.find((e) => e.index === was.index)
      if (now === undefined || progress(now.status) < progress(was.status)) {
        steps.push(`element ${was.index}: ${was.status} -> ${now?.status ?? "gone"}`)
      }
    }
    return steps
  })

/** The command line, run in this process in `cwd` (its job store there too). */
const cli = (args: ReadonlyArray<string>, cwd: string) => runCli(args, { cwd })

describe.runIf(slurmUp || inCI)("real Slurm", () => {
  beforeAll(failUnlessSlurmIsUp)

  afterAll(async () => {
    await endSlurmRuntime(runtime)
    removeDir(scratch)
  })

  describe.concurrent("jobs", { timeout: 240_000 }, () => {
    it("a job that succeeds, with its host, peak memory and times", async () => {
      const final = await run(submitAndWait({
        name: "ok",
        command: `python3 -c "x = b'x' * (40 * 1024 * 1024); import time; time.sleep(3)"; echo done-ok`,
        resources: { memory: "500M" }
      }))
      expect(final.status).toBe("Done")
      expect(final.exitCode).toBe(0)
      expect(final.execHost).toBe(host)
      expect(final.maxMem).toBeGreaterThan(30 * 1024 * 1024)
      expect(final.startTime!.getTime()).toBeGreaterThanOrEqual(final.submitTime!.getTime() - 1000)
      expect(final.finishTime!.getTime() - final.startTime!.getTime()).toBeGreaterThanOrEqual(2000)
      expect(fs.readFileSync(final.stdoutPath!, "utf8")).toContain("done-ok")
    })

    it("a job that exits non-zero", async () => {
      const final = await run(submitAndWait({ name: "exit3", command: "echo failing >&2; exit 3" }))
      expect(final.status).toBe("Failed")
      expect(final.exitCode).toBe(3)
      expect(final.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
      expect(fs.readFileSync(final.stderrPath!, "utf8")).toContain("failing")
    })

    it("inheritEnv false (--export=NONE) keeps this process's variables out; the job's own env and a login shell work", async () => {
      process.env.CAPI_LEAK_CHECK = "leaked"
      try {
        const final = await run(submitAndWait({
          name: "clean-env",
          command: `echo "leak=\${CAPI_LEAK_CHECK:-none} own=$OWN"; shopt -q login_shell && echo login`,
          env: { OWN: "mine" },
          inheritEnv: false,
          loginShell: true
        }))
        expect(final.status).toBe("Done")
        expect(fs.readFileSync(final.stdoutPath!, "utf8")).toBe("leak=none own=mine\nlogin\n")
      } finally {
        delete process.env.CAPI_LEAK_CHECK
      }
    })

    it("an array whose element 2 fails", async () => {
      const final = await run(submitAndWait({
        name: "arr",
        command: `echo element $ARRAY_INDEX; sleep 1; test "$ARRAY_INDEX" != 2`,
        array: { start: 1, end: 4, maxConcurrent: 2 }
      }))
      expect(final.status).toBe("Failed")
      expect(final.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
      expect(final.elements?.map((e) => [e.index, e.status])).toEqual([
        [1, "Done"],
        [2, "Failed"],
        [3, "Done"],
        [4, "Done"]
      ])
      expect(fs.readFileSync(final.stdoutPath!.replace("%a", "3"), "utf8")).toBe("element 3\n")
    })

    it("an array 1-4%1 watched to its end: no element ever moves back (Running to Pending); each element's log is its own file", async () => {
      const { changes, final } = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const store = yield* JobStore
        const writes = yield* store.subscribe
        // One element at a time: sacct keeps the array's row of pending elements (`ID_[2-4%1]`)
        // as it was while elements 2 and 3 run and end, until the last one starts.
        const job = yield* executor.submit({
          name: "order",
          command: `echo element $ARRAY_INDEX; sleep 3`,
          array: { start: 1, end: 4, maxConcurrent: 1 },
          resources: { workDir: scratch }
        })
        const final = yield* monitor.await(job, { timeout: "3 minutes" })
        const changes = (yield* Queue.takeAll(writes)).pipe(Chunk.toReadonlyArray).filter((c) => c.after.jobId === job.jobId)
        return { changes, final }
      }))
      expect(backwardSteps(changes)).toEqual([])
      expect(final.status).toBe("Done")
      expect(final.elements?.map((e) => e.status)).toEqual(["Done", "Done", "Done", "Done"])
      for (const index of [1, 2, 3, 4]) {
        const file = Either.getOrThrow(logPath(builtin, final, "stdout", index))
        expect(path.basename(file)).toBe(`stdout.${final.jobId}_${index}.log`)
        expect(fs.readFileSync(file, "utf8")).toBe(`element ${index}\n`)
      }
    })

    it("a dependency chain: afterok runs after its parent; afterok on a failed job ends Failed", async () => {
      const [after, never] = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const first = yield* executor.submit({ name: "first", command: "sleep 2", resources: { workDir: scratch } })
        const bad = yield* executor.submit({ name: "bad", command: "exit 1", resources: { workDir: scratch } })
        const second = yield* executor.submit({
          name: "second",
          command: "true",
          resources: { workDir: scratch },
          dependsOn: [{ type: "afterok", jobId: first.jobId }, { type: "afterany", jobId: bad.jobId }]
        })
        const blocked = yield* executor.submit({
          name: "blocked",
          command: "echo should-not-run",
          resources: { workDir: scratch },
          dependsOn: [{ type: "afterok", jobId: bad.jobId }]
        })
        const finals = yield* monitor.awaitAll([first, second, blocked], { timeout: "3 minutes" })
        expect(finals[1]!.startTime!.getTime()).toBeGreaterThanOrEqual(finals[0]!.finishTime!.getTime())
        return [finals[1]!, finals[2]!] as const
      }))
      expect(after.status).toBe("Done")
      expect(never.status).toBe("Failed")
      expect(never.reason?._tag).toBe("DependencyFailed")
      expect(never.startTime).toBeUndefined()
    })

    it("a pipeline: a step that fails once and succeeds on its retry, a failing step, and the dependents of each", async () => {
      const work = fs.mkdtempSync(path.join(scratch, "pipeline-"))
      const result = await run(Pipeline.run({
        name: "real",
        steps: [
          { name: "prep", command: "echo data > in.txt", resources: { workDir: work } },
          {
            name: "train",
            command: "if [ ! -f tried ]; then touch tried; echo first-attempt-fails >&2; exit 1; fi; cat in.txt > model.txt",
            resources: { workDir: work },
            dependsOn: ["prep"],
            retry: { maxRetries: 1 }
          },
          { name: "evaluate", command: "cat model.txt", resources: { workDir: work }, dependsOn: ["train"] },
          { name: "check", command: "exit 3", resources: { workDir: work }, dependsOn: ["prep"] },
          { name: "publish", command: "touch published", resources: { workDir: work }, dependsOn: ["check"] }
        ]
      }))
      const step = Object.fromEntries(result.steps.map((s) => [s.step, s]))
      expect(result.ok).toBe(false)
      expect(step["prep"]!.status).toBe("Done")
      expect([step["train"]!.status, step["train"]!.record?.attempt]).toEqual(["Done", 2])
      expect(step["evaluate"]!.status).toBe("Done")
      expect(fs.readFileSync(step["evaluate"]!.record!.stdoutPath!, "utf8")).toBe("data\n")
      // evaluate waited for train's last attempt: submitted after the retry ended
      expect(step["evaluate"]!.record!.submitTime!.getTime()).toBeGreaterThanOrEqual(
        step["train"]!.record!.finishTime!.getTime()
      )
      expect(step["check"]!.summary).toBe("Failed: exit code 3")
      // publish was handed to Slurm with afterok on check, and Slurm never ran it
      const publish = step["publish"]!
      expect(publish.record?.dependsOn).toEqual([{ type: "afterok", jobId: step["check"]!.record!.jobId }])
      expect(publish.summary).toBe(`Failed: dependency failed: check (job ${step["check"]!.record!.jobId})`)
      expect(fs.existsSync(path.join(work, "published"))).toBe(false)
    })

    it("out of memory, retried with twice the memory, succeeds", async () => {
      const final = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({
          name: "grow",
          command: `python3 -c "x = b'x' * (150 * 1024 * 1024); import time; time.sleep(5)"`,
          resources: { memory: "100M", workDir: scratch },
          retry: { maxRetries: 1, on: ["OutOfMemory"], memoryFactor: 4 }
        })
        const final = yield* monitor.await(job, { timeout: "3 minutes" })
        const first = yield* Effect.flatMap(JobStore, (store) => store.get(job))
        return { final, first: Option.getOrThrow(first) }
      }))
      expect(final.first.reason, JSON.stringify(final.first)).toEqual({ _tag: "OutOfMemory" })
      expect(final.final.status).toBe("Done")
      expect(final.final.attempt).toBe(2)
      expect(final.final.spec?.resources?.memory).toBe("400 MB")
    })

    it("cancel ends a running job Killed, and Slurm agrees", async () => {
      const final = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "long", command: "sleep 300", resources: { workDir: scratch } })
        yield* waitForStatus(job, "Running", "60 seconds")
        yield* executor.cancel(job.jobId)
        const final = yield* monitor.await(job, { timeout: "30 seconds" })
        // Cancelling it again: it already ended, which is not an error.
        yield* executor.cancel(job.jobId)
        return final
      }))
      expect(final.status).toBe("Killed")
      expect(final.reason?._tag).toBe("Cancelled")
      // Slurm's accounting database hears of the cancel a moment after the controller does.
      let state = ""
      for (let i = 0; i < 60 && !/CANCELLED/.test(state); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 500))
        state = spawnSync("sacct", ["-X", "-n", "-P", "-j", final.jobId, "-o", "State"], { encoding: "utf8" }).stdout
      }
      expect(state).toMatch(/CANCELLED/)
    })

    it("a job over its memory is out of memory", async () => {
      const final = await run(submitAndWait({
        name: "oom",
        command: `python3 -c "x = b'x' * (400 * 1024 * 1024); import time; time.sleep(30)"`,
        resources: { memory: "100M" }
      }))
      expect(final.status).toBe("Failed")
      expect(final.reason, JSON.stringify(final)).toEqual({ _tag: "OutOfMemory" })
      expect(final.maxMem).toBeGreaterThan(100 * 1024 * 1024)
    })

    it("a job over its time limit times out", async () => {
      const final = await run(submitAndWait({ name: "slow", command: "sleep 600", resources: { walltime: "1" } }))
      expect(final.status).toBe("Failed")
      expect(final.reason).toEqual({ _tag: "Timeout" })
      const ran = final.finishTime!.getTime() - final.startTime!.getTime()
      expect(ran).toBeGreaterThanOrEqual(60_000)
    })

    it("reconnect finds this run's queued jobs again", async () => {
      const found = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const job = yield* executor.submit({ name: "found", command: "sleep 20", resources: { workDir: scratch } })
        // Forget it, as a restarted program would have, then find it by its name prefix.
        yield* Effect.flatMap(JobStore, (s) => s.remove([job]))
        const found = yield* executor.reconnect
        yield* executor.cancel(job.jobId)
        return found.map((r) => r.jobId).includes(job.jobId)
      }))
      expect(found).toBe(true)
    })

    it("a work directory, log_directory or current directory holding a line break and a command is refused; no PWNED appears", async () => {
      const dir = fs.mkdtempSync(path.join(scratch, "inject-"))
      const evil = "x\ntouch PWNED\n#"
      const refused = await run(Effect.flatMap(Executor, (e) =>
        Effect.flip(e.submit({ name: "inj", command: "true", resources: { workDir: path.join(dir, evil) } }))))
      expect(refused).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
      const badLogs = path.join(dir, "bad-logs.yaml")
      fs.writeFileSync(badLogs, `executor: slurm\npoll_interval: 1\nlog_directory: ${JSON.stringify(path.join(dir, evil))}\n`)
      const goodLogs = path.join(dir, "good-logs.yaml")
      fs.writeFileSync(goodLogs, `executor: slurm\npoll_interval: 1\nlog_directory: ${JSON.stringify(path.join(dir, "logs"))}\n`)
      const evilCwd = path.join(dir, evil)
      fs.mkdirSync(evilCwd)
      const [viaLogs, viaCwd] = await Promise.all([
        cli(["submit", "--config", badLogs, "--wait", "--name", "inj-logs", "true"], dir),
        cli(["submit", "--config", goodLogs, "--wait", "--name", "inj-cwd", "true"], evilCwd)
      ])
      expect(viaLogs.code).not.toBe(0)
      expect(viaLogs.stdout + viaLogs.stderr).toMatch(/log_directory: holds a control character/)
      expect(viaCwd.code).not.toBe(0)
      expect(viaCwd.stdout + viaCwd.stderr).toMatch(/working directory .*holds a control character/)
      const pwned = (d: string): Array<string> =>
        fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? pwned(path.join(d, e.name)) : e.name === "PWNED" ? [path.join(d, e.name)] : []
        )
      expect(pwned(dir)).toEqual([])
    })

    it("a work directory holding % (Slurm's filename patterns) runs there and logs where the record says", async () => {
      const work = path.join(scratch, "pct %x %j %a 100%")
      const final = await run(submitAndWait({ name: "pct", command: "echo hi-pct; pwd", resources: { workDir: work } }))
      expect(final.status).toBe("Done")
      expect(final.workDir).toBe(work)
      const stdout = Either.getOrThrow(logPath(builtin, final, "stdout"))
      expect(stdout).toBe(path.join(work, `stdout.${final.jobId}.log`))
      expect(fs.readFileSync(stdout, "utf8")).toBe(`hi-pct\n${work}\n`)
    })

    it("a job whose stdout file slurmd cannot open ends Failed, saying so (not 'killed by signal')", async () => {
      const final = await run(submitAndWait({
        name: "noout",
        command: "true",
        resources: { stdoutPath: path.join(scratch, "no-such-dir", "out.log") }
      }))
      expect(final.status).toBe("Failed")
      expect(final.reason?._tag).toBe("SchedulerFailure")
      expect(describeReason(final.reason!)).toContain("slurmd could not set up its output")
    })

    it("the CLI on an array: submit --wait, show and logs give each element's log path with its index, never Slurm's %a", async () => {
      const dir = fs.mkdtempSync(path.join(scratch, "cli-array-"))
      const config = path.join(dir, "cluster-api.yaml")
      fs.writeFileSync(config, `executor: slurm\npoll_interval: 1\nlog_directory: ${dir}/logs\n`)
      const waited = await cli(
        ["submit", "--config", config, "--wait", "--name", "cli-arr", "--array", "1-2", "echo el $ARRAY_INDEX; test $ARRAY_INDEX = 1"],
        dir
      )
      expect(waited.code, waited.stderr).toBe(1)
      const id = /Submitted job (\d+) /.exec(waited.stdout)![1]!
      expect(waited.stdout).toContain(`stdout: ${path.join(dir, "logs", `stdout.${id}_{index}.log`)}`)
      const [show, logs] = await Promise.all([
        cli(["show", "--config", config, id], dir),
        cli(["logs", "--config", config, id, "--index", "2"], dir)
      ])
      expect(show.code, show.stderr).toBe(0)
      expect(show.stdout).toMatch(new RegExp(`^Stdout:\\s+\\S+/stdout\\.${id}_\\{index\\}\\.log$`, "m"))
      // The failed element's log, named with its index.
      expect(show.stdout).toContain(`last lines of stdout (${path.join(dir, "logs", `stdout.${id}_2.log`)}):`)
      expect(waited.stdout + show.stdout).not.toContain("%a")
      expect([logs.code, logs.stdout]).toEqual([0, "el 2\n"])
    })

    it("the CLI: submit --wait round trip, exit code 0 for Done and 1 for Failed", async () => {
      const dir = fs.mkdtempSync(path.join(scratch, "cli-"))
      const config = path.join(dir, "cluster-api.yaml")
      fs.writeFileSync(config, `executor: slurm\npoll_interval: 1\nlog_directory: ${dir}/logs\n`)
      const [ok, bad] = await Promise.all([
        cli(["submit", "--config", config, "--wait", "--name", "cli-ok", "--", "sh", "-c", "echo round-trip"], dir),
        cli(["submit", "--config", config, "--wait", "--name", "cli-bad", "exit 5"], dir)
      ])
      expect(ok.code, ok.stderr).toBe(0)
      const id = /Submitted job (\d+) /.exec(ok.stdout)?.[1]
      expect(id).toBeDefined()
      expect(ok.stdout).toMatch(new RegExp(`${id}\\s+capi-cli-ok\\s+Done`))
      expect(fs.readFileSync(path.join(dir, "logs", `stdout.${id}.log`), "utf8")).toBe("round-trip\n")
      expect(bad.code, bad.stderr).toBe(1)
      expect(bad.stdout).toContain("exit code 5")
    })

    it("the CLI as an sbatch user types it: --mem 50M under a 400 MB allocation ends OutOfMemory; --dependency afterok:ID holds a job until ID is Done", async () => {
      const dir = fs.mkdtempSync(path.join(scratch, "cli-habits-"))
      const config = path.join(dir, "cluster-api.yaml")
      fs.writeFileSync(config, `executor: slurm\npoll_interval: 1\nlog_directory: ${dir}/logs\n`)
      const submit = (args: ReadonlyArray<string>) => cli(["submit", "--config", config, ...args], dir)
      const oom = await submit([
        "--wait", "--json", "--mem", "50M", "--", "python3", "-c", "import time; b = bytearray(400 * 1024 * 1024); time.sleep(5)"
      ])
      expect(oom.code, oom.stderr).toBe(1)
      expect(JSON.parse(oom.stdout)).toMatchObject({ status: "Failed", reason: { _tag: "OutOfMemory" } })

      // The first job runs until the test lets it end, so the second is seen held while it runs.
      const first = await submit(["--parsable", "--", "sh", "-c", "while [ ! -f go ]; do sleep 0.2; done; date +%s%N > first.end"])
      expect(first.code, first.stderr).toBe(0)
      const firstId = first.stdout.trim()
      const second = await submit(["--parsable", "--dependency", `afterok:${firstId}`, "--", "sh", "-c", "date +%s%N > second.start"])
      expect(second.code, second.stderr).toBe(0)
      const secondId = second.stdout.trim()
      expect(secondId).toMatch(/^\d+$/)
      try {
        // Slurm gives the reason when it first looks at the job; the first job cannot end meanwhile.
        const queued = () => spawnSync("squeue", ["-h", "-j", secondId, "-o", "%T %r"], { encoding: "utf8" }).stdout.trim()
        await until("the second job's pending reason", () => queued() !== "PENDING None", 30_000)
        expect(queued()).toBe("PENDING Dependency")
        expect(fs.existsSync(path.join(dir, "second.start"))).toBe(false)
      } finally {
        fs.writeFileSync(path.join(dir, "go"), "")
      }
      const waited = await cli(["wait", "--config", config, "--json", secondId], dir)
      expect(waited.code, waited.stderr).toBe(0)
      expect(Number(fs.readFileSync(path.join(dir, "second.start"), "utf8"))).toBeGreaterThan(
        Number(fs.readFileSync(path.join(dir, "first.end"), "utf8"))
      )
    })
  })

  describe("restart", () => {
    it("a watching program killed with SIGKILL: the next adopts its Slurm jobs, reads how each ended, and delivers each end once", async () => {
      await crashAndRestart({ executor: "slurm", job_name_prefix: `capirs${process.pid}`, poll_interval: 1, scale: 3 })
    }, 240_000)
  })

  describe("controller outage", () => {
    it("slurmctld down for 30 s: failed polls are logged, no job changes, every true end is read afterwards", async () => {
      const result = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const store = yield* JobStore
        const events = yield* monitor.subscribe
        const seen = yield* Ref.make<Array<JobEvent>>([])
        const collector = yield* Stream.runForEach(events, (e) => Ref.update(seen, (all) => [...all, e])).pipe(
          Effect.fork
        )
        const spec = (name: string, command: string): JobSpec => ({ name, command, resources: { workDir: scratch } })
        const jobs = [
          yield* executor.submit(spec("during-ok", "sleep 8")),
          yield* executor.submit(spec("during-bad", "sleep 8; exit 4")),
          yield* executor.submit(spec("after-ok", "sleep 45"))
        ]
        for (const j of jobs) yield* waitForStatus(j, "Running", "60 seconds")
        const before = yield* Ref.get(seen).pipe(Effect.map((all) => all.length))
        yield* Effect.sync(() => slurmctl("stop-controller"))
        yield* Effect.sleep("30 seconds")
        const during = (yield* Ref.get(seen)).slice(before)
        const statuses = yield* Effect.forEach(jobs, (j) => store.get(j).pipe(Effect.map(Option.map((r) => r.status))))
        yield* Effect.sync(() => slurmctl("start-controller"))
        const finals = yield* monitor.awaitAll(jobs, { timeout: "2 minutes" })
        yield* Fiber.interrupt(collector)
        return { during, statuses, finals }
      })).finally(() => {
        // Whatever happened, leave the controller running for the rest of the suite.
        if (!slurmIsUp()) slurmctl("start-controller")
      })
      expect(result.during.filter((e) => e._tag === "PollFailed").length).toBeGreaterThan(0)
      expect(result.during.filter((e) => e._tag === "JobStatusChanged")).toEqual([])
      expect(result.statuses).toEqual([Option.some("Running"), Option.some("Running"), Option.some("Running")])
      expect(result.finals.map((f) => f.status)).toEqual(["Done", "Failed", "Done"])
      expect(result.finals[1]!.exitCode).toBe(4)
    }, 240_000)
  })
})

describe.runIf(slurmUp || inCI)("real Slurm, a program killed while sbatch runs", () => {
  beforeAll(failUnlessSlurmIsUp)

  it("SIGKILL during sbatch: the job sbatch made carries the submission's token, and the next program adopts it and sees it end", async () => {
    await killedDuringSubmit({
      command: "sbatch",
      config: { executor: "slurm", job_name_prefix: `capiks${process.pid}`, poll_interval: 1 },
      parseId: (out) => /^(\d+)/m.exec(out)?.[1],
      timeoutMs: 120_000
    })
  }, 300_000)
})
