/**
 * What the SQLite JobStore adds to a Monitor tick and to a submit, against the in-memory store in
 * the same run: `npm run build && node --expose-gc dist/bench/storeTick.js [sizes…]`
 * (default sizes 10000 100000). Everything goes to a temporary directory, deleted at the end.
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
 *
 * Prints a table, then one JSON line with every figure. Progress goes to stderr.
 */
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import type { JobRecord } from "../src/Domain.js"
import type { JobKey, JobStoreShape, SubmitIntent } from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"

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

const gc = (globalThis as { gc?: () => void }).gc
const collect = Effect.sync(() => gc?.())

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] ?? NaN : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2
}

const progress = (message: string) => Effect.sync(() => process.stderr.write(`[bench:storeTick] ${message}\n`))

/** Bytes this process has handed to write(2) and friends so far, or undefined off Linux. */
const written = (): number | undefined => {
  try {
    const m = /^wchar:\s*(\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))
    return m?.[1] === undefined ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

const perJob = (before: number | undefined, after: number | undefined, jobs: number) =>
  before === undefined || after === undefined ? undefined : (after - before) / jobs

/** Records like the ones the executors write, each with its own strings and dates. */
const makeRecords = (n: number, dir: string, executor: string, status: JobRecord["status"], from = 1) => {
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

const withStore = <A, E>(file: "memory" | string, use: (store: JobStoreShape) => Effect.Effect<A, E>) =>
  Effect.flatMap(JobStore, use).pipe(
    Effect.provide(file === "memory" ? JobStore.layerMemory : SqliteJobStore.layer(file))
  )

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
        yield* progress(`steady tick: ${kind}, ${jobs} jobs`)
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
        yield* progress(`submits: ${path}, ${together ? "all at once" : "one after another"}, ${jobs} jobs`)
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
      yield* progress(`lifecycle: ${jobs} local jobs`)
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

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

const fixed = (x: number | undefined, digits: number) => x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits)

export const renderStoreTick = (r: StoreTickResult): string =>
  [
    `SQLite store against the in-memory store — node ${process.version}, ${r.cpus} CPUs, load average ${
      fixed(r.loadAverage.start, 1)
    } at start and ${fixed(r.loadAverage.end, 1)} at end`,
    "",
    "1. Steady tick: list({ active, owned, executor }) + modify(all of them); medians, wall and CPU ms",
    table(
      ["jobs", "changed/tick", "sqlite ms", "memory ms", "× memory", "sqlite cpu", "memory cpu", "× memory", "sqlite runs"],
      r.ticks.map((t) => [
        String(t.jobs),
        String(t.changedPerTick),
        fixed(t.sqliteMs, 2),
        fixed(t.memoryMs, 2),
        fixed(t.ratio, 2),
        fixed(t.sqliteCpuMs, 2),
        fixed(t.memoryCpuMs, 2),
        fixed(t.cpuRatio, 2),
        t.sqliteRunsMs.map((x) => fixed(x, 1)).join(" ")
      ])
    ),
    "",
    "2. Submits (SQLite; bytes = this process's wchar)",
    table(
      ["path", "submitted", "jobs", "µs/submit", "bytes/submit", "memory µs/submit"],
      r.submits.map((s) => [
        s.path === "insert" ? "insert([record])" : "addIntent + settleIntent",
        s.together ? "all at once" : "one after another",
        String(s.jobs),
        fixed(s.usPerSubmit, 0),
        fixed(s.bytesPerSubmit, 0),
        fixed(s.memoryUsPerSubmit, 0)
      ])
    ),
    "",
    `3. Local job lifecycle (inserted together; start, end and delivery one job at a time): ${
      fixed(r.lifecycle.bytesPerJob, 0)
    } bytes written per job (${r.lifecycle.jobs} jobs)`
  ].join("\n")

export const storeTickJson = (r: StoreTickResult) => JSON.stringify({ bench: "storeTick", ...r })

// Run directly (`node dist/bench/storeTick.js [sizes…]`): its own temporary directory, removed at the end.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = mkdtempSync(join(tmpdir(), "cluster-api-bench-store-tick-"))
  const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0)
  Effect.runPromise(benchStoreTick(dir, sizes.length === 0 ? {} : { sizes })).then(
    (result) => {
      console.log(renderStoreTick(result))
      console.log(storeTickJson(result))
    },
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    }
  ).finally(() => rmSync(dir, { recursive: true, force: true }))
}
