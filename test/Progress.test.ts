import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { JobEvent, JobRecord } from "../src/Domain.js"
import {
  applyEvent,
  caughtUp,
  countsLine,
  elapsedMillis,
  emptyProgress,
  erase,
  eventLine,
  formatClock,
  formatDuration,
  formatTable,
  formatTime,
  frameLines,
  redraw,
  resultTable,
  start,
  statusTable,
  trackRecords,
  truncate
} from "../src/cli/Progress.js"

/** A local time on 2024-05-01 (tests read clocks in local time, whatever the time zone). */
const at = (h: number, m: number, s: number) => new Date(2024, 4, 1, h, m, s)

const record = (over: Partial<JobRecord> = {}): JobRecord => ({
  jobId: "4242-1",
  name: "capi-hello",
  command: "echo hello",
  executor: "local",
  status: "Pending",
  lastSeen: at(12, 0, 0),
  metadata: {},
  ...over
})

const arrayRecord = (over: Partial<JobRecord> = {}): JobRecord =>
  record({
    jobId: "4242-3",
    name: "capi-array",
    status: "Running",
    array: { start: 1, end: 4, maxConcurrent: 2 },
    elements: [
      { index: 1, status: "Done", startTime: at(12, 0, 0), finishTime: at(12, 0, 2) },
      { index: 2, status: "Running", startTime: at(12, 0, 1) },
      { index: 3, status: "Failed", startTime: at(12, 0, 2), finishTime: at(12, 0, 3), exitCode: 1 }
    ],
    ...over
  })

describe("times", () => {
  it("formats durations as HH:MM:SS with unbounded hours", () => {
    expect(formatDuration(0)).toBe("00:00:00")
    expect(formatDuration(3_723_900)).toBe("01:02:03")
    expect(formatDuration(100 * 3_600_000)).toBe("100:00:00")
    expect(formatDuration(-5000)).toBe("00:00:00")
  })

  it("formats clock times in local time, with the date only on another day", () => {
    expect(formatClock(at(3, 4, 5))).toBe("03:04:05")
    expect(formatTime(at(9, 8, 7), at(23, 0, 0))).toBe("09:08:07")
    expect(formatTime(new Date(2024, 3, 30, 23, 59, 1), at(0, 0, 1))).toBe("2024-04-30 23:59:01")
    expect(formatTime(undefined, at(0, 0, 0))).toBe("-")
  })

  it("measures an array's elapsed time from its first element's start to its last element's end", () => {
    const done = arrayRecord({
      status: "Failed",
      elements: [
        { index: 1, status: "Done", startTime: at(12, 0, 0), finishTime: at(12, 0, 2) },
        { index: 2, status: "Failed", startTime: at(12, 0, 1), finishTime: at(12, 0, 9) }
      ]
    })
    expect(elapsedMillis(done, at(13, 0, 0))).toBe(9000)
    // While it runs, the clock keeps going
    expect(elapsedMillis(arrayRecord(), at(12, 1, 0))).toBe(60_000)
    // Not started: nothing to show
    expect(elapsedMillis(record(), at(12, 1, 0))).toBeUndefined()
  })
})

describe("tables", () => {
  it("aligns columns two spaces apart without trailing spaces", () => {
    const text = formatTable(["ID", "NAME"], [["1", "a-long-name"], ["12345", "b"]])
    expect(text.split("\n")).toEqual(["ID     NAME", "1      a-long-name", "12345  b"])
  })

  it("truncates with an ellipsis", () => {
    expect(truncate("abcdef", 4)).toBe("abc…")
    expect(truncate("abc", 4)).toBe("abc")
  })

  it("status table shows reason, host, peak memory and times, and drops columns empty for every job", () => {
    const failed = record({
      status: "Failed",
      exitCode: 3,
      reason: { _tag: "NonZeroExit", exitCode: 3 },
      execHost: "node17",
      maxMem: 1.5 * 1024 ** 3,
      submitTime: at(11, 59, 58),
      startTime: at(12, 0, 0),
      finishTime: at(12, 1, 30)
    })
    const lines = statusTable([failed], at(12, 5, 0)).split("\n")
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+EXIT\s+REASON\s+HOST\s+MAX MEM\s+SUBMITTED\s+STARTED\s+ENDED\s+ELAPSED$/)
    expect(lines[1]).toMatch(
      /^4242-1\s+capi-hello\s+Failed\s+3\s+exit code 3\s+node17\s+1\.5 GiB\s+11:59:58\s+12:00:00\s+12:01:30\s+00:01:30$/
    )
    const pending = statusTable([record()], at(12, 5, 0))
    expect(pending.split("\n")[0]).toMatch(/^ID\s+NAME\s+STATUS\s+ELAPSED$/)
  })

  it("result table names an array's failed elements", () => {
    const text = resultTable([arrayRecord({ status: "Failed", reason: { _tag: "ElementsFailed", indices: [3] } })], at(12, 0, 5))
    const [header, row] = text.split("\n")
    expect(header).toMatch(/REASON\s+ELAPSED\s+FAILED ELEMENTS$/)
    expect(row).toMatch(/array elements failed: 3\s+00:00:\d\d\s+3$/)
  })
})

