/**
 * SGE's dialect as pure functions, against outputs recorded from a real Son of Grid Engine 8.1.9
 * (test/fixtures/sge, see its README): directives, qsub -terse, qstat -xml, qstat -j, qacct, qdel.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either, FastCheck } from "effect"
import { defaultOptions } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import {
  accountingCommand,
  cancelByNameCommand,
  cancelledByName,
  cancelOutcome,
  categoryRequests,
  directives,
  endOutcome,
  formatQacctTime,
  logFileName,
  parseAccounting,
  parseExplain,
  parseListing,
  parseQacctMemory,
  parseQacctTime,
  parseStatus,
  parseSubmit,
  parseTasks,
  resolveLogPath,
  sgeMemory,
  stateOutcome,
  status,
  validate
} from "./support/parts/sge.js"
import { byId, fixtures, preparedJob, right } from "./support/Dialects.js"

const fixture = fixtures("sge")
/** The id of the job named `name` in a recorded `qstat -xml`. */
const idOf = (xml: string, name: string): string =>
  new RegExp(`<JB_job_number>(\\d+)</JB_job_number>\\s*<JAT_prio>[^<]*</JAT_prio>\\s*<JB_name>${name}</JB_name>`).exec(xml)![1]!
/** The host the fixtures were recorded on (the README says so). */
const host = /<queue_name>all\.q@([^<]+)<\/queue_name>/.exec(fixture("qstat-xml-suspended.xml"))![1]!
const options = defaultOptions
const paths = { runDir: "/work dir", stdout: "/logs/stdout.$JOB_ID.log", stderr: "/logs/stderr.$JOB_ID.log" }
const record = (jobId: string, over: Partial<JobRecord> = {}): JobRecord => ({
  jobId,
  name: "capi-x",
  command: "true",
  executor: "sge",
  status: "Running",
  lastSeen: new Date(2026, 10, 21, 12),
  metadata: {},
  ...over
})

describe("directives", () => {
  it("names, logs, directory, shell; resources only when asked", () => {
    expect(directives(preparedJob(), paths, options)).toEqual([
      "#$ -N capi-align",
      "#$ -o /logs/stdout.$JOB_ID.log",
      "#$ -e /logs/stderr.$JOB_ID.log",
      `#$ -wd "/work dir"`,
      "#$ -S /bin/bash",
      "#$ -V"
    ])
  })

  it("one file for both streams is -j y; no -V without inheritEnv; a login shell keeps -S the shell's path", () => {
    const lines = directives(
      preparedJob({ inheritEnv: false, loginShell: { shebang: "#!/bin/bash -l", shell: "/bin/bash" } }),
      { ...paths, stderr: paths.stdout },
      options
    )
    expect(lines).toContain("#$ -j y")
    expect(lines.some((l) => l.startsWith("#$ -e"))).toBe(false)
    expect(lines).not.toContain("#$ -V")
    expect(lines).toContain("#$ -S /bin/bash")
  })

  it("cpus → -pe, memory per slot rounded up, h_rt, gpus, queue, project, extra directives last, skips applied", () => {
    const job = preparedJob({
      resources: {
        cpus: 3,
        memoryBytes: 1000 * 1024 * 1024,
        walltime: Duration.minutes(90),
        gpus: 2,
        queue: "long.q",
        account: "proj 1",
        extraDirectives: ["-notify", "-l scratch=1G"],
        extraArgs: []
      }
    })
    expect(directives(job, paths, { ...options, directives_skip: ["scratch"] }).slice(5)).toEqual([
      "#$ -pe smp 3",
      "#$ -l h_vmem=334M",
      "#$ -l h_rt=01:30:00",
      "#$ -l gpu=2",
      "#$ -q long.q",
      `#$ -P "proj 1"`,
      "#$ -V",
      "#$ -notify"
    ])
  })

  it("an array: -t range[:step] and the throttle as -tc, never %N", () => {
    const lines = directives(preparedJob({ array: { start: 1, end: 100, step: 2, maxConcurrent: 5 } }), paths, options)
    expect(lines).toContain("#$ -t 1-100:2")
    expect(lines).toContain("#$ -tc 5")
    expect(lines.join("\n")).not.toContain("%")
  })

  it("dependencies: one -hold_jid; -h only when afterok/afternotok must be gated", () => {
    const deps = (types: ReadonlyArray<"afterok" | "afternotok" | "afterany">) =>
      directives(preparedJob({ spec: { name: "a", command: "x", dependsOn: types.map((type, i) => ({ type, jobId: String(10 + i) })) } }), paths, options)
    expect(deps(["afterany", "afterany"])).toEqual(expect.arrayContaining(["#$ -hold_jid 10,11"]))
    expect(deps(["afterany"])).not.toContain("#$ -h")
    expect(deps(["afterok", "afterany"]).slice(-2)).toEqual(["#$ -hold_jid 10,11", "#$ -h"])
    expect(deps(["afternotok"])).toContain("#$ -h")
  })

  it("default logs carry SGE's $JOB_ID and $TASK_ID, filled in once the id is known", () => {
    expect(logFileName("stdout", false)).toBe("stdout.$JOB_ID.log")
    expect(logFileName("stderr", true)).toBe("stderr.$JOB_ID.$TASK_ID.log")
    expect(resolveLogPath("/l/stdout.$JOB_ID.$TASK_ID.log", "42", "capi-a")).toBe("/l/stdout.42.{index}.log")
    expect(resolveLogPath("/l/$JOB_NAME.o$JOB_ID", "42", "capi-a")).toBe("/l/capi-a.o42")
  })

  it("validate refuses an array starting at 0", () => {
    expect(validate(preparedJob({ array: { start: 0, end: 4 } }), options)?.field).toBe("array")
    expect(validate(preparedJob({ array: { start: 1, end: 4 } }), options)).toBeUndefined()
  })
})

