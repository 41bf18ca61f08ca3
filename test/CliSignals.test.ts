/**
 * Ctrl-C (SIGINT) and SIGTERM on the built `cluster-api` bin: the exit code is a shell's (130,
 * 143), and a command that waits says which jobs are left queued or running and how to cancel
 * them, or cancels them with --cancel-on-interrupt. Batch jobs go to the LSF emulator
 * (test/support/lsf) on PATH, and to a real Slurm (scripts/slurm-setup.sh starts one on this host;
 * in CI (CI=true) that test FAILS when Slurm is not up, elsewhere it is left out with a message);
 * local jobs are real processes. Every signal is sent once the program has printed what shows it
 * is waiting.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { JobRecord } from "../src/Domain.js"
import { commandFor, leftRunningText } from "../src/cli/Interrupt.js"
import { bin } from "./globalSetup.js"
import { failUnlessSlurmIsUp, inCI, slurmUpOrWarn } from "./support/RealSlurm.js"
import { isolatedEnv, isolatedStore, runBin, startBin } from "./support/RunBin.js"
import { tempDirs } from "./support/TempDirs.js"

const emulatorBin = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))
const tempDir = tempDirs("capi-signals-")

/** A directory with its own emulated LSF cluster and a config that submits to it. */
const onLsf = () => {
  const dir = tempDir()
  const env = {
    ...isolatedEnv(dir),
    PATH: `${emulatorBin}${path.delimiter}${process.env.PATH ?? ""}`,
    LSF_EMULATOR_DIR: path.join(dir, "cluster")
  }
  fs.mkdirSync(env.LSF_EMULATOR_DIR)
  fs.writeFileSync(
    path.join(dir, "cluster-api.yaml"),
    `executor: lsf\nuse_stdin: true\npoll_interval: 0.2\nlog_directory: ${path.join(dir, "logs")}\n`
  )
  const cli = (args: ReadonlyArray<string>) => runBin(bin, args, { cwd: dir, env, killAfterMs: 60_000 })
  const start = (args: ReadonlyArray<string>) => startBin(bin, args, { cwd: dir, env, killAfterMs: 60_000 })
  /** The job's state in the emulated cluster (PEND, RUN, DONE, EXIT). */
  const stateInLsf = (id: string) =>
    spawnSync("bjobs", ["-a", "-o", "stat", id], { env, encoding: "utf8" }).stdout.trim().split("\n").at(-1)
  /** The job as the store has it. */
  const stored = async (id: string): Promise<JobRecord> => {
    const r = await cli(["status", "--json", id])
    expect(r.code, r.stderr).toBe(0)
    return (JSON.parse(r.stdout) as Array<JobRecord>)[0]!
  }
  /** Submits a job that runs until it is killed (its dependents stay queued meanwhile). */
  const submitLong = async () => {
    const r = await cli(["submit", "--name", "long", "sleep 600"])
    expect(r.code, r.stderr).toBe(0)
    return /Submitted job (\d+) /.exec(r.stdout)![1]!
  }
  return { dir, env, cli, start, stateInLsf, stored, submitLong }
}

const slurmUp = slurmUpOrWarn("The real-Slurm signal test is left out")

