/**
 * Crash and restart with PBS jobs: a program watching jobs submitted through the PBS emulator
 * (test/support/pbs, PBS Professional flavour) is killed with SIGKILL mid-run, and a new program
 * on the same store adopts them, reads from qstat how each ended (some while no program watched)
 * and delivers each end once. The emulator runs every job as a real process, so the jobs outlive
 * the killed program.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { crashAndRestart } from "./support/Restart.js"
import { removeDir } from "./support/TempDirs.js"

describe("restart after SIGKILL, PBS", () => {
  it("the next program adopts the PBS jobs, reads how each ended, and delivers each end once", async () => {
    const emulatorBin = fileURLToPath(new URL("./support/pbs/bin", import.meta.url))
    const cluster = fs.mkdtempSync(join(os.tmpdir(), "capi-pbs-restart-"))
    // Both programs are started with this process's environment: the emulator first on PATH.
    process.env.PATH = `${emulatorBin}${delimiter}${process.env.PATH ?? ""}`
    process.env.PBS_EMULATOR_DIR = cluster
    process.env.PBS_EMULATOR_FLAVOR = "pro"
    const { deliveredBefore } = await crashAndRestart({ executor: "pbs", pbs_flavor: "pro", scale: 1 })
    expect(deliveredBefore).toBeGreaterThanOrEqual(2)
    removeDir(cluster)
  }, 120_000)
})
