/**
 * The job store of the `cluster-api` command line (run in-process) is the user's own (under HOME,
 * here a temporary directory), found from any directory; and the commands that show jobs ask the
 * scheduler about the unfinished ones, so a local job that ended while no program watched it (the
 * program that submitted it was killed) shows its true end. Such a job is left as a killed
 * program leaves it: its record and script in the store and its logs directory, its process
 * running detached, and no program that has the store open.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach } from "vitest"
import type { JobRecord } from "../src/Domain.js"
import { JobStore } from "../src/JobStore.js"
import { statusFileName } from "./support/parts/local.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import type { CliResult } from "./support/CliInProcess.js"
import { runCli, startCli } from "./support/CliInProcess.js"
import { localRecord, startWrapped, writeJobScript } from "./support/LocalJobs.js"
import { jobRecord } from "./support/Records.js"
import { isolatedStore } from "./support/RunBin.js"
import { tempDirs } from "./support/TempDirs.js"
import { until } from "./support/Until.js"

const tempDir = tempDirs("cluster-api-userstore-")

// The gates the unwatched jobs wait for, opened after each test (a test that failed first leaves
// no job waiting forever).
const gates: Array<string> = []
afterEach(() => {
  for (const gate of gates.splice(0)) fs.writeFileSync(gate, "")
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

const cli = (home: string, cwd: string, args: ReadonlyArray<string>): Promise<CliResult> =>
  runCli(args, { cwd, env: { HOME: home } })

const jobIdOf = (stdout: string): string => {
  const m = /Submitted job (\S+) \(/.exec(stdout)
  if (m === null) throw new Error(`no job id in:\n${stdout}`)
  return m[1]!
}

/** Writes `records` into the user's job store, and closes it again. */
const insert = async (home: string, records: ReadonlyArray<JobRecord>): Promise<void> => {
  fs.mkdirSync(path.dirname(isolatedStore(home)), { recursive: true })
  const store = ManagedRuntime.make(SqliteJobStore.layer(isolatedStore(home)))
  try {
    await store.runPromise(Effect.flatMap(JobStore, (s) => s.insert(records)))
  } finally {
    await store.dispose()
  }
}

/**
 * A local job running `command`, submitted from `cwd` by a program that was killed once the job's
 * process had started (SIGKILL, so it could not end the job): its record in the store, its script,
 * pid file and logs in `cwd/logs`, its process running detached, and nothing watching it (the
 * store is closed). The command waits for `gate` (opened after the test, if it has not been). Its id.
 *
 * A killed program is not run in-process: interrupting a run ends its local jobs and records
 * them Killed, as Ctrl-C does, where SIGKILL leaves them running.
 */
const unwatchedJob = async (home: string, cwd: string, gate: string, command: string): Promise<string> => {
  gates.push(gate)
  const id = "9-1"
  const logs = path.join(cwd, "logs")
  fs.mkdirSync(logs)
  const script = writeJobScript(logs, "capi-unwatched.1", command)
  await insert(home, [localRecord(logs, id, script, { name: "capi-unwatched", command, status: "Pending" })])
  await startWrapped(logs, id, script)
  return id
}

/** An unwatched job (see `unwatchedJob`) that has ended with exit code 3: its exit file is written. Its id. */
const endedUnwatchedJob = async (home: string, cwd: string): Promise<string> => {
  const gate = path.join(cwd, "go")
  const id = await unwatchedJob(home, cwd, gate, `while [ ! -e ${gate} ]; do sleep 0.05; done; exit 3`)
  fs.writeFileSync(gate, "")
  const exitFile = path.join(cwd, "logs", statusFileName("exit", id))
  await until("the job's exit file", () => fs.existsSync(exitFile) && fs.readFileSync(exitFile, "utf8").trim() !== "")
  return id
}

describe("the user's job store, found from any directory", { timeout: 120_000 }, () => {
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

describe("the scheduler's word without a watcher (local jobs)", { timeout: 120_000 }, () => {
  it("status of a job that ended while nothing watched shows its true end and exit code", async () => {
    const { home, here, there } = fresh()
    const id = await endedUnwatchedJob(home, here)

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
    const id = await unwatchedJob(home, here, gate, `echo start; while [ ! -e ${gate} ]; do sleep 0.05; done; echo end`)
    const follow = startCli(["logs", "--follow", id], { cwd: there, env: { HOME: home } })
    try {
      await follow.printedMatch(/start\n/)
      fs.writeFileSync(gate, "")
      // Ended on its own: `exited` rejects for a run that was interrupted.
      const r = await follow.exited
      expect(r).toMatchObject({ code: 0, stdout: "start\nend\n" })
    } finally {
      await follow.interrupt()
    }
  })

  it("wait on a job that ended after its submitter was killed returns its end", async () => {
    const { home, here, there } = fresh()
    const id = await endedUnwatchedJob(home, here)
    const r = await cli(home, there, ["wait", "--json", id])
    expect(r.code, r.stderr).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject([{ jobId: id, status: "Failed", exitCode: 3 }])
  })

  it("a scheduler that cannot be asked gives a warning and the stored state; another executor's jobs are shown as stored, with a note", async () => {
    const { home, there } = fresh()
    fs.writeFileSync(path.join(there, "cluster-api.yaml"), "executor: slurm\npoll_interval: 0.2\ncommand_timeout: 5\n")
    await insert(home, [jobRecord("71", { status: "Running" }), jobRecord("72", { executor: "lsf", status: "Running" })])
    // No squeue on the PATH the command's subprocesses get (this file's process's: the tests here
    // run one after the other): the poll fails.
    const pathBefore = process.env.PATH ?? ""
    process.env.PATH = path.join(home, "no-such-bin")
    const r = await cli(home, there, ["status", "--json", "71", "72"]).finally(() => {
      process.env.PATH = pathBefore
    })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject([{ jobId: "71", status: "Running" }, { jobId: "72", status: "Running" }])
    expect(r.stderr).toContain("warning: could not ask slurm about 1 unfinished job(s) (slurm:71); showing what the job store last saw")
    expect(r.stderr).toContain("note: 1 unfinished job(s) of lsf shown as the job store last saw them: this config submits to slurm")
  })
})
