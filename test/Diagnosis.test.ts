/**
 * Diagnosis: which log lines are error lines (patterns, the whitelist rule with housekeeper's
 * one-word bug fixed, truncation and the cap), reading the end of logs, reading a job's or an
 * array element's output, expected outputs (plain paths, globs, `{index}`), the verdict on a job
 * that ended Done, and failure info. Files are real, in temp directories.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as fs from "node:fs"
import { join } from "node:path"
import { defaultOptions } from "../src/Config.js"
import * as Diagnosis from "../src/Diagnosis.js"
import { describeReason } from "../src/Domain.js"
import type { JobRecord, JobSpec } from "../src/Domain.js"
import { schedulerReasonOf } from "../src/internal/diagnosis/failureInfo.js"
import { compilePatterns, isWhitelisted, scanLines } from "../src/internal/diagnosis/scan.js"
import { fileSize, readTail, tailStart } from "../src/internal/diagnosis/tail.js"
import { Schedulers } from "../src/Scheduler.js"
import { builtin } from "../src/schedulers/builtin.js"
import { jobRecord } from "./support/Records.js"
import { tempDirs } from "./support/TempDirs.js"

const freshDir = tempDirs("capi-diagnosis-")

/** Writes files (relative to `dir`, parents made) and gives `dir` back. */
const withFiles = (dir: string, files: Record<string, string>): string => {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(join(dir, name, ".."), { recursive: true })
    fs.writeFileSync(join(dir, name), text)
  }
  return dir
}

const defaults = Either.getOrThrow(compilePatterns(defaultOptions.error_patterns))
const scan = (lines: ReadonlyArray<string>, whitelist: ReadonlyArray<string> = [], threshold = 3) =>
  scanLines(lines, { patterns: defaults, whitelist, threshold })

const spec = (over: Partial<JobSpec> = {}): JobSpec => ({ command: "run", name: "run", ...over })

describe("whitelist", () => {
  it("a one-word entry matches a line holding that word, whatever the threshold (housekeeper never matched it)", () => {
    expect(isWhitelisted("WARN: disk nearly full", ["WARN"], 3)).toBe(true)
    expect(isWhitelisted("warn: disk nearly full", ["WARN"], 10)).toBe(true)
    expect(isWhitelisted("ERROR: disk full", ["WARN"], 3)).toBe(false)
  })

  it("an entry of more words than the threshold needs `threshold` of them, in any order", () => {
    const entry = ["disk quota exceeded on scratch"]
    expect(isWhitelisted("error: scratch quota, disk", entry, 3)).toBe(true)
    expect(isWhitelisted("error: disk quota", entry, 3)).toBe(false)
    expect(isWhitelisted("error: disk quota", entry, 2)).toBe(true)
    // Words are whole words: "disks" is not "disk"
    expect(isWhitelisted("error: disks quotas on scratch", entry, 3)).toBe(false)
  })

  it("an entry of fewer words than the threshold needs all of them", () => {
    const entry = ["Connection reset"]
    expect(isWhitelisted("failed: reset of the connection", entry, 3)).toBe(true)
    expect(isWhitelisted("failed: connection lost", entry, 3)).toBe(false)
  })

  it("housekeeper's example entry matches its text, and another line sharing 3 of its words in any order", () => {
    const entry = ["Leap second table TAI_UTC seems out-of-date"]
    expect(isWhitelisted("WARNING: Leap second table TAI_UTC seems out-of-date (2019)", entry, 3)).toBe(true)
    expect(isWhitelisted("ERROR: TAI_UTC table seems stale", entry, 3)).toBe(true)
    expect(isWhitelisted("ERROR: the table seems broken", entry, 3)).toBe(false)
    // "out-of-date" is three words
    expect(isWhitelisted("error: data out of date", entry, 3)).toBe(true)
  })

  it("ignores case, both ways of matching; blank entries match nothing", () => {
    expect(isWhitelisted("KNOWN ERROR in module x", ["known error"], 3)).toBe(true)
    expect(isWhitelisted("Module X: error KNOWN", ["known error"], 3)).toBe(true)
    expect(isWhitelisted("error", ["", "   "], 1)).toBe(false)
  })
})

