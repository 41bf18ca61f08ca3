/**
 * Crash and restart with LSF jobs: a program watching jobs submitted through the LSF emulator
 * (test/support/lsf) is killed with SIGKILL mid-run, and a new program on the same store adopts
 * them, reads from bjobs how each ended (some while no program watched) and delivers each end
 * once. The emulator runs every job as a real process, so the jobs outlive the killed program.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { crashAndRestart } from "./support/Restart.js"
import { removeDir } from "./support/TempDirs.js"

describe("restart after SIGKILL, LSF", () => {
  it("the next program adopts the LSF jobs, reads how each ended, and delivers each end once", async () => {
    const emulatorBin = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))
    const cluster = fs.mkdtempSync(join(os.tmpdir(), "capi-lsf-restart-"))
    // Both programs are started with this process's environment: the emulator first on PATH.
    process.env.PATH = `${emulatorBin}${delimiter}${process.env.PATH ?? ""}`
    process.env.LSF_EMULATOR_DIR = cluster
    const { deliveredBefore } = await crashAndRestart({ executor: "lsf", use_stdin: true, scale: 1 })
    expect(deliveredBefore).toBeGreaterThanOrEqual(2)
    // The jobs went through the emulated LSF: one record per job there.
    expect(fs.readdirSync(join(cluster, "jobs")).filter((f) => /^\d+\.json$/.test(f))).toHaveLength(6)
    removeDir(cluster)
  }, 120_000)
})
