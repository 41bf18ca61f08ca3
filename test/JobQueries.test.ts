/**
 * Reading and tidying a job store, on both stores (in memory and SQLite): export then import into
 * a fresh store keeps every record and transition; a bad export is refused with every problem and
 * where it is; cleanup deletes an ended job's files and rows and leaves unfinished jobs alone.
 * Also the pure parts: log paths of jobs and array elements, and the times users type.
 */
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Option, TestClock } from "effect"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { JobRecord } from "../src/Domain.js"
import type { StoreError } from "../src/Errors.js"
import * as JobQueries from "../src/JobQueries.js"
import type { JobStoreShape } from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import { Schedulers } from "../src/Scheduler.js"
import { builtin } from "../src/schedulers/builtin.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { jobRecord } from "./support/Records.js"
import { removeDir } from "./support/TempDirs.js"
import { encodeExport, parseExport, parseJson } from "../src/internal/queries/exportDocument.js"
import { logPath, shownLogPath } from "../src/internal/queries/files.js"
import { parseAge, parseWhen } from "../src/internal/queries/when.js"

const dir = fs.mkdtempSync(join(tmpdir(), "capi-queries-"))
afterAll(() => removeDir(dir))
let made = 0
const freshPath = (name: string) => join(dir, `${++made}-${name}`)

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<JobStore, StoreError>]> = [
  ["in memory", () => JobStore.layerMemory],
  ["SQLite", () => SqliteJobStore.layer(freshPath("store.db"))]
]

/** A new store of the kind under test, open for the test's scope. */
const open = (makeLayer: () => Layer.Layer<JobStore, StoreError>) =>
  Effect.map(Layer.build(makeLayer()), (ctx) => Context.get(ctx, JobStore))

const on = (store: JobStoreShape) => Effect.provideService(JobStore, store)

