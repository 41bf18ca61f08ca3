/**
 * End-to-end checks of the LSF emulator (test/support/lsf/bin: bsub, bjobs, bkill) that other
 * end-to-end tests put first on PATH. Jobs run as real local processes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as ClusterApi from "../src/ClusterApi.js"
import { layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobSpec } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import { tempDirs } from "./support/TempDirs.js"

const BIN = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))
const tempDir = tempDirs("lsf-emu-")
const FIELDS = "jobid job_name stat exit_code exit_reason exec_host max_mem submit_time start_time finish_time queue"
const TIME = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} L$/

interface Lsf {
  readonly dir: string
  readonly env: NodeJS.ProcessEnv
  readonly run: (cmd: string, args: ReadonlyArray<string>, input?: string) => { code: number | null; stdout: string; stderr: string }
  readonly submit: (script: string, args?: ReadonlyArray<string>) => string
  readonly records: (ids?: ReadonlyArray<string>) => Array<Record<string, string>>
  readonly waitFor: (pred: (records: Array<Record<string, string>>) => boolean, timeoutMs?: number) => Promise<Array<Record<string, string>>>
}

const makeLsf = (): Lsf => {
  const dir = tempDir()
  const env = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}`, LSF_EMULATOR_DIR: dir }
  const run = (cmd: string, args: ReadonlyArray<string>, input?: string) => {
    const r = spawnSync(cmd, args, { env, input: input ?? "", encoding: "utf8", cwd: dir })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const submit = (script: string, args: ReadonlyArray<string> = []) => {
    const r = run("bsub", args, script)
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const m = /^Job <(\d+)> is submitted to (default )?queue <\w+>\.\n$/.exec(r.stdout)
    expect(m).not.toBeNull()
    return m![1]!
  }
  const records = (ids: ReadonlyArray<string> = []) => {
    const r = run("bjobs", ["-a", "-o", FIELDS, "-json", ...ids])
    return JSON.parse(r.stdout).RECORDS as Array<Record<string, string>>
  }
  // A bound, not an expectation: it returns as soon as the records say so (a busy machine is slow).
  const waitFor = async (pred: (records: Array<Record<string, string>>) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const rs = records()
      if (pred(rs)) return rs
      if (Date.now() > deadline) throw new Error(`timed out waiting; last records: ${JSON.stringify(rs)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return { dir, env, run, submit, records, waitFor }
}

const finished = (r: Record<string, string>) => r.STAT === "DONE" || r.STAT === "EXIT"
/** True while the process exists and is not a zombie (an unreaped orphan counts as gone). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}
const waitGone = async (pid: number, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  return !alive(pid)
}

/** A command that waits until `file` exists: the job runs on once the test writes it. */
const heldUntil = (file: string) => `until [ -e "${file}" ]; do sleep 0.05; done`

