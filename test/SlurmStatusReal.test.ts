/**
 * `cluster-api status` against a real Slurm (scripts/slurm-setup.sh starts one on this host) with
 * no program watching: a job that ended after its submitter left shows its true end. In CI
 * (CI=true) this FAILS when Slurm is not up; elsewhere it is left out with a message.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { runCli } from "./support/CliInProcess.js"
import { failUnlessSlurmIsUp, inCI, slurmUpOrWarn } from "./support/RealSlurm.js"
import { tempDirs } from "./support/TempDirs.js"

const slurmUp = slurmUpOrWarn("The real-Slurm status test is left out")

const tempDir = tempDirs("capi-slurm-status-")

/** Resolves once `predicate` holds (checked every 200 ms), or rejects after `ms`. */
const until = (what: string, predicate: () => boolean, ms = 120_000): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const check = () => {
      if (predicate()) resolve()
      else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${what}`))
      else setTimeout(check, 200)
    }
    check()
  })

/** Whether sacct has the job's allocation in an ended state. */
const accountedEnded = (jobId: string): boolean => {
  const state = spawnSync("sacct", ["-X", "-n", "-P", "-j", jobId, "-o", "State"], { encoding: "utf8" }).stdout.trim()
  return /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL)/.test(state)
}

describe.runIf(slurmUp || inCI)("real Slurm, nothing watching", { timeout: 240_000 }, () => {
  beforeAll(failUnlessSlurmIsUp)

  it("status of a job that ended after its submitter left shows its end and exit code, and writes it", async () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "cluster-api.yaml"), `executor: slurm\npoll_interval: 1\njob_name_prefix: capis${process.pid}\n`)
    // In this process, each run a program of its own: the status is read with nothing watching.
    const cli = (args: ReadonlyArray<string>) => runCli(args, { cwd: dir })
    const submitted = await cli(["submit", "--name", "ends-alone", "exit 3"])
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = /Submitted job (\d+) /.exec(submitted.stdout)![1]!
    await until(`sacct to show job ${id} ended`, () => accountedEnded(id))

    const status = await cli(["status", "--json", id])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject([{ jobId: id, status: "Failed", exitCode: 3 }])
    const list = await cli(["list", "--json", "--status", "Failed"])
    expect(JSON.parse(list.stdout)).toMatchObject([{ jobId: id, status: "Failed", exitCode: 3 }])
  })
})
