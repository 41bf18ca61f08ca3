/**
 * PBS's dialects (PBS Pro / OpenPBS and TORQUE) as pure functions: directives, the submit
 * command, and the parsing of qsub, qstat and qdel answers (test/fixtures/pbs, recorded from the
 * project's PBS emulator as its README says; answers built inline here are marked as such).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import type { CommandAnswer } from "../src/Scheduler.js"
import { scriptStemPlaceholder } from "../src/Scheduler.js"
import { defaultOptions } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import type { Dependency, Observation } from "../src/Domain.js"
import type { PreparedJob } from "../src/Executor.js"
import {
  cancel,
  cancelOutcome,
  dialect,
  directives,
  exitOutcome,
  finishedOutcome,
  firstHost,
  formatDependencies,
  listCommand,
  logFileName,
  makeDialect,
  parseJobId,
  parseListing,
  parsePbsMemory,
  parseStatus,
  parseSubmit,
  parseTime,
  proDialect,
  resolveLogPath,
  status,
  statusUsableOnFailure,
  submit,
  torqueDialect,
  validate
} from "./support/parts/pbs.js"
import { byId, fixtures, preparedJob, right } from "./support/Dialects.js"
import { jobRecord } from "./support/Records.js"

const fixture = fixtures("pbs")
const options: ConfigOptions = { ...defaultOptions }
const job = preparedJob
const paths = {
  runDir: "/data/run",
  stdout: "/data/logs/stdout.capi-align.1.log",
  stderr: "/data/logs/stderr.capi-align.1.log"
}
const resources = (over: Partial<PreparedJob["resources"]> = {}): PreparedJob["resources"] => ({
  extraDirectives: [],
  extraArgs: [],
  ...over
})
const deps: ReadonlyArray<Dependency> = [
  { type: "afterany", jobId: "3.s" },
  { type: "afterok", jobId: "1.s" },
  { type: "afterok", jobId: "2.s" }
]
const full = job({
  spec: { name: "align", command: "bwa mem", dependsOn: deps },
  resources: resources({
    cpus: 4,
    gpus: 1,
    memoryBytes: 8 * 1024 ** 3,
    walltime: Duration.hours(4),
    queue: "normal",
    account: "proj1",
    extraDirectives: ["-r n"]
  })
})

const answer = (exitCode: number | undefined, stdout: string, stderr = ""): CommandAnswer => ({ exitCode, stdout, stderr })

describe("directives", () => {
  it("pro: every resource as its #PBS option, one select chunk, in order", () => {
    expect(directives("pro")(full, paths, options)).toEqual([
      "#PBS -N capi-align",
      "#PBS -o /data/logs/stdout.capi-align.1.log",
      "#PBS -e /data/logs/stderr.capi-align.1.log",
      "#PBS -k oed",
      "#PBS -m n",
      "#PBS -q normal",
      "#PBS -A proj1",
      "#PBS -l walltime=04:00:00",
      "#PBS -l select=1:ncpus=4:mem=8192mb:ngpus=1",
      "#PBS -V",
      "#PBS -S /bin/bash",
      "#PBS -W depend=afterok:1.s:2.s,afterany:3.s",
      "#PBS -r n"
    ])
  })

  it("torque: nodes:ppn[:gpus], mem for the job, -d for the run directory", () => {
    expect(directives("torque")(full, paths, options)).toEqual([
      "#PBS -N capi-align",
      "#PBS -o /data/logs/stdout.capi-align.1.log",
      "#PBS -e /data/logs/stderr.capi-align.1.log",
      "#PBS -m n",
      "#PBS -q normal",
      "#PBS -A proj1",
      "#PBS -l walltime=04:00:00",
      "#PBS -l nodes=1:ppn=4:gpus=1",
      "#PBS -l mem=8192mb",
      "#PBS -V",
      "#PBS -S /bin/bash",
      "#PBS -d /data/run",
      "#PBS -W depend=afterok:1.s:2.s,afterany:3.s",
      "#PBS -r n"
    ])
  })

  it("a bare job: one cpu, no memory, no gpus; no -V when it must not inherit the environment", () => {
    const bare = job({ inheritEnv: false })
    expect(directives("pro")(bare, paths, options).filter((l) => l.includes("-l ") || l === "#PBS -V")).toEqual([
      "#PBS -l select=1:ncpus=1"
    ])
    expect(directives("torque")(bare, paths, options).filter((l) => l.includes("-l ") || l === "#PBS -V")).toEqual([
      "#PBS -l nodes=1:ppn=1"
    ])
  })

  it("several nodes: pro K chunks scattered over hosts, torque nodes=K and the memory of all of them", () => {
    const multi = job({ resources: resources({ nodes: 3, cpus: 2, memoryBytes: 1024 ** 3, gpus: 0 }) })
    expect(directives("pro")(multi, paths, options).filter((l) => l.includes("-l "))).toEqual([
      "#PBS -l select=3:ncpus=2:mem=1024mb",
      "#PBS -l place=scatter"
    ])
    expect(directives("torque")(multi, paths, options).filter((l) => l.includes("-l "))).toEqual([
      "#PBS -l nodes=3:ppn=2",
      "#PBS -l mem=3072mb"
    ])
  })

  it("memory in whole mb rounded up, walltime HH:MM:SS rounded up, hours past a day", () => {
    const lines = directives("pro")(
      job({ resources: resources({ memoryBytes: 1024 * 1024 + 1, walltime: Duration.millis(49 * 3_600_000 + 1) }) }),
      paths,
      options
    )
    expect(lines).toContain("#PBS -l select=1:ncpus=1:mem=2mb")
    expect(lines).toContain("#PBS -l walltime=49:00:01")
  })

  it("one log for both streams is -j oe with -o only", () => {
    const same = { ...paths, stderr: paths.stdout }
    const lines = directives("pro")(job(), same, options)
    expect(lines.slice(1, 3)).toEqual(["#PBS -j oe", "#PBS -o /data/logs/stdout.capi-align.1.log"])
    expect(lines.some((l) => l.startsWith("#PBS -e"))).toBe(false)
  })

  it("quotes values only when needed", () => {
    const lines = directives("torque")(job(), { ...paths, runDir: "/data/my run" }, options)
    expect(lines).toContain(`#PBS -d "/data/my run"`)
    expect(lines).toContain("#PBS -N capi-align")
  })

  it("-S takes the login shell, or the shebang's path; none for an env shebang", () => {
    const shellOf = (j: PreparedJob, o: ConfigOptions) => directives("pro")(j, paths, o).find((l) => l.startsWith("#PBS -S"))
    expect(shellOf(job(), { ...options, shebang: "#!/bin/zsh -e" })).toBe("#PBS -S /bin/zsh")
    expect(shellOf(job({ loginShell: { shebang: "#!/bin/sh -l", shell: "/bin/sh" } }), options)).toBe("#PBS -S /bin/sh")
    expect(shellOf(job(), { ...options, shebang: "#!/usr/bin/env bash" })).toBeUndefined()
  })

  it("no -m n when job email is not suppressed", () => {
    expect(directives("pro")(job(), paths, { ...options, suppress_job_email: false })).not.toContain("#PBS -m n")
  })

  it("arrays: pro -J with step and limit, torque -t with limit", () => {
    const array = (a: NonNullable<PreparedJob["array"]>, flavor: "pro" | "torque") =>
      directives(flavor)(job({ array: a }), paths, options).find((l) => /^#PBS -[Jt] /.test(l))
    expect(array({ start: 1, end: 10 }, "pro")).toBe("#PBS -J 1-10")
    expect(array({ start: 0, end: 10, step: 2, maxConcurrent: 3 }, "pro")).toBe("#PBS -J 0-10:2%3")
    expect(array({ start: 1, end: 10, maxConcurrent: 3 }, "torque")).toBe("#PBS -t 1-10%3")
    expect(array({ start: 5, end: 5 }, "torque")).toBe("#PBS -t 5-5")
  })

  it("leaves out every line holding a directives_skip string", () => {
    const lines = directives("pro")(full, paths, { ...options, directives_skip: ["-k oed", "-S "] })
    expect(lines).not.toContain("#PBS -k oed")
    expect(lines.some((l) => l.startsWith("#PBS -S"))).toBe(false)
    expect(lines).toContain("#PBS -q normal")
  })
})

describe("dependencies", () => {
  it("one depend value: types grouped in a fixed order, each type once, ids joined by ':'", () => {
    expect(formatDependencies(deps, "pro")).toBe("afterok:1.s:2.s,afterany:3.s")
    expect(formatDependencies([...deps, { type: "afternotok", jobId: "4.s" }, { type: "afterok", jobId: "1.s" }], "pro"))
      .toBe("afterok:1.s:2.s,afternotok:4.s,afterany:3.s")
    const lines = directives("pro")(full, paths, options).filter((l) => l.includes("depend"))
    expect(lines).toEqual(["#PBS -W depend=afterok:1.s:2.s,afterany:3.s"])
  })

  it("torque waits on a whole array with the …array types; pro with the plain ones", () => {
    const onArray: ReadonlyArray<Dependency> = [{ type: "afterok", jobId: "7[].s" }, { type: "afterok", jobId: "8.s" }]
    expect(formatDependencies(onArray, "torque")).toBe("afterokarray:7[].s,afterok:8.s")
    expect(formatDependencies(onArray, "pro")).toBe("afterok:7[].s:8.s")
  })
})

describe("log paths", () => {
  it("default names hold the script stem; pro arrays ^array_index^, torque arrays the plain name", () => {
    expect(logFileName("pro")("stdout", false)).toBe(`stdout.${scriptStemPlaceholder}.log`)
    expect(logFileName("pro")("stderr", true)).toBe(`stderr.${scriptStemPlaceholder}.^array_index^.log`)
    expect(logFileName("torque")("stdout", true)).toBe(`stdout.${scriptStemPlaceholder}.log`)
  })

  it("resolveLogPath: pro's ^array_index^ and torque's -N suffix become {index}", () => {
    expect(resolveLogPath("pro")("/l/stdout.a.1.^array_index^.log", "7[].s", "a", true)).toBe("/l/stdout.a.1.{index}.log")
    expect(resolveLogPath("pro")("/l/stdout.a.1.log", "7.s", "a", false)).toBe("/l/stdout.a.1.log")
    expect(resolveLogPath("torque")("/l/stdout.a.1.log", "7[].s", "a", true)).toBe("/l/stdout.a.1.log-{index}")
    expect(resolveLogPath("torque")("/l/stdout.a.1.log", "7.s", "a", false)).toBe("/l/stdout.a.1.log")
  })
})

describe("validate", () => {
  it("torque refuses a step; pro a one-index array", () => {
    expect(validate("torque")(job({ array: { start: 1, end: 9, step: 2 } }), options)).toMatchObject({
      field: "array",
      problem: expect.stringContaining("no step")
    })
    expect(validate("torque")(job({ array: { start: 1, end: 9, step: 1 } }), options)).toBeUndefined()
    expect(validate("pro")(job({ array: { start: 1, end: 9, step: 2 } }), options)).toBeUndefined()
    expect(validate("pro")(job({ array: { start: 4, end: 4 } }), options)).toMatchObject({
      field: "array",
      problem: expect.stringContaining("start below the end")
    })
    expect(validate("torque")(job({ array: { start: 4, end: 4 } }), options)).toBeUndefined()
  })

  it("refuses a log path with a colon (PBS reads host:path)", () => {
    expect(validate("pro")(job({ resources: resources({ stdoutPath: "out:1.log" }) }), options)).toMatchObject({
      field: "resources.stdoutPath"
    })
    expect(validate("pro")(job(), { ...options, log_directory: "./a:b" })).toMatchObject({ field: "log_directory" })
    expect(validate("pro")(job(), options)).toBeUndefined()
  })
})

describe("submit", () => {
  const request = { job: job({ resources: resources({ extraArgs: ["-P", "p1"] }) }), options, scriptPath: "/l/a.1.sh", script: "#!/bin/bash\n" }

  it("qsub [extra args] script, or the script on stdin", () => {
    expect(submit(request)).toEqual({ argv: ["qsub", "-P", "p1", "/l/a.1.sh"] })
    expect(submit({ ...request, options: { ...options, use_stdin: true } })).toEqual({
      argv: ["qsub", "-P", "p1"],
      stdin: "#!/bin/bash\n"
    })
  })

  it("parseSubmit keeps the whole id, of a job and of an array (recorded answers)", () => {
    expect(right(parseSubmit(fixture("pro/qsub-job.txt")))).toBe("1000.pbs-emu")
    expect(right(parseSubmit(fixture("pro/qsub-array.txt")))).toBe("1006[].pbs-emu")
    expect(right(parseSubmit(fixture("torque/qsub-array.txt")))).toBe("1006[].pbs-emu")
    // Built here: a dotted server name, after a warning line.
    expect(right(parseSubmit("qsub: warning: something\n1234.head.cluster.org\n"))).toBe("1234.head.cluster.org")
  })

  it("parseSubmit refuses anything else, saying what qsub printed", () => {
    const refused = parseSubmit("qsub: Unknown queue\n")
    expect(Either.isLeft(refused) && refused.left).toContain("qsub: Unknown queue")
    expect(Either.isLeft(parseSubmit(""))).toBe(true)
  })
})

describe("exit statuses", () => {
  it("0 Done; 1–128 the script's code; 129–255 a shell's 128+signal; 256+ killed by signal", () => {
    expect(exitOutcome("pro", 0)).toEqual({ status: "Done" })
    expect(exitOutcome("pro", 3)).toEqual({ status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 3 } })
    expect(exitOutcome("pro", 137)).toEqual({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGKILL" } })
    expect(exitOutcome("pro", 271)).toEqual({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGTERM" } })
    expect(exitOutcome("torque", 265)).toEqual({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGKILL" } })
  })

  it("PBS's own negative codes, per flavour", () => {
    expect(exitOutcome("pro", -29)).toEqual({ status: "Failed", reason: { _tag: "Timeout" } })
    expect(exitOutcome("pro", -27)).toEqual({ status: "Failed", reason: { _tag: "OutOfMemory" } })
    expect(exitOutcome("pro", -26)).toEqual({ status: "Failed", reason: { _tag: "OutOfMemory" } })
    expect(exitOutcome("pro", -28).reason).toMatchObject({ _tag: "SchedulerFailure", detail: expect.stringContaining("cpu time") })
    expect(exitOutcome("pro", -24).reason).toMatchObject({ _tag: "SchedulerFailure", detail: expect.stringContaining("cpus") })
    expect(exitOutcome("pro", -1).reason).toEqual({ _tag: "SchedulerFailure", detail: "job could not start (JOB_EXEC_FAIL1)" })
    expect(exitOutcome("pro", -20).reason).toEqual({ _tag: "NodeFailure" })
    expect(exitOutcome("torque", -11)).toEqual({ status: "Failed", reason: { _tag: "Timeout" } })
    expect(exitOutcome("torque", -10)).toEqual({ status: "Failed", reason: { _tag: "OutOfMemory" } })
    expect(exitOutcome("torque", -12).reason).toMatchObject({ detail: expect.stringContaining("JOB_EXEC_OVERLIMIT_CPUT") })
    // The same number means different things: -11 is a rerun on PBS Pro.
    expect(exitOutcome("pro", -11).reason).toMatchObject({ detail: expect.stringContaining("JOB_EXEC_RERUN") })
    expect(exitOutcome("torque", -99).reason).toMatchObject({ _tag: "SchedulerFailure", detail: expect.stringContaining("-99") })
  })

  it("finished without an exit status: deleted for a dependency, deleted before it ran", () => {
    expect(finishedOutcome("pro", undefined, false, "Job deleted as result of dependency on job 12.srv")).toEqual({
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: ["12.srv"] }
    })
    expect(finishedOutcome("torque", undefined, false, undefined)).toEqual({ status: "Killed", reason: { _tag: "Cancelled" } })
    expect(finishedOutcome("pro", undefined, true, undefined).reason?._tag).toBe("SchedulerFailure")
  })
})

describe("small readers", () => {
  it("times: pro's ctime text (local), torque's epoch seconds", () => {
    expect(parseTime("Fri Nov 11 17:57:05 2016")).toEqual(new Date(2016, 10, 11, 17, 57, 5))
    expect(parseTime("Sat Nov  1 07:05:00 2026")).toEqual(new Date(2026, 10, 1, 7, 5, 0))
    expect(parseTime("1795282259")).toEqual(new Date(1795282259 * 1000))
    expect(parseTime("soon")).toBeUndefined()
  })

  it("memory in PBS units (1024-based), first host of exec_host, job ids", () => {
    expect(parsePbsMemory("2048kb")).toBe(2048 * 1024)
    expect(parsePbsMemory("3gb")).toBe(3 * 1024 ** 3)
    expect(parsePbsMemory("512")).toBe(512)
    expect(parsePbsMemory("lots")).toBeUndefined()
    expect(firstHost("node1/0*2+node2/0")).toBe("node1")
    expect(firstHost("n3/0-3+n4/0-3")).toBe("n3")
    expect(parseJobId("1000.s")).toEqual({ jobId: "1000.s", parent: false })
    expect(parseJobId("1000[].s")).toEqual({ jobId: "1000[].s", parent: true })
    expect(parseJobId("1000[7].s.org")).toEqual({ jobId: "1000[].s.org", index: 7, parent: false })
    expect(parseJobId("garbage")).toBeUndefined()
  })
})

describe("status", () => {
  it("one qstat for every job: pro json with history and subjobs, torque XML", () => {
    const jobs = [jobRecord("1.s"), jobRecord("2[].s")]
    expect(status("pro")(jobs).argv).toEqual(["qstat", "-f", "-F", "json", "-x", "-t", "1.s", "2[].s"])
    expect(status("torque")(jobs).argv).toEqual(["qstat", "-f", "-x", "-t", "1.s", "2[].s"])
  })

  const expectAll = (obs: ReadonlyArray<Observation>) => {
    const m = byId(obs)
    expect(obs).toHaveLength(7)
    expect(m.get("1000.pbs-emu")).toMatchObject({ name: "capi-ok", status: "Done", exitCode: 0, execHost: "vm", maxMem: 2048 * 1024 })
    expect(m.get("1000.pbs-emu")?.finishTime).toBeInstanceOf(Date)
    expect(m.get("1000.pbs-emu")?.startTime).toBeInstanceOf(Date)
    expect(m.get("1000.pbs-emu")?.submitTime).toBeInstanceOf(Date)
    expect(m.get("1001.pbs-emu")).toMatchObject({ status: "Failed", exitCode: 3, reason: { _tag: "NonZeroExit", exitCode: 3 } })
    expect(m.get("1002.pbs-emu")).toMatchObject({ status: "Running", execHost: "vm" })
    expect(m.get("1002.pbs-emu")?.finishTime).toBeUndefined()
    // qdel of a running job: killed by SIGTERM (Exit_status 271).
    expect(m.get("1003.pbs-emu")).toMatchObject({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGTERM" } })
    expect(m.get("1004.pbs-emu")).toMatchObject({
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: ["1001.pbs-emu"] }
    })
    // Deleted while held, before it ran.
    expect(m.get("1005.pbs-emu")).toMatchObject({ status: "Killed", reason: { _tag: "Cancelled" } })
    const arr = m.get("1006[].pbs-emu")
    expect(arr?.name).toBe("capi-arr")
    expect(arr?.status).toBeUndefined()
    expect(arr?.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([
      [1, "Done", 0],
      [2, "Failed", 5],
      [3, "Running", undefined]
    ])
  }

  it("pro: every state of the recorded answer, an array grouped by its subjobs", () => {
    expectAll(right(parseStatus("pro")(fixture("pro/qstat-all.json"))))
  })

  it("torque: the same jobs in XML (subjobs named name-N)", () => {
    expectAll(right(parseStatus("torque")(fixture("torque/qstat-all.xml"))))
  })

  it("every live state (answers built here)", () => {
    const pro = (state: string, extra: Record<string, unknown> = {}) =>
      right(parseStatus("pro")(JSON.stringify({ timestamp: 1, Jobs: { "5.s": { Job_Name: "x", job_state: state, ...extra } } })))[0]!
    expect(pro("Q")).toMatchObject({ status: "Pending" })
    expect(pro("H")).toMatchObject({ status: "Pending", held: true })
    expect(pro("W")).toMatchObject({ status: "Pending" })
    expect(pro("T")).toMatchObject({ status: "Pending" })
    expect(pro("R")).toMatchObject({ status: "Running" })
    expect(pro("E", { Exit_status: 0 })).toMatchObject({ status: "Running" })
    expect(pro("S")).toMatchObject({ status: "Running" })
    expect(pro("U")).toMatchObject({ status: "Running" })
    expect(pro("M")).toMatchObject({ status: "Unknown" })
    // A state that names an Object member is as unknown as any other.
    expect(pro("toString")).toMatchObject({ status: "Unknown" })
    expect(pro("constructor")).toMatchObject({ status: "Unknown" })
    expect(pro("F", { Exit_status: -29, stime: "Fri Nov 11 17:57:05 2016" })).toMatchObject({ status: "Failed", reason: { _tag: "Timeout" } })
    expect(pro("F", { Exit_status: 265 })).toMatchObject({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGKILL" } })
    const torque = (state: string, extra = "") =>
      right(parseStatus("torque")(`<Data><Job><Job_Id>6.s</Job_Id><job_state>${state}</job_state>${extra}</Job></Data>`))[0]!
    expect(torque("Q")).toMatchObject({ jobId: "6.s", status: "Pending" })
    expect(torque("R")).toMatchObject({ status: "Running" })
    expect(torque("C", "<exit_status>-11</exit_status><start_time>1700000000</start_time>")).toMatchObject({
      status: "Failed",
      reason: { _tag: "Timeout" }
    })
    expect(torque("C", "<exit_status>-10</exit_status>")).toMatchObject({ status: "Failed", reason: { _tag: "OutOfMemory" } })
    expect(torque("C", "<comment>Job deleted as result of dependency on job 5.s</comment>")).toMatchObject({
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: ["5.s"] }
    })
  })

  it("an array listed without subjobs is observed by its own row (answers built here)", () => {
    const parent = (state: string, extra: Record<string, unknown> = {}) =>
      right(parseStatus("pro")(JSON.stringify({ Jobs: { "9[].s": { Job_Name: "a", job_state: state, array: true, ...extra } } })))[0]!
    expect(parent("Q")).toMatchObject({ jobId: "9[].s", status: "Pending" })
    expect(parent("B")).toMatchObject({ status: "Running" })
    expect(parent("F", { Exit_status: 0 })).toMatchObject({ status: "Done" })
    expect(parent("F", { Exit_status: 1 }).reason?._tag).toBe("SchedulerFailure")
    expect(parent("F")).toMatchObject({ status: "Killed", reason: { _tag: "Cancelled" } })
  })

  it("an exit status, memory or subjob index out of range leaves that job unread, or is not reported; the others are read", () => {
    const read = right(parseStatus("pro")(JSON.stringify({
      Jobs: {
        "5.s": { Job_Name: "x", job_state: "F", Exit_status: "99999999999999999999", stime: "Fri Nov 11 17:57:05 2016" },
        "6.s": { Job_Name: "y", job_state: "F", Exit_status: "3", resources_used: { mem: `${"9".repeat(400)}kb` } },
        "7[99999999999999999999].s": { Job_Name: "z", job_state: "R" },
        "8.s": { Job_Name: "w", job_state: "F", Exit_status: 0, mtime: "99999999999999999999" }
      }
    })))
    expect(read.find((o) => o.jobId === "5.s")?.unreadable).toContain("99999999999999999999")
    expect(read.find((o) => o.jobId === "6.s")).toMatchObject({ status: "Failed", exitCode: 3, maxMem: undefined })
    expect(read.find((o) => o.jobId === "7[].s")?.unreadable).toContain("99999999999999999999")
    expect(read.find((o) => o.jobId === "8.s")).toMatchObject({ status: "Done", finishTime: undefined })
  })

  it("an answer with nothing listed is no observations, in both flavours", () => {
    expect(right(parseStatus("pro")(fixture("pro/qstat-all-unknown.json")))).toEqual([])
    expect(right(parseStatus("torque")(fixture("torque/qstat-all-unknown.xml")))).toEqual([])
    expect(right(parseStatus("torque")(`<?xml version="1.0"?><Data></Data>`))).toEqual([])
  })

  it("garbage is an error", () => {
    expect(Either.isLeft(parseStatus("pro")("qstat: cannot connect to server"))).toBe(true)
    expect(Either.isLeft(parseStatus("torque")("qstat: cannot connect to server"))).toBe(true)
  })

  it("pro JSON that old qstat wrote unescaped is mended (openpbs#2049, #1255; built here)", () => {
    const broken = [
      "{",
      `    "timestamp":1,`,
      `    "Jobs":{`,
      `        "5.s":{`,
      `            "Job_Name":"x",`,
      `            "job_state":"R",`,
      `            "Variable_List":{`,
      `                "MYVAR":"ab\\,c",`,
      `                "foo":005`,
      `            },`,
      `            "Submit_arguments":"-v "quoted" job.sh"`,
      `        }`,
      `    }`,
      "}"
    ].join("\n")
    expect(right(parseStatus("pro")(broken))).toEqual([{ jobId: "5.s", name: "x", status: "Running" }])
  })

  it("an unknown id's answer is still read: stdout with the known ones, or nothing but unknown-id lines", () => {
    for (const [flavor, ext] of [["pro", "json"], ["torque", "xml"]] as const) {
      const usable = statusUsableOnFailure(flavor)
      const out = fixture(`${flavor}/qstat-one-unknown.${ext}`)
      const err = fixture(`${flavor}/qstat-one-unknown.err`)
      expect(err).toMatch(/^qstat: Unknown Job Id/)
      expect(usable(153, out, err)).toBe(true)
      expect(right(parseStatus(flavor)(out)).map((o) => [o.jobId, o.status])).toEqual([["1000.pbs-emu", "Done"]])
      expect(usable(153, fixture(`${flavor}/qstat-all-unknown.${ext}`), fixture(`${flavor}/qstat-all-unknown.err`))).toBe(true)
      expect(usable(35, "", "qstat: 5.s Job has finished, use -x or -H to obtain historical job information\n")).toBe(true)
      expect(usable(15, "", "Connection refused\nqstat: cannot connect to server pbs (errno=111)\n")).toBe(false)
      expect(usable(1, "", "")).toBe(false)
      expect(usable(1, "garbage", "")).toBe(false)
    }
  })
})

describe("reconnect listing", () => {
  it("lists every job (pro's -u does not combine with -f)", () => {
    expect(listCommand("pro")().argv).toEqual(["qstat", "-f", "-F", "json", "-t"])
    expect(listCommand("torque")().argv).toEqual(["qstat", "-f", "-x", "-t"])
  })

  it("keeps the given owner's jobs (the part of Job_Owner before @), everyone's without one", () => {
    for (const [flavor, file] of [["pro", "pro/qstat-list.json"], ["torque", "torque/qstat-list.xml"]] as const) {
      const mine = right(parseListing(flavor, "root")(fixture(file)))
      expect(mine.length).toBeGreaterThan(0)
      expect(mine.map((l) => l.name)).toContain("capi-run")
      expect(right(parseListing(flavor, "bob")(fixture(file)))).toEqual([])
      expect(right(parseListing(flavor, undefined)(fixture(file)))).toEqual(mine)
    }
    const arr = right(parseListing("pro", "root")(fixture("pro/qstat-list.json"))).find((l) => l.jobId === "1006[].pbs-emu")
    expect(arr?.name).toBe("capi-arr")
    expect(arr?.observation.elements?.length).toBeGreaterThan(0)
  })

  it("an empty queue (nothing printed) is no jobs", () => {
    expect(right(parseListing("pro", "root")(""))).toEqual([])
    expect(right(parseListing("torque", "root")(""))).toEqual([])
  })

  it("the dialect for a user keeps that owner, with poll_all_users everyone", () => {
    const listing = fixture("pro/qstat-list.json")
    const parse = (d: ReturnType<typeof dialect>) => right(d.list!.parse(listing)).length
    expect(parse(dialect("pro", { user: "bob" }, options))).toBe(0)
    expect(parse(dialect("pro", { user: "bob" }, { ...options, poll_all_users: true }))).toBeGreaterThan(0)
  })
})

describe("cancel", () => {
  const ids = ["1.s", "2.s", "3.s"]

  it("qdel <ids>", () => {
    expect(cancel(ids, false)).toEqual({ argv: ["qdel", "1.s", "2.s", "3.s"] })
    expect(cancel(ids, true)).toEqual({ argv: ["qdel", "1.s", "2.s", "3.s"] })
  })

  it("silence is success for every id", () => {
    expect(right(cancelOutcome(ids, answer(0, "")))).toEqual({ ended: [], refused: [] })
  })

  it("unknown and finished ids had ended, in both flavours (recorded answers)", () => {
    for (const flavor of ["pro", "torque"] as const) {
      const asked = ["1000.pbs-emu", "99997.pbs-emu", "1002.pbs-emu"]
      const stderr = `${fixture(`${flavor}/qdel-unknown.err`)}${fixture(`${flavor}/qdel-finished.err`)}`
      expect(right(cancelOutcome(asked, answer(153, "", stderr)))).toEqual({
        ended: ["99997.pbs-emu", "1000.pbs-emu"],
        refused: []
      })
    }
  })

  it("any other message naming an id is a refusal with its text; one naming none is an error", () => {
    const outcome = right(cancelOutcome(ids, answer(159, "", "qdel: Unauthorized Request  2.s\n")))
    expect(outcome).toEqual({ ended: [], refused: [{ jobId: "2.s", detail: "Unauthorized Request  2.s" }] })
    const failed = cancelOutcome(ids, answer(15, "", "Connection refused\nqdel: cannot connect to server pbs\n"))
    expect(Either.isLeft(failed) && failed.left).toContain("cannot connect")
    expect(Either.isLeft(cancelOutcome(ids, answer(1, "")))).toBe(true)
  })

  it("an id qdel printed with a different server part is still the one asked", () => {
    expect(right(cancelOutcome(["7"], answer(153, "", "qdel: Unknown Job Id 7.srv.example.org\n")))).toEqual({
      ended: ["7"],
      refused: []
    })
  })
})

describe("the dialects", () => {
  it("both are kind pbs, with their array variables and no cancel by name", () => {
    expect(proDialect.kind).toBe("pbs")
    expect(torqueDialect.kind).toBe("pbs")
    expect(proDialect.arrayIndexVariable).toBe("PBS_ARRAY_INDEX")
    expect(torqueDialect.arrayIndexVariable).toBe("PBS_ARRAYID")
    expect(proDialect.cancelByName).toBeUndefined()
    expect(proDialect.accounting).toBeUndefined()
    expect(makeDialect("torque").status([jobRecord("1.s")], options, { user: "u" }).argv[0]).toBe("qstat")
    expect(dialect("torque").arrayIndexVariable).toBe("PBS_ARRAYID")
  })
})
