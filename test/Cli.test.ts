/**
 * The `cluster-api` command line, run for real: the built bin (dist/src/cli/bin.js) as a child
 * process, in a fresh temporary directory with HOME pointing there and no CLUSTER_API_CONFIG, so
 * that only the config files a test writes are read. Local jobs are real (short) processes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import type { JobRecord } from "../src/Domain.js"
import { demoProblems } from "../src/cli/commands/demo.js"
import { exitCodeFor } from "../src/cli/Exit.js"
import { commandLine, defaultJobName, parseEnv, parseTimeout } from "../src/cli/Input.js"
import { bin, distIsFresh } from "./globalSetup.js"
import type { BinResult } from "./support/RunBin.js"
import { isolatedEnv, isolatedStore, runBin } from "./support/RunBin.js"
import { removeDir } from "./support/TempDirs.js"

// test/globalSetup.ts has built dist/ before any test file runs.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-api-cli-test-"))

beforeAll(() => {
  if (!distIsFresh()) throw new Error(`${bin} is missing or older than src/: the global setup should have built it`)
})

afterAll(() => {
  removeDir(scratch)
})

let dirs = 0
/** A new empty directory to run in (also the HOME the CLI sees). */
const freshDir = (): string => {
  dirs += 1
  const dir = path.join(scratch, `run-${dirs}`)
  fs.mkdirSync(dir)
  return dir
}

const cli = (args: ReadonlyArray<string>, cwd: string = freshDir()): Promise<BinResult> => {
  return runBin(bin, args, { cwd, env: isolatedEnv(cwd), killAfterMs: 45_000 })
}