describe("event lines", () => {
  const state = trackRecords(emptyProgress, [arrayRecord()])

  it("one line per transition, with the reason when a job did not succeed", () => {
    const failed = record({ status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 3 } })
    expect(eventLine(state, { _tag: "JobStatusChanged", from: "Running", to: "Failed", record: failed, at: at(12, 0, 1) }))
      .toBe("12:00:01 capi-hello 4242-1 Running → Failed (exit code 3)")
    expect(
      eventLine(state, { _tag: "JobStatusChanged", from: "Pending", to: "Running", record: record(), at: at(12, 0, 1) })
    ).toBe("12:00:01 capi-hello 4242-1 Pending → Running")
  })

  it("names submitted arrays and element transitions", () => {
    expect(eventLine(state, { _tag: "JobSubmitted", record: arrayRecord({ status: "Pending" }), at: at(9, 0, 0) }))
      .toBe("09:00:00 capi-array 4242-3 submitted (array 1-4%2)")
    expect(
      eventLine(state, { _tag: "ArrayElementChanged", jobId: "4242-3", index: 2, from: "Running", to: "Done", at: at(9, 0, 1) })
    ).toBe("09:00:01 capi-array 4242-3[2] Running → Done")
    expect(eventLine(state, { _tag: "ArrayElementChanged", jobId: "4242-3", index: 4, to: "Pending", at: at(9, 0, 1) }))
      .toBe("09:00:01 capi-array 4242-3[4] new → Pending")
  })

  it("reports failed polls and stays silent about purges", () => {
    expect(
      eventLine(state, { _tag: "PollFailed", executor: "slurm", message: "squeue hung", consecutiveFailures: 2, at: at(1, 2, 3) })
    ).toBe("01:02:03 poll of slurm failed (2 in a row): squeue hung")
    expect(eventLine(state, { _tag: "JobPurged", jobId: "4242-1", at: at(1, 2, 3) })).toBeUndefined()
  })
})

describe("progress state", () => {
  it("follows element changes of known arrays and ignores unknown jobs", () => {
    const state = trackRecords(emptyProgress, [arrayRecord()])
    const next = applyEvent(state, { _tag: "ArrayElementChanged", jobId: "4242-3", index: 2, from: "Running", to: "Done", at: at(1, 0, 0) })
    expect(next.jobs.get("4242-3")?.elements?.map((e) => [e.index, e.status])).toEqual([[1, "Done"], [2, "Done"], [3, "Failed"]])
    const added = applyEvent(next, { _tag: "ArrayElementChanged", jobId: "4242-3", index: 4, to: "Running", at: at(1, 0, 0) })
    expect(added.jobs.get("4242-3")?.elements?.map((e) => e.index)).toEqual([1, 2, 3, 4])
    expect(applyEvent(state, { _tag: "ArrayElementChanged", jobId: "nope", index: 1, to: "Done", at: at(1, 0, 0) }))
      .toBe(state)
  })

  it("never moves an ended job back to running", () => {
    const done = trackRecords(emptyProgress, [record({ status: "Done" })])
    expect(trackRecords(done, [record({ status: "Running" })]).jobs.get("4242-1")?.status).toBe("Done")
  })

  it("is caught up only once every final status and element status has been seen", () => {
    const final = arrayRecord({
      status: "Failed",
      elements: [{ index: 1, status: "Done" }, { index: 2, status: "Failed" }]
    })
    const partly = trackRecords(emptyProgress, [{ ...final, elements: [{ index: 1, status: "Done" }, { index: 2, status: "Running" }] }])
    expect(caughtUp(partly, [final])).toBe(false)
    expect(caughtUp(trackRecords(emptyProgress, [final]), [final])).toBe(true)
    expect(caughtUp(emptyProgress, [final])).toBe(false)
  })
})