describe("LSF emulator", { timeout: 120_000 }, () => {
  it("needs LSF_EMULATOR_DIR", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}` }
    delete env.LSF_EMULATOR_DIR
    const r = spawnSync("bjobs", [], { env, encoding: "utf8" })
    expect(r.status).toBe(255)
    expect(r.stderr).toContain("LSF_EMULATOR_DIR")
  })

  it("runs a script from stdin with #BSUB options and reports it as DONE", async () => {
    const lsf = makeLsf()
    const id = lsf.submit(
      `#!/bin/bash\n#BSUB -J e2e-hello\n#BSUB -o "${lsf.dir}/%J.log"\n#BSUB -q short\n#BSUB -n 1\n#BSUB -M 512\n#BSUB -W 10\necho "hi $LSB_JOBID $LSB_JOBINDEX $LSB_JOBNAME $PWD"\n`,
      ["-q", "normal", "-cwd", os.tmpdir()]
    )
    const [rec] = await lsf.waitFor((rs) => rs.length === 1 && finished(rs[0]!))
    expect(rec).toMatchObject({
      JOBID: id,
      JOB_NAME: "e2e-hello",
      STAT: "DONE",
      EXIT_CODE: "0",
      EXIT_REASON: "-",
      EXEC_HOST: os.hostname(),
      MAX_MEM: "-",
      QUEUE: "normal"
    })
    expect(rec!.SUBMIT_TIME).toMatch(TIME)
    expect(rec!.START_TIME).toMatch(TIME)
    expect(rec!.FINISH_TIME).toMatch(TIME)
    const out = fs.readFileSync(path.join(lsf.dir, `${id}.log`), "utf8")
    expect(out).toBe(`hi ${id} 0 e2e-hello ${fs.realpathSync(os.tmpdir())}\n`)
    const all = lsf.run("bjobs", ["-a", "-json", "-o", "jobid stat"])
    expect(JSON.parse(all.stdout)).toEqual({ COMMAND: "bjobs", JOBS: 1, RECORDS: [{ JOBID: id, STAT: "DONE" }] })
    // without -a finished jobs are not listed
    const unfinished = lsf.run("bjobs", [])
    expect(unfinished.code).toBe(255)
    expect(unfinished.stderr).toBe("No unfinished job found\n")
  })

  it("reports a failing script as EXIT with its exit code, and unknown ids as errors", async () => {
    const lsf = makeLsf()
    const id = lsf.submit("#BSUB -J failing\nexit 3\n")
    const [rec] = await lsf.waitFor((rs) => rs.length === 1 && finished(rs[0]!))
    expect(rec).toMatchObject({ JOBID: id, STAT: "EXIT", EXIT_CODE: "3" })
    const r = lsf.run("bjobs", ["-o", "jobid stat exit_code", "-json", id, "9"])
    expect(r.code).toBe(255)
    expect(JSON.parse(r.stdout).RECORDS).toEqual([
      { JOBID: id, STAT: "EXIT", EXIT_CODE: "3" },
      { JOBID: "9", ERROR: "Job <9> is not found" }
    ])
  })

  it("throttles array elements, substitutes %J and %I and reports each element", async () => {
    const lsf = makeLsf()
    const log = path.join(lsf.dir, "times.log")
    const id = lsf.submit(
      [
        "#!/bin/bash",
        "#BSUB -J arr[1-4]%2",
        `#BSUB -o "${lsf.dir}/out.%J.%I.log"`,
        `echo "start $LSB_JOBINDEX $(date +%s%N)" >> ${log}`,
        // Two elements run at once however slowly the machine starts them: each goes on once two have started.
        `until [ "$(grep -c start ${log})" -ge 2 ]; do sleep 0.05; done`,
        "sleep 0.2",
        `echo "end $LSB_JOBINDEX $(date +%s%N)" >> ${log}`,
        "echo element $LSB_JOBINDEX of $LSB_JOBID",
        '[ "$LSB_JOBINDEX" = 3 ] && exit 7',
        "exit 0",
        ""
      ].join("\n")
    )
    const rs = await lsf.waitFor((rs) => rs.length === 4 && rs.every(finished))
    expect(rs.map((r) => [r.JOBID, r.JOB_NAME, r.STAT, r.EXIT_CODE])).toEqual([
      [`${id}[1]`, "arr[1]", "DONE", "0"],
      [`${id}[2]`, "arr[2]", "DONE", "0"],
      [`${id}[3]`, "arr[3]", "EXIT", "7"],
      [`${id}[4]`, "arr[4]", "DONE", "0"]
    ])
    const events = fs
      .readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .map(([kind, , t]) => ({ kind: kind!, t: BigInt(t!) }))
      .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))
    let running = 0
    let max = 0
    for (const e of events) {
      running += e.kind === "start" ? 1 : -1
      max = Math.max(max, running)
    }
    expect(events).toHaveLength(8)
    expect(max).toBe(2)
    for (const i of [1, 2, 3, 4]) {
      expect(fs.readFileSync(path.join(lsf.dir, `out.${id}.${i}.log`), "utf8")).toBe(`element ${i} of ${id}\n`)
    }
    // id[3] selects one element; the parent id all of them
    expect(lsf.records([`${id}[3]`]).map((r) => r.JOBID)).toEqual([`${id}[3]`])
    expect(lsf.records([id])).toHaveLength(4)
  })

  it("expands stepped ranges", async () => {
    const lsf = makeLsf()
    const id = lsf.submit("true\n", ["-J", "steps[1-9:4]"])
    const rs = await lsf.waitFor((rs) => rs.length === 3 && rs.every(finished))
    expect(rs.map((r) => r.JOBID)).toEqual([`${id}[1]`, `${id}[5]`, `${id}[9]`])
  })

  it("starts a dependent job only after its dependency is DONE", async () => {
    const lsf = makeLsf()
    const log = path.join(lsf.dir, "order.log")
    const go = path.join(lsf.dir, "go")
    const a = lsf.submit(`${heldUntil(go)}\necho a-end $(date +%s%N) >> ${log}\n`, ["-J", "a"])
    const b = lsf.submit(`echo b-start $(date +%s%N) >> ${log}\n`, ["-J", "b", "-w", `done(${a})`])
    await lsf.waitFor((rs) => rs.find((r) => r.JOBID === a)?.STAT === "RUN")
    const mid = lsf.records([b])
    expect(mid[0]!.STAT).toBe("PEND")
    fs.writeFileSync(go, "")
    await lsf.waitFor((rs) => rs.length === 2 && rs.every(finished))
    const lines = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" "))
    expect(lines.map((l) => l[0])).toEqual(["a-end", "b-start"])
    expect(BigInt(lines[1]![1]!) >= BigInt(lines[0]![1]!)).toBe(true)
    // a dependency on a job that does not exist is refused
    const bad = lsf.run("bsub", ["-w", "done(99999)", "true"])
    expect(bad.code).toBe(255)
    expect(bad.stderr).toBe("99999: No matching job found. Job not submitted.\n")
  })

  it("terminates a job whose dependency can never be met when -ti is given, and leaves it PEND otherwise", async () => {
    const lsf = makeLsf()
    const marker = path.join(lsf.dir, "ran")
    const a = lsf.submit("exit 1\n", ["-J", "a"])
    const b = lsf.submit(`touch ${marker}\n`, ["-J", "b", "-ti", "-w", `done(${a}) && ended(${a})`])
    const c = lsf.submit(`touch ${marker}\n`, ["-J", "c", "-w", `done(${a})`])
    // d waits for a's end whatever it was: once d has run, the emulator has judged c against a's end.
    const d = lsf.submit("true\n", ["-J", "d", "-w", `ended(${a})`])
    await lsf.waitFor((rs) => rs.find((r) => r.JOBID === b)?.STAT === "EXIT" && rs.find((r) => r.JOBID === d)?.STAT === "DONE")
    const rs = lsf.records()
    expect(rs.find((r) => r.JOBID === a)).toMatchObject({ STAT: "EXIT", EXIT_CODE: "1" })
    expect(rs.find((r) => r.JOBID === b)).toMatchObject({
      STAT: "EXIT",
      EXIT_REASON: "TERM_ORPHAN_SYSTEM",
      EXEC_HOST: "-",
      START_TIME: "-"
    })
    expect(rs.find((r) => r.JOBID === c)).toMatchObject({ STAT: "PEND", EXIT_CODE: "-" })
    expect(fs.existsSync(marker)).toBe(false)
    // a pending job can still be killed
    expect(lsf.run("bkill", [c]).stdout).toBe(`Job <${c}> is being terminated\n`)
    expect(lsf.records([c])[0]).toMatchObject({ STAT: "EXIT", EXIT_REASON: "TERM_OWNER" })
  })

  it("bkill terminates a running job's processes and marks it EXIT TERM_OWNER", async () => {
    const lsf = makeLsf()
    const pidFile = path.join(lsf.dir, "pid")
    const id = lsf.submit(`sleep 30 &\necho $! > ${pidFile}\nwait\n`, ["-J", "victim"])
    await lsf.waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"))
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim())
    expect(alive(pid)).toBe(true)
    const r = lsf.run("bkill", [id])
    expect(r).toEqual({ code: 0, stdout: `Job <${id}> is being terminated\n`, stderr: "" })
    const [rec] = await lsf.waitFor((rs) => finished(rs[0]!))
    expect(rec).toMatchObject({ STAT: "EXIT", EXIT_REASON: "TERM_OWNER" })
    expect(await waitGone(pid)).toBe(true)
    const again = lsf.run("bkill", [id])
    expect(again).toEqual({ code: 255, stdout: "", stderr: `Job <${id}>: Job has already finished\n` })
    const unknown = lsf.run("bkill", ["9"])
    expect(unknown).toEqual({ code: 255, stdout: "", stderr: "Job <9>: No matching job found\n" })
  })

  it("bkill -d marks a running job DONE, and bkill -J matches names", async () => {
    const lsf = makeLsf()
    const id = lsf.submit("sleep 30\n", ["-J", "proj-one"])
    const other = lsf.submit("sleep 30\n", ["-J", "proj-two"])
    await lsf.waitFor((rs) => rs.length === 2 && rs.every((r) => r.STAT === "RUN"))
    expect(lsf.run("bkill", ["-d", id]).stdout).toBe(`Job <${id}> is being terminated\n`)
    expect(lsf.run("bkill", ["-J", "proj-t*"]).stdout).toBe(`Job <${other}> is being terminated\n`)
    const rs = await lsf.waitFor((rs) => rs.every(finished))
    expect(rs.map((r) => [r.JOBID, r.STAT, r.EXIT_REASON])).toEqual([
      [id, "DONE", "-"],
      [other, "EXIT", "TERM_OWNER"]
    ])
    expect(lsf.run("bkill", ["-J", "nothing*"])).toEqual({ code: 255, stdout: "", stderr: "No matching job found\n" })
  })

  it("bkill -J alone reaches only the newest matching job; with job id 0, every one", async () => {
    const lsf = makeLsf()
    const [a, b, c] = ["sleep 30\n", "sleep 30\n", "sleep 30\n"].map((s) => lsf.submit(s, ["-J", "grp-x"]))
    await lsf.waitFor((rs) => rs.length === 3 && rs.every((r) => r.STAT === "RUN"))
    expect(lsf.run("bkill", ["-J", "grp-*"]).stdout).toBe(`Job <${c}> is being terminated\n`)
    await lsf.waitFor((rs) => rs.filter(finished).length === 1)
    expect(lsf.run("bkill", ["-J", "grp-*", "0"]).stdout).toBe(
      `Job <${a}> is being terminated\nJob <${b}> is being terminated\n`
    )
    await lsf.waitFor((rs) => rs.every(finished))
    expect(lsf.run("bkill", ["-J", "grp-*", "0"])).toEqual({ code: 255, stdout: "", stderr: "No unfinished job found\n" })
  })

  it("kills a job that exceeds its run limit", async () => {
    const lsf = makeLsf()
    const r = spawnSync("bsub", ["-W", "1", "sleep 30"], {
      env: { ...lsf.env, LSF_EMULATOR_SECONDS_PER_MINUTE: "0.5" },
      encoding: "utf8"
    })
    expect(r.status).toBe(0)
    const [rec] = await lsf.waitFor((rs) => finished(rs[0]!))
    expect(rec).toMatchObject({ STAT: "EXIT", EXIT_REASON: "TERM_RUNLIMIT" })
  })

  it("gives a minimal environment with -env none", async () => {
    const lsf = makeLsf()
    const out = path.join(lsf.dir, "env.txt")
    const r = spawnSync("bsub", ["-env", "none", "-o", out], {
      env: { ...lsf.env, SOME_SECRET: "x", LSB_JOB_REPORT_MAIL: "N" },
      input: "env | cut -d= -f1 | sort\n",
      encoding: "utf8"
    })
    expect(r.status).toBe(0)
    await lsf.waitFor((rs) => finished(rs[0]!))
    const names = fs.readFileSync(out, "utf8").trim().split("\n")
    expect(names).not.toContain("SOME_SECRET")
    expect(names).toContain("PATH")
    expect(names).toContain("LSB_JOBID")
    expect(names.filter((n) => !n.startsWith("LSB_") && !["PATH", "HOME", "USER", "PWD", "SHLVL", "_", "OLDPWD"].includes(n))).toEqual([])
  })

  it("reads the #BSUB lines of a script given as a file only with LSB_BSUB_PARSE_SCRIPT=Y (lsf.conf); the command line wins", async () => {
    const lsf = makeLsf()
    const script = path.join(lsf.dir, "job.sh")
    fs.writeFileSync(script, "#!/bin/bash\n#BSUB -J from-file\necho hi\n#BSUB -q short\n", { mode: 0o700 })
    const submitFile = (parse: boolean, args: ReadonlyArray<string> = []) => {
      const env = { ...lsf.env }
      delete env.LSB_BSUB_PARSE_SCRIPT
      if (parse) env.LSB_BSUB_PARSE_SCRIPT = "Y"
      const r = spawnSync("bsub", [...args, script], { env, encoding: "utf8", cwd: lsf.dir })
      expect(r.stderr).toBe("")
      return /^Job <(\d+)> is submitted/.exec(r.stdout)![1]!
    }
    const ids = [submitFile(false), submitFile(true), submitFile(true, ["-J", "from-cli"])]
    const rs = await lsf.waitFor((rs) => rs.length === 3 && rs.every(finished))
    const seen = ids.map((id) => rs.find((r) => r.JOBID === id))
    // Without the setting the file is a plain command: its #BSUB lines are comments.
    expect(seen[0]).toMatchObject({ JOB_NAME: script, QUEUE: "normal", STAT: "DONE" })
    expect(seen[1]).toMatchObject({ JOB_NAME: "from-file", QUEUE: "short", STAT: "DONE" })
    expect(seen[2]).toMatchObject({ JOB_NAME: "from-cli", QUEUE: "short", STAT: "DONE" })
  })

  it("bsub waits for a script its caller writes to stdin late, as on a busy machine", async () => {
    const lsf = makeLsf()
    const { spawn } = await import("node:child_process")
    const child = spawn("bsub", ["-J", "late"], { env: lsf.env, stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    // bsub has made its state directory, so it reads stdin next: only then is the script written.
    const jobs = path.join(lsf.dir, "jobs")
    while (!fs.existsSync(jobs)) await new Promise((r) => setTimeout(r, 10))
    child.stdin.end("echo late\n")
    expect(await exited, out).toBe(0)
    expect(out).toMatch(/^Job <\d+> is submitted/)
  })

  it("rejects bad usage with exit code 255", () => {
    const lsf = makeLsf()
    const r = lsf.run("bsub", ["-Z", "true"])
    expect(r.code).toBe(255)
    expect(r.stderr).toContain("Usage: bsub")
    expect(r.stdout).toBe("")
  })

  it("hands out distinct ids to concurrent submissions", async () => {
    const lsf = makeLsf()
    const { spawn } = await import("node:child_process")
    const outs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn("bsub", ["-J", `c${i}`, "true"], { env: lsf.env, stdio: ["ignore", "pipe", "pipe"] })
          let s = ""
          child.stdout.on("data", (d: Buffer) => (s += d.toString()))
          child.on("error", reject)
          child.on("close", () => resolve(s))
        })
      )
    )
    const ids = outs.map((s) => /Job <(\d+)>/.exec(s)?.[1])
    expect(new Set(ids).size).toBe(10)
    expect(ids.every((x) => x !== undefined)).toBe(true)
    const rs = await lsf.waitFor((rs) => rs.length === 10 && rs.every(finished))
    expect(rs.every((r) => r.STAT === "DONE")).toBe(true)
  })
})