const jobIdOf = (stdout: string): string => {
  const m = /Submitted job (\S+) \(/.exec(stdout)
  if (m === null) throw new Error(`no job id in:\n${stdout}`)
  return m[1]!
}

// Each run spends most of its time starting node and loading modules: run them side by side.
// On a loaded machine a run can take several seconds, hence the generous limits.
describe.concurrent("cluster-api (the built bin)", { timeout: 60_000 }, () => {
  it("--help exits 0 and lists the subcommands", async () => {
    const r = await cli(["--help"])
    expect(r.code).toBe(0)
    for (const sub of ["submit", "status", "wait", "cancel", "config", "demo"]) {
      expect(r.stdout).toMatch(new RegExp(`- ${sub}\\b`))
    }
  })

  it("submit --wait runs the command, prints the job id, and its log holds its output", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--wait", "--", "sh", "-c", "echo hi; exit 0"], dir)
    expect(r.code).toBe(0)
    const id = jobIdOf(r.stdout)
    expect(r.stdout).toMatch(new RegExp(`${id}\\s+capi-sh\\s+Done`))
    const log = path.join(dir, "logs", `stdout.${id}.log`)
    expect(r.stdout).toContain(`stdout: ${log}`)
    expect(fs.readFileSync(log, "utf8")).toBe("hi\n")
  })

  it("prints one line per transition when stdout is not a terminal", async () => {
    const r = await cli(["submit", "--wait", "--name", "napper", "sleep 0.6"])
    expect(r.code).toBe(0)
    const id = jobIdOf(r.stdout)
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d capi-napper ${id} submitted$`, "m"))
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d capi-napper ${id} (Pending|Running) → Done$`, "m"))
    expect(r.stdout).not.toContain("\u001b[") // no cursor movement in a pipe
  })

  it("a failing job with --wait exits 1 and shows its exit code", async () => {
    const r = await cli(["submit", "--wait", "sh -c 'exit 4'"])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/Failed\s+4\s+exit code 4/)
  })

  it("submit without --wait on the local executor still waits, and says so on stderr", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "sleep 0.5; echo late"], dir)
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/Local jobs run as child processes of cluster-api and end with it: waiting/)
    // The job had finished by the time the CLI exited
    expect(fs.readFileSync(path.join(dir, "logs", `stdout.${jobIdOf(r.stdout)}.log`), "utf8")).toBe("late\n")
  })

  it("--array 1-3%2 --wait runs three elements, each with its own log", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--array", "1-3%2", "--wait", "--name", "arr", "echo element $ARRAY_INDEX"], dir)
    expect(r.code).toBe(0)
    const id = jobIdOf(r.stdout)
    for (const i of [1, 2, 3]) {
      expect(fs.readFileSync(path.join(dir, "logs", `stdout.${id}.${i}.log`), "utf8")).toBe(`element ${i}\n`)
    }
    expect(fs.existsSync(path.join(dir, "logs", `stdout.${id}.4.log`))).toBe(false)
    expect(r.stdout).toMatch(new RegExp(`${id}\\[3\\] \\S+ → Done`))
  })

  it("--json prints the final records as JSON on stdout and nothing else", async () => {
    const r = await cli(["--json", "submit", "--wait", "--env", "GREETING=a=b", "echo $GREETING"])
    expect(r.code).toBe(0)
    const records = JSON.parse(r.stdout) as Array<JobRecord & { submitTime: string }>
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ name: "capi-echo", status: "Done", exitCode: 0, executor: "local" })
    expect(new Date(records[0]!.submitTime).getTime()).toBeGreaterThan(0)
    expect(fs.readFileSync(records[0]!.stdoutPath!, "utf8")).toBe("a=b\n")
  })

  it("a bad --memory exits 2 with the memory error (as JSON with --json)", async () => {
    const r = await cli(["submit", "--memory", "lots", "echo never"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`Cannot parse memory "lots"`)
    expect(r.stdout).not.toContain("Submitted")
    const j = await cli(["submit", "--json", "--memory", "lots", "echo never"])
    expect(j.code).toBe(2)
    expect(JSON.parse(j.stderr.trim().split("\n").at(-1)!)).toMatchObject({ error: "InvalidMemory" })
  })

  it("a bad --array exits 2 and says the expected form", async () => {
    const r = await cli(["submit", "--array", "1-x", "echo never"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("START-END[:STEP][%MAX]")
  })

  it("an unknown --profile exits 2 and names the profiles the file defines", async () => {
    const dir = freshDir()
    fs.writeFileSync(path.join(dir, "cluster-api.yaml"), "executor: local\nprofiles:\n  alpha:\n    cpus: 7\n  beta: {}\n")
    const r = await cli(["--profile", "nope", "config", "show"], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("Unknown profile 'nope'")
    expect(r.stderr).toContain("alpha, beta")
    // The profile exists: it is applied (and may be given after the subcommand too)
    const ok = await cli(["config", "show", "--profile", "alpha"], dir)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^cpus: 7$/m)
  })

  it("config show prints the resolved YAML; --help works even with a broken config", async () => {
    const r = await cli(["config", "show"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^executor: local$/m)
    expect(r.stdout).toContain("# file: none (built-in defaults)")

    const dir = freshDir()
    fs.writeFileSync(path.join(dir, "cluster-api.yaml"), "executor: [\n")
    const help = await cli(["config", "show", "--help"], dir)
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("--profile")
    const broken = await cli(["config", "show"], dir)
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain("Invalid config")
  })

  it("demo runs its three jobs, reports each end, and exits 0", async () => {
    const dir = path.join(freshDir(), "demo")
    const r = await cli(["demo", "--dir", dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("✔ hello finished")
    expect(r.stdout).toContain("✘ fail failed: exit code 3")
    expect(r.stdout).toMatch(/capi-hello\s+Done\s+0\s/)
    expect(r.stdout).toMatch(/capi-fail\s+Failed\s+3\s+exit code 3/)
    expect(r.stdout).toMatch(/capi-array\s+Failed\s+-\s+array elements failed: 3\s+\d\d:\d\d:\d\d\s+3$/m)
    expect(r.stdout).toContain(`Scripts and logs: ${dir}`)
    expect(r.stdout).toContain("Demo OK")
    const logs = fs.readdirSync(dir)
    for (const i of [1, 2, 3, 4]) expect(logs.some((f) => f.endsWith(`.${i}.log`) && f.startsWith("stdout."))).toBe(true)
  })

  it("status of an unknown id exits 2 and names the job store it looked in", async () => {
    const dir = freshDir()
    const r = await cli(["status", "999"], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`No job 999 is in the job store: ${isolatedStore(dir)} has no record of it`)
  })

  it("cancel without ids, --name or --all is a usage error (exit 2)", async () => {
    const r = await cli(["cancel"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("give job ids, --name PATTERN, or --all")
  })

  it("a wait that times out exits 3 and ends the local job", async () => {
    const dir = freshDir()
    const started = Date.now()
    const r = await cli(["submit", "--wait", "--timeout", "1", "sleep 40; echo never"], dir)
    expect(r.code).toBe(3)
    expect(r.stderr).toContain("Timed out after 1s")
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(fs.readFileSync(path.join(dir, "logs", `stdout.${jobIdOf(r.stdout)}.log`), "utf8")).toBe("")
    // No process of the job (its script lives in this test's directory) outlived the CLI
    expect(spawnSync("pgrep", ["-f", dir], { encoding: "utf8" }).stdout).toBe("")
  })
})

describe("parsing what users type", () => {
  it("timeouts: seconds, words and units", () => {
    const ms = (s: string) => Either.map(parseTimeout(s), Duration.toMillis)
    expect(ms("90")).toEqual(Either.right(90_000))
    expect(ms("10 minutes")).toEqual(Either.right(600_000))
    expect(ms("1h30m")).toEqual(Either.right(5_400_000))
    expect(ms("soon")).toMatchObject({ _tag: "Left" })
    expect(ms("0")).toMatchObject({ _tag: "Left" })
  })

  it("env pairs keep everything after the first =", () => {
    expect(parseEnv(["A=1", "B=x=y", "C="])).toEqual(Either.right({ A: "1", B: "x=y", C: "" }))
    expect(parseEnv(["=1"])).toMatchObject({ _tag: "Left" })
    expect(parseEnv(["NOVALUE"])).toMatchObject({ _tag: "Left" })
  })

  it("command lines and default names", () => {
    expect(commandLine(["echo hi; exit 0"])).toBe("echo hi; exit 0")
    expect(commandLine(["sh", "-c", "echo 'hi'; exit 0"])).toBe(`sh -c 'echo '\\''hi'\\''; exit 0'`)
    expect(defaultJobName(["/opt/bin/train.py --epochs 3"])).toBe("train.py")
    expect(defaultJobName(["OMP_NUM_THREADS=4 ./solver in.dat"])).toBe("solver")
    expect(defaultJobName(["sh", "-c", "x"])).toBe("sh")
  })

  it("exit codes by error", () => {
    expect(exitCodeFor("AwaitTimeout")).toBe(3)
    expect(exitCodeFor("UnknownProfile")).toBe(2)
    expect(exitCodeFor("InvalidMemory")).toBe(2)
    expect(exitCodeFor("JobNotFound")).toBe(2)
    expect(exitCodeFor("CancelError")).toBe(1)
  })

  it("the demo's verdict names what ended differently", () => {
    const base = { command: "x", executor: "local", lastSeen: new Date(0), metadata: {} } as const
    const hello: JobRecord = { ...base, jobId: "1", name: "capi-hello", status: "Done", exitCode: 0 }
    const fail: JobRecord = { ...base, jobId: "2", name: "capi-fail", status: "Failed", exitCode: 3 }
    const array: JobRecord = {
      ...base,
      jobId: "3",
      name: "capi-array",
      status: "Failed",
      array: { start: 1, end: 4 },
      elements: [1, 2, 3, 4].map((index) => ({ index, status: index === 3 ? "Failed" as const : "Done" as const }))
    }
    expect(demoProblems(hello, fail, array)).toEqual([])
    expect(demoProblems(hello, { ...fail, exitCode: 1 }, array)).toHaveLength(1)
    expect(demoProblems({ ...hello, status: "Failed" }, fail, { ...array, status: "Done", elements: [] })).toHaveLength(2)
  })
})
