/**
 * The CLI when the job store fails right after the scheduler accepted a job (a full disk): a bsub
 * shim (support/KilledSubmit.ts) runs the LSF emulator's bsub and then makes every insert into the
 * store's jobs table fail, as SQLite does on a full disk. The CLI says which job runs unrecorded
 * and how to track it, exits 4, and the job is not lost: its submission stays in the store.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bin } from "./globalSetup.js"
import { readStore, submitShim, which } from "./support/KilledSubmit.js"
import { runBin } from "./support/RunBin.js"
import { removeDir } from "./support/TempDirs.js"

const betterSqlite = createRequire(import.meta.url).resolve("better-sqlite3")

/** Runs SQL on a store file from a separate process, as another program would. */
const sqliteLine = (db: string, statement: string) =>
  [process.execPath, "-e", "const D = require(process.argv[1]); new D(process.argv[2]).exec(process.argv[3])", betterSqlite, db, statement]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ")

const failInserts =
  "CREATE TRIGGER disk_full BEFORE INSERT ON jobs BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;"

describe("cluster-api submit when the job store fails after bsub", () => {
  it("prints the job id and the track command, exits 4, and the submission stays for the next program", async () => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), "capi-cli-unrecorded-"))
    const emulatorBin = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))
    const basePath = `${emulatorBin}${delimiter}${process.env.PATH ?? ""}`
    const db = join(dir, "state.db")
    const shim = submitShim(dir, "bsub", which("bsub", basePath), sqliteLine(db, failInserts), basePath)
    fs.writeFileSync(shim.go, "")
    const config = join(dir, "cluster-api.yaml")
    fs.writeFileSync(config, `executor: lsf\npoll_interval: 0.2\nstate_path: ${db}\nlog_directory: ${dir}/logs\n`)
    const env = { ...process.env, PATH: shim.path, LSF_EMULATOR_DIR: join(dir, "cluster") }
    const cli = (args: ReadonlyArray<string>) => runBin(bin, [...args, "--config", config], { cwd: dir, env, killAfterMs: 60_000 })

    const submitted = await cli(["submit", "--name", "full", "--", "true"])
    const jobId = /Job <(\d+)> is submitted/.exec(fs.readFileSync(shim.out, "utf8"))?.[1]
    expect(jobId).toBeDefined()
    expect(submitted.stderr).not.toContain("internal error")
    expect(submitted.stderr).toContain(`lsf accepted job 'capi-full' as job ${jobId}, which runs`)
    expect(submitted.stderr).toContain("database or disk is full")
    expect(submitted.stderr).toContain(`cluster-api track ${jobId} --name 'capi-full'`)
    expect(submitted.code).toBe(4)
    const left = await readStore(db)
    expect(left.records).toEqual([])
    expect(left.intents.map((i) => i.name)).toEqual(["capi-full"])

    // The disk has room again: the next program settles the submission, and the job is watched.
    spawnSync("sh", ["-c", sqliteLine(db, "DROP TRIGGER disk_full;")])
    const waited = await cli(["wait", "--json", jobId!])
    expect(waited.code, waited.stderr).toBe(0)
    const after = await readStore(db)
    expect(after.intents).toEqual([])
    expect(after.records.map((r) => [r.jobId, r.name, r.status])).toEqual([[jobId, "capi-full", "Done"]])
    removeDir(dir)
  }, 120_000)
})
