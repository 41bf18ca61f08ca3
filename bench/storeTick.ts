/**
 * What the SQLite JobStore adds to a Monitor tick and to a submit, against the in-memory store in
 * the same run (the `store` part of `npm run bench`, with bench/store.ts).
 *
 * 1. Steady tick. N Running jobs of one executor, owned by this program; one tick is what the
 *    Monitor asks of its store: `list({ active: true, owned: true, executor })`, then
 *    `modify(keys, f)`. Cases: `f` leaves every record as it is (a poll that saw nothing new), and
 *    `f` changes 1% of them (a few jobs started or ended). One untimed warm-up tick, then the
 *    median of the timed ones. Baseline: the same ticks on the in-memory store holding the same
 *    records.
 * 2. Submits. K jobs stored the way executors store them: `insert([record])` (the local
 *    executor) or `addIntent` then `settleIntent` (the batch schedulers), one after another or
 *    all at once (concurrent submits, an array, a pipeline). Per submit: µs, and bytes written
 *    (this process's `wchar` from /proc/self/io: the WAL and checkpoints, all of SQLite's writes).
 * 3. A local job's lifecycle: K jobs inserted together, then each one's start and end written
 *    by its own `modify` (a local process's exit wakes the Monitor at once), then its end marked
 *    delivered: bytes written per job.
 */
import { Effect } from "effect"
import { availableParallelism, loadavg } from "node:os"
import { join } from "node:path"
import type { JobRecord } from "../src/Domain.js"
import type { JobKey, JobStoreShape, SubmitIntent } from "../src/JobStore.js"
import { bytesWritten } from "./local.js"
import { collectGarbage, median, progress } from "./report.js"
import { withStore } from "./store.js"

export interface TickCase {
  readonly jobs: number
  /** Jobs whose record `f` changes per tick. */
  readonly changedPerTick: number
  readonly ticks: number
  readonly sqliteMs: number
  readonly memoryMs: number
  /** SQLite median / in-memory median. */
  readonly ratio: number
  readonly sqliteRunsMs: ReadonlyArray<number>
  /**
   * CPU time (user + system) of this process per tick, medians: on a machine other programs load,
   * wall time includes the time this process waited for a core.
   */
  readonly sqliteCpuMs: number
  readonly memoryCpuMs: number
  readonly cpuRatio: number
}

export interface SubmitCase {
  readonly path: "insert" | "intent"
  readonly together: boolean
  readonly jobs: number
  readonly usPerSubmit: number
  /** undefined where /proc/self/io cannot be read. */
  readonly bytesPerSubmit: number | undefined
  readonly memoryUsPerSubmit: number
}

export interface StoreTickResult {
  readonly cpus: number
  readonly loadAverage: { readonly start: number; readonly end: number }
  readonly ticks: ReadonlyArray<TickCase>
  readonly submits: ReadonlyArray<SubmitCase>
  readonly lifecycle: { readonly jobs: number; readonly bytesPerJob: number | undefined }
}

const collect = Effect.sync(collectGarbage)

const step = (message: string) => Effect.sync(() => progress(`store: ${message}`))

const written = bytesWritten

const perJob = (before: number | undefined, after: number | undefined, jobs: number) =>
  before === undefined || after === undefined ? undefined : (after - before) / jobs