describe("error patterns and scanning", () => {
  it("an invalid pattern is refused, naming it and what to fix", () => {
    const result = compilePatterns(["\\berror\\b", "(unclosed"])
    expect(Either.isLeft(result)).toBe(true)
    const message = Either.getLeft(result).pipe(Option.getOrThrow)
    expect(message).toContain("\"(unclosed\"")
    expect(message).toContain("not a valid regular expression")
    expect(message).toContain("error_patterns")
    expect(message).not.toContain("berror")
  })

  it("the default patterns find housekeeper's error lines, ignoring case, and whole words only", () => {
    const result = scan([
      "step 1 ok",
      "ERROR: file not found",
      "Traceback (most recent call last):",
      "Segmentation fault (core dumped)",
      "no errors found", // "errors" is not the word "error"
      "task Failed",
      "slurmstepd: error: *** JOB 12 CANCELLED ***",
      "process Killed by the OOM killer",
      "SEVERE: out of heap"
    ])
    expect(result.lines).toEqual([
      "ERROR: file not found",
      "Traceback (most recent call last):",
      "Segmentation fault (core dumped)",
      "task Failed",
      "slurmstepd: error: *** JOB 12 CANCELLED ***",
      "process Killed by the OOM killer",
      "SEVERE: out of heap"
    ])
    expect(result.count).toBe(7)
  })

  it("counts every error line, keeps the first 50, cuts long ones to 500 characters and '...', skips whitelisted ones", () => {
    const long = `error: ${"x".repeat(600)}`
    const lines = [
      long,
      ...Array.from({ length: 59 }, (_, i) => `error ${i + 1}`),
      "WARN: error budget low",
      "all fine"
    ]
    const result = scan(lines, ["WARN"])
    expect(result.count).toBe(60)
    expect(result.lines).toHaveLength(50)
    expect(result.lines[0]).toBe(`${long.slice(0, 500)}...`)
    expect(result.lines[1]).toBe("error 1")
    expect(result.lines[49]).toBe("error 49")
    expect(result.lines).not.toContain("WARN: error budget low")

    const small = scanLines(lines, { patterns: defaults, whitelist: [], threshold: 3, maxKept: 2, maxLength: 10 })
    expect(small).toEqual({ count: 61, lines: ["error: xxx...", "error 1"] })
  })
})

describe("reading the end of a file", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext | Schedulers>) =>
    effect.pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin))

  it.effect("last N lines, with and without a final newline; 0 lines; more lines than the file; a missing file", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "nl.log": "a\nb\nc\n", "no-nl.log": "a\nb\nc", "empty.log": "" })
      expect(yield* readTail(join(dir, "nl.log"), 2)).toEqual(Option.some("b\nc\n"))
      expect(yield* readTail(join(dir, "no-nl.log"), 2)).toEqual(Option.some("b\nc"))
      expect(yield* readTail(join(dir, "nl.log"), 1)).toEqual(Option.some("c\n"))
      expect(yield* readTail(join(dir, "nl.log"), 0)).toEqual(Option.some(""))
      expect(yield* readTail(join(dir, "nl.log"), 10)).toEqual(Option.some("a\nb\nc\n"))
      expect(yield* readTail(join(dir, "no-nl.log"), 3)).toEqual(Option.some("a\nb\nc"))
      expect(yield* readTail(join(dir, "empty.log"), 3)).toEqual(Option.some(""))
      expect(yield* readTail(join(dir, "absent.log"), 3)).toEqual(Option.none())
    })))

  it.effect("a file bigger than the 64 KiB chunks, multi-byte text included", () =>
    run(Effect.gen(function*() {
      const lines = Array.from({ length: 30_000 }, (_, i) => `line ${String(i).padStart(5, "0")} ✓`)
      const text = `${lines.join("\n")}\n`
      expect(Buffer.byteLength(text)).toBeGreaterThan(3 * 64 * 1024)
      const dir = withFiles(freshDir(), { "big.log": text })
      const file = join(dir, "big.log")
      const tail = Option.getOrThrow(yield* readTail(file, 20_000))
      expect(tail).toBe(`${lines.slice(-20_000).join("\n")}\n`)
      expect(Option.getOrThrow(yield* readTail(file, 3))).toBe(`${lines.slice(-3).join("\n")}\n`)
      expect(Option.getOrThrow(yield* readTail(file, 40_000))).toBe(text)
      const size = Option.getOrThrow(yield* fileSize(file))
      expect(size).toBe(Buffer.byteLength(text))
      expect(yield* tailStart(file, size, 1)).toBe(size - Buffer.byteLength(`${lines[29_999]}\n`))
    })))
})

