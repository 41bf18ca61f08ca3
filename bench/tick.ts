/**
 * Monitor.tick with N tracked jobs through a REAL dialect (LSF's `bjobs -json`, Slurm's `squeue`),
 * its status command answered by the TestCommandRunner from text generated once per size
 * (bench/schedulerText.ts): what one poll of N jobs costs in this process, scheduler time excluded.
 *
 * The N records go straight into the JobStore (submitting would write N scripts), all Running.
 * Variants, in this order on the same Monitor:
 * - steady: the scheduler's answer is the same every tick (nothing changes);
 * - fresh: every tick each job's record differs from the last answer (its start time moves by a
 *   second, back and forth), so every record is rewritten but no status changes;
 * - changing: every tick each job's status flips between Running and Pending (N transitions).
 * Each variant gets an untimed tick per answer text not served yet (so each is built), then the
 * timed ones: at most `iterations`, fewer once they took `budgetMillis`.
 */
import { Effect, Stream } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import { JobStore } from "../src/JobStore.js"
import { Monitor } from "../src/Monitor.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { median, settledHeap } from "./report.js"
import type { DialectName, Variant } from "./schedulerText.js"
import { floorText, jobRecord, schedulerRules, statusCommand } from "./schedulerText.js"
import { Database } from "./store.js"

export type TickVariant = "steady" | "fresh" | "changing"

/** The answer each tick gets: `steady` always `a`; the others alternate. */
const schedule: Record<TickVariant, ReadonlyArray<Variant>> = { steady: ["a"], fresh: ["b", "a"], changing: ["c", "a"] }

export interface TickCase {
  readonly dialect: DialectName
  /** The in-memory store, or the SQLite store in this file. */
  readonly sqliteFile?: string | undefined
  readonly jobs: number
  readonly iterations: number
  /** Fewer timed ticks once a variant's have taken this long (default: no limit). */
  readonly budgetMillis?: number | undefined
  readonly variants: ReadonlyArray<TickVariant>
  readonly dir: string
  /** Heap per tracked job after the first tick (needs --expose-gc). */
  readonly measureMemory?: boolean | undefined
}

export interface VariantResult {
  readonly variant: TickVariant
  readonly medianMs: number
  readonly runsMs: ReadonlyArray<number>
  readonly statusCallsPerTick: number
  /** Status changes the timed ticks reported (`TickReport.changed`), per tick. */
  readonly changedPerTick: number
}

export interface TickResult {
  readonly dialect: DialectName
  readonly store: "memory" | "sqlite"
  readonly jobs: number
  readonly variants: ReadonlyArray<VariantResult>
  /** Median of JSON.parse of the floor text (see schedulerText.floorText), timed beside the ticks. */
  readonly jsonParseMs: number
  /** Median of a plain better-sqlite3 `SELECT * FROM jobs` on the same file (SQLite store only). */
  readonly rawSelectMs: number | undefined
  readonly bytesPerJob: number | undefined
  /** The records' JSON text, bytes per job (the memory floor). */
  readonly jsonBytesPerJob: number | undefined
}

/** JSON.parse of `text`, `runs` times: each run's ms. */
export const timeJsonParse = (text: string, runs: number): Array<number> => {
  const times: Array<number> = []
  let keep: unknown
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    keep = JSON.parse(text)
    times.push(performance.now() - start)
  }
  if (keep === undefined) throw new Error("JSON.parse returned nothing")
  return times
}

const rawSelect = (file: string, runs: number): number => {
  const db = new Database(file)
  try {
    const select = db.prepare("SELECT * FROM jobs")
    const times: Array<number> = []
    for (let i = 0; i <= runs; i++) {
      const start = performance.now()
      const rows = select.all()
      if (i > 0) times.push(performance.now() - start) // the first run warms the page cache
      if (rows.length === 0) throw new Error(`no rows in ${file}`)
    }
    return median(times)
  } finally {
    db.close()
  }
}

