/**
 * LSF's dialect as pure functions: directives, the submit command, and the parsing of bjobs,
 * bsub and bkill answers (test/fixtures/lsf, copied from py-cluster-api's tests as its README
 * says; answers built inline here are marked as such).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { defaultOptions } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import type { Observation } from "../src/Domain.js"
import type { PreparedJob } from "../src/Executor.js"
import { skipDirectives } from "../src/internal/script.js"
import {
  bjobsFields,
  cancel,
  cancelByNameCommand,
  cancelledByName,
  cancelOutcome,
  dialect,
  directives,
  exitOutcome,
  formatDependencies,
  listCommand,
  listNoJobs,
  logFileName,
  parseListing,
  parseLsfMemory,
  parseRecordId,
  parseStatus,
  parseSubmit,
  parseTime,
  resolveLogPath,
  stateTable,
  status,
  statusUsableOnFailure,
  submit
} from "./support/parts/lsf.js"
import { byId, fixtures, preparedJob, right } from "./support/Dialects.js"
import { jobRecord } from "./support/Records.js"

const fixture = fixtures("lsf")

const options: ConfigOptions = { ...defaultOptions }

const job = preparedJob

const paths = { runDir: "/data/run", stdout: "/data/logs/stdout.%J.log", stderr: "/data/logs/stderr.%J.log" }


const one = (stdout: string): Observation => {
  const obs = right(parseStatus(stdout))
  expect(obs).toHaveLength(1)
  return obs[0]!
}

/** A bjobs -json answer in the form IBM documents (with COMMAND and JOBS), built here. */
const bjobs = (records: ReadonlyArray<Record<string, string>>) =>
  JSON.stringify({ COMMAND: "bjobs", JOBS: records.length, RECORDS: records })

describe("directives (seeds §6 item 3)", () => {
  it("writes every resource as its #BSUB option, in py-cluster-api's order", () => {
    const lines = directives(
      job({
        name: "test-my-job",
        resources: {
          cpus: 4,
          gpus: 1,
          memoryBytes: 8 * 1024 ** 3,
          walltime: Duration.hours(4),
          queue: "normal",
          account: "proj1",
          extraDirectives: ["-B"],
          extraArgs: []
        }
      }),
      paths,
      options
    )
    expect(lines).toEqual([
      "#BSUB -J test-my-job",
      `#BSUB -o "/data/logs/stdout.%J.log"`,
      `#BSUB -e "/data/logs/stderr.%J.log"`,
      "#BSUB -q normal",
      "#BSUB -n 4",
      `#BSUB -R "span[hosts=1]"`,
      `#BSUB -gpu "num=1"`,
      "#BSUB -M 8192",
      `#BSUB -R "rusage[mem=8192]"`,
      "#BSUB -W 04:00",
      `#BSUB -cwd "/data/run"`,
      "#BSUB -P proj1",
      "#BSUB -B"
    ])
  })

  it("asks for one host only when the job has more than one cpu", () => {
    const lines = directives(job({ resources: { cpus: 1, extraDirectives: [], extraArgs: [] } }), paths, options)
    expect(lines).toContain("#BSUB -n 1")
    expect(lines.some((l) => l.includes("span["))).toBe(false)
  })

  it("writes memory in lsf_units rounded up, and nothing about memory when none is set", () => {
    const memory = (bytes: number, units: ConfigOptions["lsf_units"]) =>
      directives(job({ resources: { memoryBytes: bytes, extraDirectives: [], extraArgs: [] } }), paths, {
        ...options,
        lsf_units: units
      }).filter((l) => l.includes("-M ") || l.includes("rusage"))
    expect(memory(8 * 1024 ** 3, "GB")).toEqual(["#BSUB -M 8", `#BSUB -R "rusage[mem=8]"`])
    expect(memory(1536 * 1024 ** 2, "GB")).toEqual(["#BSUB -M 2", `#BSUB -R "rusage[mem=2]"`])
    expect(memory(1024 * 1024 + 1, "MB")).toEqual(["#BSUB -M 2", `#BSUB -R "rusage[mem=2]"`])
    expect(memory(1024 ** 2, "KB")).toEqual(["#BSUB -M 1024", `#BSUB -R "rusage[mem=1024]"`])
    expect(directives(job(), paths, options).some((l) => l.includes("-M ") || l.includes("rusage"))).toBe(false)
  })

  it("writes the walltime as HH:MM rounded up to the minute, hours past a day included", () => {
    const w = (d: Duration.Duration) =>
      directives(job({ resources: { walltime: d, extraDirectives: [], extraArgs: [] } }), paths, options)
        .find((l) => l.startsWith("#BSUB -W"))
    expect(w(Duration.minutes(90))).toBe("#BSUB -W 01:30")
    expect(w(Duration.seconds(61))).toBe("#BSUB -W 00:02")
    expect(w(Duration.hours(49))).toBe("#BSUB -W 49:00")
  })

  it("quotes paths with spaces and the job name only when needed", () => {
    const lines = directives(job(), { ...paths, runDir: "/data/my run" }, options)
    expect(lines).toContain(`#BSUB -cwd "/data/my run"`)
    expect(lines).toContain("#BSUB -J capi-align")
  })

  it("leaves out every line holding a directives_skip string", () => {
    const lines = directives(
      job({ resources: { cpus: 4, queue: "normal", extraDirectives: ["-P proj"], extraArgs: [] } }),
      paths,
      { ...options, directives_skip: ["span[", "-P "] }
    )
    expect(lines.some((l) => l.includes("span[") || l.includes("-P "))).toBe(false)
    expect(lines).toContain("#BSUB -q normal")
    // The executor filters again, with the config's own lines: the result is the same.
    expect(skipDirectives(lines, ["span[", "-P "])).toEqual(lines)
  })

  it("writes dependencies as one -w condition and ends a job whose dependency can never be met", () => {
    const deps = [
      { type: "afterok", jobId: "111" },
      { type: "afterok", jobId: "222" },
      { type: "afterany", jobId: "3" },
      { type: "afterok", jobId: "111" }
    ] as const
    expect(formatDependencies(deps)).toBe("done(111) && done(222) && ended(3)")
    const lines = directives(job({ spec: { name: "x", command: "true", dependsOn: deps } }), paths, options)
    expect(lines).toContain(`#BSUB -w "done(111) && done(222) && ended(3)"`)
    expect(lines).toContain("#BSUB -ti")
    expect(directives(job(), paths, options).some((l) => l.includes("-w") || l.includes("-ti"))).toBe(false)
  })
})

