/**
 * The SGE executor against a real Grid Engine (scripts/sge-setup.sh installs and starts Son of
 * Grid Engine on this host: sge_qmaster, sge_execd, queue all.q). Real jobs, real qsub, qstat,
 * qacct, qdel and qrls.
 *
 * In CI (CI=true) these tests FAIL when SGE is not up. Elsewhere they are left out with a message
 * saying how to start it.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Duration, Effect, ManagedRuntime, Option, Schedule } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import type { JobSpec } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import { howToStartSge, sgeIsUp } from "./support/RealSge.js"
import { submitAndWait as submitInScratch, waitForStatus } from "./support/RealJobs.js"
import { crashAndRestart } from "./support/Restart.js"
import { removeDir } from "./support/TempDirs.js"

const inCI = ["true", "1"].includes((process.env.CI ?? "").toLowerCase())
const sgeUp = sgeIsUp()
if (!sgeUp && !inCI) console.warn(`The real-SGE tests are left out: SGE is not running here; ${howToStartSge}`)

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "capi-real-sge-"))
// A prefix of this run's own, so reconnect and cancel by name find only this run's jobs.
const prefix = `capig${process.pid}`

const runtime = ManagedRuntime.make(
  ClusterApi.layer({
    configPath: path.join(scratch, "none.yaml"),
    overrides: {
      executor: "sge",
      poll_interval: 1,
      log_directory: path.join(scratch, "logs"),
      job_name_prefix: prefix,
      command_timeout: 20,
      state_path: ":memory:"
    }
  })
)
fs.writeFileSync(path.join(scratch, "none.yaml"), "# all options come from the test's overrides\n")
const run = <A, E>(effect: Effect.Effect<A, E, ClusterApi.Services | Scope.Scope>): Promise<A> =>
  runtime.runPromise(Effect.scoped(effect))

const submitAndWait = (spec: JobSpec, timeout: Duration.DurationInput = "2 minutes") => submitInScratch(scratch, spec, timeout)

/** What SGE's own accounting says of a job, key by key. */
const qacct = (jobId: string): Map<string, string> => {
  const r = spawnSync("qacct", ["-j", jobId], { encoding: "utf8", timeout: 20_000 })
  return new Map(r.stdout.split("\n").flatMap((l) => {
    const m = /^(\w+)\s+(.*?)\s*$/.exec(l)
    return m === null ? [] : [[m[1]!, m[2]!] as const]
  }))
}

