/**
 * The job store as the `cluster-api` command line shows it (run in-process): private files,
 * environment values hidden from `list`/`show`/`status` JSON unless `--show-env`, a private export
 * file, a store that can only be read still listed and shown, and a job whose row cannot be read
 * skipped by `list` and named by `show`. The store is the one an earlier `submit` wrote; copies of
 * it are made read-only (chattr +i: the tests run as root, which file modes do not stop) or
 * edited by hand with better-sqlite3.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import type { JobRecord } from "../src/Domain.js"
import type { CliResult } from "./support/CliInProcess.js"
import { runCli, runCliEffect } from "./support/CliInProcess.js"
import * as Stdin from "../src/cli/Stdin.js"
import { isolatedStore } from "./support/RunBin.js"
import { removeDir } from "./support/TempDirs.js"

interface RawDb {
  prepare(sql: string): { run(...params: ReadonlyArray<unknown>): unknown }
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new(file: string) => RawDb

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-api-clistore-"))
const immutable: Array<string> = []
afterAll(() => {
  for (const f of immutable) execFileSync("chattr", ["-i", f])
  removeDir(scratch)
})

const config = "poll_interval: 0.2\n"
let dirs = 0
const freshDir = (): string => {
  dirs += 1
  const dir = path.join(scratch, `run-${dirs}`)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "cluster-api.yaml"), config)
  return dir
}

/** A new directory holding a copy of `work`'s store (closed: no -wal or -shm left beside it). */
const copyOfStore = (): string => {
  const dir = freshDir()
  fs.mkdirSync(path.dirname(storeOf(dir)), { recursive: true })
  fs.copyFileSync(storeOf(work), storeOf(dir))
  return dir
}

const storeOf = isolatedStore
const mode = (f: string) => (fs.statSync(f).mode & 0o777).toString(8)
const cli = (args: ReadonlyArray<string>, cwd: string): Promise<CliResult> => runCli(args, { cwd })

const work = freshDir()
let secret = ""
let plain = ""