describe("the LSF executor on the emulator: paths that would open a line or hold a pattern", { timeout: 60_000 }, () => {
  const evil = "x\ntouch PWNED\n#"

  /** Services on `lsf`'s emulated cluster, with the emulator first on PATH and the config's `log_directory`. */
  const onLsf = <A, E>(lsf: Lsf, logDirectory: string, body: Effect.Effect<A, E, ClusterApi.Services>) => {
    process.env.PATH = `${BIN}${path.delimiter}${process.env.PATH ?? ""}`
    process.env.LSF_EMULATOR_DIR = lsf.dir
    return body.pipe(
      Effect.scoped,
      Effect.provide(ClusterApi.compose({
        config: ClusterConfig.layerTest({
          executor: "lsf",
          poll_interval: 0.2,
          log_directory: logDirectory,
          job_name_prefix: "capi",
          use_stdin: true
        }),
        runner: nodeRunner
      }))
    )
  }

  /** Every file named PWNED below `dir`. */
  const pwned = (dir: string): Array<string> =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? pwned(path.join(dir, e.name)) : e.name === "PWNED" ? [path.join(dir, e.name)] : []
    )

  it.live("a log_directory, a workDir or a current directory holding a line break and a command is refused; nothing is submitted", () => {
    const lsf = makeLsf()
    const dir = tempDir()
    const evilCwd = path.join(dir, evil)
    fs.mkdirSync(evilCwd)
    const submit = (spec: JobSpec) => Effect.flatMap(Executor, (e) => Effect.flip(e.submit(spec)))
    return Effect.gen(function*() {
      const viaLogs = yield* onLsf(lsf, path.join(dir, evil), submit({ name: "j", command: "true" }))
      expect(viaLogs).toMatchObject({ _tag: "InvalidJobSpec", field: "log_directory" })
      const viaWork = yield* onLsf(lsf, dir, submit({ name: "j", command: "true", resources: { workDir: evilCwd } }))
      expect(viaWork).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
      const back = process.cwd()
      process.chdir(evilCwd)
      const viaCwd = yield* onLsf(lsf, dir, submit({ name: "j", command: "true" })).pipe(
        Effect.ensuring(Effect.sync(() => process.chdir(back)))
      )
      expect(viaCwd).toMatchObject({ _tag: "InvalidJobSpec", field: expect.stringMatching(/^working directory/) })
      expect(lsf.records()).toEqual([])
      expect(pwned(dir)).toEqual([])
      // A job that got through would have run in this process's directory.
      expect(fs.existsSync(path.join(process.cwd(), "PWNED"))).toBe(false)
    })
  })

  it.live("a workDir or log_directory holding % is refused naming it (bsub expands %J, %I, %U, … and has no escape)", () => {
    const lsf = makeLsf()
    const dir = tempDir()
    const submit = (spec: JobSpec) => Effect.flatMap(Executor, (e) => Effect.flip(e.submit(spec)))
    return Effect.gen(function*() {
      const viaWork = yield* onLsf(lsf, dir, submit({ name: "j", command: "true", resources: { workDir: path.join(dir, "w%J") } }))
      expect(viaWork).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
      const viaLogs = yield* onLsf(lsf, path.join(dir, "logs%I"), submit({ name: "j", command: "true" }))
      expect(viaLogs).toMatchObject({ _tag: "InvalidJobSpec", field: "log_directory" })
      expect(lsf.records()).toEqual([])
    })
  })

  it.live("a workDir full of quotes, $() and backticks runs there and creates nothing else", () => {
    const lsf = makeLsf()
    const dir = tempDir()
    const work = path.join(dir, "w $(touch PWNED) `touch PWNED` ' \" ; #")
    return onLsf(
      lsf,
      dir,
      Effect.gen(function*() {
        const job = yield* Effect.flatMap(Executor, (e) => e.submit({ name: "j", command: "pwd", resources: { workDir: work } }))
        const end = yield* Effect.flatMap(Monitor, (m) => m.await(job, { timeout: "30 seconds" }))
        expect(end.status).toBe("Done")
        expect(fs.readFileSync(end.stdoutPath!, "utf8")).toBe(`${work}\n`)
        expect(pwned(dir)).toEqual([])
      })
    )
  })
})
