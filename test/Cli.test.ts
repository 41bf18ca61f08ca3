/**
 * The `cluster-api` command line, run in-process (test/support/CliInProcess.ts): `run(argv)` with
 * a Console and Terminal that collect what it prints, in a fresh temporary directory that is also
 * its HOME, without CLUSTER_API_CONFIG, so that only the config files a test writes are read.
 * Local jobs are real (short) processes. One smoke test runs the built bin (dist/src/cli/bin.js).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { JobRecord } from "../src/Domain.js"
import { demoProblems } from "../src/cli/commands/demo.js"
import { exitCodeFor } from "../src/cli/Exit.js"
import { commandLine, defaultJobName, parseEnv, parseTimeout } from "../src/cli/Input.js"
import { bin, distIsFresh } from "./globalSetup.js"
import type { CliResult, CliRunOptions } from "./support/CliInProcess.js"
import { runCli } from "./support/CliInProcess.js"
import { isolatedEnv, isolatedStore, runBin } from "./support/RunBin.js"
import { tempDirs } from "./support/TempDirs.js"

/** A new empty directory to run in (also the HOME the CLI sees). */
const freshDir = tempDirs("cluster-api-cli-test-")

const cli = (
  args: ReadonlyArray<string>,
  cwd: string = freshDir(),
  options: Omit<CliRunOptions, "cwd"> = {}
): Promise<CliResult> => runCli(args, { ...options, cwd })