describe("qsub -terse", () => {
  it("reads a job's id and an array's", () => {
    const id = fixture("qsub-terse.txt").trim()
    expect(id).toMatch(/^\d+$/)
    expect(right(parseSubmit(fixture("qsub-terse.txt")))).toBe(id)
    for (const [name, range] of [["qsub-terse-array.txt", "1-3:1"], ["qsub-terse-array-step.txt", "1-5:2"]] as const) {
      const text = fixture(name)
      expect(text.trim()).toMatch(new RegExp(`^\\d+\\.${range}$`))
      expect(right(parseSubmit(text))).toBe(text.trim().split(".")[0])
    }
  })

  it("anything else is a Left carrying what qsub printed", () => {
    const result = parseSubmit(fixture("qsub-error-unknown-queue.stderr"))
    expect(Either.isLeft(result) && result.left).toContain("nosuch.q")
  })
})

describe("qstat -xml", () => {
  it("one call lists the user's jobs (or everyone's with poll_all_users)", () => {
    expect(status([], options, { user: "alice" }).argv).toEqual(["qstat", "-xml", "-u", "alice"])
    expect(status([], { ...options, poll_all_users: true }, { user: "alice" }).argv).toEqual(["qstat", "-xml", "-u", "*"])
  })

  it("state codes", () => {
    expect(stateOutcome("qw")).toEqual({ status: "Pending", held: false })
    expect(stateOutcome("hqw")).toEqual({ status: "Pending", held: true })
    expect(stateOutcome("hRwq")).toMatchObject({ status: "Pending", held: true })
    for (const s of ["r", "t", "Rr", "s", "S", "T", "dr"]) expect(stateOutcome(s).status).toBe("Running")
    expect(stateOutcome("Eqw")).toMatchObject({ status: "Failed", reason: { _tag: "SchedulerFailure" } })
  })

  it("running, suspended and held jobs, with host and times", () => {
    const text = fixture("qstat-xml-suspended.xml")
    const obs = byId(right(parseStatus(text)))
    const suspended = idOf(text, "capi-run")
    expect(obs.get(suspended)).toMatchObject({ status: "Running", execHost: host, name: "capi-run" })
    expect(obs.get(suspended)?.startTime).toBeInstanceOf(Date)
    expect(obs.get(idOf(text, "capi-after-run"))).toMatchObject({ status: "Pending", held: true })
    expect(obs.get(idOf(text, "capi-after-run"))?.submitTime).toBeInstanceOf(Date)
  })

  it("an array: running tasks one row each, the waiting ones as one range", () => {
    const text = fixture("qstat-xml-array-partial.xml")
    const [arr] = right(parseStatus(text))
    expect(arr?.jobId).toBe(idOf(text, "capi-arr6"))
    expect(arr?.name).toBe("capi-arr6")
    expect(arr?.elements?.map((e) => [e.index, e.status])).toEqual([
      [1, "Running"],
      [2, "Running"],
      [3, "Pending"],
      [4, "Pending"],
      [5, "Pending"],
      [6, "Pending"]
    ])
  })

  it("an empty queue, and tasks fields", () => {
    expect(right(parseStatus(fixture("qstat-xml-empty.xml")))).toEqual([])
    expect(right(parseStatus(""))).toEqual([])
    expect(parseTasks("2-10:4")).toEqual([2, 6, 10])
    expect(parseTasks("1,3-4:1")).toEqual([1, 3, 4])
    expect(parseTasks("x")).toBeUndefined()
    expect(Either.isLeft(parseStatus("<html>"))).toBe(true)
  })

  it("a tasks range past max_aj_tasks, or with indices past 2^53, leaves that job unread without enumerating it", () => {
    const entry = (number: string, tasks: string) =>
      `<job_list state="pending"><JB_job_number>${number}</JB_job_number><JB_name>capi-x</JB_name><state>qw</state><tasks>${tasks}</tasks></job_list>`
    for (const tasks of ["1-100000000:1", "9007199254740990-9007199254740993:1", "1-75001", "3-1:1"]) {
      const started = performance.now()
      const xml = `<?xml version='1.0'?><job_info><queue_info></queue_info><job_info>${entry("7", tasks)}${entry("8", "1-3:1")}</job_info></job_info>`
      const read = right(parseStatus(xml))
      expect(performance.now() - started).toBeLessThan(1000)
      expect(read.find((o) => o.jobId === "7")?.unreadable).toContain(tasks.split(":")[0])
      expect(read.find((o) => o.jobId === "8")?.elements?.map((e) => e.index)).toEqual([1, 2, 3])
    }
    expect(parseTasks("1-75000")).toHaveLength(75000)
  })

  it("an element of the wrong shape (nested tags where text belongs) is no value, never [object Object] or a thrown error", () => {
    const xml = `<job_info><queue_info><job_list><JB_job_number>7</JB_job_number><JB_name><toString>x</toString></JB_name><state>r</state><queue_name><valueOf>q</valueOf></queue_name></job_list></queue_info></job_info>`
    const [o] = right(parseStatus(xml))
    expect(o).toMatchObject({ jobId: "7", status: "Running" })
    expect([o?.name, o?.execHost]).toEqual([undefined, undefined])
  })

  it("the listing for reconnect is the same answer, each job with its name", () => {
    const text = fixture("qstat-xml-suspended.xml")
    const listing = right(parseListing(text))
    expect(listing.map((l) => [l.jobId, l.name])).toEqual(
      ["capi-run", "capi-smp2", "capi-gpu1", "capi-after-run"].map((name) => [idOf(text, name), name])
    )
  })
})