const submittedId = (stdout: string) => /Submitted job (\S+) \(/.exec(stdout)![1]!

describe.concurrent("signals on the built bin", { timeout: 120_000 }, () => {
  it("SIGTERM to `wait ID` exits 143 and SIGINT exits 130; both leave the job running and say how to cancel it", async () => {
    const lsf = onLsf()
    const jobs = [await lsf.submitLong(), await lsf.submitLong()]
    try {
      for (const [id, signal, code] of [[jobs[0]!, "SIGTERM", 143], [jobs[1]!, "SIGINT", 130]] as const) {
        const waiting = lsf.start(["wait", id])
        // The store says Pending (nothing watched it since it was submitted): printed once the wait has seen it start.
        await waiting.printedMatch(/→ Running/)
        waiting.child.kill(signal)
        const r = await waiting.exited
        expect([r.code, r.signal], r.stderr).toEqual([code, null])
        expect(r.stderr).toContain(`Cancel it with: cluster-api cancel ${id}\n`)
        expect(r.stderr).toMatch(new RegExp(`${id}\\s+capi-long\\s+Running`))
        expect(lsf.stateInLsf(id)).toBe("RUN")
      }
    } finally {
      await lsf.cli(["cancel", ...jobs])
    }
  })

  it("SIGINT to `submit --wait` with the job still queued names it and the cancel command, and leaves it queued", async () => {
    const lsf = onLsf()
    const long = await lsf.submitLong()
    try {
      const waiting = lsf.start(["submit", "--wait", "--name", "queued", "--after-ok", long, "--", "echo", "ran"])
      await waiting.printedMatch(/Submitted job/)
      waiting.child.kill("SIGINT")
      const r = await waiting.exited
      expect([r.code, r.signal], r.stderr).toEqual([130, null])
      const id = submittedId(r.stdout)
      expect(r.stderr).toContain("1 job is still queued or running on lsf")
      expect(r.stderr).toMatch(new RegExp(`${id}\\s+capi-queued\\s+Pending`))
      expect(r.stderr).toContain(`Cancel it with: cluster-api cancel ${id}\n`)
      expect(r.stderr).toContain("--cancel-on-interrupt")
      expect(lsf.stateInLsf(id)).toBe("PEND")
      expect((await lsf.stored(id)).status).toBe("Pending")
      // What it said works: the job is cancelled.
      const cancelled = await lsf.cli(["cancel", id])
      expect(cancelled.code, cancelled.stderr).toBe(0)
      expect(lsf.stateInLsf(id)).toBe("EXIT")
    } finally {
      await lsf.cli(["cancel", long])
    }
  })

  it("with --cancel-on-interrupt, SIGINT to `submit --wait` cancels the queued job: Killed in the store, gone from the queue", async () => {
    const lsf = onLsf()
    const long = await lsf.submitLong()
    try {
      const waiting = lsf.start(["submit", "--wait", "--cancel-on-interrupt", "--name", "queued", "--after-ok", long, "--", "echo", "ran"])
      await waiting.printedMatch(/Submitted job/)
      waiting.child.kill("SIGINT")
      const r = await waiting.exited
      expect([r.code, r.signal], r.stderr).toEqual([130, null])
      const id = submittedId(r.stdout)
      expect(r.stderr).toContain("cancelled 1 job still queued or running on lsf")
      expect(r.stderr).toMatch(new RegExp(`${id}\\s+capi-queued\\s+Killed`))
      expect(lsf.stateInLsf(id)).toBe("EXIT")
      expect(await lsf.stored(id)).toMatchObject({ status: "Killed", reason: { _tag: "Cancelled" } })
      // The job it depended on was not the command's to cancel.
      expect(lsf.stateInLsf(long)).toBe("RUN")
    } finally {
      await lsf.cli(["cancel", long])
    }
  })

  it("SIGTERM to `run PIPELINE` names the steps' jobs left queued or running; --cancel-on-interrupt cancels them", async () => {
    const lsf = onLsf()
    const file = path.join(lsf.dir, "pipeline.yaml")
    fs.writeFileSync(
      file,
      "name: p\nsteps:\n  - name: first\n    command: sleep 600\n  - name: second\n    command: echo ran\n    depends_on: [first]\n"
    )
    const left = lsf.start(["run", file])
    await left.printedMatch(/second +Pending +submitted/)
    left.child.kill("SIGTERM")
    const r = await left.exited
    expect([r.code, r.signal], r.stderr).toEqual([143, null])
    expect(r.stderr).toContain("2 jobs are still queued or running on lsf")
    const ids = [...r.stderr.matchAll(/^ {2}(\d+) +capi-p_/gm)].map((m) => m[1]!)
    expect(ids).toHaveLength(2)
    expect(r.stderr).toContain(`Cancel them with: cluster-api cancel ${ids.join(" ")}`)

    // A second cluster, so that this run does not find the first run's jobs.
    const other = onLsf()
    fs.copyFileSync(file, path.join(other.dir, "pipeline.yaml"))
    const cancelled = other.start(["run", "--cancel-on-interrupt", "pipeline.yaml"])
    await cancelled.printedMatch(/second +Pending +submitted/)
    cancelled.child.kill("SIGTERM")
    const c = await cancelled.exited
    expect([c.code, c.signal], c.stderr).toEqual([143, null])
    expect(c.stderr).toContain("cancelled 2 jobs")
    const killed = [...c.stderr.matchAll(/^ {2}(\d+) +capi-p_\w+ +Killed/gm)].map((m) => m[1]!)
    expect(killed, c.stderr).toHaveLength(2)
    for (const id of killed) expect(other.stateInLsf(id)).toBe("EXIT")
    await lsf.cli(["cancel", ...ids])
  })

  it("SIGINT to `submit --wait` on a local job says it is terminated with cluster-api, and it is recorded Killed", async () => {
    const dir = tempDir()
    const waiting = startBin(bin, ["submit", "--wait", "--name", "local", "sleep 600"], { cwd: dir, env: isolatedEnv(dir), killAfterMs: 60_000 })
    await waiting.printedMatch(/→ Running/)
    waiting.child.kill("SIGINT")
    const r = await waiting.exited
    expect([r.code, r.signal], r.stderr).toEqual([130, null])
    const id = submittedId(r.stdout)
    expect(r.stderr).toContain("local jobs run as child processes of cluster-api and end with it")
    expect(r.stderr).toMatch(new RegExp(`${id}\\s+capi-local\\s+Running`))
    expect(r.stderr).not.toContain("cluster-api cancel")
    const status = await runBin(bin, ["status", "--json", id], { cwd: dir, env: isolatedEnv(dir), killAfterMs: 60_000 })
    expect((JSON.parse(status.stdout) as Array<JobRecord>)[0]!.status).toBe("Killed")
    expect(spawnSync("pgrep", ["-f", dir], { encoding: "utf8" }).stdout).toBe("")
  })
})

describe.runIf(slurmUp || inCI)("signals on the built bin, on a real Slurm", { timeout: 240_000 }, () => {
  beforeAll(failUnlessSlurmIsUp)

  it("SIGTERM to `wait ID` on a running Slurm job exits 143, names the job and how to cancel it; the store file is 0600", async () => {
    const dir = tempDir()
    const env = isolatedEnv(dir)
    const config = path.join(dir, "cluster-api.yaml")
    fs.writeFileSync(config, `executor: slurm\npoll_interval: 1\nlog_directory: ${dir}/logs\n`)
    const cli = (args: ReadonlyArray<string>) => runBin(bin, args, { cwd: dir, env, killAfterMs: 150_000 })
    const submitted = await cli(["submit", "--config", config, "--name", "cli-term", "sleep 600"])
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = /Submitted job (\d+) /.exec(submitted.stdout)![1]!
    try {
      expect((fs.statSync(isolatedStore(dir)).mode & 0o777).toString(8)).toBe("600")
      const waiting = startBin(bin, ["wait", "--config", config, id], { cwd: dir, env, killAfterMs: 150_000 })
      await waiting.printedMatch(/→ Running/, 120_000)
      waiting.child.kill("SIGTERM")
      const r = await waiting.exited
      expect([r.code, r.signal], r.stderr).toEqual([143, null])
      expect(r.stderr).toMatch(new RegExp(`${id}\\s+capi-cli-term\\s+Running`))
      expect(r.stderr).toContain(`cluster-api cancel`)
      // The job is left running: the program was asked to stop, not to cancel.
      expect(spawnSync("squeue", ["-h", "-j", id, "-o", "%T"], { encoding: "utf8" }).stdout.trim()).toBe("RUNNING")
    } finally {
      await cli(["cancel", "--config", config, id])
    }
  })
})

describe("what an interrupt prints", () => {
  it("the commands it suggests quote the config path and profile the user gave", () => {
    const job = { jobId: "1234", name: "capi-x", status: "Running" } as JobRecord
    expect(commandFor("cancel", ["--config", "my dir/it's.yaml", "--profile", "gpu"], [job])).toBe(
      `cluster-api cancel --config 'my dir/it'\\''s.yaml' --profile gpu 1234`
    )
    expect(leftRunningText("slurm", [job], [])).toContain("Cancel it with: cluster-api cancel 1234\n")
    expect(leftRunningText("slurm", [], [])).toBe("Interrupted: no job waited for is still queued or running.")
  })
})
