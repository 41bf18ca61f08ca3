/**
 * The job-store commands of the `cluster-api` command line (list, show, logs, export, import,
 * cleanup, and status without ids), each run in-process as a program of its own on the store that
 * `submit` (another run) wrote. Runs in a temporary directory with a `cluster-api.yaml` there and
 * HOME pointing there. Jobs that must still be running while a command looks at them are written into the store
 * by this test through the library, with a log file the test grows itself.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { nameGlobs, parseStatuses } from "../src/cli/Input.js"
import { detailElementLimit, jobDetailsText } from "../src/cli/Progress.js"
import type { JobRecord } from "../src/Domain.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import type { CliResult } from "./support/CliInProcess.js"
import { runCli, startCli } from "./support/CliInProcess.js"
import { slurmJob } from "./support/Records.js"
import { isolatedStore } from "./support/RunBin.js"
import { removeDir } from "./support/TempDirs.js"
import { until } from "./support/Until.js"

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-api-clijobs-"))
afterAll(() => removeDir(scratch))

let dirs = 0
/** A new directory with a config that polls often (and, HOME being there, the store under it). */
const freshDir = (config = "poll_interval: 0.2\n"): string => {
  dirs += 1
  const dir = path.join(scratch, `run-${dirs}`)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "cluster-api.yaml"), config)
  return dir
}

const cli = (args: ReadonlyArray<string>, cwd: string): Promise<CliResult> => runCli(args, { cwd })