describe("a job's output", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext | Schedulers>) =>
    effect.pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin))

  const arrayJob = (dir: string, over: Partial<JobRecord> = {}) =>
    jobRecord("40", {
      executor: "local",
      status: "Running",
      array: { start: 1, end: 3 },
      stdoutPath: join(dir, "out.40.{index}.log"),
      stderrPath: join(dir, "err.40.{index}.log"),
      elements: [
        { index: 1, status: "Done" },
        { index: 2, status: "Running" },
        { index: 3, status: "Done" }
      ],
      ...over
    })

  it.effect("an array element's stdout, whole or its tail, and its stderr", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "out.40.2.log": "one\ntwo\nthree\n", "err.40.2.log": "oops\n" })
      const job = arrayJob(dir)
      expect(yield* Diagnosis.readOutput(job, "stdout", { index: 2 })).toBe("one\ntwo\nthree\n")
      expect(yield* Diagnosis.readOutput(job, "stdout", { index: 2, tail: 2 })).toBe("two\nthree\n")
      expect(yield* Diagnosis.readOutput(job, "stderr", { index: 2, tail: 20 })).toBe("oops\n")
    })))

  it.effect("no index, a wrong index, a log not written yet, a log gone after the end: OutputNotFound saying which", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "out.40.2.log": "x\n" })
      const job = arrayJob(dir)
      const noIndex = yield* Effect.flip(Diagnosis.readOutput(job, "stdout"))
      expect(noIndex._tag).toBe("OutputNotFound")
      expect(noIndex.message).toContain("is an array job")

      const wrong = yield* Effect.flip(Diagnosis.readOutput(job, "stdout", { index: 7 }))
      expect(wrong.message).toContain("has no element 7 (its elements are 1-3)")

      const notYet = yield* Effect.flip(
        Diagnosis.readOutput(arrayJob(dir, { elements: [{ index: 2, status: "Pending" }] }), "stdout", { index: 3 })
      )
      expect(notYet._tag).toBe("OutputNotFound")
      if (notYet._tag !== "OutputNotFound") return
      expect(notYet.path).toBe(join(dir, "out.40.3.log"))
      expect(notYet.problem).toContain("not written yet")

      const gone = yield* Effect.flip(Diagnosis.readOutput(job, "stdout", { index: 3 }))
      expect(gone.message).toContain("element 3 ended Done")
      expect(gone.message).toContain("never written, or was deleted")

      const single = jobRecord("41", { status: "Failed" })
      const none = yield* Effect.flip(Diagnosis.readOutput(single, "stderr"))
      expect(none.message).toContain("has no stderr log recorded")
    })))
})