describe.each(stores)("JobQueries (%s)", (_, makeLayer) => {
  it.scoped("export then import into a fresh store gives equal records and transitions", () =>
    Effect.gen(function*() {
      const source = yield* open(makeLayer)
      const target = yield* open(makeLayer)
      yield* TestClock.adjust("1 second")
      yield* source.insert([
        jobRecord("1", { executor: "local", metadata: { sample: "S1", n: 3 } }),
        jobRecord("2", { array: { start: 1, end: 3, maxConcurrent: 2 }, dependsOn: [{ type: "afterok", jobId: "1" }] })
      ])
      yield* TestClock.adjust("1 second")
      yield* source.modify([{ executor: "local", jobId: "1" }, { executor: "slurm", jobId: "2" }], (r) => ({ ...r, status: "Running", startTime: new Date(60_000) }))
      yield* TestClock.adjust("1 second")
      yield* source.modify([{ executor: "local", jobId: "1" }], (r) => ({
        ...r,
        status: "Failed",
        exitCode: 3,
        reason: { _tag: "NonZeroExit", exitCode: 3 },
        finishTime: new Date(120_000)
      }))
      yield* source.modify([{ executor: "slurm", jobId: "2" }], (r) => ({
        ...r,
        elements: [{ index: 1, status: "Done", exitCode: 0 }, { index: 2, status: "Running" }]
      }))

      const document = yield* JobQueries.exportJobs().pipe(on(source))
      expect(document.jobs.map((j) => j.record.jobId)).toEqual(["1", "2"])
      // Through JSON text, as the CLI writes and reads it
      const text = JSON.stringify(encodeExport(document))
      expect(JSON.parse(text)).toMatchObject({ format: "cluster-api-jobs", version: 1 })
      const report = yield* JobQueries.importJobs(JSON.parse(text), "export.json").pipe(on(target))
      expect(report).toEqual({ imported: ["local:1", "slurm:2"], skipped: [] })

      expect(yield* target.list()).toEqual(yield* source.list())
      for (const key of [{ executor: "local", jobId: "1" }, { executor: "slurm", jobId: "2" }]) {
        const before = yield* source.transitions(key)
        expect(before.length).toBeGreaterThan(1)
        expect(yield* target.transitions(key)).toEqual(before)
      }
      const details = yield* JobQueries.jobDetails({ executor: "local", jobId: "1" }).pipe(on(target))
      expect(details.transitions.map((t) => `${t.from ?? "-"}>${t.to}`)).toEqual(["->Pending", "Pending>Running", "Running>Failed"])
      expect(details.transitions[2]?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })

      // Again: everything is already there, nothing changes
      const again = yield* JobQueries.importJobs(JSON.parse(text)).pipe(on(target))
      expect(again).toEqual({ imported: [], skipped: ["local:1", "slurm:2"] })
      expect((yield* target.transitions({ executor: "local", jobId: "1" })).length).toBe(3)
    }))

  it.scoped("export takes the store's filters", () =>
    Effect.gen(function*() {
      const store = yield* open(makeLayer)
      yield* store.insert([
        jobRecord("1", { name: "capi-train-a", status: "Done" }),
        jobRecord("2", { name: "capi-eval", status: "Done" }),
        jobRecord("3", { name: "capi-train-b" })
      ])
      const doc = yield* JobQueries.exportJobs({ names: ["train-*", "capi-train-*"], status: ["Done"] }).pipe(on(store))
      expect(doc.jobs.map((j) => j.record.jobId)).toEqual(["1"])
    }))

  it.scoped("a bad export is refused with what is wrong and where, and nothing is written", () =>
    Effect.gen(function*() {
      const store = yield* open(makeLayer)
      const good = encodeExport({
        format: "cluster-api-jobs",
        version: 1,
        exportedAt: new Date(0),
        jobs: [{ record: jobRecord("ok"), transitions: [{ at: new Date(0), to: "Pending" }] }]
      })
      const problems = (document: unknown) =>
        JobQueries.importJobs(document, "jobs.json").pipe(
          on(store),
          Effect.flip,
          Effect.map((e) => {
            if (e._tag !== "InvalidImport") throw new Error(`expected InvalidImport, got ${e._tag}`)
            expect(e.message).toContain("Cannot import jobs.json")
            return e.problems.join("\n")
          })
        )

      expect(yield* problems([1, 2])).toContain("the document: expected an object")
      expect(yield* problems({ ...good, format: "something-else" })).toMatch(/^format: expected "cluster-api-jobs"/)
      expect(yield* problems({ ...good, version: 2 })).toContain("version 2, written by a newer cluster-api")
      const badStatus = yield* problems({
        ...good,
        jobs: [good.jobs[0], { ...good.jobs[0], record: { ...good.jobs[0]!.record, jobId: "x", status: "Bogus" } }]
      })
      expect(badStatus).toContain(`jobs[1].record.status: Expected "Pending" | "Running" | "Done"`)
      expect(badStatus).toContain(`actual "Bogus"`)
      const badDate = yield* problems({
        ...good,
        jobs: [{ ...good.jobs[0], transitions: [{ at: "yesterday", to: "Pending" }] }]
      })
      expect(badDate).toContain("jobs[0].transitions[0].at")
      expect(yield* problems({ ...good, jobs: [{ transitions: [] }] })).toContain("jobs[0].record: is missing")
      // Every problem in one go, and none of the good jobs written
      expect(yield* store.list()).toEqual([])
      expect(parseJson("{", "jobs.json")).toMatchObject({ _tag: "Left" })
      expect(Either.getLeft(parseExport("{", "jobs.json")).pipe(Option.map((e) => e.problems[0])))
        .toEqual(Option.some(expect.stringContaining("not JSON")))
    }))

  it.scoped("jobDetails of an unknown id is JobNotFound", () =>
    Effect.gen(function*() {
      const store = yield* open(makeLayer)
      const error = yield* Effect.flip(JobQueries.jobDetails({ executor: "local", jobId: "nope" }).pipe(on(store)))
      expect(error._tag).toBe("JobNotFound")
    }))

  it.scoped("cleanup deletes an ended job's script, logs and status files, then its rows; unfinished jobs stay", () =>
    Effect.gen(function*() {
      const store = yield* open(makeLayer)
      const logs = freshPath("logs")
      fs.mkdirSync(logs)
      const touch = (name: string) => {
        fs.writeFileSync(join(logs, name), "x\n")
        return join(logs, name)
      }
      const local = (id: string, over: Partial<JobRecord>): JobRecord =>
        jobRecord(id, {
          executor: "local",
          scriptPath: join(logs, `capi-${id}.1.sh`),
          stdoutPath: join(logs, `stdout.${id}.log`),
          stderrPath: join(logs, `stderr.${id}.log`),
          ...over
        })
      const single = local("10", { status: "Done" })
      const singleFiles = [
        touch("capi-10.1.sh"),
        touch("stdout.10.log"),
        touch("stderr.10.log"),
        touch("job.10.pid"),
        touch("job.10.exit")
      ]
      const array = local("11", {
        status: "Failed",
        array: { start: 1, end: 3 },
        stdoutPath: join(logs, "stdout.11.{index}.log"),
        stderrPath: join(logs, "stderr.11.{index}.log")
      })
      // Element 3 never started: its files are missing, which is fine
      const arrayFiles = [touch("capi-11.1.sh")]
      for (const i of [1, 2]) {
        arrayFiles.push(touch(`stdout.11.${i}.log`), touch(`stderr.11.${i}.log`), touch(`job.11.${i}.pid`), touch(`job.11.${i}.exit`))
      }
      const running = local("12", { status: "Running" })
      const runningFiles = [touch("capi-12.1.sh"), touch("stdout.12.log")]
      // A log path that is not a regular file is never deleted
      const odd = local("13", { status: "Done", stdoutPath: logs, stderrPath: undefined, scriptPath: undefined })
      const neighbour = touch("stdout.100.log")
      yield* store.insert([single, array, running, odd])

      const report = yield* JobQueries.cleanupJobs([single, array, running, odd]).pipe(on(store))
      expect(report.removed.map((r) => r.jobId)).toEqual(["10", "11", "13"])
      expect(report.removed[0]?.files).toEqual(singleFiles)
      expect([...(report.removed[1]?.files ?? [])].sort()).toEqual([...arrayFiles].sort())
      expect(report.removed[2]?.files).toEqual([])
      expect(report.refused).toEqual([
        { executor: "local", jobId: "12", name: "capi-12", status: "Running", reason: "it has not ended (Running)" }
      ])
      expect(report.failed).toEqual([])
      for (const f of [...singleFiles, ...arrayFiles]) expect(fs.existsSync(f)).toBe(false)
      for (const f of [...runningFiles, neighbour]) expect(fs.existsSync(f)).toBe(true)
      expect(fs.statSync(logs).isDirectory()).toBe(true)
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(["12"])
      expect(yield* store.transitions(single)).toEqual([])

      // Forced, the unfinished one goes too
      const forced = yield* JobQueries.cleanupJobs([running], { force: true }).pipe(on(store))
      expect(forced.removed.map((r) => [r.jobId, r.files])).toEqual([["12", runningFiles]])
      expect(yield* store.list()).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer), Effect.provideService(Schedulers, builtin)))
})