const jobIdOf = (r: CliResult): string => {
  const m = /Submitted job (\S+) \(/.exec(r.stdout)
  if (m === null) throw new Error(`no job id in:\n${r.stdout}\n${r.stderr}`)
  return m[1]!
}

/** The store of a directory, opened by this process through the library. */
const openStore = (dir: string) => {
  fs.mkdirSync(path.dirname(isolatedStore(dir)), { recursive: true })
  return ManagedRuntime.make(SqliteJobStore.layer(isolatedStore(dir)))
}

const runningRecord = (jobId: string, dir: string, over: Partial<JobRecord> = {}): JobRecord => ({
  jobId,
  name: `capi-${jobId}`,
  command: "long-running",
  executor: "slurm",
  status: "Running",
  submitTime: new Date(),
  startTime: new Date(),
  lastSeen: new Date(),
  scriptPath: path.join(dir, "logs", `capi-${jobId}.1.sh`),
  stdoutPath: path.join(dir, "logs", `stdout.${jobId}.log`),
  stderrPath: path.join(dir, "logs", `stderr.${jobId}.log`),
  metadata: {},
  ...over
})

// Three jobs submitted by `cluster-api submit` (each waits for its local job), one store. One after
// the other: the local executor's ids are `{pid}-{n}`, found free in the store and then inserted,
// so two runs side by side in this one process could both take `{pid}-1`, which two programs
// (two pids) never do.
const work = freshDir()
const ids = { hello: "", fail: "", arr: "" }

beforeAll(async () => {
  const hello = await cli(["submit", "--name", "hello", "--", "sh", "-c", "echo one; echo two; echo oops >&2"], work)
  const fail = await cli(["submit", "--name", "fail", "echo bad; exit 3"], work)
  const arr = await cli(["submit", "--name", "arr", "--array", "1-2", "echo element $ARRAY_INDEX"], work)
  expect([hello.code, fail.code, arr.code]).toEqual([0, 1, 0])
  ids.hello = jobIdOf(hello)
  ids.fail = jobIdOf(fail)
  ids.arr = jobIdOf(arr)
}, 120_000)

const listedIds = (r: CliResult): Array<string> => (JSON.parse(r.stdout) as Array<JobRecord>).map((j) => j.jobId)

describe("cluster-api job-store commands", { timeout: 120_000 }, () => {
  it("--help lists the new commands", async () => {
    const r = await cli(["--help"], work)
    for (const sub of ["list", "show", "logs", "export", "import", "cleanup"]) {
      expect(r.stdout).toMatch(new RegExp(`- ${sub}\\b`))
    }
  })

  it("list shows the store's jobs, filtered by status, name (prefix optional), time and limit", async () => {
    const [all, failed, byName, byFullName, since, before, limited, badSince, badStatus] = await Promise.all([
      cli(["list"], work),
      cli(["list", "--json", "--status", "failed"], work),
      cli(["list", "--json", "--name", "hel*"], work),
      cli(["list", "--json", "--name", "capi-hel*"], work),
      cli(["list", "--json", "--since", "1h", "--status", "Done,Failed"], work),
      cli(["list", "--until", "2000-01-01"], work),
      cli(["list", "--limit", "1", "--status", "done"], work),
      cli(["list", "--since", "last tuesday"], work),
      cli(["list", "--status", "finished"], work)
    ])
    expect(all.code).toBe(0)
    expect(all.stdout).toMatch(new RegExp(`^${ids.hello}\\s+capi-hello\\s+Done\\s+0`, "m"))
    expect(all.stdout).toMatch(new RegExp(`^${ids.fail}\\s+capi-fail\\s+Failed\\s+3\\s+exit code 3`, "m"))
    expect(all.stdout).toMatch(new RegExp(`^${ids.arr}\\s+capi-arr\\s+Done`, "m"))
    expect(listedIds(failed)).toEqual([ids.fail])
    expect(listedIds(byName)).toEqual([ids.hello])
    expect(listedIds(byFullName)).toEqual([ids.hello])
    expect(listedIds(since).sort()).toEqual([ids.hello, ids.fail, ids.arr].sort())
    expect(before.stdout).toContain("No job in the job store")
    expect(limited.stdout.trim().split("\n")).toHaveLength(3) // header, one job, the note
    expect(limited.stdout).toContain("(the newest 1 shown")
    expect(badSince.code).toBe(2)
    expect(badSince.stderr).toContain("an age (that long ago) as seconds (600), words")
    expect(badStatus.code).toBe(2)
    expect(badStatus.stderr).toContain("expected one of Pending, Running, Done, Failed, Killed, Unknown")
  })

  it("list in a directory with no store says so, and creates nothing", async () => {
    const dir = freshDir()
    const r = await cli(["list"], dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("does not exist yet")
    expect(fs.existsSync(path.join(dir, "logs"))).toBe(false)
    expect(fs.existsSync(path.join(dir, ".local"))).toBe(false)
  })

  it("status without ids shows the store's jobs; an unknown id names the store", async () => {
    const [all, unknown] = await Promise.all([cli(["status"], work), cli(["status", "999"], work)])
    expect(all.code).toBe(0)
    for (const id of Object.values(ids)) expect(all.stdout).toContain(id)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain(`No job 999 is in the job store: ${isolatedStore(work)} has no record of it`)
  })

  it("show prints the job in full with its transitions", async () => {
    const [failed, arr, json, unknown] = await Promise.all([
      cli(["show", ids.fail], work),
      cli(["show", ids.arr], work),
      cli(["show", "--json", ids.fail], work),
      cli(["show", "nope"], work)
    ])
    expect(failed.code).toBe(0)
    expect(failed.stdout).toMatch(/^Status:\s+Failed$/m)
    expect(failed.stdout).toMatch(/^Reason:\s+exit code 3$/m)
    expect(failed.stdout).toMatch(/^Command:\s+echo bad; exit 3$/m)
    expect(failed.stdout).toMatch(/^Executor:\s+local$/m)
    expect(failed.stdout).toMatch(new RegExp(`^Stdout:\\s+${path.join(work, "logs", `stdout.${ids.fail}.log`)}$`, "m"))
    expect(failed.stdout).toMatch(/^Transitions:\n {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}submitted → Pending$/m)
    expect(failed.stdout).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\w+ → Failed \(exit code 3\)$/m)
    expect(arr.stdout).toMatch(/^Array:\s+1-2 \(elements 2\/2 ended\)$/m)
    expect(arr.stdout).toMatch(/^Elements:\n\s+INDEX\s+STATUS/m)
    const detail = JSON.parse(json.stdout) as { record: JobRecord; transitions: Array<{ to: string; at: string }> }
    expect(detail.record.jobId).toBe(ids.fail)
    expect(detail.transitions.at(-1)?.to).toBe("Failed")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("No job nope")
  })

  it("logs prints the stdout log, --tail N its last lines, --stderr the stderr; array jobs need --index", async () => {
    const [out, tail, err, arrNoIndex, arrIndex, arrBadIndex, json] = await Promise.all([
      cli(["logs", ids.hello], work),
      cli(["logs", ids.hello, "--tail", "1"], work),
      cli(["logs", "--stderr", ids.hello], work),
      cli(["logs", ids.arr], work),
      cli(["logs", ids.arr, "--index", "2"], work),
      cli(["logs", ids.arr, "--index", "5"], work),
      cli(["logs", "--json", ids.fail], work)
    ])
    expect(out).toMatchObject({ code: 0, stdout: "one\ntwo\n" })
    expect(tail).toMatchObject({ code: 0, stdout: "two\n" })
    expect(err).toMatchObject({ code: 0, stdout: "oops\n" })
    expect(arrNoIndex.code).toBe(2)
    expect(arrNoIndex.stderr).toContain("is an array job (elements 1-2)")
    expect(arrNoIndex.stderr).toContain("--index")
    expect(arrIndex).toMatchObject({ code: 0, stdout: "element 2\n" })
    expect(arrBadIndex.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({ jobId: ids.fail, stream: "stdout", text: "bad\n" })
  })

  it("export writes every job with its transitions; import reads them into another state_path", async () => {
    const file = path.join(work, `export-${process.pid}.json`)
    const [written, toStdout] = await Promise.all([
      cli(["export", "--output", file], work),
      cli(["export", "--status", "Failed"], work)
    ])
    expect(written.code).toBe(0)
    expect(written.stdout).toContain(`Exported 3 jobs to ${file}`)
    const piped = JSON.parse(toStdout.stdout) as { format: string; jobs: Array<{ record: JobRecord }> }
    expect(piped.format).toBe("cluster-api-jobs")
    expect(piped.jobs.map((j) => j.record.jobId)).toEqual([ids.fail])

    const other = freshDir("state_path: elsewhere/jobs.db\n")
    const imported = await cli(["import", file], other)
    expect(imported.code).toBe(0)
    expect(imported.stdout).toContain(`Imported 3 jobs into the job store ${path.join(other, "elsewhere", "jobs.db")}`)
    const [list, original, copy, again] = await Promise.all([
      cli(["list", "--json"], other),
      cli(["show", "--json", ids.fail], work),
      cli(["show", "--json", ids.fail], other),
      cli(["import", "--json", file], other)
    ])
    expect(listedIds(list).sort()).toEqual(Object.values(ids).sort())
    expect(JSON.parse(copy.stdout)).toEqual(JSON.parse(original.stdout))
    expect(JSON.parse(again.stdout)).toEqual({ imported: [], skipped: expect.arrayContaining(Object.values(ids).map((id) => `local:${id}`)) })
  })

  it("import of a file that is not an export exits 2 saying what is wrong and where", async () => {
    const dir = freshDir()
    fs.writeFileSync(
      path.join(dir, "bad.json"),
      JSON.stringify({ format: "cluster-api-jobs", version: 1, exportedAt: "2026-01-01T00:00:00Z", jobs: [{ record: {} }] })
    )
    fs.writeFileSync(path.join(dir, "broken.json"), "{ not json")
    const [bad, broken] = await Promise.all([cli(["import", "bad.json"], dir), cli(["import", "--json", "broken.json"], dir)])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("jobs[0].record.jobId: is missing")
    expect(bad.stderr).toContain("jobs[0].transitions: is missing")
    expect(broken.code).toBe(2)
    expect(JSON.parse(broken.stderr.trim())).toMatchObject({ error: "InvalidImport" })
    expect(broken.stderr).toContain("not JSON")
  })
})

describe("cluster-api cleanup and logs --follow", { timeout: 120_000 }, () => {
  it("cleanup removes ended jobs' files and rows, and refuses a running job unless --force", async () => {
    const dir = freshDir()
    const submitted = await cli(["submit", "--name", "tidy", "echo tidy"], dir)
    const id = jobIdOf(submitted)
    const logs = path.join(dir, "logs")
    const before = fs.readdirSync(logs).filter((f) => f.includes(id) || f.startsWith("capi-tidy"))
    expect(before).toEqual(expect.arrayContaining([`stdout.${id}.log`, `stderr.${id}.log`, "capi-tidy.1.sh"]))

    const store = openStore(dir)
    const running = runningRecord("77", dir)
    fs.writeFileSync(running.stdoutPath!, "still going\n")
    try {
      await store.runPromise(Effect.flatMap(JobStore, (s) => s.insert([running])))

      const usage = await cli(["cleanup"], dir)
      expect(usage.code).toBe(2)
      expect(usage.stderr).toContain("say which jobs")

      const refused = await cli(["cleanup", "77"], dir)
      expect(refused.code).toBe(1)
      expect(refused.stdout).toContain("Left 1 job that has not ended (--force removes it anyway)")
      expect(fs.existsSync(running.stdoutPath!)).toBe(true)

      const all = await cli(["cleanup", "--all"], dir)
      expect(all.code).toBe(0)
      expect(all.stdout).toMatch(new RegExp(`Removed 1 job and \\d+ files:\\n {2}${id} {2}capi-tidy {2}Done`))
      for (const f of before) {
        expect(all.stdout).toContain(path.join(logs, f))
        expect(fs.existsSync(path.join(logs, f))).toBe(false)
      }
      const [show, list] = await Promise.all([cli(["show", id], dir), cli(["list", "--json"], dir)])
      expect(show.code).toBe(2)
      expect(listedIds(list)).toEqual(["77"])

      const forced = await cli(["cleanup", "--force", "77", "--json"], dir)
      expect(forced.code).toBe(0)
      expect(JSON.parse(forced.stdout)).toMatchObject({ removed: [{ jobId: "77", files: [running.stdoutPath] }] })
      expect(fs.existsSync(running.stdoutPath!)).toBe(false)
    } finally {
      await store.dispose()
    }
  })

  it("logs --follow waits for the log, prints what is appended, and stops once the job has ended", async () => {
    const dir = freshDir()
    fs.mkdirSync(path.join(dir, "logs"))
    const store = openStore(dir)
    const job = runningRecord("88", dir, { status: "Pending", startTime: undefined })
    const log = job.stdoutPath!
    try {
      await store.runPromise(Effect.flatMap(JobStore, (s) => s.insert([job])))
      const follow = startCli(["logs", "--follow", "88"], { cwd: dir })
      try {
        await until("the wait for the log to be announced", () => follow.printed().stderr.includes("Waiting for"))
        expect(follow.printed().stderr).toContain(`Waiting for ${log}: job 88 has not written it yet (it is Pending)`)
        await store.runPromise(Effect.flatMap(JobStore, (s) => s.modify([slurmJob("88")], (r) => ({ ...r, status: "Running" }))))
        fs.writeFileSync(log, "first\n")
        await until("the first line", () => follow.printed().stdout.includes("first\n"))
        fs.appendFileSync(log, "second\n")
        await until("the second line", () => follow.printed().stdout.includes("second\n"))
        expect(follow.printed().code).toBeUndefined() // still following a running job
        fs.appendFileSync(log, "third, written just before the end\n")
        await store.runPromise(Effect.flatMap(JobStore, (s) => s.modify([slurmJob("88")], (r) => ({ ...r, status: "Done", exitCode: 0 }))))
        const { code, stdout } = await follow.exited
        expect(code).toBe(0)
        expect(stdout).toBe("first\nsecond\nthird, written just before the end\n")
      } finally {
        await follow.interrupt()
      }
    } finally {
      await store.dispose()
    }
  })

  it("logs of a job with no log yet says it may not have started; --follow on a failed job exits 1", async () => {
    const dir = freshDir()
    fs.mkdirSync(path.join(dir, "logs"))
    const store = openStore(dir)
    const pending = runningRecord("90", dir, { status: "Pending" })
    const failed = runningRecord("91", dir, { status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 2 } })
    fs.writeFileSync(failed.stdoutPath!, "last words\n")
    try {
      await store.runPromise(Effect.flatMap(JobStore, (s) => s.insert([pending, failed])))
      const [missing, follow] = await Promise.all([cli(["logs", "90"], dir), cli(["logs", "-f", "91"], dir)])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain(`Job 90 has no stdout log at ${pending.stdoutPath} yet: it may not have started`)
      expect(follow).toMatchObject({ code: 1, stdout: "last words\n" })
    } finally {
      await store.dispose()
    }
  })
})

describe("what the job-store commands read and print", () => {
  it("--status takes any case, commas, and repeats; anything else names the states", () => {
    expect(parseStatuses(["done", "FAILED,killed", "Done"])).toEqual(Either.right(["Done", "Failed", "Killed"]))
    expect(parseStatuses([])).toEqual(Either.right([]))
    expect(parseStatuses(["Finished"])).toEqual(
      Either.left(`Invalid --status "Finished": expected one of Pending, Running, Done, Failed, Killed, Unknown`)
    )
  })

  it("--name matches with or without the job_name_prefix", () => {
    expect(nameGlobs("train-*", "capi")).toEqual(["train-*", "capi-train-*"])
    expect(nameGlobs("train-*", undefined)).toEqual(["train-*"])
    expect(nameGlobs("train-*", "")).toEqual(["train-*"])
  })

  it("show gives a Slurm array's log paths with {index} for the element, not Slurm's %a", () => {
    const now = new Date(2026, 4, 1, 12)
    const record = runningRecord("5", "/w", {
      array: { start: 1, end: 4, maxConcurrent: 2 },
      stdoutPath: "/w/logs/stdout.5_%a.log",
      stderrPath: "/w/logs/stderr.5_%a.log"
    })
    const text = jobDetailsText(record, [], now)
    expect(text).toMatch(/^Stdout:\s+\/w\/logs\/stdout\.5_\{index\}\.log$/m)
    expect(text).toMatch(/^Stderr:\s+\/w\/logs\/stderr\.5_\{index\}\.log$/m)
    expect(text).not.toContain("%a")
  })

  it("show lists at most a hundred array elements and says how many more there are", () => {
    const now = new Date(2026, 4, 1, 12)
    const size = detailElementLimit + 5
    const record: JobRecord = {
      ...runningRecord("5", "/w"),
      array: { start: 1, end: size },
      elements: Array.from({ length: size }, (_, i) => ({ index: i + 1, status: "Done" as const }))
    }
    const text = jobDetailsText(record, [{ at: now, to: "Pending" }], now)
    expect(text).toMatch(new RegExp(`^ {2}${detailElementLimit} +Done$`, "m"))
    expect(text).not.toMatch(new RegExp(`^ {2}${detailElementLimit + 1} +Done$`, "m"))
    expect(text).toContain("… and 5 more (--json lists them all)")
    expect(text).toMatch(/^Array:\s+1-105 \(elements 105\/105 ended\)$/m)
    expect(text).toMatch(/^Transitions:\n {2}2026-05-01 12:00:00 {2}submitted → Pending$/m)
  })
})