describe("expected outputs", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext | Schedulers>) =>
    effect.pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin))

  it.effect("plain paths, globs in any segment, {index} per element, relative to the work directory", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), {
        "result.txt": "r",
        "data/part-1.csv": "1",
        "data/part-2.csv": "2",
        "out_1.txt": "1",
        "out_3.txt": "3",
        "runs/a/summary.json": "{}",
        "runs/b/other.json": "{}",
        ".hidden": "h"
      })
      const other = withFiles(freshDir(), { "elsewhere.txt": "e" })
      const job = jobRecord("50", { status: "Done", workDir: dir, array: { start: 1, end: 3 } })
      const missing = yield* Diagnosis.checkExpectedOutputs(job, [
        "result.txt",
        "missing.txt",
        "data/*.csv",
        "data/*.parquet",
        "data/part-[12].csv",
        "data/part-?.csv",
        "data/part-[!12].csv",
        "out_{index}.txt",
        "runs/*/summary.json",
        "runs/*/nothing.json",
        "*/a",
        "*hidden",
        join(other, "elsewhere.txt"),
        join(other, "*.txt"),
        join(other, "gone.txt")
      ])
      expect(missing).toEqual([
        "missing.txt",
        "data/*.parquet",
        "data/part-[!12].csv",
        "out_2.txt",
        "runs/*/nothing.json",
        "*hidden",
        join(other, "gone.txt")
      ])
    })))

  it.effect("a job without workDir looks from the current directory; an unreadable directory matches nothing", () =>
    run(Effect.gen(function*() {
      const job = jobRecord("51", { status: "Done" })
      expect(yield* Diagnosis.checkExpectedOutputs(job, ["package.json", "src/*.ts", "no-such-dir/*/x"])).toEqual([
        "no-such-dir/*/x"
      ])
    })))
})