const jobIdOf = (stdout: string): string => {
  const m = /Submitted job (\S+) \(/.exec(stdout)
  if (m === null) throw new Error(`no job id in:\n${stdout}`)
  return m[1]!
}

// Most runs wait for short local jobs: run them side by side.
describe.concurrent("cluster-api", { timeout: 60_000 }, () => {
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

  it("--json prints the final record as one JSON object on stdout and nothing else, with --wait or without", async () => {
    const dir = freshDir()
    for (const wait of [["--wait"], []]) {
      const r = await cli(["--json", "submit", ...wait, "--env", "GREETING=a=b", "echo $GREETING"], dir)
      expect(r.code).toBe(0)
      const record = JSON.parse(r.stdout) as JobRecord & { submitTime: string }
      expect(Array.isArray(record)).toBe(false)
      expect(record).toMatchObject({ name: "capi-echo", status: "Done", exitCode: 0, executor: "local" })
      expect(new Date(record.submitTime).getTime()).toBeGreaterThan(0)
      expect(fs.readFileSync(record.stdoutPath!, "utf8")).toBe("a=b\n")
    }
  })

  it("--job-exit-code passes the job's own exit code on (1 when it has none); without it a failed job is 1", async () => {
    const dir = freshDir()
    expect((await cli(["submit", "--wait", "--job-exit-code", "--", "sh", "-c", "exit 7"], dir)).code).toBe(7)
    expect((await cli(["submit", "--wait", "--", "sh", "-c", "exit 7"], dir)).code).toBe(1)
    expect((await cli(["submit", "--wait", "--job-exit-code", "--", "true"], dir)).code).toBe(0)
    // A local job is always waited for.
    expect((await cli(["submit", "--job-exit-code", "--", "sh", "-c", "exit 3"], dir)).code).toBe(3)
    // An array keeps 0 or 1.
    expect((await cli(["submit", "--wait", "--job-exit-code", "--array", "1-2", "--", "sh", "-c", "exit 5"], dir)).code)
      .toBe(1)
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

  it("logs, export to stdout and logged warnings are printed through the Console and the Terminal", async () => {
    const dir = freshDir()
    fs.writeFileSync(path.join(dir, "cluster-api.yaml"), "executor: local\npoll_intervall: 1\n")
    const shown = await cli(["config", "show"], dir)
    expect(shown.code).toBe(0)
    expect(shown.stderr).toContain("cluster-api: warning: Unknown config key poll_intervall")
    const submitted = await cli(["submit", "--wait", "printf 'one\\ntwo\\n'"], dir)
    expect(submitted.code).toBe(0)
    const id = jobIdOf(submitted.stdout)
    const logs = await cli(["logs", id], dir)
    expect(logs.code).toBe(0)
    expect(logs.stdout).toBe("one\ntwo\n")
    const exported = await cli(["export"], dir)
    expect(exported.code).toBe(0)
    expect((JSON.parse(exported.stdout) as { jobs: Array<{ record: JobRecord }> }).jobs.map((j) => j.record.jobId))
      .toEqual([id])
  })

  it("relative paths given to export --output, import and demo --dir start from the working directory", async () => {
    const dir = freshDir()
    const submitted = await cli(["submit", "--wait", "echo ok"], dir)
    expect(submitted.code).toBe(0)
    const exported = await cli(["export", "--output", "jobs.json"], dir)
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stdout).toContain(`Exported 1 job to ${path.join(dir, "jobs.json")}`)
    const other = freshDir()
    fs.copyFileSync(path.join(dir, "jobs.json"), path.join(other, "copied.json"))
    const imported = await cli(["import", "copied.json"], other)
    expect(imported.code, imported.stderr).toBe(0)
    const listed = await cli(["list"], other)
    expect(listed.stdout).toContain(jobIdOf(submitted.stdout))
    const demo = await cli(["demo", "--dir", "demo-files"], dir)
    expect(demo.code, demo.stderr).toBe(0)
    expect(demo.stdout).toContain(`Scripts and logs: ${path.join(dir, "demo-files")}`)
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

describe("help and output without ANSI escapes", { timeout: 60_000 }, () => {
  const escape = "\u001b["

  it("on a terminal, help keeps its styles", async () => {
    const r = await cli(["--help"], freshDir(), { isTTY: true })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(escape)
  })

  it("help through a pipe has no ANSI escapes", async () => {
    const r = await cli(["--help"], freshDir(), { isTTY: false })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^USAGE$/m)
    expect(r.stdout).not.toContain(escape)
    const sub = await cli(["submit", "--help"], freshDir(), { isTTY: false })
    expect(sub.stdout).toContain("--array")
    expect(sub.stdout).not.toContain(escape)
  })

  it("NO_COLOR (any non-empty value) takes the styles out of help on a terminal", async () => {
    for (const value of ["1", "0", "yes"]) {
      const r = await cli(["--help"], freshDir(), { isTTY: true, env: { NO_COLOR: value } })
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^USAGE$/m)
      expect(r.stdout).not.toContain(escape)
    }
    const sub = await cli(["config", "show", "--help"], freshDir(), { isTTY: true, env: { NO_COLOR: "1" } })
    expect(sub.stdout).toContain("--profile")
    expect(sub.stdout).not.toContain(escape)
  })


  it("on a terminal, a wait redraws its summary in place and ends with the result table", async () => {
    const r = await cli(["submit", "--wait", "--name", "drawn", "sleep 0.3"], freshDir(), { isTTY: true, columns: 60 })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`${escape}2K`) // lines cleared and redrawn
    expect(r.stdout).toMatch(new RegExp(`${jobIdOf(r.stdout)}\\s+capi-drawn\\s+Done`))
  })

  it("the built bin, piped: --help exits 0, lists the subcommands, and has no ANSI escapes", async () => {
    expect(distIsFresh()).toBe(true)
    const cwd = freshDir()
    const r = await runBin(bin, ["--help"], { cwd, env: isolatedEnv(cwd), killAfterMs: 45_000 })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/- submit\b/)
    expect(r.stdout).not.toContain(escape)
  })

  it("the built bin, its reader gone (`logs ID | head -1`): stops quietly with 141, as a program killed by SIGPIPE", async () => {
    const cwd = freshDir()
    const submitted = await cli(["submit", "--wait", "--parsable", "--", "seq", "1", "300000"], cwd)
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = submitted.stdout.trim().split("\n")[0]!
    const child = spawn(process.execPath, [bin, "logs", id], { cwd, env: isolatedEnv(cwd), stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()))
    // The reader takes the first piece and goes away, as `head -1` does.
    child.stdout.once("data", () => child.stdout.destroy())
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once("exit", (c, s) => resolve([c, s]))
    )
    expect([code, signal, stderr]).toEqual([141, null, ""])
  })
})

describe("parsing what users type", () => {
  it("timeouts: seconds, words and units", () => {
    const ms = (s: string) => Either.map(parseTimeout(s), Duration.toMillis)
    expect(ms("90")).toEqual(Either.right(90_000))
    expect(ms("10 minutes")).toEqual(Either.right(600_000))
    expect(ms("1h30m")).toEqual(Either.right(5_400_000))
    expect(ms("1d12h")).toEqual(Either.right(129_600_000))
    expect(ms("1:30:00")).toEqual(Either.right(5_400_000))
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
