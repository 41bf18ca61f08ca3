/**
 * Whether a real Slurm answers on this host, for the real-Slurm tests and the Slurm bench, and
 * what every real-Slurm test file does alike: leave its tests out (saying so) where Slurm is not
 * running, except in CI (CI=true), where they run and fail; cancel its jobs at the end. (The bench
 * runs outside vitest: nothing here imports it.)
 */
import type { ManagedRuntime } from "effect"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { Executor } from "../../src/Executor.js"

/** How to get one, for messages. */
export const howToStartSlurm =
  "start it with: sudo bash scripts/slurm-setup.sh (installs and starts munge, MariaDB, slurmdbd, slurmctld and slurmd on this host)"

/** `scontrol ping` answers that the controller is UP. */
export const slurmIsUp = (): boolean => {
  const ping = spawnSync("scontrol", ["ping"], { encoding: "utf8", timeout: 15_000 })
  return ping.status === 0 && /\bUP\b/.test(ping.stdout)
}

/** Whether this is CI (CI=true or 1): there the real-Slurm tests run, and fail without a Slurm. */
export const inCI = ["true", "1"].includes((process.env.CI ?? "").toLowerCase())

/**
 * {@link slurmIsUp}, for a file's guard `describe.runIf(slurmUp || inCI)`; when Slurm is not up
 * outside CI, warns `${leftOut}: Slurm is not running here; ` and how to start it, e.g. with
 * "The real-Slurm tests are left out".
 */
export const slurmUpOrWarn = (leftOut: string): boolean => {
  const up = slurmIsUp()
  if (!up && !inCI) console.warn(`${leftOut}: Slurm is not running here; ${howToStartSlurm}`)
  return up
}

/** The `beforeAll` of a real-Slurm describe: in CI, where it runs without a Slurm, it fails saying so. */
export const failUnlessSlurmIsUp = (): void => {
  if (!slurmIsUp()) throw new Error(`CI needs a running Slurm and none answers \`scontrol ping\`; ${howToStartSlurm}`)
}

/**
 * The end of a file's runtime on the real Slurm (its `afterAll`, before removing its scratch
 * directory): cancels every job it tracks that has not ended, so a failed test leaves none
 * queued or running, then disposes of it.
 */
export const endSlurmRuntime = async (runtime: ManagedRuntime.ManagedRuntime<Executor, unknown>): Promise<void> => {
  await runtime.runPromise(Effect.flatMap(Executor, (e) => e.cancelAll())).catch(() => undefined)
  await runtime.dispose()
}
