/**
 * The LSF executor end to end: the real CommandRunner runs `bsub`, `bjobs` and `bkill` from the
 * LSF emulator (test/support/lsf), which runs each job as a real process and answers in LSF's
 * formats. Real scripts, real exit codes, real logs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { delimiter } from "node:path"
import { fileURLToPath } from "node:url"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import { runCli } from "./support/CliInProcess.js"
import { tempDirs } from "./support/TempDirs.js"

// The emulator's commands come first on PATH for every command this file's runner starts.
const emulatorBin = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))
process.env.PATH = `${emulatorBin}${delimiter}${process.env.PATH ?? ""}`
const tempDir = tempDirs("capi-lsf-")

/** Services on a fresh emulated cluster (its own state directory) and log directory. */
const onLsf = <A, E>(
  body: (dir: string) => Effect.Effect<A, E, ClusterApi.Services>,
  config: Partial<ConfigOptions> = {},
  dir = tempDir()
) => {
  process.env.LSF_EMULATOR_DIR = dir
  return body(dir).pipe(
    Effect.scoped,
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({
        executor: "lsf",
        poll_interval: 0.2,
        log_directory: dir,
        job_name_prefix: "capi",
        use_stdin: true,
        ...config
      }),
      runner: nodeRunner
    }))
  )
}

const read = (file: string | undefined) => readFileSync(file ?? "", "utf8")

/** A command that waits until `file` exists: the job runs on once the test writes it. */
const heldUntil = (file: string) => `until [ -e "${file}" ]; do sleep 0.05; done`

