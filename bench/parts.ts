/**
 * The benchmark's parts: each measures one row of the table (and what explains it) and
 * returns its figures, every judgment a ratio against a floor measured in the same run (only the
 * issue's absolute goals — 50 ms, 0.5 s, 1 KB, 10 KB, one status call — are judged as values).
 */
import { Effect, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { join } from "node:path"
import { dialect as lsfDialect } from "../src/schedulers/lsf/index.js"
import { dialect as slurmDialect } from "../src/schedulers/slurm/index.js"
import { benchStatus, cliSetup, fillStore, paired } from "./cli.js"
import { benchCliArray, benchEndLatency, benchLocal, benchWritten, benchXargs, defaultConcurrency, xargsMedian } from "./local.js"
import type { Figure } from "./report.js"
import { collectGarbage, figure, median, progress } from "./report.js"
import type { DialectName } from "./schedulerText.js"
import { answerText, floorText } from "./schedulerText.js"
import { benchEnding } from "./ending.js"
import { benchPoll } from "./poll.js"
import { store } from "./storePart.js"
import { benchSubmit } from "./submit.js"
import type { TickResult, TickVariant } from "./tick.js"
import { benchTick, timeJsonParse } from "./tick.js"

export interface PartContext {
  /** A fresh temporary directory per call, under the run's own (removed at the end). */
  readonly tempDir: (label: string) => string
  readonly quick: boolean
  /** Tracked-job sizes: 1k/10k/100k, or 1k/10k with --quick. */
  readonly sizes: ReadonlyArray<number>
  /** The parts this run runs. */
  readonly parts: ReadonlyArray<string>
}

/** The tick part's LSF run at the largest size, heap measured, for the memory part. */
const measured = new Map<number, TickResult>()

export interface Part {
  readonly name: string
  readonly about: string
  readonly run: (ctx: PartContext) => Effect.Effect<ReadonlyArray<Figure>, unknown>
}

const tickIterations = (n: number, quick: boolean) => n <= 1_000 ? 15 : n <= 10_000 && !quick ? 5 : 3
/** Timed ticks stop early once a variant's took this long (slow code at 100k on a loaded machine). */
const tickBudgetMillis = 20_000
const dialects: ReadonlyArray<DialectName> = ["lsf", "slurm"]

const jsonParseFloor = (dialect: DialectName) => ({
  name: dialect === "lsf" ? "JSON.parse of the bjobs text" : "JSON.parse of the rows as JSON",
  note: dialect === "lsf"
    ? "floor: JSON.parse of the very bjobs -json text the tick reads"
    : "floor: JSON.parse of the same rows written as a bjobs-shaped JSON text (squeue prints no JSON)"
})

const tick: Part = {
  name: "tick",
  about: "Monitor.tick through the real LSF and Slurm dialects, in-memory store: steady, fresh, changing",
  run: (ctx) =>
    Effect.gen(function*() {
      const figures: Array<Figure> = []
      for (const dialect of dialects) {
        for (const jobs of ctx.sizes) {
          // `changing` has no goal; at 100k it would take minutes.
          const variants: ReadonlyArray<TickVariant> = jobs <= 10_000 ? ["steady", "fresh", "changing"] : ["steady", "fresh"]
          // The memory figure comes from the LSF run at the largest size when both parts run.
          const measureMemory = ctx.parts.includes("memory") && dialect === "lsf" && jobs === Math.max(...ctx.sizes)
          progress(`tick: ${dialect}, ${jobs} jobs (${variants.join(", ")}; ${tickIterations(jobs, ctx.quick)} timed ticks each)`)
          const r = yield* benchTick({
            dialect,
            jobs,
            iterations: tickIterations(jobs, ctx.quick),
            budgetMillis: tickBudgetMillis,
            variants,
            dir: ctx.tempDir("tick"),
            measureMemory
          })
          if (measureMemory) measured.set(jobs, r)
          const floor = jsonParseFloor(dialect)
          for (const v of r.variants) {
            figures.push(figure({
              name: `tick.${dialect}.${v.variant}`,
              size: jobs,
              value: v.medianMs,
              unit: "ms",
              floor: { name: floor.name, value: r.jsonParseMs },
              // The goal holds at 10k and 100k, for the ticks that change no status.
              goalRatio: jobs >= 10_000 && v.variant !== "changing" ? 2 : undefined,
              runs: v.runsMs.length,
              note: v.variant === "fresh"
                ? `every tick each job's start time differs from the last answer, no status changes (${
                  Math.round(v.changedPerTick)
                } reported); ${floor.note}`
                : v.variant === "changing"
                ? `every tick each job's status flips Running/Pending (${Math.round(v.changedPerTick)} changes reported); no goal`
                : `the same answer every tick (${Math.round(v.changedPerTick)} status changes reported); ${floor.note}`
            }))
          }
          figures.push(figure({
            name: `tick.${dialect}.statusCalls`,
            size: jobs,
            value: r.variants[0]?.statusCallsPerTick ?? NaN,
            unit: "calls/tick",
            goalValue: 1
          }))
          collectGarbage()
        }
      }
      return figures
    })
}

const sqlite: Part = {
  name: "sqlite",
  about: "steady tick with the SQLite store (a file) vs the in-memory store, LSF dialect, 10k/100k",
  run: (ctx) =>
    Effect.gen(function*() {
      const figures: Array<Figure> = []
      for (const jobs of ctx.sizes.filter((n) => n >= 10_000)) {
        const iterations = tickIterations(jobs, ctx.quick)
        progress(`sqlite: in-memory store, ${jobs} jobs, steady`)
        const budgetMillis = tickBudgetMillis
        const memory = yield* benchTick({ dialect: "lsf", jobs, iterations, budgetMillis, variants: ["steady"], dir: ctx.tempDir("mem") })
        collectGarbage()
        progress(`sqlite: SQLite store, ${jobs} jobs, steady (filling the file first)`)
        const dir = ctx.tempDir("sqlite")
        const onDisk = yield* benchTick({
          dialect: "lsf",
          jobs,
          iterations,
          budgetMillis,
          variants: ["steady"],
          dir,
          sqliteFile: join(dir, "jobs.db")
        })
        collectGarbage()
        const sqliteMs = onDisk.variants[0]?.medianMs ?? NaN
        figures.push(figure({
          name: "sqlite.steadyTick",
          size: jobs,
          value: sqliteMs,
          unit: "ms",
          floor: { name: "in-memory store tick", value: memory.variants[0]?.medianMs ?? NaN },
          goalRatio: 1.5,
          runs: onDisk.variants[0]?.runsMs.length,
          note: "LSF dialect, steady; at most 5 timed ticks (3 at 100k or with --quick), fewer once they took 20 s"
        }))
        figures.push(figure({
          name: "sqlite.steadyTick.vsRawSelect",
          size: jobs,
          value: sqliteMs,
          unit: "ms",
          floor: { name: "better-sqlite3 SELECT * FROM jobs", value: onDisk.rawSelectMs ?? NaN },
          note: "floor: one plain better-sqlite3 SELECT of every row of the same file; no goal"
        }))
      }
      return figures
    })
}

const memory: Part = {
  name: "memory",
  about: "heap per tracked job after a tick (LSF, in-memory store), at the largest size",
  run: (ctx) =>
    Effect.gen(function*() {
      const jobs = Math.max(...ctx.sizes)
      const done = measured.get(jobs)
      if (done === undefined) progress(`memory: ${jobs} tracked jobs, heap after full GC`)
      const r = done ??
        (yield* benchTick({ dialect: "lsf", jobs, iterations: 0, variants: [], dir: ctx.tempDir("memory"), measureMemory: true }))
      return [figure({
        name: "memory.perJob",
        size: jobs,
        value: r.bytesPerJob ?? NaN,
        unit: "B",
        floor: { name: "the record's JSON text", value: r.jsonBytesPerJob ?? NaN },
        goalValue: 1024,
        note: r.bytesPerJob === undefined
          ? "not measured: run node with --expose-gc"
          : "heap growth after full GCs from before the inserts to after the first tick; floor: JSON.stringify of each stored record"
      })]
    })
}

const parse: Part = {
  name: "parse",
  about: "the dialects' parseStatus alone vs JSON.parse (what the tick's parse costs)",
  run: (ctx) =>
    Effect.sync(() => {
      const figures: Array<Figure> = []
      for (const dialect of dialects) {
        const parseStatus = (dialect === "lsf" ? lsfDialect : slurmDialect).parseStatus
        for (const jobs of ctx.sizes) {
          progress(`parse: ${dialect}, ${jobs} records`)
          const text = answerText(dialect, Array.from({ length: jobs }, (_, i) => i), "a")
          const floor = floorText(dialect, jobs)
          const runs = jobs >= 100_000 ? 3 : tickIterations(jobs, ctx.quick) + 2
          // Paired runs (JSON.parse of the floor, then parseStatus) after one untimed pair, so a
          // load that slows one run slows both sides of its ratio.
          const times: Array<number> = []
          const floors: Array<number> = []
          const ratios: Array<number> = []
          const cpuRatios: Array<number> = []
          for (let i = 0; i <= runs; i++) {
            const floorCpu = process.cpuUsage()
            const floorMs = timeJsonParse(floor, 1)[0] ?? NaN
            const floorUsed = process.cpuUsage(floorCpu)
            const cpu = process.cpuUsage()
            const start = performance.now()
            const parsed = parseStatus(text)
            const ms = performance.now() - start
            const used = process.cpuUsage(cpu)
            if (parsed._tag !== "Right" || parsed.right.length !== jobs) throw new Error(`${dialect} parseStatus did not read ${jobs} jobs`)
            if (i === 0) continue
            times.push(ms)
            floors.push(floorMs)
            ratios.push(ms / floorMs)
            cpuRatios.push((used.user + used.system) / Math.max(1, floorUsed.user + floorUsed.system))
          }
          const floorName = jsonParseFloor(dialect).name
          figures.push(figure({
            name: `parse.${dialect}`,
            size: jobs,
            value: median(times),
            unit: "ms",
            floor: { name: floorName, value: median(floors) },
            ratio: median(ratios),
            runs: times.length,
            note: `${jsonParseFloor(dialect).note}; ratio: median of the per-pair ratios; no goal (the tick's goal covers it)`
          }))
          // CPU time is accounted in scheduler ticks: below 10k records a parse is a few of them.
          if (jobs >= 10_000) figures.push(figure({
            name: `parse.${dialect}.cpu`,
            size: jobs,
            value: median(cpuRatios),
            unit: "× CPU",
            note: "the same pairs in CPU time of this process (GC threads included; steadier than wall time on a loaded machine): median of parseStatus CPU / JSON.parse CPU; no goal"
          }))
          collectGarbage()
        }
      }
      return figures
    })
}

const local: Part = {
  name: "local",
  about: "`true` jobs through the local executor (library and CLI array) vs xargs at the same concurrency",
  run: (ctx) =>
    Effect.gen(function*() {
      const jobs = ctx.quick ? 100 : 1_000
      const p = defaultConcurrency
      progress(`local: ${jobs} jobs through the library (max_local_jobs ${p}, default config)`)
      const library = yield* benchLocal(jobs, ctx.tempDir("local"), "4 minutes")
      progress(`local: xargs -P${p}, ${jobs} processes: sh (median of 3 runs), bash (one run)`)
      const sh = xargsMedian(jobs, p, "sh")
      const bash = benchXargs(jobs, p, "bash")
      progress(`local: cluster-api submit --array 1-${jobs} -- true`)
      const cli = benchCliArray(jobs, cliSetup(ctx.tempDir("cli-array")))
      const directJobs = ctx.quick ? 50 : 200
      progress(`local: ${directJobs} jobs through the library, every process forked from this program (no spawner)`)
      const direct = yield* benchLocal(directJobs, ctx.tempDir("local-direct"), "4 minutes", true)
      const throughput = (r: Option.Option<{ readonly jobsPerSecond: number }>) =>
        Option.match(r, { onNone: () => NaN, onSome: (x) => x.jobsPerSecond })
      const shFloor = { name: `xargs -P${p} sh -c true`, value: sh.jobsPerSecond }
      return [
        figure({
          name: "local.library",
          size: jobs,
          value: throughput(library),
          unit: "jobs/s",
          floor: shFloor,
          goalRatio: 0.8,
          better: "higher",
          note: Option.isNone(library)
            ? "the jobs did not all end within 4 minutes"
            : `ClusterApi.compose with the node runner, default config, in-memory store; submitting took ${
              (library.value.submitMs / 1000).toFixed(1)
            } s`
        }),
        figure({
          name: "local.cliArray",
          size: jobs,
          value: cli.jobsPerSecond,
          unit: "jobs/s",
          floor: shFloor,
          goalRatio: 0.8,
          better: "higher",
          note: "node <bin> submit --array 1-N -- true, timed whole (start-up included), SQLite store"
        }),
        figure({
          name: "local.xargsBash",
          size: jobs,
          value: bash.jobsPerSecond,
          unit: "jobs/s",
          floor: shFloor,
          better: "higher",
          note: "bash instead of sh under the same xargs (one run; the floor is the median of 3); no goal"
        }),
        figure({
          name: "local.direct",
          size: directJobs,
          value: throughput(direct),
          unit: "jobs/s",
          floor: { name: "the library (spawner)", value: throughput(library) },
          better: "higher",
          note: Option.isNone(direct)
            ? "the jobs did not all end within 4 minutes"
            : "the library with every process forked from this program (a runner other than the Node runner gets no spawner), as before the spawner; fewer jobs; no goal"
        })
      ]
    })
}

const latency: Part = {
  name: "latency",
  about: "a local job's end seen by monitor.await after its process exits (default config)",
  run: (ctx) =>
    Effect.gen(function*() {
      const jobs = ctx.quick ? 5 : 20
      progress(`latency: ${jobs} local jobs one after another, default config (poll_interval 10 s)`)
      const r = yield* benchEndLatency(jobs, ctx.tempDir("latency"))
      const note = "time monitor.await returned minus the time the job wrote as its last act (date +%s%N); SQLite store"
      return [
        figure({ name: "local.endSeen.median", size: jobs, value: r.medianMs, unit: "ms", goalValue: 50, runs: jobs, note }),
        figure({ name: "local.endSeen.p95", size: jobs, value: r.p95Ms, unit: "ms", note: `the 95th percentile of the same ${jobs}; no goal` })
      ]
    })
}

const written: Part = {
  name: "written",
  about: "bytes written per local job's life with the SQLite store",
  run: (ctx) =>
    Effect.gen(function*() {
      const jobs = ctx.quick ? 50 : 200
      progress(`written: ${jobs} local jobs with the SQLite store`)
      const r = yield* benchWritten(jobs, ctx.tempDir("written"))
      const floor = { name: "the job's record as JSON", value: r.rowBytes }
      return [
        figure({
          name: "written.perJob",
          size: jobs,
          value: r.wcharPerJob ?? NaN,
          unit: "B",
          floor,
          goalValue: 10 * 1024,
          note: "wchar of /proc/self/io from the first submit to the last end (this process: store, scripts; not the jobs' own writes)"
        }),
        figure({
          name: "written.storeFileGrowth",
          size: jobs,
          value: r.fileGrowthPerJob,
          unit: "B",
          floor,
          note: "growth of the db, -wal and -shm files per job (a checkpoint can reuse the WAL: a lower bound); no goal"
        })
      ]
    })
}

const poll: Part = {
  name: "poll",
  about: "one Executor.poll of N jobs (LSF, Slurm) asking by id vs by listing: status calls and time",
  run: (ctx) =>
    Effect.gen(function*() {
      const figures: Array<Figure> = []
      for (const dialect of dialects) {
        for (const jobs of ctx.sizes.filter((n) => n >= 10_000)) {
          progress(`poll: ${dialect}, ${jobs} jobs, by id and by listing`)
          const runs = jobs >= 100_000 ? 3 : ctx.quick ? 5 : 7
          const r = yield* benchPoll({ dialect, jobs, runs, dir: ctx.tempDir("poll") })
          const floor = { name: jsonParseFloor(dialect).name, value: r.floorMs }
          for (const m of r.results) {
            figures.push(figure({
              name: `poll.${dialect}.${m.mode}`,
              size: jobs,
              value: m.medianMs,
              unit: "ms",
              floor,
              runs: m.runs,
              note: m.mode === "ids"
                ? `ids in argv, split by the argv budget (statusByUser removed): ${m.callsPerPoll} status call(s) per poll; no goal`
                : `the user's jobs listed in one command (the dialect as it is): ${m.callsPerPoll} status call(s) per poll; no goal`
            }))
            figures.push(figure({
              name: `poll.${dialect}.${m.mode}.calls`,
              size: jobs,
              value: m.callsPerPoll,
              unit: "calls/poll",
              goalValue: m.mode === "listing" ? 1 : undefined
            }))
          }
          collectGarbage()
        }
      }
      return figures
    })
}

const ending: Part = {
  name: "ending",
  about: "every tracked job ending in one tick: until every end is announced and marked delivered",
  run: (ctx) =>
    Effect.gen(function*() {
      const figures: Array<Figure> = []
      for (const jobs of ctx.sizes.filter((n) => n >= 10_000)) {
        progress(`ending: ${jobs} jobs end in one tick (toy dialect)`)
        const r = yield* benchEnding(jobs, ctx.tempDir("ending"))
        figures.push(figure({
          name: "ending.allEnd",
          size: jobs,
          value: r.endingMs,
          unit: "ms",
          floor: { name: "JSON.parse of N {id, state}", value: r.floorMs },
          runs: 1,
          note: "from the tick's start until every JobStatusChanged is published and every end marked delivered; toy dialect, in-memory store; no goal"
        }))
        figures.push(figure({
          name: "ending.markDeliveredCalls",
          size: jobs,
          value: r.markDeliveredCalls,
          unit: "calls",
          note: "JobStore.markDelivered calls for the tick's ends (one when the marks are batched); no goal"
        }))
        collectGarbage()
      }
      return figures
    })
}

const cold: Part = {
  name: "cold",
  about: "CLI cold start vs node -e 0 (paired), and status ID on a 100,000-row store",
  run: (ctx) =>
    Effect.gen(function*() {
      const runs = ctx.quick ? 2 : 5
      const setup = cliSetup(ctx.tempDir("cold"))
      const figures: Array<Figure> = []
      for (const [name, args] of [["cli.help", ["--help"]], ["cli.listJson", ["list", "--json"]]] as const) {
        progress(`cold: cluster-api ${args.join(" ")} and node -e 0, ${runs} pairs`)
        const r = paired(setup, args, runs)
        figures.push(figure({
          name,
          value: r.medianMs,
          unit: "ms",
          floor: { name: "node -e 0", value: r.floorMedianMs },
          ratio: r.ratio,
          goalRatio: 4,
          runs: r.runs,
          note: "node <package.json bin>, empty store in a temporary HOME; ratio: median of the per-pair ratios"
        }))
      }
      const rows = ctx.quick ? 10_000 : 100_000
      progress(`cold: filling a SQLite store with ${rows} jobs`)
      const statusSetup = cliSetup(ctx.tempDir("status"))
      const file = statusSetup.env.CLUSTER_API_STATE!
      const jobId = yield* fillStore(file, rows, statusSetup.dir)
      progress(`cold: cluster-api status ${jobId} on ${rows} rows, ${runs === 2 ? 2 : 3} runs`)
      const s = benchStatus(statusSetup, jobId, rows, runs === 2 ? 2 : 3)
      figures.push(figure({
        name: "cli.status",
        size: rows,
        value: s.medianMs,
        unit: "ms",
        floor: { name: "node -e 0", value: s.floorMedianMs },
        goalValue: 500,
        runs: s.runs,
        note: "status --json of one ended job; the store filled through SqliteJobStore.insert (99% ended jobs)"
      }))
      return figures
    })
}

const submit: Part = {
  name: "submit",
  about: "submit cost without processes (local executor, fake processes): distinct names vs one name",
  run: (ctx) =>
    Effect.gen(function*() {
      const jobs = 300
      progress(`submit: ${jobs} jobs with distinct names, then ${jobs} with one name (fake processes)`)
      const distinct = yield* benchSubmit(jobs, false, ctx.tempDir("submit"))
      const same = yield* benchSubmit(jobs, true, ctx.tempDir("submit"))
      return [
        figure({ name: "submit.distinctNames", size: jobs, value: distinct.msPerJob, unit: "ms/job", note: "no floor, no goal" }),
        figure({
          name: "submit.sameName",
          size: jobs,
          value: same.msPerJob,
          unit: "ms/job",
          floor: { name: "distinct names", value: distinct.msPerJob },
          note: "scripts named {name}.{n}.sh, the first free n; no goal"
        })
      ]
    })
}

/**
 * Every part, in the order they run: the ones that spawn processes first, while this process is
 * small (every spawn forks it, at a cost that grows with its memory).
 */
export const parts: ReadonlyArray<Part> = [cold, local, latency, written, submit, parse, poll, tick, ending, sqlite, store, memory]

export const makeTempDirs = (root: string) => (label: string) => mkdtempSync(join(root, `${label}-`))