describe("qstat -j: why a job is in error state", () => {
  it("reads each job's error reason", () => {
    const text = fixture("qstat-j-eqw.txt")
    const reasons = parseExplain(text)
    expect(Array.from(reasons.keys())).toEqual([/job_number:\s+(\d+)/.exec(text)![1]])
    expect(Array.from(reasons.values())[0]).toMatch(/^\d\d\/\d\d\/\d{4} [\d:]+ \[\d+:\d+\]: error: can't chdir to \/nonexistent\/dir: No such file or directory$/)
    expect(parseExplain(fixture("qstat-j-running.txt")).size).toBe(0)
  })
})

describe("qacct", () => {
  it("one id is asked directly; several by owner and start time, in one call", () => {
    const at = new Date(2026, 10, 21, 12, 5, 7)
    expect(accountingCommand([record("7", { submitTime: at })], options, { user: "alice" }).argv).toEqual(["qacct", "-j", "7"])
    expect(accountingCommand([record("7", { submitTime: at }), record("8", { submitTime: new Date(2026, 10, 21, 13) })], options, {
      user: "alice"
    }).argv).toEqual(["qacct", "-o", "alice", "-b", "202611211204.07", "-j"])
    expect(formatQacctTime(new Date(2026, 0, 2, 3, 4, 5))).toBe("202601020304.05")
    // A job known by its start only (reconnected while running), and one known by neither.
    const started = record("9", { startTime: new Date(2026, 10, 21, 11, 0, 30) })
    expect(accountingCommand([started, record("8", { submitTime: at })], options, { user: "alice" }).argv).toContain("202611211059.30")
    const bare = record("10", { lastSeen: new Date(2026, 10, 21, 12) })
    expect(accountingCommand([bare, record("8", { submitTime: at })], options, { user: "alice" }).argv).toContain("202611141159.00")
  })

  it("an exit_status out of range leaves that job unread; the others are read", () => {
    const text = fixture("qacct-ok.txt")
    const id = /jobnumber\s+(\d+)/.exec(text)![1]!
    const bad = text.replace(/jobnumber\s+\d+/, "jobnumber    77").replace(/exit_status\s+\d+/, "exit_status  99999999999999999999")
    const read = right(parseAccounting(`${text}\n${bad}`, [record(id), record("77")], new Date()))
    expect(read.find((o) => o.jobId === id)?.status).toBe("Done")
    expect(read.find((o) => o.jobId === "77")?.unreadable).toContain("99999999999999999999")
    expect(parseQacctMemory("99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999")).toBeUndefined()
  })

  it("a job that succeeded: exit code, host, peak memory, times", () => {
    const text = fixture("qacct-ok.txt")
    const id = /jobnumber\s+(\d+)/.exec(text)![1]!
    const [ok] = right(parseAccounting(text, [record(id)], new Date()))
    expect(ok).toMatchObject({ jobId: id, status: "Done", exitCode: 0, execHost: host, name: "capi-ok" })
    expect(ok?.startTime).toBeInstanceOf(Date)
    expect(ok?.finishTime!.getTime()).toBeGreaterThanOrEqual(ok!.startTime!.getTime())
  })

  it("exit 3, h_rt, qdel, error state", () => {
    const read = (name: string) => {
      const id = /jobnumber\s+(\d+)/.exec(fixture(name))![1]!
      return right(parseAccounting(fixture(name), [record(id)], new Date()))[0]
    }
    expect(read("qacct-exit3.txt")).toMatchObject({ status: "Failed", exitCode: 3, reason: { _tag: "NonZeroExit", exitCode: 3 } })
    expect(read("qacct-h-rt.txt")).toMatchObject({ status: "Failed", reason: { _tag: "Timeout" } })
    expect(read("qacct-qdel-running.txt")).toMatchObject({ status: "Failed", exitCode: 137, reason: { _tag: "Signalled", signal: "SIGKILL" } })
    expect(read("qacct-eqw.txt")?.reason).toEqual({ _tag: "SchedulerFailure", detail: "SGE reports failed 28 (changing into working directory)" })
  })

  it("failure 37 is a memory limit when the job asked for memory and not for h_rt", () => {
    expect(endOutcome({ failed: "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit", exitStatus: 137, category: "-l h_vmem=50M" }))
      .toEqual({ status: "Failed", reason: { _tag: "OutOfMemory" } })
    expect(endOutcome({ failed: "37 : x", exitStatus: 137, category: "-l h_rt=60,h_vmem=1G", wallclock: "12s" }).reason?._tag)
      .toBe("OutOfMemory")
    expect(endOutcome({ failed: "37 : x", exitStatus: 137, category: "-l h_rt=60,h_vmem=1G", wallclock: "61s" }).reason?._tag)
      .toBe("Timeout")
    expect(categoryRequests("-l h_rt=2,h_vmem=50M -pe smp 2")).toEqual(new Map([["h_rt", "2"], ["h_vmem", "50M"]]))
  })

  it("an array: one observation, one element per task", () => {
    const text = fixture("qacct-array.txt")
    const id = /jobnumber\s+(\d+)/.exec(text)![1]!
    const [arr] = right(parseAccounting(text, [record(id)], new Date()))
    expect(arr?.elements?.length).toBeGreaterThan(1)
    expect(arr?.elements?.every((e, i, all) => i === 0 || e.index > all[i - 1]!.index)).toBe(true)
  })

  it("records of jobs not asked about are left out; times and memory units", () => {
    expect(right(parseAccounting(fixture("qacct-ok.txt"), [record("1")], new Date()))).toEqual([])
    expect(parseQacctTime("Sat Nov 21 17:34:09 2026")).toEqual(new Date(2026, 10, 21, 17, 34, 9))
    expect(parseQacctMemory("4.879MB")).toBe(Math.ceil(4.879 * 1024 * 1024))
    expect(parseQacctMemory("0.000B")).toBeUndefined()
  })
})

describe("qacct: a job over its memory limit (h_vmem)", () => {
  /** How the one job of a recorded qacct answer ended. */
  const ended = (name: string) => {
    const text = fixture(name)
    const id = /jobnumber\s+(\d+)/.exec(text)![1]!
    return right(parseAccounting(text, [record(id)], new Date()))[0]
  }

  it("a program whose allocation h_vmem refused, its peak memory at the limit, is OutOfMemory; so are processes execd killed over it", () => {
    const oom = [
      "qacct-mem-python-steps.txt", // MemoryError, exit 1
      "qacct-mem-python-5m-steps.txt", // MemoryError, exit 1, 5 MB steps
      "qacct-mem-python-steps-pe.txt", // -pe smp 2: the limit is h_vmem × 2 slots
      "qacct-mem-tail.txt", // tail: memory exhausted, exit 1
      "qacct-mem-bash-string.txt", // bash: xrealloc: cannot allocate, exit 2, maxvmem never sampled
      "qacct-mem-malloc-segv.txt", // C: malloc returned NULL, SIGSEGV (failed 100)
      "qacct-mem-bad-alloc.txt", // C++: std::bad_alloc, SIGABRT (failed 100)
      "qacct-mem-processes.txt" // four processes together over it: execd kills them, failed 37
    ]
    for (const name of oom) expect([name, ended(name)?.status, ended(name)?.reason]).toEqual([name, "Failed", { _tag: "OutOfMemory" }])
    expect(ended("qacct-mem-tail.txt")?.exitCode).toBe(1)
  })

  it("a failure that is not about memory keeps its exit code: little memory, three quarters of the limit", () => {
    expect(ended("qacct-mem-sleep-exit1.txt")).toMatchObject({ status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 1 } })
    expect(ended("qacct-mem-most-then-exit3.txt")).toMatchObject({ status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 3 } })
  })

  it("one allocation far past the limit, refused at once, leaves nothing near the limit in qacct: a plain exit 1", () => {
    expect(ended("qacct-mem-one-allocation.txt")?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 1 })
    expect(ended("qacct-h-vmem.txt")?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 1 })
  })

  it("the limit is the lower of h_vmem and s_vmem per slot, times the slots; m is 1000², M 1024²; a qdel near it stays SIGKILL", () => {
    const end = { failed: "0", exitStatus: 1, peakMemory: 95 * 1024 * 1024 }
    expect(endOutcome({ ...end, category: "-l h_vmem=100M" }).reason?._tag).toBe("OutOfMemory")
    expect(endOutcome({ ...end, category: "-l h_vmem=200M,s_vmem=100M" }).reason?._tag).toBe("OutOfMemory")
    expect(endOutcome({ ...end, category: "-l h_vmem=200M" }).reason?._tag).toBe("NonZeroExit")
    expect(endOutcome({ ...end, category: "-l h_vmem=60M -pe smp 2", slots: 2 }).reason?._tag).toBe("NonZeroExit")
    expect(endOutcome({ ...end, category: "-l h_vmem=50M -pe smp 2", slots: 2 }).reason?._tag).toBe("OutOfMemory")
    expect(endOutcome({ ...end, category: "-l h_vmem=110m" }).reason?._tag).toBe("OutOfMemory")
    expect(endOutcome({ ...end, category: "-l h_vmem=120m" }).reason?._tag).toBe("NonZeroExit")
    expect(endOutcome({ ...end, category: "-l mem_free=100M" }).reason?._tag).toBe("NonZeroExit")
    expect(endOutcome({ ...end, category: "-l h_vmem=INFINITY" }).reason?._tag).toBe("NonZeroExit")
    expect(endOutcome({ ...end, failed: "100 : assumedly after job", exitStatus: 137, category: "-l h_vmem=100M" }).reason)
      .toEqual({ _tag: "Signalled", signal: "SIGKILL" })
    expect(endOutcome({ ...end, exitStatus: 0, category: "-l h_vmem=100M" })).toEqual({ status: "Done" })
  })

  it.prop(
    "a non-zero exit is OutOfMemory exactly when the peak reaches 9/10 of the limit",
    [FastCheck.integer({ min: 1, max: 64 * 1024 }), FastCheck.integer({ min: 0, max: 100 }), FastCheck.integer({ min: 1, max: 127 })],
    ([limitMb, percent, exitStatus]) => {
      const peakMemory = Math.ceil(limitMb * 1024 * 1024 * percent / 100)
      const outcome = endOutcome({ failed: "0", exitStatus, category: `-l h_vmem=${limitMb}M`, peakMemory })
      expect(outcome.reason).toEqual(percent >= 90 ? { _tag: "OutOfMemory" } : { _tag: "NonZeroExit", exitCode: exitStatus })
    }
  )

  it.prop("an SGE memory value is a positive byte count or nothing, never a throw", [FastCheck.string()], ([s]) => {
    const bytes = sgeMemory(s)
    expect(bytes === undefined || (Number.isFinite(bytes) && bytes > 0)).toBe(true)
  })

  it("SGE memory values: bytes, k m g t as powers of 1000, K M G T of 1024", () => {
    expect([sgeMemory("512"), sgeMemory("2k"), sgeMemory("2K"), sgeMemory("1.5G"), sgeMemory("3m"), sgeMemory("INFINITY"), sgeMemory("0")])
      .toEqual([512, 2000, 2048, 1.5 * 1024 ** 3, 3_000_000, undefined, undefined])
  })
})

