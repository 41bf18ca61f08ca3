/**
 * A program killed with SIGKILL while bsub runs, through the LSF emulator (test/support/lsf): the
 * job bsub made carries the submission's token in its description (-Jd), and the next program on
 * the store adopts it and sees it end (see support/KilledSubmit.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { killedDuringSubmit } from "./support/KilledSubmit.js"
import { removeDir } from "./support/TempDirs.js"

describe("LSF, a program killed while bsub runs", () => {
  it("SIGKILL during bsub: the next program adopts the job bsub made and sees it end", async () => {
    const emulatorBin = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))
    const cluster = fs.mkdtempSync(join(os.tmpdir(), "capi-lsf-killed-"))
    const record = await killedDuringSubmit({
      command: "bsub",
      config: { executor: "lsf", use_stdin: true },
      env: { PATH: `${emulatorBin}${delimiter}${process.env.PATH ?? ""}`, LSF_EMULATOR_DIR: cluster },
      parseId: (out) => /Job <(\d+)> is submitted/.exec(out)?.[1],
      timeoutMs: 60_000
    })
    // The emulated LSF holds the job with the token as its description.
    const job = JSON.parse(fs.readFileSync(join(cluster, "jobs", `${record.jobId}.json`), "utf8"))
    expect(job.options["-Jd"]).toMatch(/^cluster-api:[0-9a-f]{16}$/)
    removeDir(cluster)
  }, 120_000)
})