describe("live summary", () => {
  it("counts jobs per status and shows each job, arrays with their elements", () => {
    const state = trackRecords(emptyProgress, [
      record({ status: "Running", startTime: at(12, 0, 0) }),
      record({ jobId: "4242-2", name: "capi-fail", status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 3 } }),
      arrayRecord()
    ])
    const lines = frameLines(state, at(12, 0, 42))
    expect(lines[0]).toBe("3 jobs: 2 Running, 1 Failed")
    expect(lines[1]).toMatch(/^ {2}4242-1\s+capi-hello\s+Running\s+00:00:42$/)
    expect(lines[2]).toMatch(/^ {2}4242-2\s+capi-fail\s+Failed\s+-\s+exit code 3$/)
    expect(lines[3]).toMatch(/^ {2}4242-3\s+capi-array\s+Running\s+00:00:42\s+elements 2\/4 ended, 1 running, 1 failed$/)
    expect(countsLine([record()])).toBe("1 job: 1 Pending")
  })

  it("cuts lines to the terminal width and draws nothing without jobs", () => {
    const state = trackRecords(emptyProgress, [arrayRecord()])
    for (const line of frameLines(state, at(12, 0, 1), 30)) expect(line.length).toBeLessThanOrEqual(29)
    expect(frameLines(emptyProgress, at(12, 0, 1))).toEqual([])
  })

  it("redraws in place with cursor-up and clear-line sequences", () => {
    expect(redraw(0, ["a", "b"])).toBe("\r\u001b[2Ka\n\u001b[2Kb\n\u001b[J")
    expect(redraw(2, ["c"])).toBe("\u001b[2A\r\u001b[2Kc\n\u001b[J")
    expect(erase(3)).toBe("\u001b[3A\r\u001b[J")
    expect(erase(0)).toBe("")
  })
})

describe("start", () => {
  const events: ReadonlyArray<JobEvent> = [
    { _tag: "JobSubmitted", record: record(), at: at(12, 0, 0) },
    { _tag: "JobStatusChanged", from: "Pending", to: "Running", record: record({ status: "Running" }), at: at(12, 0, 1) },
    { _tag: "JobPurged", jobId: "other", at: at(12, 0, 1) },
    {
      _tag: "JobStatusChanged",
      from: "Running",
      to: "Done",
      record: record({ status: "Done", exitCode: 0 }),
      at: at(12, 0, 2)
    }
  ]
  const final = record({ status: "Done", exitCode: 0 })

  it.scoped("prints one line per event, in order, when not on a terminal", () =>
    Effect.gen(function*() {
      let out = ""
      const progress = yield* start(Stream.fromIterable(events), { mode: "lines", write: (t) => Effect.sync(() => void (out += t)) })
      yield* progress.finish([final])
      yield* progress.log("after")
      expect(out).toBe(
        [
          "12:00:00 capi-hello 4242-1 submitted",
          "12:00:01 capi-hello 4242-1 Pending → Running",
          "12:00:02 capi-hello 4242-1 Running → Done",
          "after",
          ""
        ].join("\n")
      )
    }))

  it.scoped("redraws a summary on a terminal, prints log lines above it, and erases it at the end", () =>
    Effect.gen(function*() {
      let out = ""
      const progress = yield* start(Stream.fromIterable(events), { mode: "tty", write: (t) => Effect.sync(() => void (out += t)) })
      yield* progress.finish([final])
      expect(out).toContain("\u001b[2K1 job: 1 Running")
      expect(out).toContain("\u001b[2K1 job: 1 Done")
      expect(out).toContain("\u001b[2A\r\u001b[2K1 job: 1 Done") // redrawn over the previous frame
      expect(out).not.toContain("→") // no event lines on a terminal
      expect(out.endsWith("\u001b[2A\r\u001b[J")).toBe(true) // the two-line frame erased
    }))

  it.scoped("prints nothing with --json", () =>
    Effect.gen(function*() {
      let out = ""
      const progress = yield* start(Stream.fromIterable(events), { mode: "off", write: (t) => Effect.sync(() => void (out += t)) })
      yield* progress.finish([final])
      expect(out).toBe("")
    }))
})
