/**
 * The job store of the built `cluster-api` bin is the user's own (under HOME, here a temporary
 * directory), found from any directory; and the commands that show jobs ask the scheduler about
 * the unfinished ones, so a local job that ended while no program watched it (the program that
 * submitted it was killed) shows its true end.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll } from "vitest"
import { JobStore } from "../src/JobStore.js"
import { statusFileName } from "../src/schedulers/Local.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { bin, distIsFresh } from "./globalSetup.js"
import type { BinResult } from "./support/RunBin.js"
import { isolatedEnv, isolatedStore, runBin, startBin } from "./support/RunBin.js"
import { jobRecord } from "./support/Records.js"
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

/** Resolves once `predicate` holds (checked every 50 ms), or rejects after `ms`. */
const until = (what: string, predicate: () => boolean, ms = 30_000): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const check = () => {
      if (predicate()) resolve()
      else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${what}`))
      else setTimeout(check, 50)
    }
    check()
  })

/**
 * Submits `command` from `cwd` and kills the submitting program (SIGKILL, so it cannot end the
 * job) once the job's process has started: nothing watches the job from then on. Its id.
 */
const submitUnwatched = async (home: string, cwd: string, command: string): Promise<string> => {
  const submit = startBin(bin, ["submit", "--name", "unwatched", command], { cwd, env: isolatedEnv(home), killAfterMs: 60_000 })
  await submit.printedMatch(/Submitted job \S+ \(/)
  const id = jobIdOf(submit.printed().stdout)
  const pidFile = path.join(cwd, "logs", statusFileName("pid", id))
  await until("the job's pid file", () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "")
  submit.child.kill("SIGKILL")
  await submit.exited
  return id
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

describe("the scheduler's word without a watcher (the built bin, local jobs)", { timeout: 120_000 }, () => {
  it("status of a job that ended while nothing watched shows its true end and exit code", async () => {
    const { home, here, there } = fresh()
    const gate = path.join(here, "go")
    const id = await submitUnwatched(home, here, `while [ ! -e ${gate} ]; do sleep 0.05; done; exit 3`)
    fs.writeFileSync(gate, "")
    const exitFile = path.join(here, "logs", statusFileName("exit", id))
    await until("the job's exit file", () => fs.existsSync(exitFile) && fs.readFileSync(exitFile, "utf8").trim() !== "")

    const status = await cli(home, there, ["status", "--json", id])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject([{ jobId: id, status: "Failed", exitCode: 3 }])
    // What was learnt was written: a later read needs no poll to see it.
    const list = await cli(home, there, ["list", "--json", "--status", "Failed"])
    expect(JSON.parse(list.stdout)).toMatchObject([{ jobId: id, status: "Failed", exitCode: 3 }])
  })

  it("logs --follow of a job that ends while followed, with nothing else watching, returns", async () => {
    const { home, here, there } = fresh()
    const gate = path.join(here, "go")
    const id = await submitUnwatched(home, here, `echo start; while [ ! -e ${gate} ]; do sleep 0.05; done; echo end`)
    const follow = startBin(bin, ["logs", "--follow", id], { cwd: there, env: isolatedEnv(home), killAfterMs: 60_000 })
    await follow.printedMatch(/start\n/)
    fs.writeFileSync(gate, "")
    const r = await follow.exited
    expect(r.signal).toBeNull()
    expect(r).toMatchObject({ code: 0, stdout: "start\nend\n" })
  })

  it("wait on a job that ended after its submitter was killed returns its end", async () => {
    const { home, here, there } = fresh()
    const gate = path.join(here, "go")
    const id = await submitUnwatched(home, here, `while [ ! -e ${gate} ]; do sleep 0.05; done; exit 3`)
    fs.writeFileSync(gate, "")
    const exitFile = path.join(here, "logs", statusFileName("exit", id))
    await until("the job's exit file", () => fs.existsSync(exitFile) && fs.readFileSync(exitFile, "utf8").trim() !== "")
    const r = await runBin(bin, ["wait", "--json", id], { cwd: there, env: isolatedEnv(home), killAfterMs: 60_000 })
    expect(r.code, r.stderr).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject([{ jobId: id, status: "Failed", exitCode: 3 }])
  })

  it("a scheduler that cannot be asked gives a warning and the stored state; another executor's jobs are shown as stored, with a note", async () => {
    const { home, there } = fresh()
    fs.writeFileSync(path.join(there, "cluster-api.yaml"), "executor: slurm\npoll_interval: 0.2\ncommand_timeout: 5\n")
    fs.mkdirSync(path.dirname(isolatedStore(home)), { recursive: true })
    const store = ManagedRuntime.make(SqliteJobStore.layer(isolatedStore(home)))
    try {
      await store.runPromise(Effect.flatMap(JobStore, (s) =>
        s.insert([jobRecord("71", { status: "Running" }), jobRecord("72", { executor: "lsf", status: "Running" })])))
    } finally {
      await store.dispose()
    }
    // No squeue on this PATH: the poll fails.
    const env = { ...isolatedEnv(home), PATH: path.join(home, "no-such-bin") }
    const r = await runBin(bin, ["status", "--json", "71", "72"], { cwd: there, env, killAfterMs: 60_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject([{ jobId: "71", status: "Running" }, { jobId: "72", status: "Running" }])
    expect(r.stderr).toContain("warning: could not ask slurm about 1 unfinished job(s) (slurm:71); showing what the job store last saw")
    expect(r.stderr).toContain("note: 1 unfinished job(s) of lsf shown as the job store last saw them: this config submits to slurm")
  })
})