describe("log paths", () => {
  const single = jobRecord("7", { stdoutPath: "/l/stdout.7.log", stderrPath: "/l/stderr.7.log" })
  const array = jobRecord("8", {
    executor: "local",
    array: { start: 0, end: 8, step: 2 },
    stdoutPath: "/l/stdout.8.{index}.log"
  })

  it("a job's log, an array element's log, and why there is none", () => {
    expect(logPath(builtin, single, "stderr")).toEqual(Either.right("/l/stderr.7.log"))
    expect(logPath(builtin, array, "stdout", 4)).toEqual(Either.right("/l/stdout.8.4.log"))
    expect(Either.getLeft(logPath(builtin, array, "stdout"))).toEqual(
      Option.some(expect.stringContaining("is an array job (elements 0-8:2)"))
    )
    expect(Either.getLeft(logPath(builtin, array, "stdout", 3))).toEqual(
      Option.some(expect.stringContaining("has no element 3"))
    )
    expect(Either.getLeft(logPath(builtin, single, "stdout", 1))).toEqual(
      Option.some(expect.stringContaining("not an array job"))
    )
    expect(Either.getLeft(logPath(builtin, array, "stderr", 2))).toEqual(
      Option.some(expect.stringContaining("no stderr log recorded"))
    )
  })

  it("Slurm's own patterns: %a is the element, %% a percent sign", () => {
    const slurm = jobRecord("9", { array: { start: 1, end: 2 }, stdoutPath: "/l/out.9_%a.100%%.log" })
    expect(logPath(builtin, slurm, "stdout", 2)).toEqual(Either.right("/l/out.9_2.100%.log"))
  })

  it("a log path as shown: a single job's real path, an array's with {index} (never Slurm's %a or %%)", () => {
    const slurmArray = jobRecord("9", {
      array: { start: 1, end: 2 },
      stdoutPath: "/l/100%%/out.9_%a.log",
      stderrPath: "/l/100%%/err.9_%a.log"
    })
    expect(shownLogPath(builtin, slurmArray, "stdout")).toBe("/l/100%/out.9_{index}.log")
    expect(shownLogPath(builtin, slurmArray, "stderr")).toBe("/l/100%/err.9_{index}.log")
    const slurmSingle = jobRecord("8", { stdoutPath: "/l/100%%/out.8.log" })
    expect(shownLogPath(builtin, slurmSingle, "stdout")).toBe("/l/100%/out.8.log")
    expect(shownLogPath(builtin, slurmSingle, "stderr")).toBeUndefined()
    // Other schedulers already record {index}; a % of theirs is a plain character.
    const lsfArray = jobRecord("7", { executor: "lsf", array: { start: 1, end: 2 }, stdoutPath: "/l/a%a/out.7.{index}.log" })
    expect(shownLogPath(builtin, lsfArray, "stdout")).toBe("/l/a%a/out.7.{index}.log")
  })
})