describe("LSF executor through the emulator", { timeout: 120_000 }, () => {
  it.live("a job that succeeds and one that exits 3: status, exit code, host, times and logs", () =>
    onLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const ok = yield* executor.submit({ name: "ok", command: "echo hello from $LSB_JOBID" })
        const bad = yield* executor.submit({ name: "bad", command: "echo oops >&2; exit 3" })
        const [okEnd, badEnd] = yield* monitor.awaitAll([ok, bad], { timeout: "30 seconds" })
        expect(okEnd!.status).toBe("Done")
        expect(okEnd!.exitCode).toBe(0)
        expect(okEnd!.execHost).toBeDefined()
        expect(okEnd!.startTime).toBeInstanceOf(Date)
        expect(read(okEnd!.stdoutPath)).toContain(`hello from ${ok.jobId}`)
        expect(badEnd!.status).toBe("Failed")
        expect(badEnd!.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
        expect(read(badEnd!.stderrPath)).toContain("oops")
      })
    ))

  it.live("an array with a failing element, two at a time: Failed, the element named", () =>
    onLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray(
          { name: "arr", command: "sleep 0.3; [ \"$LSB_JOBINDEX\" != 2 ]" },
          { start: 1, end: 4, maxConcurrent: 2 }
        )
        const end = yield* monitor.await(job, { timeout: "30 seconds" })
        expect(end.status).toBe("Failed")
        expect(end.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
        expect(end.elements?.map((e) => e.status)).toEqual(["Done", "Failed", "Done", "Done"])
      })
    ))

  it.live("cancel ends a running job Killed; cancelling it again keeps that end", () =>
    onLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "long", command: "sleep 60" })
        // Running once bjobs says so (asked for up to a minute: the emulator starts jobs as processes).
        const started = yield* Effect.gen(function*() {
          for (let i = 0; i < 600; i++) {
            const seen = yield* executor.poll([job])
            if (seen.some((o) => o.status === "Running")) return true
            yield* Effect.sleep("100 millis")
          }
          return false
        })
        expect(started).toBe(true)
        const cancelled = yield* executor.cancel(job.jobId)
        expect(cancelled.status).toBe("Killed")
        const end = yield* monitor.await(job, { timeout: "30 seconds" })
        expect(end.status).toBe("Killed")
        const again = yield* executor.cancel(job.jobId)
        expect(again.status).toBe("Killed")
      })
    ))

  it.live("inheritEnv false: the job sees its own env, not this process's; loginShell runs it in a login shell", () =>
    onLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        process.env.CAPI_LEAK_CHECK = "leaked"
        const probe = `echo "leak=\${CAPI_LEAK_CHECK:-none} own=$OWN"; shopt -q login_shell && echo login || echo plain`
        const inherit = yield* executor.submit({ name: "inherit", command: probe, env: { OWN: "a b" } })
        const clean = yield* executor.submit({
          name: "clean",
          command: probe,
          env: { OWN: "a b" },
          inheritEnv: false,
          loginShell: true
        })
        const ends = yield* monitor.awaitAll([inherit, clean], { timeout: "30 seconds" })
        expect(ends.map((e) => e.status)).toEqual(["Done", "Done"])
        expect(read(ends[0]!.stdoutPath)).toBe("leak=leaked own=a b\nplain\n")
        expect(read(ends[1]!.stdoutPath)).toBe("leak=none own=a b\nlogin\n")
        // LSF gets the login shell from -L; the script keeps its shebang.
        expect(read(clean.scriptPath).split("\n")[0]).toBe("#!/bin/bash")
      }).pipe(Effect.ensuring(Effect.sync(() => delete process.env.CAPI_LEAK_CHECK)))
    ))

  it.live("a new program reconnects by prefix to the jobs an earlier one left, the array rebuilt, and sees them end", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      // The first program (its job store in memory, so gone with it) submits and leaves.
      const left = yield* onLsf(() =>
        Effect.gen(function*() {
          const executor = yield* Executor
          const monitor = yield* Monitor
          const quick = yield* executor.submit({ name: "quick", command: "true" })
          yield* monitor.await(quick, { timeout: "30 seconds" })
          // Unfinished until the second program has found them.
          const single = yield* executor.submit({ name: "single", command: `${heldUntil(`${dir}/go`)}; exit 4` })
          const array = yield* executor.submitArray({ name: "arr", command: heldUntil(`${dir}/go`) }, { start: 1, end: 3 })
          return { quick, single, array }
        }), {}, dir)
      // The second program finds them in LSF, not in its (empty) store.
      const found = yield* onLsf(() =>
        Effect.gen(function*() {
          const executor = yield* Executor
          const monitor = yield* Monitor
          const found = yield* executor.reconnect
          writeFileSync(`${dir}/go`, "")
          const ends = yield* monitor.awaitAll(found, { timeout: "30 seconds" })
          return { found, ends }
        }), {}, dir)
      // The job that had ended is left alone; the others are tracked and followed to their ends.
      expect(found.found.map((r) => r.jobId).sort()).toEqual([left.single.jobId, left.array.jobId].sort())
      const byId = new Map(found.ends.map((r) => [r.jobId, r] as const))
      expect(byId.get(left.single.jobId)).toMatchObject({ name: "capi-single", status: "Failed", exitCode: 4 })
      expect(byId.get(left.array.jobId)).toMatchObject({ status: "Done", array: { start: 1, end: 3 } })
      expect(byId.get(left.array.jobId)?.elements?.map((e) => e.status)).toEqual(["Done", "Done", "Done"])
    }))

  it.live("cancel by name reaches every matching job with bkill -J, and the jobs it named end Killed", () =>
    onLsf(() =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const a = yield* executor.submit({ name: "grp-a", command: "sleep 60" })
        const b = yield* executor.submit({ name: "grp-b", command: "sleep 60" })
        const other = yield* executor.submit({ name: "other", command: "sleep 1" })
        const cancelled = yield* executor.cancelByName("grp-*")
        expect(cancelled.map((r) => r.jobId).sort()).toEqual([a.jobId, b.jobId].sort())
        const ends = yield* monitor.awaitAll([a, b, other], { timeout: "30 seconds" })
        expect(ends.map((e) => e.status)).toEqual(["Killed", "Killed", "Done"])
      })
    ))

  it.live("a dependency chain: the second starts after the first is done; a dependent of a failure never runs", () =>
    onLsf((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const first = yield* executor.submit({ name: "first", command: `sleep 0.5; date +%s%N > ${dir}/first` })
        const second = yield* executor.submit({
          name: "second",
          command: `date +%s%N > ${dir}/second`,
          dependsOn: [{ type: "afterok", jobId: first.jobId }]
        })
        const failing = yield* executor.submit({ name: "failing", command: "exit 1" })
        const orphan = yield* executor.submit({
          name: "orphan",
          command: `touch ${dir}/orphan-ran`,
          dependsOn: [{ type: "afterok", jobId: failing.jobId }]
        })
        const ends = yield* monitor.awaitAll([first, second, failing, orphan], { timeout: "30 seconds" })
        expect(ends.map((e) => e.status)).toEqual(["Done", "Done", "Failed", "Failed"])
        expect(ends[3]!.reason).toEqual({ _tag: "DependencyFailed", dependencies: [failing.jobId] })
        expect(Number(read(`${dir}/second`))).toBeGreaterThan(Number(read(`${dir}/first`)))
        expect(() => read(`${dir}/orphan-ran`)).toThrow()
      })
    ))

  it("the CLI tracks a job submitted with bsub by hand, by id or by prefix, and waits for its end", async () => {
    const dir = tempDir()
    // The command line runs in this process: the bsub and bjobs it starts find this cluster.
    process.env.LSF_EMULATOR_DIR = dir
    const env = { ...process.env, LSF_EMULATOR_DIR: dir }
    const bsub = (name: string, command: string) => {
      const r = spawnSync("bsub", ["-J", name, command], { env, encoding: "utf8" })
      return /Job <(\d+)>/.exec(r.stdout)![1]!
    }
    // Both run until the test writes `go`, after tracking them: track --reconnect finds only jobs not ended.
    const byHand = bsub("capi-by-hand", `${heldUntil(`${dir}/go`)}; exit 2`)
    const prefixed = bsub("capi-prefixed", heldUntil(`${dir}/go`))
    bsub("someone-else", "sleep 1")
    const config = `${dir}/cluster-api.yaml`
    writeFileSync(config, `executor: lsf\npoll_interval: 0.2\nlog_directory: ${dir}/logs\n`)
    const cli = (args: ReadonlyArray<string>) => runCli([...args, "--json", "--config", config], { cwd: dir })

    const tracked = await cli(["track", byHand])
    expect(tracked.code, tracked.stderr).toBe(0)
    expect(JSON.parse(tracked.stdout)).toMatchObject([{ jobId: byHand, name: "capi-by-hand", executor: "lsf" }])
    const reconnected = await cli(["track", "--reconnect"])
    expect(reconnected.code, reconnected.stderr).toBe(0)
    expect((JSON.parse(reconnected.stdout) as Array<{ jobId: string }>).map((r) => r.jobId)).toEqual([prefixed])
    writeFileSync(`${dir}/go`, "")
    const waited = await cli(["wait", byHand, prefixed])
    expect(waited.code, waited.stderr).toBe(1)
    expect((JSON.parse(waited.stdout) as Array<{ status: string; exitCode: number }>).map((r) => [r.status, r.exitCode]))
      .toEqual([["Failed", 2], ["Done", 0]])
    const unknown = await cli(["track", "99999"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("99999")
  }, 120_000)
})