describe("arrays (seeds §6 item 4)", () => {
  it("names an array name[1-50] and puts the slot limit after the brackets", () => {
    const name = (array: PreparedJob["array"]) =>
      directives(job({ array }), paths, options).find((l) => l.startsWith("#BSUB -J"))
    expect(name({ start: 1, end: 50 })).toBe(`#BSUB -J "capi-align[1-50]"`)
    expect(name({ start: 1, end: 100, maxConcurrent: 15 })).toBe(`#BSUB -J "capi-align[1-100]%15"`)
    expect(name({ start: 1, end: 50, step: 2 })).toBe(`#BSUB -J "capi-align[1-50:2]"`)
    expect(name({ start: 1, end: 50, step: 1 })).toBe(`#BSUB -J "capi-align[1-50]"`)
  })

  it("names logs %J, or %J.%I for array elements, and resolves them to the id and {index}", () => {
    expect(logFileName("stdout", false)).toBe("stdout.%J.log")
    expect(logFileName("stderr", true)).toBe("stderr.%J.%I.log")
    expect(resolveLogPath("/l/stdout.%J.log", "42", "capi-a")).toBe("/l/stdout.42.log")
    expect(resolveLogPath("/l/stdout.%J.%I.log", "42", "capi-a")).toBe("/l/stdout.42.{index}.log")
  })

  it("gives elements their index from LSB_JOBINDEX", () => {
    expect(dialect.arrayIndexVariable).toBe("LSB_JOBINDEX")
    expect(dialect.kind).toBe("lsf")
    expect(dialect.accounting).toBeUndefined()
  })

  it("reads element records 12345[1] as elements of 12345", () => {
    const obs = one(fixture("bjobs-array-element-ids.json"))
    expect(obs.jobId).toBe("12345")
    expect(obs.status).toBeUndefined()
    expect(obs.elements).toEqual([
      { index: 1, status: "Done", reason: undefined, exitCode: 0, execHost: "node01", maxMem: 128 * 1024 ** 2, submitTime: undefined, startTime: undefined, finishTime: undefined },
      { index: 2, status: "Running", reason: undefined, exitCode: undefined, execHost: "node02", maxMem: undefined, submitTime: undefined, startTime: undefined, finishTime: undefined }
    ])
  })

  it("reads every element of an array, whatever its state", () => {
    const obs = one(fixture("bjobs-array-three-states.json"))
    expect(obs.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Running"], [3, "Pending"]])
    const done = one(fixture("bjobs-array-all-done.json"))
    expect(done.elements?.map((e) => e.status)).toEqual(["Done", "Done"])
  })

  it("reads a failed element's exit code", () => {
    const obs = one(fixture("bjobs-array-partial-failure.json"))
    expect(obs.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([
      [1, "Done", 0],
      [2, "Failed", 1],
      [3, "Done", 0]
    ])
    expect(obs.elements?.[1]?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 1 })
  })

  it("lets the elements speak for an array that also has a record of its own", () => {
    const obs = one(fixture("bjobs-array-parent-and-element.json"))
    expect(obs.jobId).toBe("12345")
    expect(obs.status).toBeUndefined()
    expect(obs.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"]])
  })

  it("reads LSF's own element form: the array's id with the name name[3]", () => {
    // Built here: bjobs prints an element's JOBID as the array's and its index in JOB_NAME.
    const obs = one(bjobs([
      { JOBID: "300", JOB_NAME: "capi-arr[3]", STAT: "RUN", EXIT_CODE: "-" },
      { JOBID: "300", JOB_NAME: "capi-arr[1]", STAT: "DONE", EXIT_CODE: "" }
    ]))
    expect(obs.jobId).toBe("300")
    expect(obs.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([[1, "Done", 0], [3, "Running", undefined]])
    expect(parseRecordId("300", "capi-arr[1-10]")).toEqual({ jobId: "300" })
    expect(parseRecordId("x", undefined)).toBeUndefined()
  })

  it("an element index past MAX_JOB_ARRAY_SIZE or an exit code out of range leaves that job unread; the others are read", () => {
    const read = right(parseStatus(bjobs([
      { JOBID: "300[9007199254740993]", JOB_NAME: "capi-arr", STAT: "RUN", EXIT_CODE: "-" },
      { JOBID: "301", JOB_NAME: "capi-x", STAT: "EXIT", EXIT_CODE: "99999999999999999999" },
      { JOBID: "302", JOB_NAME: "capi-y", STAT: "EXIT", EXIT_CODE: "3" }
    ])))
    expect(read.find((o) => o.jobId === "300")?.unreadable).toContain("9007199254740993")
    expect(read.find((o) => o.jobId === "301")?.unreadable).toContain("99999999999999999999")
    expect(read.find((o) => o.jobId === "302")?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
    expect(parseRecordId("300", "capi-arr[2147483647]")).toBeUndefined()
  })

  it("a field of the wrong JSON type (an object, a list) is no value, never a thrown error", () => {
    const text = `{"RECORDS":[{"JOBID":"5","JOB_NAME":{"toString":1},"STAT":"RUN","EXIT_REASON":{"toString":1},"MAX_MEM":["1","G"],"EXEC_HOST":{"valueOf":{}}}]}`
    expect(right(parseStatus(text))).toEqual([{ jobId: "5", status: "Running" }])
  })
})

describe("submit (seeds §6 item 3)", () => {
  const request = (over: Partial<ConfigOptions> = {}, extraArgs: ReadonlyArray<string> = []) => ({
    job: job({ resources: { extraDirectives: [], extraArgs } }),
    options: { ...options, ...over },
    scriptPath: "/data/logs/capi-align.1.sh",
    script: "#!/bin/bash\n#BSUB -J capi-align\ntrue\n"
  })

  it("gives bsub the script on stdin, so that its #BSUB lines apply", () => {
    expect(submit(request({ use_stdin: true, suppress_job_email: false }))).toEqual({
      argv: ["bsub"],
      stdin: "#!/bin/bash\n#BSUB -J capi-align\ntrue\n"
    })
  })

  it("gives bsub the script on stdin and no script path with use_stdin false too (LSF reads a path's #BSUB lines only with LSB_BSUB_PARSE_SCRIPT=Y)", () => {
    // The job's extraArgs already hold the config's extra_args first.
    const script = "#!/bin/bash\n#BSUB -J capi-align\n#BSUB -w \"done(12)\"\n#BSUB -ti\ntrue\n"
    const invocation = submit({ ...request({ use_stdin: false, suppress_job_email: false }, ["-G", "grp", "-L", "/bin/bash"]), script })
    expect(invocation).toEqual({ argv: ["bsub", "-G", "grp", "-L", "/bin/bash"], stdin: script })
    expect(invocation.argv).not.toContain("/data/logs/capi-align.1.sh")
  })

  it("asks for no inherited environment with -env none and a login shell with -L, before the extra args", () => {
    const base = request({ use_stdin: true, suppress_job_email: false }, ["-G", "grp"])
    const clean = { ...base, job: { ...base.job, inheritEnv: false, loginShell: { shebang: "#!/bin/zsh -l", shell: "/bin/zsh" } } }
    expect(submit(clean).argv).toEqual(["bsub", "-env", "none", "-L", "/bin/zsh", "-G", "grp"])
    expect(submit(base).argv).toEqual(["bsub", "-G", "grp"])
  })

  it("sets LSB_JOB_REPORT_MAIL=N only when job email is suppressed", () => {
    expect(submit(request({ suppress_job_email: true })).env).toEqual({ LSB_JOB_REPORT_MAIL: "N" })
    expect(submit(request({ suppress_job_email: false })).env).toBeUndefined()
  })

  it("reads the job id bsub prints, to a named or the default queue", () => {
    expect(right(parseSubmit(fixture("bsub-submitted.txt")))).toBe("12345")
    // Built here: the wording IBM documents when no queue was asked for.
    expect(right(parseSubmit("Job <77> is submitted to default queue <normal>.\n"))).toBe("77")
    expect(right(parseSubmit("Warning: something\nJob <78> is submitted to queue <short>.\n"))).toBe("78")
  })

  it("refuses anything else, saying what bsub printed", () => {
    const refused = parseSubmit(fixture("bsub-test-placeholder.txt"))
    expect(Either.isLeft(refused) && refused.left).toContain("Job <123> is being submitted")
    expect(Either.isLeft(parseSubmit(""))).toBe(true)
    expect(Either.isLeft(parseSubmit("Request aborted by esub. Job not submitted."))).toBe(true)
  })
})

describe("status command", () => {
  it("asks ONE bjobs -a -json for every tracked job by id, with exit_reason", () => {
    const inv = status([jobRecord("100"), jobRecord("12345", { array: { start: 1, end: 3 } })], options)
    expect(inv.argv).toEqual(["bjobs", "-a", "-json", "-o", bjobsFields, "100", "12345"])
    expect(bjobsFields).toBe(
      "jobid job_name stat exit_code exit_reason exec_host max_mem submit_time start_time finish_time"
    )
  })

  it("asks about every user's jobs with poll_all_users", () => {
    expect(status([jobRecord("1")], { ...options, poll_all_users: true }).argv).toEqual([
      "bjobs",
      "-a",
      "-json",
      "-o",
      bjobsFields,
      "-u",
      "all",
      "1"
    ])
  })
})

describe("status parsing (seeds §6 item 5)", () => {
  it("reads a running job with its host, memory and local times", () => {
    expect(one(fixture("bjobs-running.json"))).toEqual({
      jobId: "12345",
      status: "Running",
      reason: undefined,
      exitCode: undefined,
      execHost: "node01",
      maxMem: 512 * 1024 ** 2,
      submitTime: new Date(2024, 0, 5, 10, 0, 0),
      startTime: new Date(2024, 0, 5, 10, 1, 0),
      finishTime: undefined
    })
  })

  it("reads a finished job's exit code 0 and its finish time", () => {
    const obs = one(fixture("bjobs-done.json"))
    expect(obs.status).toBe("Done")
    expect(obs.exitCode).toBe(0)
    expect(obs.maxMem).toBe(1024 ** 3)
    expect(obs.finishTime).toEqual(new Date(2024, 0, 5, 11, 0, 0))
  })

  it("reads DONE with an empty EXIT_CODE as exit code 0", () => {
    const obs = one(fixture("bjobs-done-empty-exit-code.json"))
    expect(obs.status).toBe("Done")
    expect(obs.exitCode).toBe(0)
  })

  it("reads EXIT with code 1 as a non-zero exit, and - as nothing known", () => {
    const obs = one(fixture("bjobs-failed.json"))
    expect(obs).toMatchObject({ jobId: "12347", status: "Failed", exitCode: 1, reason: { _tag: "NonZeroExit", exitCode: 1 } })
    expect(obs.submitTime).toBeUndefined()
    expect(obs.startTime).toBeUndefined()
    expect(obs.finishTime).toBeUndefined()
  })

  it("reads ZOMBI as failed and PSUSP as pending", () => {
    const zombie = one(fixture("bjobs-zombie.json"))
    expect(zombie.status).toBe("Failed")
    expect(zombie.reason?._tag).toBe("SchedulerFailure")
    expect(zombie.execHost).toBeUndefined()
    expect(one(fixture("bjobs-psusp.json")).status).toBe("Pending")
  })

  it("reads several jobs in one answer, a pending job without its host", () => {
    const obs = byId(right(parseStatus(fixture("bjobs-multiple.json"))))
    expect(obs.get("100")?.status).toBe("Pending")
    expect(obs.get("100")?.execHost).toBeUndefined()
    expect(obs.get("101")).toMatchObject({ status: "Running", execHost: "node01", maxMem: 128 * 1024 ** 2 })
  })

  it("maps every LSF state", () => {
    const states = Object.fromEntries(Object.entries(stateTable).map(([k, v]) => [k, v.status]))
    expect(states).toEqual({
      PEND: "Pending",
      PROV: "Pending",
      WAIT: "Pending",
      PSUSP: "Pending",
      RUN: "Running",
      USUSP: "Running",
      SSUSP: "Running",
      DONE: "Done",
      EXIT: "Failed",
      ZOMBI: "Failed",
      UNKWN: "Unknown"
    })
    for (const stat of Object.keys(stateTable)) {
      expect(one(bjobs([{ JOBID: "1", STAT: stat, EXIT_CODE: "-" }])).status).toBe(stateTable[stat]!.status)
    }
    expect(one(bjobs([{ JOBID: "1", STAT: "NEWSTATE" }])).status).toBe("Unknown")
    // A state that names an Object member is as unknown as any other.
    for (const STAT of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      expect(one(bjobs([{ JOBID: "1", STAT }])).status).toBe("Unknown")
    }
  })

  it("reads why an EXIT job ended from its exit reason", () => {
    // Built here: exit_reason as bjobs -o prints it (code, then IBM's description).
    const ended = (EXIT_REASON: string, EXIT_CODE = "1") => one(bjobs([{ JOBID: "5", STAT: "EXIT", EXIT_CODE, EXIT_REASON }]))
    expect(ended("TERM_MEMLIMIT: job killed after reaching LSF memory usage limit").reason).toEqual({ _tag: "OutOfMemory" })
    expect(ended("TERM_RUNLIMIT: job killed after reaching LSF run time limit", "140").reason).toEqual({ _tag: "Timeout" })
    expect(ended("TERM_OWNER: job killed by owner", "130")).toMatchObject({
      status: "Killed",
      reason: { _tag: "Cancelled", by: "owner" }
    })
    expect(ended("TERM_ADMIN: job killed by root or LSF administrator")).toMatchObject({
      status: "Killed",
      reason: { _tag: "Cancelled", by: "admin" }
    })
    expect(ended("-", "3").reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
    expect(ended("-", "137").reason).toEqual({ _tag: "Signalled", signal: "SIGKILL" })
    expect(exitOutcome(undefined, undefined).reason).toEqual({ _tag: "SchedulerFailure", detail: "LSF reports EXIT" })
    // Orphan termination (bsub -ti): the executor names the dependencies from the job's record.
    expect(exitOutcome("TERM_ORPHAN_SYSTEM", undefined)).toEqual({
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: [] }
    })
  })

  it("reads times with two spaces before the day, a trailing zone letter, or LSF's numeric form", () => {
    expect(parseTime("Jan  5 10:00:00 2024")).toEqual(new Date(2024, 0, 5, 10, 0, 0))
    expect(parseTime("Feb  8 10:31:17 2026 L")).toEqual(new Date(2026, 1, 8, 10, 31, 17))
    expect(parseTime("Dec 31 23:59:59 2025")).toEqual(new Date(2025, 11, 31, 23, 59, 59))
    expect(parseTime("2024/01/05-10:00:00")).toEqual(new Date(2024, 0, 5, 10, 0, 0))
    expect(parseTime("-")).toBeUndefined()
    expect(parseTime("")).toBeUndefined()
    expect(parseTime(undefined)).toBeUndefined()
    expect(parseTime("Foo  5 10:00:00 2024")).toBeUndefined()
  })

  it("reads memory in LSF's words and in short units", () => {
    expect(parseLsfMemory("12 Mbytes")).toBe(12 * 1024 ** 2)
    expect(parseLsfMemory("1.5 Gbytes")).toBe(1.5 * 1024 ** 3)
    expect(parseLsfMemory("512 MB")).toBe(512 * 1024 ** 2)
    expect(parseLsfMemory("300 Kbytes")).toBe(300 * 1024)
    expect(parseLsfMemory("-")).toBeUndefined()
    expect(parseLsfMemory("")).toBeUndefined()
  })

  it("skips records that say a job is not found, and records without a JOBID", () => {
    // Built here: the per-id error record IBM documents for bjobs -json.
    const obs = right(parseStatus(bjobs([
      { JOBID: "9", ERROR: "Job <9> is not found" },
      { JOBID: "", STAT: "RUN" },
      { JOBID: "10", STAT: "RUN", EXEC_HOST: "node01" }
    ])))
    expect(obs.map((o) => o.jobId)).toEqual(["10"])
  })

  it("reads a bjobs that exited non-zero but printed JSON (one id not found)", () => {
    const stdout = fixture("bjobs-one-id-not-found.json")
    expect(statusUsableOnFailure(255, stdout, fixture("bjobs-one-id-not-found.stderr"))).toBe(true)
    expect(one(stdout)).toMatchObject({ jobId: "100", status: "Done", exitCode: 0 })
    expect(statusUsableOnFailure(255, "", "Command failed")).toBe(false)
    expect(statusUsableOnFailure(255, "LSF is down", "")).toBe(false)
  })

  it("refuses output that is not JSON, and reads an empty answer as no jobs", () => {
    expect(Either.isLeft(parseStatus("{not json"))).toBe(true)
    expect(Either.isLeft(parseStatus(`{"COMMAND":"bjobs"}`))).toBe(true)
    expect(right(parseStatus(""))).toEqual([])
    expect(right(parseStatus(bjobs([])))).toEqual([])
  })
})

describe("cancel (seeds §6 item 6)", () => {
  it("runs bkill with the ids, and bkill -d to mark them done", () => {
    expect(cancel(["123"], false).argv).toEqual(["bkill", "123"])
    expect(cancel(["123"], true).argv).toEqual(["bkill", "-d", "123"])
    expect(cancel(["1", "2"], false).argv).toEqual(["bkill", "1", "2"])
  })

  const answer = (exitCode: number, stderr: string, stdout = "") => ({ exitCode, stdout, stderr })

  const ended = (ids: ReadonlyArray<string>) => ({ ended: ids, refused: [] })

  it("takes a job that had already ended as ended, not as a failed cancel", () => {
    // Built here: bkill's per-job lines as LSF prints them.
    expect(right(cancelOutcome(["1", "2"], answer(255, "Job <2>: Job has already finished\n", "Job <1> is being terminated\n"))))
      .toEqual(ended(["2"]))
    expect(right(cancelOutcome(["1"], answer(0, "", "Job <1> is being terminated\n")))).toEqual(ended([]))
    expect(right(cancelOutcome(["7"], answer(255, fixture("bkill-no-matching-job.stderr"))))).toEqual(ended(["7"]))
    expect(right(cancelOutcome(["7"], answer(255, fixture("bkill-no-unfinished-job.stderr"))))).toEqual(ended(["7"]))
  })

  it("names the jobs bkill refused, apart from the ones it cancelled", () => {
    const mixed = answer(255, "Job <7>: User permission denied\nJob <8>: Job has already finished\n", "Job <9> is being terminated\n")
    expect(right(cancelOutcome(["7", "8", "9"], mixed))).toEqual({
      ended: ["8"],
      refused: [{ jobId: "7", detail: "User permission denied" }]
    })
  })

  it("fails when bkill's failure names no job (recorded)", () => {
    const denied = cancelOutcome(["7"], answer(255, fixture("bkill-permission-denied.stderr")))
    expect(Either.isLeft(denied) && denied.left).toContain("Permission denied")
    expect(Either.isLeft(cancelOutcome(["7"], answer(255, "LSF is down; try again later\n")))).toBe(true)
  })

  it("cancels by name with bkill -J GLOB 0 (every match, not only the newest), or not at all for ? and [...]", () => {
    expect(cancelByNameCommand("capi-align-*", false)?.argv).toEqual(["bkill", "-J", "capi-align-*", "0"])
    expect(cancelByNameCommand("capi-*", true)?.argv).toEqual(["bkill", "-d", "-J", "capi-*", "0"])
    expect(cancelByNameCommand("capi-a?", false)).toBeUndefined()
    expect(cancelByNameCommand("capi-[ab]", false)).toBeUndefined()
  })

  it("reads which jobs bkill -J terminated; no match means none, other failures are errors", () => {
    const two = answer(0, "", "Job <11> is being terminated\nJob <12[3]> is being terminated\nJob <12> is being terminated\n")
    expect(right(cancelledByName(two))).toEqual(["11", "12"])
    expect(right(cancelledByName(answer(255, fixture("bkill-no-matching-job.stderr"))))).toEqual([])
    expect(right(cancelledByName(answer(255, "No unfinished job found\n")))).toEqual([])
    expect(Either.isLeft(cancelledByName(answer(255, fixture("bkill-permission-denied.stderr"))))).toBe(true)
  })
})

describe("reconnect listing (seeds §6 item 8)", () => {
  it("lists this user's jobs named {prefix}-*, ended ones too (-a), or every user's with poll_all_users", () => {
    expect(listCommand({ ...options, job_name_prefix: "test" }).argv).toEqual([
      "bjobs",
      "-a",
      "-json",
      "-o",
      bjobsFields,
      "-J",
      "test-*"
    ])
    expect(listCommand({ ...options, job_name_prefix: "test", poll_all_users: true }).argv.slice(-4)).toEqual([
      "-J",
      "test-*",
      "-u",
      "all"
    ])
  })

  it("takes bjobs' 'No unfinished job found' failure for an empty queue, not for a failed listing", () => {
    const answer = (stderr: string, stdout = "") => ({ exitCode: 255, stdout, stderr })
    expect(listNoJobs(answer("No unfinished job found\n"))).toBe(true)
    expect(listNoJobs(answer(fixture("bkill-no-matching-job.stderr")))).toBe(true)
    expect(listNoJobs(answer("LSF is down. Please wait ...\n"))).toBe(false)
    // Records printed with the failure are read, not dropped.
    expect(listNoJobs(answer("No matching job found\n", fixture("bjobs-reconnect-listing.json")))).toBe(false)
  })

  it("groups array elements under their array, with the array's name and visible indices", () => {
    const listing = right(parseListing(fixture("bjobs-reconnect-listing.json")))
    expect(listing.map((l) => [l.jobId, l.name])).toEqual([["100", "test-single"], ["400", "other-job"], ["300", "test-arr"]])
    const arr = listing.find((l) => l.jobId === "300")!
    expect(arr.observation.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Running"], [2, "Pending"]])
    expect(listing.find((l) => l.jobId === "100")?.observation).toMatchObject({
      status: "Running",
      submitTime: new Date(2024, 0, 5, 10, 0, 0)
    })
  })

  it("reads no unfinished jobs as an empty list and refuses what is not JSON", () => {
    expect(right(parseListing(""))).toEqual([])
    expect(right(parseListing("No unfinished job found\n"))).toEqual([])
    expect(Either.isLeft(parseListing("Permission denied"))).toBe(true)
  })
})