describe("qdel", () => {
  it("reads deletions, jobs already gone, and refusals job by job", () => {
    const answer = (stdout: string, stderr = "", exitCode = 0) => ({ stdout, stderr, exitCode })
    expect(right(cancelOutcome(["46"], answer(fixture("qdel-running.txt"))))).toEqual({ ended: [], refused: [] })
    expect(right(cancelOutcome(["49"], answer(fixture("qdel-array.txt"))))).toEqual({ ended: [], refused: [] })
    expect(right(cancelOutcome(["44", "99999"], answer("", `denied: job "99999" does not exist\n`, 1)))).toEqual({
      ended: ["99999"],
      refused: []
    })
    expect(right(cancelOutcome(["5"], answer("", `alice has no permission to delete job "5"\n`, 1))).refused).toEqual([
      { jobId: "5", detail: `alice has no permission to delete job "5"` }
    ])
    expect(Either.isLeft(cancelOutcome(["5"], answer("", "error: commlib error: got select error\n", 1)))).toBe(true)
  })

  it("by name: qdel -u USER PATTERN, its answer as SGE 8.1.9 printed it here", () => {
    expect(cancelByNameCommand("capi-a*", false, options, { user: "alice" }).argv).toEqual(["qdel", "-u", "alice", "capi-a*"])
    expect(cancelByNameCommand("capi-a*", false, { ...options, poll_all_users: true }, { user: "alice" }).argv).toEqual(["qdel", "capi-a*"])
    expect(right(cancelledByName({ exitCode: 0, stdout: "root has registered the job 1427 for deletion\n", stderr: "" }))).toEqual(["1427"])
    expect(right(cancelledByName({ exitCode: 1, stdout: "The job capi-nomatch* of user(s) root does not exist\n", stderr: "" }))).toEqual([])
    expect(Either.isLeft(cancelledByName({ exitCode: 1, stdout: "", stderr: "error: commlib error: got select error\n" }))).toBe(true)
  })
})