describe.runIf(sgeUp || inCI)("real SGE", () => {
  beforeAll(() => {
    if (!sgeIsUp()) throw new Error(`CI needs a running SGE and none answers qstat/qhost; ${howToStartSge}`)
  })

  afterAll(async () => {
    await runtime.runPromise(Effect.flatMap(Executor, (e) => e.cancelAll())).catch(() => undefined)
    await runtime.dispose()
    removeDir(scratch)
  })

  describe.concurrent("jobs", { timeout: 180_000 }, () => {
    it("a job that succeeds, with qacct's host, peak memory and times, its output in its log", async () => {
      const final = await run(submitAndWait({
        name: "ok",
        command: `python3 -c "x = b'x' * (40 * 1024 * 1024); import time; time.sleep(2)"; echo done-ok`,
        resources: { memory: "1G", cpus: 2 }
      }))
      expect(final.status).toBe("Done")
      expect(final.exitCode).toBe(0)
      expect(final.execHost).toBe(qacct(final.jobId).get("hostname"))
      expect(final.maxMem).toBeGreaterThan(30 * 1024 * 1024)
      expect(final.startTime!.getTime()).toBeLessThanOrEqual(final.finishTime!.getTime())
      expect(fs.readFileSync(final.stdoutPath!, "utf8")).toBe("done-ok\n")
    })

    it("a line break and a command in a work directory is refused, and so are $ (qsub expands $USER) and quotes (its #$ lines drop them); one of spaces, ; and backticks runs there", async () => {
      const dir = fs.mkdtempSync(path.join(scratch, "paths-"))
      const submit = (workDir: string) =>
        run(Effect.flatMap(Executor, (e) => Effect.flip(e.submit({ name: "p", command: "pwd", resources: { workDir } }))))
      expect(await submit(path.join(dir, "x\ntouch PWNED\n#"))).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
      const dollar = await submit(path.join(dir, "a$USERb"))
      expect(dollar).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
      expect(dollar.message).toContain("SGE expands in -wd")
      const quoted = await submit(path.join(dir, "w 'q'"))
      expect(quoted).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
      const work = path.join(dir, "w s; (x) `y` é")
      const final = await run(submitAndWait({ name: "quoted", command: "pwd", resources: { workDir: work } }))
      expect(final.status).toBe("Done")
      expect(fs.readFileSync(final.stdoutPath!, "utf8")).toBe(`${work}\n`)
      expect(fs.readdirSync(dir).sort()).toEqual([path.basename(work)])
    })

    it("a job that exits non-zero", async () => {
      const final = await run(submitAndWait({ name: "exit3", command: "echo failing >&2; exit 3" }))
      expect(final.status).toBe("Failed")
      expect(final.exitCode).toBe(3)
      expect(final.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
      expect(fs.readFileSync(final.stderrPath!, "utf8")).toContain("failing")
    })

    it("an array whose task 2 fails: $ARRAY_INDEX in each task, one log per task", async () => {
      const final = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray(
          { name: "arr", command: `echo "task $ARRAY_INDEX"; [ "$ARRAY_INDEX" != 2 ]`, resources: { workDir: scratch } },
          { start: 1, end: 3, maxConcurrent: 2 }
        )
        return yield* monitor.await(job, { timeout: "2 minutes" })
      }))
      expect(final.status).toBe("Failed")
      expect(final.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
      expect(final.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([[1, "Done", 0], [2, "Failed", 1], [3, "Done", 0]])
      for (const i of [1, 2, 3]) {
        expect(fs.readFileSync(final.stdoutPath!.replace("{index}", String(i)), "utf8")).toBe(`task ${i}\n`)
      }
    })

    it("a -hold_jid chain: afterok runs after its parent ends well; afterok on a failed job ends Failed and never runs", async () => {
      const marker = path.join(scratch, "blocked-ran")
      const finals = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const spec = (name: string, command: string, dependsOn?: JobSpec["dependsOn"]): JobSpec => ({
          name,
          command,
          resources: { workDir: scratch },
          ...(dependsOn === undefined ? {} : { dependsOn })
        })
        const first = yield* executor.submit(spec("first", "sleep 2; date +%s%N > first.end"))
        const bad = yield* executor.submit(spec("bad", "exit 1"))
        const second = yield* executor.submit(spec("second", "date +%s%N > second.start", [{ type: "afterok", jobId: first.jobId }]))
        const blocked = yield* executor.submit(spec("blocked", `touch ${marker}`, [{ type: "afterok", jobId: bad.jobId }]))
        const either = yield* executor.submit(spec("either", "true", [{ type: "afterany", jobId: bad.jobId }]))
        return yield* monitor.awaitAll([first, bad, second, blocked, either], { timeout: "2 minutes" })
      }))
      expect(finals.map((f) => f.status)).toEqual(["Done", "Failed", "Done", "Failed", "Done"])
      expect(finals[3]!.reason).toEqual({ _tag: "DependencyFailed", dependencies: [finals[1]!.jobId] })
      const firstEnd = Number(fs.readFileSync(path.join(scratch, "first.end"), "utf8"))
      const secondStart = Number(fs.readFileSync(path.join(scratch, "second.start"), "utf8"))
      expect(secondStart).toBeGreaterThanOrEqual(firstEnd)
      expect(fs.existsSync(marker)).toBe(false)
      // SGE itself no longer holds the blocked job.
      expect(spawnSync("qstat", ["-j", finals[3]!.jobId], { encoding: "utf8" }).status).not.toBe(0)
    })

    it("cancel ends a running job Killed, and SGE agrees", async () => {
      const { final, accounted } = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "long", command: "sleep 300", resources: { workDir: scratch } })
        yield* waitForStatus(job, "Running", "60 seconds")
        yield* executor.cancel(job.jobId)
        const final = yield* monitor.await(job, { timeout: "30 seconds" })
        // qacct gets the record once execd reports the end.
        const accounted = yield* Effect.sync(() => qacct(job.jobId)).pipe(
          Effect.filterOrFail((m) => m.has("exit_status"), () => new Error(`qacct has no record of ${job.jobId}`)),
          Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 60 })
        )
        return { final, accounted }
      }))
      expect(final.status).toBe("Killed")
      expect(final.reason).toEqual({ _tag: "Cancelled" })
      expect(Number(accounted.get("exit_status"))).not.toBe(0)
    })

    it("a job over its h_rt is Timeout", async () => {
      const final = await run(submitAndWait({ name: "slow", command: "sleep 120", resources: { walltime: "0:00:03" } }))
      expect(final.status).toBe("Failed")
      expect(final.reason?._tag).toBe("Timeout")
    })

    it("a job past its memory (h_vmem) has an allocation refused and ends OutOfMemory; a retry with memoryFactor asks for more and succeeds", async () => {
      // 150 MB, 1 MB every 10 ms: h_vmem=100M refuses one near the limit (python: MemoryError, exit 1).
      const grow = `python3 -c 'import time; c = [time.sleep(0.01) or b"x" * (1024 * 1024) for _ in range(150)]'`
      const { first, final } = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const store = yield* JobStore
        const job = yield* executor.submit({
          name: "oom",
          command: grow,
          resources: { memory: "100M", workDir: scratch },
          retry: { maxRetries: 1, on: ["OutOfMemory"], memoryFactor: 3 }
        })
        const final = yield* monitor.await(job, { timeout: "2 minutes" })
        return { first: Option.getOrThrow(yield* store.get(job)), final }
      }))
      expect(first.status).toBe("Failed")
      expect(first.reason).toEqual({ _tag: "OutOfMemory" })
      expect(qacct(first.jobId).get("category")).toBe("-l h_vmem=100M")
      expect(final.jobId).toBe(first.retriedBy)
      expect(final.status).toBe("Done")
      expect(qacct(final.jobId).get("category")).toBe("-l h_vmem=300M")
    })

    it("a job with a memory limit that fails using little memory keeps its exit code", async () => {
      const final = await run(submitAndWait({ name: "exit1mem", command: "sleep 2; exit 1", resources: { memory: "100M" } }))
      expect(final.status).toBe("Failed")
      expect(final.reason).toEqual({ _tag: "NonZeroExit", exitCode: 1 })
      expect(qacct(final.jobId).get("category")).toBe("-l h_vmem=100M")
    })

    it("reconnect finds this run's queued jobs again", async () => {
      const found = await run(Effect.gen(function*() {
        const executor = yield* Executor
        const store = yield* JobStore
        const job = yield* executor.submit({ name: "found", command: "sleep 20", resources: { workDir: scratch } })
        yield* store.remove([job])
        const found = yield* executor.reconnect
        yield* executor.cancel(job.jobId)
        return found.map((r) => r.jobId).includes(job.jobId)
      }))
      expect(found).toBe(true)
    })
  })

  describe("restart", () => {
    it("a watching program killed with SIGKILL: the next adopts its SGE jobs, reads how each ended, and delivers each end once", async () => {
      await crashAndRestart({ executor: "sge", job_name_prefix: `capigr${process.pid}`, poll_interval: 1, scale: 3 })
    }, 240_000)
  })
})