describe("expected outputs left by an earlier run", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext | Schedulers>) =>
    effect.pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin))

  // The job started at 10:00:00.700; its start is compared as 10:00:00 (see expectedOutputs).
  const started = new Date(Date.UTC(2026, 11, 7, 10, 0, 0, 700))
  const at = (ms: number) => new Date(started.getTime() + ms)

  /** Writes files (relative to `dir`) last modified at the given times. */
  const writtenAt = (dir: string, files: Record<string, Date>): string => {
    for (const [name, mtime] of Object.entries(files)) {
      withFiles(dir, { [name]: name })
      fs.utimesSync(join(dir, name), mtime, mtime)
    }
    return dir
  }

  it.effect("a file last written before the job started is stale; one written in its starting second or later counts", () =>
    run(Effect.gen(function*() {
      const dir = writtenAt(freshDir(), {
        "old.txt": at(-3_600_000),
        "just-before.txt": at(-701), // 09:59:59.999: the second before
        "same-second.txt": at(-500), // 10:00:00.200: before the start, in its second
        "new.txt": at(60_000),
        "parts/a.csv": at(-7_200_000),
        "parts/b.csv": at(5_000),
        "olds/x.csv": at(-3_600_000),
        "olds/y.csv": at(-7_200_000)
      })
      const job = jobRecord("55", {
        status: "Done",
        workDir: dir,
        submitTime: at(-86_400_000),
        startTime: started
      })
      const found = yield* Diagnosis.expectedOutputs(job, [
        "old.txt",
        "just-before.txt",
        "same-second.txt",
        "new.txt",
        "parts/*.csv",
        "olds/*.csv",
        "gone.txt"
      ])
      expect(found.missing).toEqual(["old.txt", "just-before.txt", "olds/*.csv", "gone.txt"])
      const stale = (pattern: string, file: string, lastWritten: Date) => ({
        pattern,
        file,
        lastWritten,
        since: started,
        from: "start"
      })
      expect(found.stale).toEqual([
        stale("old.txt", "old.txt", at(-3_600_000)),
        stale("just-before.txt", "just-before.txt", at(-701)),
        stale("olds/*.csv", "olds/x.csv", at(-3_600_000))
      ])
      expect(yield* Diagnosis.checkExpectedOutputs(job, ["old.txt", "new.txt"])).toEqual(["old.txt"])
      // An absolute pattern names the file absolutely.
      expect((yield* Diagnosis.expectedOutputs(job, [join(dir, "olds", "*.csv")])).stale[0]?.file).toBe(
        join(dir, "olds", "x.csv")
      )
    })))

  it.effect("the verdict and the failure info say which files are stale and when they were written", () =>
    run(Effect.gen(function*() {
      const dir = writtenAt(freshDir(), { "output.fits": at(-3_600_000), "log.txt": at(1_000) })
      const job = jobRecord("56", {
        status: "Done",
        workDir: dir,
        startTime: started,
        spec: spec({ expectedOutputs: ["output.fits", "log.txt"] })
      })
      const verdict = yield* Diagnosis.doneVerdict(job, defaultOptions)
      expect(verdict).toEqual({
        _tag: "MissingOutput",
        missing: ["output.fits"],
        stale: [{ pattern: "output.fits", file: "output.fits", lastWritten: at(-3_600_000), since: started, from: "start" }]
      })
      expect(describeReason(verdict!)).toBe(
        "missing output: output.fits; output.fits exists but was last written before the job started " +
          "(mtime 2026-12-07T09:00:00.700Z, started 2026-12-07T10:00:00.700Z)"
      )
      const info = yield* Diagnosis.failureInfo({ ...job, status: "Failed", reason: verdict! }, defaultOptions)
      expect(info.missingOutputs).toEqual(["output.fits"])
      expect(info.staleOutputs?.map((s) => s.file)).toEqual(["output.fits"])
    })))

  it.effect("without a start time the submit time is the bound; with neither, any file counts", () =>
    run(Effect.gen(function*() {
      const dir = writtenAt(freshDir(), { "out.txt": at(-3_600_000) })
      const submitted = jobRecord("57", { status: "Done", workDir: dir, submitTime: at(-60_000) })
      expect((yield* Diagnosis.expectedOutputs(submitted, ["out.txt"])).stale).toEqual([
        { pattern: "out.txt", file: "out.txt", lastWritten: at(-3_600_000), since: at(-60_000), from: "submit" }
      ])
      const { submitTime: _, ...unknown } = submitted
      expect(yield* Diagnosis.expectedOutputs(unknown, ["out.txt"])).toEqual({ missing: [], stale: [] })
      expect(describeReason({ _tag: "MissingOutput", missing: ["out.txt"], stale: [{
        pattern: "out.txt",
        file: "out.txt",
        lastWritten: at(-3_600_000),
        since: at(-60_000),
        from: "submit"
      }] })).toContain("out.txt exists but was last written before the job was submitted (mtime")
    })))

  it.effect("an array element is judged by its own start when known, else by the array's", () =>
    run(Effect.gen(function*() {
      // Both files were written after the array started but before element 1 did.
      const dir = writtenAt(freshDir(), { "out_1.txt": at(30_000), "out_2.txt": at(30_000) })
      const job = jobRecord("58", {
        status: "Done",
        workDir: dir,
        array: { start: 1, end: 2 },
        startTime: started,
        elements: [
          { index: 1, status: "Done", startTime: at(60_000) },
          { index: 2, status: "Done" }
        ]
      })
      const found = yield* Diagnosis.expectedOutputs(job, ["out_{index}.txt"])
      expect(found.missing).toEqual(["out_1.txt"])
      expect(found.stale).toEqual([
        { pattern: "out_1.txt", file: "out_1.txt", lastWritten: at(30_000), since: at(60_000), from: "start" }
      ])
    })))

  it.effect("a matching directory counts by being there, whatever its time", () =>
    run(Effect.gen(function*() {
      const dir = freshDir()
      fs.mkdirSync(join(dir, "results"))
      fs.utimesSync(join(dir, "results"), at(-3_600_000), at(-3_600_000))
      const job = jobRecord("59", { status: "Done", workDir: dir, startTime: started })
      expect(yield* Diagnosis.expectedOutputs(job, ["results", "res*"])).toEqual({ missing: [], stale: [] })
    })))
})

