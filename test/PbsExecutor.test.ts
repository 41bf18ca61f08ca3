/**
 * The PBS executor end to end, PBS Professional and TORQUE: the real CommandRunner runs `qsub`,
 * `qstat` and `qdel` from the PBS emulator (test/support/pbs), which runs each job as a real
 * process and answers in the flavour's formats (JSON or XML). Real scripts, exit codes and logs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { delimiter } from "node:path"
import { fileURLToPath } from "node:url"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import { tempDirs } from "./support/TempDirs.js"

// The emulator's commands come first on PATH for every command this file's runner starts.
const emulatorBin = fileURLToPath(new URL("./support/pbs/bin", import.meta.url))
process.env.PATH = `${emulatorBin}${delimiter}${process.env.PATH ?? ""}`
const tempDir = tempDirs("capi-pbs-")

/** Services on a fresh emulated cluster of `flavor` (its own state directory) and log directory. */
const onPbs = <A, E>(
  flavor: "pro" | "torque",
  body: (dir: string) => Effect.Effect<A, E, ClusterApi.Services>,
  config: Partial<ConfigOptions> = {}
) => {
  const dir = tempDir()
  process.env.PBS_EMULATOR_DIR = dir
  process.env.PBS_EMULATOR_FLAVOR = flavor
  return body(dir).pipe(
    Effect.scoped,
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({
        executor: "pbs",
        pbs_flavor: flavor,
        poll_interval: 0.2,
        log_directory: dir,
        job_name_prefix: "capi",
        ...config
      }),
      runner: nodeRunner
    }))
  )
}

const read = (file: string | undefined) => readFileSync(file ?? "", "utf8")

describe.each(["pro", "torque"] as const)("PBS executor through the emulator (%s)", { timeout: 150_000 }, (flavor) => {
  it.live("a job that succeeds in its own directory and one that exits 3: status, exit code, host, logs", () =>
    onPbs(flavor, () =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const ok = yield* executor.submit({ name: "ok", command: "echo hello from $PBS_JOBID in $(pwd)" })
        const bad = yield* executor.submit({ name: "bad", command: "echo oops >&2; exit 3" })
        const [okEnd, badEnd] = yield* monitor.awaitAll([ok, bad], { timeout: "30 seconds" })
        expect(okEnd!.status).toBe("Done")
        expect(okEnd!.exitCode).toBe(0)
        expect(okEnd!.execHost).toBeDefined()
        expect(read(okEnd!.stdoutPath)).toBe(`hello from ${ok.jobId} in ${process.cwd()}\n`)
        expect(badEnd!.status).toBe("Failed")
        expect(badEnd!.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
        expect(read(badEnd!.stderrPath)).toContain("oops")
      })))

  it.live("an array with a failing element: Failed, the element named, one log per element", () =>
    onPbs(flavor, () =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submitArray(
          { name: "arr", command: "echo element $ARRAY_INDEX; [ \"$ARRAY_INDEX\" != 2 ]" },
          { start: 1, end: 3, maxConcurrent: 2 }
        )
        const end = yield* monitor.await(job, { timeout: "30 seconds" })
        expect(end.status).toBe("Failed")
        expect(end.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
        for (const i of [1, 2, 3]) expect(read(end.stdoutPath!.replace("{index}", String(i)))).toBe(`element ${i}\n`)
      })))

  it.live("dependencies in one -W depend: afterok after a failed job ends Failed(DependencyFailed) and never runs", () =>
    onPbs(flavor, (dir) =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const good = yield* executor.submit({ name: "good", command: "sleep 0.5" })
        const bad = yield* executor.submit({ name: "bad", command: "exit 1" })
        const after = yield* executor.submit({
          name: "after",
          command: "true",
          dependsOn: [{ type: "afterok", jobId: good.jobId }, { type: "afterany", jobId: bad.jobId }]
        })
        const blocked = yield* executor.submit({
          name: "blocked",
          command: `touch ${dir}/blocked-ran`,
          dependsOn: [{ type: "afterok", jobId: bad.jobId }]
        })
        const ends = yield* monitor.awaitAll([good, bad, after, blocked], { timeout: "30 seconds" })
        expect(ends.map((e) => e.status)).toEqual(["Done", "Failed", "Done", "Failed"])
        expect(ends[3]!.reason).toEqual({ _tag: "DependencyFailed", dependencies: [bad.jobId] })
        expect(() => read(`${dir}/blocked-ran`)).toThrow()
      })))

  it.live("cancel ends a running job Killed", () =>
    onPbs(flavor, () =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "long", command: "sleep 60" })
        // Running once qstat says so (asked for up to a minute: the emulator starts jobs as processes).
        const seen = yield* executor.poll([job]).pipe(
          Effect.zipLeft(Effect.sleep("100 millis")),
          Effect.repeat({ until: (os) => os.some((o) => o.status === "Running") }),
          Effect.timeout("60 seconds")
        )
        expect(seen.map((o) => o.status)).toEqual(["Running"])
        const cancelled = yield* executor.cancel(job.jobId)
        expect(cancelled.status, JSON.stringify(cancelled.reason)).toBe("Killed")
        const end = yield* monitor.await(job, { timeout: "60 seconds" })
        expect(end.reason).toEqual({ _tag: "Cancelled" })
      })))

  it.live("a job over its walltime is Timeout", () =>
    onPbs(flavor, () =>
      Effect.gen(function*() {
        const executor = yield* Executor
        const monitor = yield* Monitor
        const job = yield* executor.submit({ name: "slow", command: "sleep 30", resources: { walltime: "0:00:01" } })
        const end = yield* monitor.await(job, { timeout: "30 seconds" })
        expect(end.status).toBe("Failed")
        expect(end.reason).toEqual({ _tag: "Timeout" })
      })))
})