/** Records like the ones the executors write, each with its own strings and dates. */
export const makeRecords = (n: number, dir: string, executor: string, status: JobRecord["status"], from = 1) => {
  const out: Array<JobRecord> = []
  const base = Date.now()
  for (let i = from; i < from + n; i++) {
    const jobId = String(i)
    const name = `capi-step-${i}`
    out.push({
      jobId,
      name,
      command: `run-step --input data/part-${i}.csv --output out/part-${i}.parquet`,
      executor,
      status,
      submitTime: new Date(base),
      lastSeen: new Date(base),
      workDir: dir,
      scriptPath: `${dir}/${name}.sh`,
      stdoutPath: `${dir}/stdout.${jobId}.log`,
      stderrPath: `${dir}/stderr.${jobId}.log`,
      metadata: {}
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// 1. Steady tick
// ---------------------------------------------------------------------------------------------

/**
 * One tick as the Monitor asks it: the owned active jobs, then `modify` over them, changing
 * (a new `lastSeen`) those whose index is `tick` modulo `every` (none when `every` is 0).
 */
const tickOnce = (store: JobStoreShape, tick: number, every: number) =>
  Effect.gen(function*() {
    const active = yield* store.list({ active: true, owned: true, executor: "toy" })
    let i = 0
    const at = new Date()
    yield* store.modify(active, (current) => {
      const change = every > 0 && i++ % every === tick % every
      return change ? { ...current, lastSeen: at } : current
    })
    return active.length
  })

const timeTicks = (store: JobStoreShape, jobs: number, ticks: number, every: number) =>
  Effect.gen(function*() {
    if ((yield* tickOnce(store, 0, every)) !== jobs) return yield* Effect.fail(new Error("tick: wrong number of jobs"))
    const times: Array<number> = []
    const cpu: Array<number> = []
    for (let t = 1; t <= ticks; t++) {
      const startCpu = process.cpuUsage()
      const start = performance.now()
      yield* tickOnce(store, t, every)
      times.push(performance.now() - start)
      const used = process.cpuUsage(startCpu)
      cpu.push((used.user + used.system) / 1000)
    }
    return { times, cpu }
  })

/** Fills each store once per size, then times both tick cases on it. */
const benchTicks = (dir: string, sizes: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const out: Array<TickCase> = []
    for (const jobs of sizes) {
      const ticks = jobs >= 100_000 ? 5 : 15
      const cases = [0, 100] as const
      const results = new Map<string, { readonly times: ReadonlyArray<number>; readonly cpu: ReadonlyArray<number> }>()
      for (const kind of ["memory", "sqlite"] as const) {
        yield* collect
        yield* step(`steady tick: ${kind}, ${jobs} jobs`)
        yield* withStore(kind === "memory" ? "memory" : join(dir, `tick-${jobs}.sqlite`), (store) =>
          Effect.gen(function*() {
            const records = makeRecords(jobs, dir, "toy", "Running")
            for (let i = 0; i < jobs; i += 1_000) yield* store.insert(records.slice(i, i + 1_000))
            for (const every of cases) results.set(`${kind}:${every}`, yield* timeTicks(store, jobs, ticks, every))
          }))
      }
      for (const every of cases) {
        const sqlite = results.get(`sqlite:${every}`) ?? { times: [], cpu: [] }
        const memory = results.get(`memory:${every}`) ?? { times: [], cpu: [] }
        out.push({
          jobs,
          changedPerTick: every === 0 ? 0 : Math.ceil(jobs / every),
          ticks,
          sqliteMs: median(sqlite.times),
          memoryMs: median(memory.times),
          ratio: median(sqlite.times) / median(memory.times),
          sqliteRunsMs: sqlite.times,
          sqliteCpuMs: median(sqlite.cpu),
          memoryCpuMs: median(memory.cpu),
          cpuRatio: median(sqlite.cpu) / median(memory.cpu)
        })
      }
    }
    return out
  })

// ---------------------------------------------------------------------------------------------
// 2. Submits, 3. Lifecycle
// ---------------------------------------------------------------------------------------------

const submitOne = (store: JobStoreShape, path: SubmitCase["path"], record: JobRecord) =>
  path === "insert" ? store.insert([record]) : Effect.gen(function*() {
    const intent: SubmitIntent = {
      token: `t${record.jobId}`,
      executor: record.executor,
      name: record.name,
      at: new Date(),
      draft: { ...record, jobId: "" }
    }
    yield* store.addIntent(intent)
    yield* store.settleIntent(intent.token, [record])
  })

const timeSubmits = (store: JobStoreShape, path: SubmitCase["path"], together: boolean, records: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    const bytes = written()
    const start = performance.now()
    yield* Effect.forEach(records, (r) => submitOne(store, path, r), { concurrency: together ? "unbounded" : 1, discard: true })
    const us = ((performance.now() - start) * 1000) / records.length
    return { us, bytes: perJob(bytes, written(), records.length) }
  })

const benchSubmits = (dir: string, jobs: number) =>
  Effect.gen(function*() {
    const out: Array<SubmitCase> = []
    let n = 0
    for (const path of ["insert", "intent"] as const) {
      for (const together of [false, true]) {
        yield* step(`submits: ${path}, ${together ? "all at once" : "one after another"}, ${jobs} jobs`)
        const records = makeRecords(jobs, dir, "slurm", "Pending")
        const memory = yield* withStore("memory", (store) => timeSubmits(store, path, together, records))
        const sqlite = yield* withStore(join(dir, `submits-${n++}.sqlite`), (store) =>
          // A store in use: some jobs already there, the file's pages allocated.
          Effect.zipRight(
            store.insert(makeRecords(jobs, dir, "slurm", "Done", jobs + 1)),
            timeSubmits(store, path, together, records)
          ))
        out.push({ path, together, jobs, usPerSubmit: sqlite.us, bytesPerSubmit: sqlite.bytes, memoryUsPerSubmit: memory.us })
      }
    }
    return out
  })

const benchLifecycle = (dir: string, jobs: number) =>
  withStore(join(dir, "lifecycle.sqlite"), (store) =>
    Effect.gen(function*() {
      yield* step(`lifecycle: ${jobs} local jobs`)
      const records = makeRecords(jobs, dir, "local", "Pending")
      const keys: ReadonlyArray<JobKey> = records
      const bytes = written()
      yield* store.insert(records)
      for (const key of keys) {
        yield* store.modify([key], (r) => ({ ...r, status: "Running", startTime: new Date() }))
      }
      for (const key of keys) {
        yield* store.modify([key], (r) => ({ ...r, status: "Done", exitCode: 0, finishTime: new Date() }))
        yield* store.markDelivered([key])
      }
      return { jobs, bytesPerJob: perJob(bytes, written(), jobs) }
    }))

// ---------------------------------------------------------------------------------------------
// The whole benchmark and its report
// ---------------------------------------------------------------------------------------------

export const benchStoreTick = (
  dir: string,
  options: { readonly sizes?: ReadonlyArray<number>; readonly submits?: number; readonly lifecycle?: number } = {}
): Effect.Effect<StoreTickResult, unknown> =>
  Effect.gen(function*() {
    const loadStart = loadavg()[0] ?? NaN
    const ticks = yield* benchTicks(dir, options.sizes ?? [10_000, 100_000])
    yield* collect
    const submits = yield* benchSubmits(dir, options.submits ?? 1_000)
    const lifecycle = yield* benchLifecycle(dir, options.lifecycle ?? 300)
    return {
      cpus: availableParallelism(),
      loadAverage: { start: loadStart, end: loadavg()[0] ?? NaN },
      ticks,
      submits,
      lifecycle
    } satisfies StoreTickResult
  })