describe("the verdict on a job that ended Done", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext | Schedulers>) =>
    effect.pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin))

  const doneJob = (dir: string, s: JobSpec | undefined) =>
    jobRecord("60", {
      status: "Done",
      workDir: dir,
      stdoutPath: join(dir, "out.log"),
      stderrPath: join(dir, "err.log"),
      ...(s === undefined ? {} : { spec: s })
    })

  const errors = Array.from({ length: 7 }, (_, i) => `ERROR: step ${i + 1}`).join("\n")

  it.effect("missing outputs come before log errors; log errors carry the count and the first 5", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "err.log": `${errors}\n`, "out.log": "Traceback (most recent call last):\n" })
      const both = spec({ expectedOutputs: ["result.txt"], logCheck: {} })
      expect(yield* Diagnosis.doneVerdict(doneJob(dir, both), defaultOptions)).toEqual({
        _tag: "MissingOutput",
        missing: ["result.txt"]
      })
      withFiles(dir, { "result.txt": "ok" })
      expect(yield* Diagnosis.doneVerdict(doneJob(dir, both), defaultOptions)).toEqual({
        _tag: "LogErrors",
        count: 8,
        lines: ["ERROR: step 1", "ERROR: step 2", "ERROR: step 3", "ERROR: step 4", "ERROR: step 5"]
      })
    })))

  it.effect("fail: false never fails; no spec, or a spec asking for neither, is fine; the check's own settings win", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "err.log": "WARN: error budget low\n", "out.log": "all good\n" })
      const verdict = (s: JobSpec | undefined) => Diagnosis.doneVerdict(doneJob(dir, s), defaultOptions)
      expect(yield* verdict(spec({ logCheck: { fail: false } }))).toBeUndefined()
      expect(yield* verdict(undefined)).toBeUndefined()
      expect(yield* verdict(spec())).toBeUndefined()
      expect(yield* verdict(spec({ expectedOutputs: ["out.log"] }))).toBeUndefined()
      expect(yield* verdict(spec({ logCheck: {} }))).toMatchObject({ _tag: "LogErrors", count: 1 })
      expect(yield* verdict(spec({ logCheck: { whitelist: ["WARN"] } }))).toBeUndefined()
      expect(yield* verdict(spec({ logCheck: { patterns: ["\\bgood\\b"] } }))).toEqual({
        _tag: "LogErrors",
        count: 1,
        lines: ["all good"]
      })
      // The config's whitelist applies when the check names none
      expect(
        yield* Diagnosis.doneVerdict(doneJob(dir, spec({ logCheck: {} })), { ...defaultOptions, error_whitelist: ["budget low"] })
      ).toBeUndefined()
    })))

  it.effect("an array job's logs are all scanned, a shared file once", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), {
        "shared.log": "error: in the shared log\n",
        "err.1.log": "fine\n",
        "err.2.log": "Segmentation fault\n",
        "err.3.log": "exception: x\n"
      })
      const job = jobRecord("61", {
        status: "Done",
        array: { start: 1, end: 3 },
        stdoutPath: join(dir, "shared.log"),
        stderrPath: join(dir, "err.{index}.log")
      })
      expect(yield* Diagnosis.checkLogs(job, {}, defaultOptions)).toEqual({
        count: 3,
        lines: ["error: in the shared log", "Segmentation fault", "exception: x"]
      })
    })))
})

