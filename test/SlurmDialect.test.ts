/**
 * Slurm's dialect as pure functions: directives, the submit command, and the parsing of what the
 * real Slurm 22.05 printed (test/fixtures/slurm, recorded as its README says).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { defaultOptions } from "../src/Config.js"
import type { ConfigOptions } from "../src/Config.js"
import {
  accountingCommand,
  accountingUnavailable,
  cancel,
  cancelOutcome,
  directives,
  expandIndices,
  readIndices,
  formatDependencies,
  mapState,
  parseAccounting,
  parseExitCode,
  parseJobId,
  parseListing,
  parseScontrol,
  parseScontrolLine,
  parseStatus,
  parseSubmit,
  parseTime,
  resolveLogPath,
  stateTable,
  status,
  statusUsableOnFailure,
  submit
} from "./support/parts/slurm.js"
import { mergeObservations } from "../src/internal/batch/observe.js"
import { applyObservation } from "../src/internal/transition.js"
import { byId, fixtures, preparedJob, right } from "./support/Dialects.js"
import { jobRecord } from "./support/Records.js"

const fixture = fixtures("slurm")

const options: ConfigOptions = { ...defaultOptions }

const job = preparedJob

const paths = { runDir: "/data/run", stdout: "/data/logs/stdout.%j.log", stderr: "/data/logs/stderr.%j.log" }

const record = jobRecord


describe("directives", () => {
  it("writes every resource as its #SBATCH option", () => {
    const lines = directives(
      job({
        resources: {
          cpus: 4,
          gpus: 2,
          nodes: 1,
          memoryBytes: 8 * 1024 ** 3,
          walltime: Duration.hours(4),
          queue: "gpu",
          account: "proj1",
          extraDirectives: ["--qos=high"],
          extraArgs: []
        }
      }),
      paths,
      options
    )
    expect(lines).toEqual([
      "#SBATCH --job-name=capi-align",
      "#SBATCH --output=/data/logs/stdout.%j.log",
      "#SBATCH --error=/data/logs/stderr.%j.log",
      "#SBATCH --chdir=/data/run",
      "#SBATCH --nodes=1",
      "#SBATCH --cpus-per-task=4",
      "#SBATCH --mem=8192M",
      "#SBATCH --time=04:00:00",
      "#SBATCH --partition=gpu",
      "#SBATCH --account=proj1",
      "#SBATCH --gres=gpu:2",
      "#SBATCH --qos=high"
    ])
  })

  it("writes arrays with their throttle, memory rounded up to whole MiB, days in the time", () => {
    const lines = directives(
      job({
        array: { start: 1, end: 50, maxConcurrent: 10 },
        resources: { memoryBytes: 1536 * 1024 + 1, walltime: Duration.hours(49), extraDirectives: [], extraArgs: [] }
      }),
      paths,
      options
    )
    expect(lines).toContain("#SBATCH --array=1-50%10")
    expect(lines).toContain("#SBATCH --mem=2M")
    expect(lines).toContain("#SBATCH --time=2-01:00:00")
    expect(lines.some((l) => l.includes("--gres"))).toBe(false)
  })

  it("quotes paths with spaces", () => {
    const lines = directives(job(), { ...paths, runDir: "/data/my run" }, options)
    expect(lines).toContain(`#SBATCH --chdir="/data/my run"`)
  })

  it("groups dependencies by type and cancels a job whose dependency can never be met", () => {
    const deps = [
      { type: "afterok", jobId: "1" },
      { type: "afterany", jobId: "3" },
      { type: "afterok", jobId: "2" },
      { type: "afterok", jobId: "2" }
    ] as const
    expect(formatDependencies(deps)).toBe("afterok:1:2,afterany:3")
    const lines = directives(job({ spec: { name: "x", command: "true", dependsOn: deps } }), paths, options)
    expect(lines).toContain("#SBATCH --dependency=afterok:1:2,afterany:3")
    expect(lines).toContain("#SBATCH --kill-on-invalid-dep=yes")
    expect(directives(job(), paths, options).some((l) => l.includes("--dependency"))).toBe(false)
  })
})

describe("submit", () => {
  it("fills the job id and name into log paths, leaving the element index", () => {
    expect(resolveLogPath("/l/stdout.%j.log", "42", "capi-a")).toBe("/l/stdout.42.log")
    expect(resolveLogPath("/l/%x.%A_%a.log", "42", "capi-a")).toBe("/l/capi-a.42_%a.log")
    expect(resolveLogPath("/l/100%%.%j", "42", "n")).toBe("/l/100%%.42")
  })

  it("runs sbatch --parsable with the extra args before the script, or the script on stdin", () => {
    const j = job({ resources: { extraDirectives: [], extraArgs: ["--requeue", "--qos=low"] } })
    const request = { job: j, options, scriptPath: "/data/logs/capi-align.1.sh", script: "#!/bin/bash\ntrue\n" }
    expect(submit(request)).toEqual({
      argv: ["sbatch", "--parsable", "--requeue", "--qos=low", "/data/logs/capi-align.1.sh"]
    })
    expect(submit({ ...request, options: { ...options, use_stdin: true } })).toEqual({
      argv: ["sbatch", "--parsable", "--requeue", "--qos=low"],
      stdin: "#!/bin/bash\ntrue\n"
    })
  })

  it("asks for no inherited environment with --export=NONE", () => {
    const j = job({ inheritEnv: false, resources: { extraDirectives: [], extraArgs: ["--qos=low"] } })
    expect(submit({ job: j, options, scriptPath: "/l/a.sh", script: "" }).argv).toEqual([
      "sbatch",
      "--parsable",
      "--export=NONE",
      "--qos=low",
      "/l/a.sh"
    ])
  })

  it("reads the id from sbatch --parsable, with or without the cluster", () => {
    expect(right(parseSubmit(fixture("sbatch-parsable.txt")))).toMatch(/^\d+$/)
    expect(right(parseSubmit("4242;localcluster\n"))).toBe("4242")
    expect(right(parseSubmit("sbatch: note: something\n77\n"))).toBe("77")
    expect(Either.isLeft(parseSubmit(""))).toBe(true)
    expect(Either.isLeft(parseSubmit("Submitted batch job abc\n"))).toBe(true)
  })
})

describe("states", () => {
  const expected: ReadonlyArray<readonly [string, string, string | undefined]> = [
    ["PENDING", "Pending", undefined],
    ["CONFIGURING", "Pending", undefined],
    ["REQUEUED", "Pending", undefined],
    ["RUNNING", "Running", undefined],
    ["COMPLETING", "Running", undefined],
    ["SUSPENDED", "Running", undefined],
    ["RESIZING", "Running", undefined],
    ["COMPLETED", "Done", undefined],
    ["FAILED", "Failed", undefined],
    ["TIMEOUT", "Failed", "Timeout"],
    ["OUT_OF_MEMORY", "Failed", "OutOfMemory"],
    ["NODE_FAIL", "Failed", "NodeFailure"],
    ["PREEMPTED", "Failed", "Preempted"],
    ["BOOT_FAIL", "Failed", "NodeFailure"],
    ["DEADLINE", "Failed", "SchedulerFailure"],
    ["CANCELLED", "Killed", "Cancelled"]
  ]
  it.each(expected)("%s is %s", (text, status, reason) => {
    const outcome = mapState(text)
    expect(outcome?.status).toBe(status)
    expect(outcome?.reason?._tag).toBe(reason)
  })

  it("reads who cancelled a job, and truncated or short states", () => {
    expect(mapState("CANCELLED by 1001")).toEqual({ status: "Killed", reason: { _tag: "Cancelled", by: "1001" } })
    expect(mapState("CANCELLED+")?.status).toBe("Killed")
    expect(mapState("OOM")?.reason?._tag).toBe("OutOfMemory")
    expect(mapState("R")?.status).toBe("Running")
    expect(mapState("EXPLODED")).toBeUndefined()
  })

  it("maps every state in its table", () => {
    for (const name of Object.keys(stateTable)) expect(mapState(name)).toBeDefined()
  })
})

describe("small readers", () => {
  it("reads ids, compressed pending elements and ranges", () => {
    expect(parseJobId("5")).toEqual({ _tag: "Job", jobId: "5" })
    expect(parseJobId("3_1")).toEqual({ _tag: "Elements", jobId: "3", indices: [1] })
    expect(parseJobId("3_[2-4%10]")).toEqual({ _tag: "Elements", jobId: "3", indices: [2, 3, 4] })
    expect(parseJobId("3_[1,5-7]")).toEqual({ _tag: "Elements", jobId: "3", indices: [1, 5, 6, 7] })
    expect(expandIndices("0-8:4")).toEqual([0, 4, 8])
    expect(parseJobId("3.batch")).toBeUndefined()
    expect(expandIndices("4-2")).toBeUndefined()
  })

  it("reads exit codes and times", () => {
    expect(parseExitCode("7:0")).toEqual({ rc: 7, signal: 0 })
    expect(parseExitCode("0:15")).toEqual({ rc: 0, signal: 15 })
    expect(parseExitCode("")).toBeUndefined()
    expect(parseExitCode("99999999999999999999:0")).toBeUndefined()
    expect(parseExitCode("0:256")).toBeUndefined()
    expect(parseTime("2026-11-21T11:58:48")).toEqual(new Date(2026, 10, 21, 11, 58, 48))
    expect(parseTime("Unknown")).toBeUndefined()
    expect(parseTime("N/A")).toBeUndefined()
  })
})

describe("squeue", () => {
  it("asks for all tracked ids in one call, name last", () => {
    expect(status([record("1"), record("2"), record("7")]).argv).toEqual([
      "squeue",
      "-h",
      "-j",
      "1,2,7",
      "-o",
      "%i|%T|%r|%N|%V|%S|%j"
    ])
  })

  it("reads running and pending jobs and expands pending array elements (recorded)", () => {
    const obs = byId(right(parseStatus(fixture("squeue-running.txt"))))
    expect(obs.get("2")).toMatchObject({
      status: "Running",
      execHost: "vm",
      submitTime: new Date(2026, 10, 21, 12, 51, 36),
      startTime: new Date(2026, 10, 21, 12, 51, 37)
    })
    expect(obs.get("3")).toMatchObject({ status: "Pending" })
    expect(obs.get("3")?.startTime).toBeUndefined()
    expect(obs.get("3")?.execHost).toBeUndefined()
    const array = obs.get("4")
    expect(array?.status).toBeUndefined()
    expect(array?.elements?.map((e) => [e.index, e.status])).toEqual([
      [1, "Running"],
      [2, "Running"],
      [3, "Pending"],
      [4, "Pending"],
      [5, "Pending"],
      [6, "Pending"]
    ])
  })

  it("takes the name as the rest of the line, and refuses what it cannot read", () => {
    const listing = right(parseListing("9|RUNNING|None|n1|2026-11-21T10:00:00|2026-11-21T10:00:01|capi-a|b\n"))
    expect(listing[0]?.name).toBe("capi-a|b")
    // A line about a job that cannot be read leaves that job unread; the others are read.
    const unread = right(parseStatus("9|RUNNING|None\n8|WEIRD|None|n1|x|y|n\n7|RUNNING|None|n1|x|y|n\n"))
    expect(unread.map((o) => [o.jobId, o.unreadable === undefined])).toEqual([["7", true], ["9", false], ["8", false]])
    expect(unread.find((o) => o.jobId === "8")?.unreadable).toContain("WEIRD")
    // A line that names no job makes the whole answer unreadable.
    expect(Either.isLeft(parseStatus("abc|RUNNING|None|n1|x|y|n\n"))).toBe(true)
  })

  it("refuses array ranges past Slurm's MaxArraySize instead of enumerating them, naming the job", () => {
    for (const id of ["5_[9007199254740993]", "5_[1-100000000]", "5_99999999999999999999", "5_[0-4000001]", "5_[1-3:0]"]) {
      const started = performance.now()
      const [o] = right(parseStatus(`${id}|PENDING|None||2026-11-21T10:00:00|N/A|capi-x\n`))
      expect(performance.now() - started).toBeLessThan(1000)
      expect(o?.jobId).toBe("5")
      expect(o?.unreadable).toBeDefined()
      expect(o?.elements).toBeUndefined()
    }
    expect(Either.isLeft(readIndices("1-100000000"))).toBe(true)
    expect(Either.getOrThrow(readIndices("0-4000000:1000000"))).toEqual([0, 1000000, 2000000, 3000000, 4000000])
  })

  it("reads an unknown id's error as an empty queue (recorded)", () => {
    expect(statusUsableOnFailure(1, fixture("squeue-unknown-id.txt"), fixture("squeue-unknown-id.stderr"))).toBe(
      true
    )
    expect(
      statusUsableOnFailure(1, "", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)")
    ).toBe(false)
  })

  it("lists this user's jobs with names for reconnecting (recorded)", () => {
    const listing = right(parseListing(fixture("squeue-me.txt")))
    const names = new Map(listing.map((l) => [l.jobId, l.name] as const))
    expect(names.get("4")).toBe("capi-arr6")
    expect(listing.find((l) => l.jobId === "4")?.observation.elements?.map((e) => e.index)).toEqual([
      1,
      2,
      3,
      4,
      5,
      6
    ])
  })
})

describe("sacct", () => {
  it("asks once for all the jobs with an explicit start an hour before the earliest submit", () => {
    const argv = accountingCommand([
      record("8", { submitTime: new Date(2026, 10, 20, 23, 30, 0) }),
      record("9", { submitTime: new Date(2026, 10, 21, 1, 0, 0) })
    ]).argv
    expect(argv.slice(0, 7)).toEqual(["sacct", "-P", "-n", "-j", "8,9", "--starttime", "2026-11-20T22:30:00"])
    expect(argv.includes("-X")).toBe(false)
  })

  it("reads every way a job ended (recorded: success, exit 3, timeout, cancel, OverMemoryKill, dependency never met, array)", () => {
    const deps = { dependsOn: [{ type: "afterok" as const, jobId: "8" }] }
    const jobs = ["1", "7", "8", "9", "10", "11", "12", "13", "14"].map((id) => record(id, id === "9" ? deps : {}))
    const obs = byId(right(parseAccounting(fixture("sacct-finished.txt"), jobs)))
    expect(obs.get("7")).toMatchObject({
      // The job's own row names it (its .batch step row says "batch").
      name: "capi-ok",
      status: "Done",
      exitCode: 0,
      execHost: "vm",
      maxMem: 3240 * 1024,
      submitTime: new Date(2026, 10, 21, 12, 51, 43),
      startTime: new Date(2026, 10, 21, 12, 51, 44),
      finishTime: new Date(2026, 10, 21, 12, 51, 46)
    })
    expect(obs.get("8")).toMatchObject({ status: "Failed", exitCode: 3, reason: { _tag: "NonZeroExit", exitCode: 3 } })
    expect(obs.get("1")).toMatchObject({ name: "capi-timeout", status: "Failed", reason: { _tag: "Timeout" } })
    expect(obs.get("12")).toMatchObject({ status: "Killed", reason: { _tag: "Cancelled", by: "0" } })
    // OverMemoryKill: FAILED, ExitCode 0:9, the batch step at 322224K over its 50M.
    expect(obs.get("13")).toMatchObject({ status: "Failed", reason: { _tag: "OutOfMemory" }, maxMem: 322224 * 1024 })
    // --kill-on-invalid-dep: plain CANCELLED, reason still "Dependency", never started.
    expect(obs.get("9")).toMatchObject({ status: "Failed", reason: { _tag: "DependencyFailed", dependencies: ["8"] } })
    expect(obs.get("9")?.execHost).toBeUndefined()
    expect(obs.get("10")?.status).toBe("Pending")
    expect(obs.get("14")?.status).toBe("Pending")
    expect(obs.get("11")?.elements?.map((e) => [e.index, e.status, e.exitCode])).toEqual([
      [1, "Done", 0],
      [2, "Failed", 5],
      [3, "Done", 0]
    ])
  })

  it("waits for the batch step's figures before calling a SIGKILL anything but out-of-memory", () => {
    const lines = fixture("sacct-finished.txt").split("\n").filter((l) => l.startsWith("13|")).join("\n")
    const end = new Date(2026, 10, 21, 12, 51, 46)
    const soon = new Date(end.getTime() + 5_000)
    const late = new Date(end.getTime() + 60_000)
    // The allocation row alone, as sacct gives it in the first second after the end.
    expect(right(parseAccounting(lines, [record("13")], soon))).toEqual([])
    expect(byId(right(parseAccounting(lines, [record("13")], late))).get("13")?.reason).toEqual({
      _tag: "Signalled",
      signal: "SIGKILL"
    })
    // Seen on the real Slurm 1 s after an OverMemoryKill: the job's row is slurmdbd's placeholder.
    const placeholder = "78|78|FAILED|0:9|None||16?|vm|2026-11-21T12:51:45|2026-11-21T12:51:45|2026-11-21T12:51:46|allocation\n" +
      "78.batch|78.batch|CANCELLED by 0|0:9||426072K||vm|2026-11-21T12:51:45|2026-11-21T12:51:45|2026-11-21T12:51:46|batch\n"
    expect(right(parseAccounting(placeholder, [record("78")], soon))).toEqual([])
    const withBatch = fixture("sacct-finished.txt").split("\n").filter((l) => l.startsWith("13")).join("\n")
    expect(byId(right(parseAccounting(withBatch, [record("13")], soon))).get("13")?.reason).toEqual({
      _tag: "OutOfMemory"
    })
  })

  it("a dependent cancelled before it ran, with no one named, failed on its dependency", () => {
    // What sacct says right after --kill-on-invalid-dep cancelled it: Reason None, not yet Dependency.
    const line = "54|54|CANCELLED|0:0|None||100M|None assigned|2026-11-21T12:59:19|2026-11-21T12:59:20|2026-11-21T12:59:20|capi-blk"
    const deps = { dependsOn: [{ type: "afterok" as const, jobId: "53" }] }
    expect(byId(right(parseAccounting(line, [record("54", deps)]))).get("54")).toMatchObject({
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: ["53"] },
      startTime: undefined
    })
    // Cancelled by someone, or a job without dependencies: a cancel.
    expect(byId(right(parseAccounting(line.replace("CANCELLED", "CANCELLED by 1001"), [record("54", deps)]))).get("54")?.status)
      .toBe("Killed")
    expect(byId(right(parseAccounting(line, [record("54")]))).get("54")?.status).toBe("Killed")
  })

  it("reads running jobs, pending elements compressed, and element rows whose raw id differs (recorded)", () => {
    const obs = byId(right(parseAccounting(fixture("sacct-array-throttled.txt"))))
    expect(obs.get("26")?.elements?.map((e) => [e.index, e.status])).toEqual([
      [1, "Running"],
      [2, "Running"],
      [3, "Pending"],
      [4, "Pending"],
      [5, "Pending"],
      [6, "Pending"]
    ])
    const more = byId(right(parseAccounting(fixture("sacct-running-and-array.txt"))))
    expect(more.get("2")?.status).toBe("Running")
    expect(more.get("2")?.finishTime).toBeUndefined()
    expect(more.get("4")?.elements).toHaveLength(6)
  })

  it("a stale pending-range row never speaks for an element that has a row of its own (recorded)", () => {
    const statuses = (stdout: string) =>
      byId(right(parseAccounting(stdout))).get("317")?.elements?.map((e) => [e.index, e.status])
    // `317_3 RUNNING` then `317_[3-4%1] PENDING` in the same answer.
    expect(statuses(fixture("sacct-array-one-at-a-time-running-in-range.txt"))).toEqual([
      [1, "Done"],
      [2, "Done"],
      [3, "Running"],
      [4, "Pending"]
    ])
    // `317_3 COMPLETED`, and still `317_[3-4%1] PENDING`.
    expect(statuses(fixture("sacct-array-one-at-a-time-ended-in-range.txt"))).toEqual([
      [1, "Done"],
      [2, "Done"],
      [3, "Done"],
      [4, "Pending"]
    ])
    // Whatever order the rows come in.
    const reversed = fixture("sacct-array-one-at-a-time-running-in-range.txt").trim().split("\n").reverse().join("\n")
    expect(statuses(reversed)).toEqual([[1, "Done"], [2, "Done"], [3, "Running"], [4, "Pending"]])
  })

  it("a poll while sacct still names an ended element in its pending range: the element ends Done, never back to Pending (recorded)", () => {
    // Element 3 was Running; squeue no longer shows it (only 317_4), so sacct is asked too.
    const record = jobRecord("317", {
      array: { start: 1, end: 4, maxConcurrent: 1 },
      status: "Running",
      elements: [
        { index: 1, status: "Done", exitCode: 0 },
        { index: 2, status: "Done", exitCode: 0 },
        { index: 3, status: "Running" },
        { index: 4, status: "Pending" }
      ]
    })
    const live = right(parseStatus(fixture("squeue-array-one-at-a-time-last-pending.txt")))
    const later = right(parseAccounting(fixture("sacct-array-one-at-a-time-ended-in-range.txt"), [record]))
    const [obs] = mergeObservations(live, later)
    const next = applyObservation(record, obs!, new Date(2026, 11, 7, 15, 45, 42))
    expect(next.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Done"], [3, "Done"], [4, "Pending"]])
    expect(next.status).toBe("Running")
  })

  it("squeue showed element 2 running; a later sacct answer still covering it with its pending range keeps it Running (recorded)", () => {
    const array = jobRecord("317", { array: { start: 1, end: 4, maxConcurrent: 1 } })
    const seen = applyObservation(
      array,
      right(parseStatus(fixture("squeue-array-one-at-a-time-range-lags.txt")))[0]!,
      new Date(2026, 11, 7, 15, 45, 31)
    )
    expect(seen.elements?.map((e) => [e.index, e.status])).toEqual([[2, "Running"], [3, "Pending"], [4, "Pending"]])
    // sacct, read at the same moment, has no row for 317_2 yet: only `317_[2-4%1]` PENDING.
    const [later] = right(parseAccounting(fixture("sacct-array-one-at-a-time-range-lags.txt"), [seen]))
    expect(later?.elements?.find((e) => e.index === 2)?.status).toBe("Pending")
    const next = applyObservation(seen, later!, new Date(2026, 11, 7, 15, 45, 32))
    expect(next.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Running"], [3, "Pending"], [4, "Pending"]])
    expect(next.status).toBe("Running")
    // With squeue's answer of the same moment as element 3 ran, both agree: 3 Running, 4 Pending.
    const [both] = mergeObservations(
      right(parseStatus(fixture("squeue-array-one-at-a-time-running.txt"))),
      right(parseAccounting(fixture("sacct-array-one-at-a-time-running-in-range.txt"), [next]))
    )
    expect(both?.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Done"], [3, "Running"], [4, "Pending"]])
  })

  it("an array's placeholder row (no element index, JobName allocation) says nothing yet; the settled answer names each element (recorded)", () => {
    const array = jobRecord("372", { array: { start: 1, end: 2 } })
    // The element that failed was 372_2; read as the whole array, it would end it Failed (or
    // Done, had the last element succeeded while another failed).
    expect(right(parseAccounting(fixture("sacct-array-placeholder-row.txt"), [array]))).toEqual([])
    const settled = byId(right(parseAccounting(fixture("sacct-array-placeholder-settled.txt"), [array])))
    expect(settled.get("372")?.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Failed"]])
    // A plain job's row is read as ever.
    expect(byId(right(parseAccounting(fixture("sacct-array-placeholder-row.txt"), [jobRecord("372")]))).get("372")?.status)
      .toBe("Failed")
  })

  it("knows sacct's answer when accounting is disabled (recorded)", () => {
    expect(accountingUnavailable(fixture("sacct-accounting-disabled.txt"), fixture("sacct-accounting-disabled.stderr")))
      .toBe(true)
    expect(accountingUnavailable("", "Slurm accounting storage is disabled\n")).toBe(true)
    expect(accountingUnavailable("5|COMPLETED|0:0", "")).toBe(false)
  })

  it("refuses lines it cannot read", () => {
    expect(right(parseAccounting("5|COMPLETED\n"))).toEqual([{ jobId: "5", unreadable: expect.stringContaining("expected 12 fields") }])
    expect(right(parseAccounting("5|5|MELTED|0:0|None||||||||x\n"))).toEqual([{ jobId: "5", unreadable: expect.stringContaining("MELTED") }])
    expect(Either.isLeft(parseAccounting("junk\n"))).toBe(true)
  })

  it("an exit code out of range leaves its job unread, and the other jobs are read", () => {
    const rows = (id: string, exit: string) =>
      `${id}|${id}|FAILED|${exit}|None||100M|n1|2026-11-21T12:00:00|2026-11-21T12:00:00|2026-11-21T12:00:09|x\n`
    const read = right(parseAccounting(rows("5", "99999999999999999999:0") + rows("6", "3:0") + rows("7", "1:256")))
    expect(read.find((o) => o.jobId === "6")?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
    expect(read.find((o) => o.jobId === "5")?.unreadable).toContain("99999999999999999999")
    expect(read.find((o) => o.jobId === "7")?.unreadable).toContain("1:256")
  })
})

describe("cancel", () => {
  const answer = (stderr: string, exitCode = 0) => ({ exitCode, stdout: "", stderr })

  it("runs scancel -v, since plain scancel is silent about jobs that already ended", () => {
    expect(cancel(["5", "6"]).argv).toEqual(["scancel", "-v", "5", "6"])
  })

  const ended = (ids: ReadonlyArray<string>) => ({ ended: ids, refused: [] })

  it("reads which jobs had already ended (recorded)", () => {
    expect(right(cancelOutcome(["7"], answer(fixture("scancel-verbose-completed.stderr"))))).toEqual(ended(["7"]))
    expect(right(cancelOutcome(["999999"], answer(fixture("scancel-verbose-unknown-id.stderr"))))).toEqual(
      ended(["999999"])
    )
    // Both messages on one line, as scancel wrote them when stderr was not a terminal.
    const joined = "scancel: error: Kill job error on job id 9: Invalid job id specifiedscancel: Terminating job 7\n" +
      "scancel: error: Kill job error on job id 7: Job/step already completing or completed\n"
    expect(right(cancelOutcome(["7", "9", "12"], answer(joined)))).toEqual(ended(["9", "7"]))
    expect(right(cancelOutcome(["12"], answer("scancel: Terminating job 12\n")))).toEqual(ended([]))
  })

  it("names a job scancel refused, apart from the ones it cancelled", () => {
    const denied = "scancel: Terminating job 12\nscancel: error: Kill job error on job id 13: Access/permission denied\n"
    expect(right(cancelOutcome(["12", "13"], answer(denied, 1)))).toEqual({
      ended: [],
      refused: [{ jobId: "13", detail: "Access/permission denied" }]
    })
  })

  it("a controller it cannot reach refuses the job, saying so (recorded); a failure naming no job fails", () => {
    const outcome = right(cancelOutcome(["26"], answer(fixture("scancel-controller-down.stderr"), 1)))
    expect(outcome.refused).toEqual([{ jobId: "26", detail: "Unable to contact slurm controller (connect failure)" }])
    expect(Either.isLeft(cancelOutcome(["26"], answer("scancel: error: Invalid user\n", 1)))).toBe(true)
  })
})

describe("scontrol show job -o (no accounting)", () => {
  it("reads the asked-for jobs from every job the controller holds (recorded)", () => {
    const deps = { dependsOn: [{ type: "afterok" as const, jobId: "8" }] }
    const jobs = ["1", "2", "3", "4", "8", "9", "11", "12", "13"].map((id) => record(id, id === "9" ? deps : {}))
    const obs = byId(right(parseScontrol(fixture("scontrol-show-job.txt"), jobs)))
    expect(obs.has("7")).toBe(false)
    expect(obs.get("1")).toMatchObject({ name: "capi-timeout", status: "Failed", reason: { _tag: "Timeout" } })
    expect(obs.get("2")).toMatchObject({ status: "Running", execHost: "vm" })
    expect(obs.get("2")?.finishTime).toBeUndefined()
    expect(obs.get("3")?.status).toBe("Pending")
    expect(obs.get("8")).toMatchObject({ status: "Failed", exitCode: 3 })
    expect(obs.get("9")).toMatchObject({ status: "Failed", reason: { _tag: "DependencyFailed" } })
    expect(obs.get("12")?.status).toBe("Killed")
    // Without accounting there is no peak memory: the kill is all that is known.
    expect(obs.get("13")).toMatchObject({ status: "Failed", reason: { _tag: "Signalled", signal: "SIGKILL" } })
    expect(obs.get("4")?.elements?.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6])
    expect(obs.get("11")?.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Failed"], [3, "Done"]])
  })

  it("splits values with spaces correctly", () => {
    const kv = parseScontrolLine("JobId=5 JobName=a b JobState=RUNNING Command=/x y/z.sh WorkDir=/w TRES=cpu=1,mem=1G")
    expect(kv.get("JobName")).toBe("a b")
    expect(kv.get("Command")).toBe("/x y/z.sh")
    expect(kv.get("TRES")).toBe("cpu=1,mem=1G")
  })
})
