/**
 * Crash and restart with real processes: a program watching jobs is killed with SIGKILL mid-run,
 * and a new program on the same store finishes the watch. Every job reaches its true end, none is
 * lost or run twice, and each end is delivered once across the two programs. (The same against
 * the real Slurm is in SlurmReal.test.ts, so that it never meets that file's controller outage.)
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { bin } from "./globalSetup.js"
import { crashAndRestart, jobs } from "./support/Restart.js"
import { runBin } from "./support/RunBin.js"
import { exitCodeOf } from "./support/WatchProgram.js"

describe("restart after SIGKILL", () => {
  it("local jobs: the new program finds the running ones, starts the queued ones, and delivers each end once", async () => {
    // Two slots: when the first program dies some jobs run and some never started.
    const { deliveredBefore } = await crashAndRestart({ executor: "local", max_local_jobs: 2, scale: 1 })
    expect(deliveredBefore).toBeGreaterThanOrEqual(2)
  }, 120_000)

  it("local jobs: `cluster-api status` and `wait ID` from the shell, while no program runs, touch nothing else", async () => {
    await crashAndRestart({ executor: "local", max_local_jobs: 2, scale: 1 }, async (config, dir) => {
      const yaml = path.join(dir, "cluster-api.yaml")
      fs.writeFileSync(
        yaml,
        `executor: local\npoll_interval: 0.2\nlog_directory: ${config.log_directory}\nstate_path: ${config.state_path}\n`
      )
      const status = await runBin(bin, ["status", "--json", "--config", yaml], { cwd: dir, killAfterMs: 60_000 })
      expect(status.code, status.stderr).toBe(0)
      const listed = JSON.parse(status.stdout) as Array<{ jobId: string; name: string; status: string }>
      expect(listed).toHaveLength(jobs)
      const last = listed.find((r) => r.name.endsWith(`restart-${jobs - 1}`))!
      const waited = await runBin(bin, ["wait", last.jobId, "--json", "--config", yaml], { cwd: dir, killAfterMs: 60_000 })
      expect(waited.code, waited.stderr).toBe(exitCodeOf(jobs - 1) === 0 ? 0 : 1)
      expect((JSON.parse(waited.stdout) as Array<{ status: string }>).map((r) => r.status)).toEqual([
        exitCodeOf(jobs - 1) === 0 ? "Done" : "Failed"
      ])
      return [last.jobId]
    })
  }, 120_000)
})