describe("failure info", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext | Schedulers>) =>
    effect.pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin))

  it.effect("a job that exited non-zero: its reason in words, its stderr's last lines, the error lines", () =>
    run(Effect.gen(function*() {
      const stderrLines = [
        ...Array.from({ length: 25 }, (_, i) => `progress ${i + 1}`),
        "Traceback (most recent call last):",
        "ValueError: bad input"
      ]
      const dir = withFiles(freshDir(), { "err.log": `${stderrLines.join("\n")}\n` })
      const job = jobRecord("70", {
        status: "Failed",
        reason: { _tag: "NonZeroExit", exitCode: 3 },
        exitCode: 3,
        attempt: 2,
        workDir: dir,
        stdoutPath: join(dir, "out.log"),
        stderrPath: join(dir, "err.log"),
        spec: spec({ expectedOutputs: ["result.txt"] })
      })
      const info = yield* Diagnosis.failureInfo(job, defaultOptions)
      expect(info).toEqual({
        jobId: "70",
        name: "capi-70",
        status: "Failed",
        attempt: 2,
        reason: { _tag: "NonZeroExit", exitCode: 3 },
        summary: "exit code 3",
        exitCode: 3,
        stdoutPath: join(dir, "out.log"),
        stderrPath: join(dir, "err.log"),
        stderrTail: `${stderrLines.slice(-20).join("\n")}\n`,
        errorLines: ["Traceback (most recent call last):"],
        errorCount: 1,
        missingOutputs: ["result.txt"]
      })
      // Absent things are left out of the JSON, not written as null
      expect(Object.keys(JSON.parse(JSON.stringify(info)))).not.toContain("stdoutTail")
      expect((yield* Diagnosis.failureInfo(job, defaultOptions, { tail: 1 })).stderrTail).toBe("ValueError: bad input\n")
    })))

  it.effect("a signalled job: the signal, and the Killed line among the error lines", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "out.log": "working\n/bin/sh: line 1: 4242 Killed ./model\n" })
      const job = jobRecord("71", {
        status: "Failed",
        reason: { _tag: "Signalled", signal: "SIGKILL" },
        stdoutPath: join(dir, "out.log"),
        stderrPath: join(dir, "err.log")
      })
      const info = yield* Diagnosis.failureInfo(job, defaultOptions)
      expect(info.signal).toBe("SIGKILL")
      expect(info.summary).toBe("killed by signal SIGKILL")
      expect(info.exitCode).toBeUndefined()
      expect(info.schedulerReason).toBeUndefined()
      expect(info.stdoutTail).toBe("working\n/bin/sh: line 1: 4242 Killed ./model\n")
      expect(info.stderrTail).toBeUndefined()
      expect(info.errorLines).toEqual(["/bin/sh: line 1: 4242 Killed ./model"])
      expect(info.attempt).toBe(1)
      expect("missingOutputs" in info).toBe(false)
    })))

  it.effect("an array job: the failed elements, and the first failed one's logs and signal", () =>
    run(Effect.gen(function*() {
      const dir = withFiles(freshDir(), { "err.2.log": "core dumped\n", "err.3.log": "other\n" })
      const job = jobRecord("72", {
        status: "Failed",
        reason: { _tag: "ElementsFailed", indices: [2, 3] },
        array: { start: 1, end: 3 },
        stdoutPath: join(dir, "out.{index}.log"),
        stderrPath: join(dir, "err.{index}.log"),
        elements: [
          { index: 1, status: "Done", exitCode: 0 },
          { index: 2, status: "Failed", reason: { _tag: "Signalled", signal: "SIGSEGV" } },
          { index: 3, status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 1 }, exitCode: 1 }
        ]
      })
      const info = yield* Diagnosis.failureInfo(job, defaultOptions)
      expect(info).toMatchObject({
        summary: "array elements failed: 2, 3",
        failedElements: [2, 3],
        element: 2,
        signal: "SIGSEGV",
        stderrPath: join(dir, "err.2.log"),
        stderrTail: "core dumped\n",
        errorLines: ["core dumped"],
        errorCount: 1
      })
    })))

  it("names what the scheduler decided in a plain word", () => {
    expect(schedulerReasonOf({ _tag: "Timeout" })).toBe("timeout")
    expect(schedulerReasonOf({ _tag: "OutOfMemory" })).toBe("out_of_memory")
    expect(schedulerReasonOf({ _tag: "Cancelled", by: "alice" })).toBe("cancelled by alice")
    expect(schedulerReasonOf({ _tag: "Cancelled" })).toBe("cancelled")
    expect(schedulerReasonOf({ _tag: "NonZeroExit", exitCode: 2 })).toBeUndefined()
    expect(schedulerReasonOf({ _tag: "NoArrayElements", elements: 4 })).toBe("no_array_elements")
  })
})