const jobIdOf = (r: CliResult): string => {
  const m = /Submitted job (\S+) \(/.exec(r.stdout)
  if (m === null) throw new Error(`no job id in:\n${r.stdout}\n${r.stderr}`)
  return m[1]!
}

beforeAll(async () => {
  const first = await cli(["submit", "--name", "secret", "--env", "DB_PASSWORD=hunter2", "--", "true"], work)
  const second = await cli(["submit", "--name", "plain", "true"], work)
  expect([first.code, second.code], first.stderr + second.stderr).toEqual([0, 0])
  secret = jobIdOf(first)
  plain = jobIdOf(second)
}, 120_000)

describe("cluster-api and the job store's privacy and condition", { timeout: 120_000 }, () => {
  it("the store the CLI creates is private: its directory 0700, its file 0600", () => {
    expect(mode(path.dirname(storeOf(work)))).toBe("700")
    expect(mode(storeOf(work))).toBe("600")
  })

  it("list, show and status print environment keys, not values, unless --show-env", async () => {
    const [list, listShown, show, showShown, showText, status] = await Promise.all([
      cli(["list", "--json"], work),
      cli(["list", "--json", "--show-env"], work),
      cli(["show", "--json", secret], work),
      cli(["show", "--json", "--show-env", secret], work),
      cli(["show", secret], work),
      cli(["status", "--json", secret], work)
    ])
    for (const r of [list, listShown, show, showShown, showText, status]) expect(r.code, r.stderr).toBe(0)
    const listed = JSON.parse(list.stdout) as Array<JobRecord>
    expect(listed.find((j) => j.jobId === secret)?.spec?.env).toEqual({ DB_PASSWORD: "<hidden>" })
    for (const r of [list, show, showText, status]) expect(r.stdout).not.toContain("hunter2")
    const shown = JSON.parse(listShown.stdout) as Array<JobRecord>
    expect(shown.find((j) => j.jobId === secret)?.spec?.env).toEqual({ DB_PASSWORD: "hunter2" })
    expect((JSON.parse(show.stdout) as { record: JobRecord }).record.spec?.env).toEqual({ DB_PASSWORD: "<hidden>" })
    expect((JSON.parse(showShown.stdout) as { record: JobRecord }).record.spec?.env).toEqual({ DB_PASSWORD: "hunter2" })
  })

  it("submit --json and submit --wait --json print environment keys, not values", async () => {
    const [submitted, waited] = await Promise.all([
      cli(["submit", "--json", "--name", "s2", "--env", "DB_PASSWORD=hunter2", "--", "true"], work),
      cli(["submit", "--wait", "--json", "--name", "s3", "--env", "DB_PASSWORD=hunter2", "--", "true"], work)
    ])
    for (const r of [submitted, waited]) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).not.toContain("hunter2")
    }
    expect((JSON.parse(submitted.stdout) as JobRecord).spec?.env).toEqual({ DB_PASSWORD: "<hidden>" })
    expect((JSON.parse(waited.stdout) as JobRecord).spec?.env).toEqual({ DB_PASSWORD: "<hidden>" })
  })

  it("import - reads an export from standard input: the jobs and their environment values arrive", async () => {
    const exported = await cli(["export"], work)
    expect(exported.code, exported.stderr).toBe(0)
    const dir = freshDir()
    const imported = await Effect.runPromise(
      runCliEffect(["import", "-"], { cwd: dir }).pipe(Effect.provideService(Stdin.Stdin, Stdin.fromText(exported.stdout)))
    )
    expect(imported.code, imported.stderr).toBe(0)
    const shown = await cli(["show", "--json", "--show-env", secret], dir)
    expect(shown.code, shown.stderr).toBe(0)
    expect((JSON.parse(shown.stdout) as { record: JobRecord }).record).toMatchObject({ name: "capi-secret", spec: { env: { DB_PASSWORD: "hunter2" } } })
    const broken = await Effect.runPromise(
      runCliEffect(["import", "-"], { cwd: freshDir() }).pipe(Effect.provideService(Stdin.Stdin, Stdin.fromText("{ not json")))
    )
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain("stdin")
  })

  it("export --output writes a file only its owner may read, with the values (import needs them)", async () => {
    const fresh = path.join(work, "fresh-export.json")
    const existing = path.join(work, "old-export.json")
    fs.writeFileSync(existing, "old\n", { mode: 0o644 })
    fs.chmodSync(existing, 0o644)
    const [a, b] = await Promise.all([
      cli(["export", "--output", fresh], work),
      cli(["export", "--output", existing], work)
    ])
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0])
    expect([mode(fresh), mode(existing)]).toEqual(["600", "600"])
    expect(fs.readFileSync(fresh, "utf8")).toContain("hunter2")
  })

  it("a store this user may read but not write is listed, shown and its status read; a write says it is read-only", async () => {
    const dir = copyOfStore()
    execFileSync("chattr", ["+i", storeOf(dir)])
    immutable.push(storeOf(dir))
    const exported = path.join(work, "fresh-export.json")
    const [list, show, status, imported] = await Promise.all([
      cli(["list"], dir),
      cli(["show", plain], dir),
      cli(["status"], dir),
      cli(["import", exported], dir)
    ])
    for (const r of [list, show, status]) expect(r.code, r.stderr).toBe(0)
    expect(list.stdout).toMatch(new RegExp(`^${plain}\\s+capi-plain\\s+Done`, "m"))
    expect(show.stdout).toMatch(/^Status:\s+Done$/m)
    expect(status.stdout).toContain(secret)
    expect(imported.code).toBe(1)
    expect(imported.stderr).toContain(`The job store ${storeOf(dir)} is read-only for this program`)
    expect(imported.stderr).toContain("Reading it still works")
    expect(imported.stderr).not.toContain("not a usable")
  })

  it("a job whose row cannot be read is skipped by list with a warning; show names it and says why", async () => {
    const dir = copyOfStore()
    const db = new Database(storeOf(dir))
    db.prepare("UPDATE jobs SET record = json_set(record, '$.status', 'Exploded') WHERE job_id = ?").run(secret)
    db.close()
    const [list, show, other] = await Promise.all([
      cli(["list"], dir),
      cli(["show", secret], dir),
      cli(["show", plain], dir)
    ])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toContain(plain)
    expect(list.stdout).not.toContain(secret)
    expect(list.stderr).toContain(`local job ${secret} in the job store ${storeOf(dir)} is unreadable and was skipped`)
    expect(show.code).toBe(1)
    expect(show.stderr).toContain(`local job ${secret} is unreadable: status:`)
    expect(show.stderr).toContain("Exploded")
    expect(other.code, other.stderr).toBe(0)
  })
})