describe("times users type", () => {
  const now = new Date(2026, 4, 10, 12, 0, 0)
  const when = (s: string) => Either.map(parseWhen(s, now), (d) => d.getTime())
  const hour = 3_600_000

  it("ages count back from now", () => {
    expect(when("2h")).toEqual(Either.right(now.getTime() - 2 * hour))
    expect(when("3d")).toEqual(Either.right(now.getTime() - 72 * hour))
    expect(when("1w")).toEqual(Either.right(now.getTime() - 168 * hour))
    expect(when("1d12h")).toEqual(Either.right(now.getTime() - 36 * hour))
    expect(when("90s")).toEqual(Either.right(now.getTime() - 90_000))
    expect(when(" 1.5H ")).toEqual(Either.right(now.getTime() - 1.5 * hour))
    expect(parseAge("30m")).toBe(1_800_000)
  })

  it("an age is written as every length of time on the command line: words, units, seconds or a clock", () => {
    expect(when("10 minutes")).toEqual(Either.right(now.getTime() - 600_000))
    expect(when("2 hours")).toEqual(Either.right(now.getTime() - 2 * hour))
    expect(when("1h 30m")).toEqual(Either.right(now.getTime() - 1.5 * hour))
    expect(when("600")).toEqual(Either.right(now.getTime() - 600_000))
    expect(when("1:30:00")).toEqual(Either.right(now.getTime() - 1.5 * hour))
  })

  it("dates are local unless they name a zone", () => {
    expect(when("2026-05-01")).toEqual(Either.right(new Date(2026, 4, 1).getTime()))
    expect(when("2026-05-01T14:30")).toEqual(Either.right(new Date(2026, 4, 1, 14, 30).getTime()))
    expect(when("2026-05-01 14:30:15")).toEqual(Either.right(new Date(2026, 4, 1, 14, 30, 15).getTime()))
    expect(when("2026-05-01T14:30:00Z")).toEqual(Either.right(Date.UTC(2026, 4, 1, 14, 30)))
    expect(when("2026-05-01T14:30:00.250+02:00")).toEqual(Either.right(Date.UTC(2026, 4, 1, 12, 30, 0, 250)))
  })

  it("anything else is refused with the accepted forms", () => {
    for (const bad of ["yesterday", "2h ago", "2026-02-30", "2026-13-01", "2026-05-01T25:00", "", "-2h", "1:75:00"]) {
      const result = parseWhen(bad, now)
      expect(Either.isLeft(result), bad).toBe(true)
      expect(Either.getLeft(result)).toEqual(Option.some(expect.stringContaining("an age (that long ago) as seconds (600), words")))
    }
  })
})