export const benchTick = (c: TickCase): Effect.Effect<TickResult, unknown> => {
  let current: Variant = "a"
  const scheduler = schedulerRules(c.dialect, c.jobs, () => current)
  const command = statusCommand(c.dialect)
  const isStatus = (argv: ReadonlyArray<string>) => argv[0] === command
  const floor = floorText(c.dialect, c.jobs)

  const run = Effect.gen(function*() {
    const store = yield* JobStore
    const monitor = yield* Monitor
    const runner = yield* TestCommandRunner

    const check = (report: { readonly observed: number; readonly failed: boolean }, what: string) =>
      report.observed === c.jobs && !report.failed
        ? Effect.void
        : Effect.fail(new Error(`${c.dialect} tick@${c.jobs} (${what}): observed ${report.observed} of ${c.jobs} (failed: ${report.failed})`))

    const before = c.measureMemory === true ? settledHeap() : undefined
    // Wait until the Monitor has handled every insert (it publishes one JobSubmitted for each).
    const events = yield* monitor.subscribe
    for (let from = 0; from < c.jobs; from += 1000) {
      const part = Array.from({ length: Math.min(1000, c.jobs - from) }, (_, k) => jobRecord(from + k, c.dialect, c.dir))
      yield* store.insert(part) // no reference kept here: the store holds the only one
    }
    yield* events.pipe(Stream.filter((e) => e._tag === "JobSubmitted"), Stream.take(c.jobs), Stream.runDrain)

    yield* check(yield* monitor.tick, "first")
    let bytesPerJob: number | undefined
    let jsonBytesPerJob: number | undefined
    if (c.measureMemory === true) {
      // The double's recorded calls and built answers are the bench's, not the library's.
      yield* runner.clearCalls
      scheduler.clear()
      const after = settledHeap()
      bytesPerJob = before === undefined || after === undefined ? undefined : (after - before) / c.jobs
      const records = yield* store.list()
      jsonBytesPerJob = records.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)), 0) / records.length
    }

    const variants: Array<VariantResult> = []
    for (const variant of c.variants) {
      const answers = schedule[variant]
      let k = 0
      const next = () => {
        current = answers[k % answers.length] ?? "a"
        k += 1
      }
      // Each answer text not served yet is built in an untimed tick (the first tick served `a`),
      // and small sizes get a few more (the JIT settles).
      const warmUps = c.jobs <= 1_000 ? 6 : answers.filter((v) => v !== "a").length
      for (let i = 0; i < warmUps; i++) {
        next()
        yield* check(yield* monitor.tick, `${variant} warm-up`)
      }
      yield* runner.clearCalls
      const times: Array<number> = []
      let spent = 0
      let changed = 0
      // At most `iterations` ticks, fewer once they took `budgetMillis` (one at least).
      for (let i = 0; i < c.iterations && (i === 0 || spent < (c.budgetMillis ?? Infinity)); i++) {
        next()
        const start = performance.now()
        const report = yield* monitor.tick
        times.push(performance.now() - start)
        spent += times[times.length - 1] ?? 0
        changed += report.changed
        yield* check(report, variant)
      }
      const calls = (yield* runner.callsMatching(isStatus)).length
      yield* runner.clearCalls
      variants.push({ variant, medianMs: median(times), runsMs: times, statusCallsPerTick: calls / times.length,
        changedPerTick: changed / times.length
      })
    }
    current = "a"
    return { variants, bytesPerJob, jsonBytesPerJob }
  })

  return Effect.gen(function*() {
    const jsonBefore = timeJsonParse(floor, Math.max(3, c.iterations))
    const result = yield* run.pipe(
      Effect.scoped,
      Effect.provide(ClusterApi.compose({
        // The polling fiber ticks once at start (nothing tracked yet) and then not for an hour.
        config: ClusterConfig.layerTest({ executor: c.dialect, poll_interval: 3600, log_directory: c.dir }),
        runner: TestCommandRunner.layer({ rules: scheduler.rules }),
        store: c.sqliteFile === undefined ? undefined : SqliteJobStore.layer(c.sqliteFile)
      }))
    )
    const jsonAfter = timeJsonParse(floor, Math.max(3, c.iterations))
    return {
      dialect: c.dialect,
      store: c.sqliteFile === undefined ? "memory" : "sqlite",
      jobs: c.jobs,
      variants: result.variants,
      jsonParseMs: median([...jsonBefore, ...jsonAfter]),
      rawSelectMs: c.sqliteFile === undefined ? undefined : rawSelect(c.sqliteFile, Math.max(3, c.iterations)),
      bytesPerJob: result.bytesPerJob,
      jsonBytesPerJob: result.jsonBytesPerJob
    } satisfies TickResult
  })
}
