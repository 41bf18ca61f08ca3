/**
 * The job store of the built `cluster-api` bin is the user's own (under HOME, here a temporary
 * directory), found from any directory.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll } from "vitest"
import { bin, distIsFresh } from "./globalSetup.js"
import type { BinResult } from "./support/RunBin.js"
import { isolatedEnv, isolatedStore, runBin } from "./support/RunBin.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("cluster-api-userstore-")

beforeAll(() => {
  if (!distIsFresh()) throw new Error(`${bin} is missing or older than src/: the global setup should have built it`)
})

/** A HOME and two working directories, neither of them HOME. */
const fresh = () => {
  const home = tempDir()
  const mk = (name: string) => {
    const dir = path.join(home, name)
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, "cluster-api.yaml"), "poll_interval: 0.2\n")
    return dir
  }
  return { home, here: mk("here"), there: mk("there") }
}

const cli = (home: string, cwd: string, args: ReadonlyArray<string>): Promise<BinResult> =>
  runBin(bin, args, { cwd, env: isolatedEnv(home), killAfterMs: 60_000 })

const jobIdOf = (stdout: string): string => {
  const m = /Submitted job (\S+) \(/.exec(stdout)
  if (m === null) throw new Error(`no job id in:\n${stdout}`)
  return m[1]!
}

describe("the user's job store, found from any directory (the built bin)", { timeout: 120_000 }, () => {
  it("a job submitted in one directory is found by status, list and logs run from another", async () => {
    const { home, here, there } = fresh()
    const submitted = await cli(home, here, ["submit", "--wait", "--name", "greeter", "echo hello from here"])
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = jobIdOf(submitted.stdout)
    expect(fs.existsSync(isolatedStore(home))).toBe(true)
    expect((fs.statSync(path.dirname(isolatedStore(home))).mode & 0o777).toString(8)).toBe("700")
    expect(fs.existsSync(path.join(here, "logs", "cluster-api.db"))).toBe(false)

    const [status, list, logs] = await Promise.all([
      cli(home, there, ["status", "--json", id]),
      cli(home, there, ["list"]),
      cli(home, there, ["logs", id])
    ])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject([{ jobId: id, status: "Done", exitCode: 0 }])
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+capi-greeter\\s+Done`))
    expect(logs).toMatchObject({ code: 0, stdout: "hello from here\n" })
  })

  it("an unknown job in a directory holding a store of the old default place names that store and how to read it", async () => {
    const { home, there } = fresh()
    fs.mkdirSync(path.join(there, "logs"))
    fs.writeFileSync(path.join(there, "logs", "cluster-api.db"), "")
    const r = await cli(home, there, ["status", "999"])
    expect(r.code).toBe(2)
    const legacy = path.join(there, "logs", "cluster-api.db")
    expect(r.stderr).toContain(`${isolatedStore(home)} has no record of it`)
    expect(r.stderr).toContain(`${legacy} is a job store of an older cluster-api: to read it, give --config a file with state_path: ${legacy}, or set CLUSTER_API_STATE=${legacy}`)
  })
})