/**
 * The config's default `use_stdin: false`, on an LSF whose lsf.conf leaves LSB_BSUB_PARSE_SCRIPT
 * unset (its default): bsub reads no #BSUB line of a script given as a file, so the script must
 * still reach it on stdin.
 */
describe("LSF executor through the emulator, default use_stdin and lsf.conf", { timeout: 120_000 }, () => {
  const byDefault = { use_stdin: false }
  delete process.env.LSB_BSUB_PARSE_SCRIPT

  it.live("a job depending (afterok) on a failed job never runs: Failed(DependencyFailed)", () =>
    onLsf((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const failing = yield* executor.submit({ name: "failing", command: "exit 1" })
        const after = yield* executor.submit({
          name: "after",
          command: `touch ${dir}/after-ran`,
          dependsOn: [{ type: "afterok", jobId: failing.jobId }]
        })
        const ends = yield* monitor.awaitAll([failing, after], { timeout: "30 seconds" })
        expect(ends.map((e) => e.status)).toEqual(["Failed", "Failed"])
        expect(ends[1]!.reason).toEqual({ _tag: "DependencyFailed", dependencies: [failing.jobId] })
        expect(existsSync(`${dir}/after-ran`)).toBe(false)
      }), byDefault))

  it.live("an array 1-4%2 with a failing element ends Failed naming it, and never runs more than two at once", () =>
    onLsf((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        // Each element notes when it starts and ends; element 2 fails.
        const note = `echo "start $(date +%s%N)" >> ${dir}/trace; sleep 0.3; echo "end $(date +%s%N)" >> ${dir}/trace`
        const job = yield* executor.submitArray(
          { name: "arr", command: `${note}; [ "$LSB_JOBINDEX" != 2 ]` },
          { start: 1, end: 4, maxConcurrent: 2 }
        )
        const end = yield* monitor.await(job, { timeout: "30 seconds" })
        expect(end.status).toBe("Failed")
        expect(end.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
        expect(end.elements?.map((e) => e.status)).toEqual(["Done", "Failed", "Done", "Done"])
        const events = read(`${dir}/trace`).trim().split("\n").map((l) => l.split(" ") as [string, string])
        expect(events.length).toBe(8)
        let running = 0
        let most = 0
        for (const [what] of events.sort((a, b) => Number(BigInt(a[1]) - BigInt(b[1])))) {
          running += what === "start" ? 1 : -1
          most = Math.max(most, running)
        }
        expect(most).toBeLessThanOrEqual(2)
      }), byDefault))

  it.live("the name and log paths the record shows are LSF's: the logs are there; the script stays on disk", () =>
    onLsf((dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "named", command: "echo to-out; echo to-err >&2" })
        const end = yield* monitor.await(job, { timeout: "30 seconds" })
        expect(end.status).toBe("Done")
        const bjobs = spawnSync("bjobs", ["-a", "-json", "-o", "jobid job_name", job.jobId], {
          env: { ...process.env, LSF_EMULATOR_DIR: dir },
          encoding: "utf8"
        })
        expect(JSON.parse(bjobs.stdout).RECORDS).toEqual([{ JOBID: job.jobId, JOB_NAME: "capi-named" }])
        expect(end.name).toBe("capi-named")
        expect(read(end.stdoutPath)).toBe("to-out\n")
        expect(read(end.stderrPath)).toBe("to-err\n")
        expect(read(job.scriptPath)).toContain("#BSUB -J capi-named")
      }), byDefault))
})
