/**
 * What the SQLite JobStore costs (the `store` part of `npm run bench`, with bench/storeTick.ts).
 *
 * 1. Write cost per transition. 2,000 jobs inserted Pending, then moved Pending→Running→Done the
 *    way Monitor.tick writes: one `store.modify` per tick over a batch of ids (batches of 100),
 *    and one `modify` per id. Three runs per case on a fresh store (the median is reported).
 *    Baselines measured here: the in-memory store (`JobStore.layerMemory`), and the floor of what
 *    SQLite costs on this disk, as many plain INSERTs into a one-table file through better-sqlite3
 *    directly (WAL like the store, one transaction per batch).
 * 2. Reads at 100,000 jobs. One store filled with 100,000 records in inserts of 1,000 (99% Done,
 *    Failed or Killed, 1% Pending or Running among the most recent; several name families;
 *    submitted over 30 days, in submission order), then each query timed after one untimed
 *    warm-up. Baseline: the same query on the in-memory store holding the same records.
 */
import { Effect } from "effect"
import { createRequire } from "node:module"
import { availableParallelism, loadavg } from "node:os"
import { join } from "node:path"
import type { JobRecord, JobStatus } from "../src/Domain.js"
import type { JobFilter, JobKey, JobStoreShape } from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { collectGarbage, median, progress } from "./report.js"

// ---------------------------------------------------------------------------------------------
// better-sqlite3, the driver under @effect/sql-sqlite-node, used directly for the raw baseline
// ---------------------------------------------------------------------------------------------

interface RawStatement {
  run(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): Array<unknown>
}
interface RawDatabase {
  pragma(source: string): unknown
  exec(source: string): unknown
  prepare(source: string): RawStatement
  transaction<A extends ReadonlyArray<unknown>>(fn: (...args: A) => void): (...args: A) => void
  close(): unknown
}
type RawDatabaseConstructor = new(filename: string) => RawDatabase
export const Database = createRequire(import.meta.url)("better-sqlite3") as RawDatabaseConstructor

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

export interface WriteCase {
  readonly store: "sqlite" | "memory" | "raw"
  /** Ids per `modify` call (per transaction for the raw baseline). */
  readonly batch: number
  readonly transitions: number
  /** Median over the runs. */
  readonly usPerTransition: number
  readonly runsUsPerTransition: ReadonlyArray<number>
  /** Inserting the Pending records first, per job (undefined for the raw baseline). */
  readonly insertUsPerJob: number | undefined
}

export interface QueryCase {
  readonly query: string
  readonly rows: number
  readonly sqlite: Timing
  readonly memory: Timing
  /** SQLite median / memory median. */
  readonly ratio: number
}

export interface Timing {
  readonly firstMs: number
  readonly medianMs: number
  readonly maxMs: number
  readonly runs: number
}

export interface StoreResult {
  readonly cpus: number
  /** The 1-minute load average when the benchmark started and when it ended (the machine may be shared). */
  readonly loadAverage: { readonly start: number; readonly end: number }
  readonly writeJobs: number
  readonly writeRuns: number
  readonly writes: ReadonlyArray<WriteCase>
  readonly listJobs: number
  readonly fillMs: { readonly sqlite: number; readonly memory: number }
  readonly activeJobs: number
  readonly queries: ReadonlyArray<QueryCase>
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const collect = Effect.sync(collectGarbage)

const chunks = <A>(xs: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

const step = (message: string) => Effect.sync(() => progress(`store: ${message}`))

/** A deterministic pseudo-random sequence in [0, 1) (the same records on every run). */
const random = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const record = (jobId: string, name: string, status: JobStatus, submitTime: Date, dir: string): JobRecord => ({
  jobId,
  name,
  command: `python train.py --config configs/${name}.yaml --seed ${jobId}`,
  executor: "slurm",
  status,
  submitTime,
  lastSeen: submitTime,
  workDir: dir,
  scriptPath: `${dir}/${name}.sh`,
  stdoutPath: `${dir}/slurm-${jobId}.out`,
  stderrPath: `${dir}/slurm-${jobId}.err`,
  metadata: {}
})

export const withStore = <A, E>(layer: "memory" | string, use: (store: JobStoreShape) => Effect.Effect<A, E>) =>
  Effect.flatMap(JobStore, use).pipe(
    Effect.provide(layer === "memory" ? JobStore.layerMemory : SqliteJobStore.layer(layer))
  )

// ---------------------------------------------------------------------------------------------
// 1. Write cost per transition
// ---------------------------------------------------------------------------------------------

const toRunning = (at: Date) => (r: JobRecord): JobRecord =>
  r.status === "Pending" ? { ...r, status: "Running", startTime: at, lastSeen: at, execHost: "node01" } : r

const toDone = (at: Date) => (r: JobRecord): JobRecord =>
  r.status === "Running" ? { ...r, status: "Done", exitCode: 0, finishTime: at, lastSeen: at } : r

/** Inserts `jobs` Pending records, then two transitions each; µs per insert and per transition. */
const storeWrites = (store: JobStoreShape, jobs: number, batch: number, dir: string) =>
  Effect.gen(function*() {
    const now = new Date()
    const records = Array.from({ length: jobs }, (_, i) => record(String(i + 1), `capi-step-${i + 1}`, "Pending", now, dir))
    const ids: ReadonlyArray<JobKey> = records
    const insertStart = performance.now()
    for (const part of chunks(records, batch)) yield* store.insert(part)
    const insertMs = performance.now() - insertStart

    let changed = 0
    const start = performance.now()
    for (const step of [toRunning, toDone]) {
      for (const part of chunks(ids, batch)) {
        changed += (yield* store.modify(part, step(new Date()))).length
      }
    }
    const ms = performance.now() - start
    if (changed !== 2 * jobs) return yield* Effect.fail(new Error(`${changed} transitions written, expected ${2 * jobs}`))
    return { insertUsPerJob: (insertMs * 1000) / jobs, usPerTransition: (ms * 1000) / changed }
  })

/** The floor: `count` plain INSERTs into a one-table WAL file, `batch` per transaction. */
const rawInserts = (file: string, count: number, batch: number) =>
  Effect.sync(() => {
    const db = new Database(file)
    try {
      db.pragma("journal_mode = WAL")
      db.exec(`CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, at INTEGER NOT NULL, to_status TEXT NOT NULL)`)
      const insert = db.prepare("INSERT INTO transitions (job_id, at, to_status) VALUES (?, ?, ?)")
      const many = db.transaction((from: number, to: number) => {
        for (let i = from; i < to; i++) insert.run(String(i), Date.now(), i % 2 === 0 ? "Running" : "Done")
      })
      const start = performance.now()
      for (let i = 0; i < count; i += batch) many(i, Math.min(i + batch, count))
      return { insertUsPerJob: undefined, usPerTransition: ((performance.now() - start) * 1000) / count }
    } finally {
      db.close()
    }
  })

const benchWrites = (dir: string, jobs: number, runs: number) =>
  Effect.gen(function*() {
    const out: Array<WriteCase> = []
    for (const batch of [100, 1]) {
      for (const kind of ["sqlite", "memory", "raw"] as const) {
        yield* step(`writes: ${kind}, ${batch === 1 ? "one id" : `${batch} ids`} per call, ${runs} runs`)
        const results = []
        yield* collect
        for (let run = 0; run < runs; run++) {
          const file = join(dir, `writes-${kind}-${batch}-${run}.sqlite`)
          results.push(
            kind === "raw"
              ? yield* rawInserts(file, 2 * jobs, batch)
              : yield* withStore(kind === "memory" ? "memory" : file, (store) => storeWrites(store, jobs, batch, dir))
          )
        }
        const inserts = results.map((r) => r.insertUsPerJob).filter((x): x is number => x !== undefined)
        out.push({
          store: kind,
          batch,
          transitions: 2 * jobs,
          usPerTransition: median(results.map((r) => r.usPerTransition)),
          runsUsPerTransition: results.map((r) => r.usPerTransition),
          insertUsPerJob: inserts.length === 0 ? undefined : median(inserts)
        })
      }
    }
    return out
  })

// ---------------------------------------------------------------------------------------------
// 2. Reads at 100,000 jobs
// ---------------------------------------------------------------------------------------------

const day = 24 * 3600 * 1000
const families = ["capi-train", "capi-eval", "capi-prep", "capi-sweep", "capi-export"] as const

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

/**
 * `n` records in submission order over the 30 days before `end`: 1% active (Pending or Running,
 * every other one of the most recent 2%), the rest about 90% Done, 8% Failed, 2% Killed.
 *
 * Each is one object literal plus assignments in a fixed order, never `{ ...base, status }`: V8
 * gives nearly every object built by a spread that adds properties its own hidden class, and
 * the in-memory baseline would then time megamorphic property reads (about 20× slower here),
 * not filtering.
 */
export const historyRecords = (n: number, end: number, dir: string): Array<JobRecord> => {
  const next = random(42)
  const start = end - 30 * day
  const recent = n - Math.floor(n / 50)
  const out: Array<JobRecord> = []
  for (let i = 0; i < n; i++) {
    const jobId = String(1_000_000 + i)
    const family = families[Math.floor(next() * families.length)] ?? "capi-train"
    const name = `${family}-${Math.floor(next() * 5000)}`
    const submitTime = new Date(start + Math.floor(((i + next()) / n) * 30 * day))
    const active = i >= recent && i % 2 === 0
    const roll = next()
    const status: JobStatus = active ? (i % 4 === 0 ? "Running" : "Pending") : roll < 0.9 ? "Done" : roll < 0.98 ? "Failed" : "Killed"
    const r: Mutable<JobRecord> = record(jobId, name, status, submitTime, dir)
    r.executor = i % 10 === 0 ? "local" : "slurm"
    if (status === "Running" || !active) r.startTime = new Date(submitTime.getTime() + 30_000)
    if (!active) {
      const finishTime = new Date(submitTime.getTime() + 60_000 + Math.floor(next() * 3600_000))
      r.finishTime = finishTime
      r.lastSeen = finishTime
      if (status === "Done") r.exitCode = 0
      if (status === "Failed") {
        r.exitCode = 1
        r.reason = { _tag: "NonZeroExit", exitCode: 1 }
      }
      if (status === "Killed") r.reason = { _tag: "Cancelled", by: "alice" }
    }
    out.push(r)
  }
  return out
}

interface Query {
  readonly label: string
  readonly runs: number
  readonly run: (store: JobStoreShape) => Effect.Effect<number, unknown>
}

const listQuery = (label: string, filter: JobFilter | undefined, runs = 7): Query => ({
  label,
  runs,
  run: (store) => Effect.map(store.list(filter), (rows) => rows.length)
})

const queries = (end: number, someJob: JobKey): ReadonlyArray<Query> => [
  { label: "active (Monitor.tick)", runs: 7, run: (store) => Effect.map(store.active, (rows) => rows.length) },
  listQuery("list({ active: true })", { active: true }),
  listQuery(`list({ status: ["Failed"], limit: 50 })`, { status: ["Failed"], limit: 50 }),
  listQuery(`list({ names: ["capi-train-*"], limit: 50 })`, { names: ["capi-train-*"], limit: 50 }),
  listQuery(`list({ names: ["nomatch-*"], limit: 50 })`, { names: ["nomatch-*"], limit: 50 }),
  listQuery("list({ submittedAfter: last day })", { submittedAfter: new Date(end - day) }),
  {
    label: "get(id)",
    runs: 7,
    run: (store) => Effect.map(store.get(someJob), (r) => r._tag === "Some" ? 1 : 0)
  },
  listQuery("list() (all)", undefined, 5)
]

/**
 * A full GC, one untimed warm-up, then `runs` timed runs. No GC between timed runs: right after
 * a full collection the next large allocation (a 100,000-element array) is 5-10× slower, which
 * would time the collector rather than the query.
 */
const time = (store: JobStoreShape, query: Query) =>
  Effect.gen(function*() {
    yield* collect
    const first = performance.now()
    const rows = yield* query.run(store)
    const firstMs = performance.now() - first
    const times: Array<number> = []
    for (let i = 0; i < query.runs; i++) {
      const start = performance.now()
      const n = yield* query.run(store)
      times.push(performance.now() - start)
      if (n !== rows) return yield* Effect.fail(new Error(`${query.label}: ${n} rows, then ${rows}`))
    }
    return { rows, timing: { firstMs, medianMs: median(times), maxMs: Math.max(...times), runs: times.length } }
  })

const fill = (store: JobStoreShape, records: ReadonlyArray<JobRecord>) =>
  Effect.gen(function*() {
    const start = performance.now()
    for (const part of chunks(records, 1_000)) yield* store.insert(part)
    return performance.now() - start
  })

const benchReads = (dir: string, n: number) =>
  Effect.gen(function*() {
    const end = Date.now()
    const records = historyRecords(n, end, dir)
    const activeJobs = records.filter((r) => r.status === "Pending" || r.status === "Running").length
    const someJob = records[Math.floor(n / 3)] ?? { executor: "slurm", jobId: "1" }
    const qs = queries(end, someJob)
    yield* collect

    yield* step(`reads: filling the in-memory store with ${n} jobs`)
    const memory = yield* withStore("memory", (store) =>
      Effect.gen(function*() {
        const fillMs = yield* fill(store, records)
        yield* step("reads: querying the in-memory store")
        return { fillMs, results: yield* Effect.forEach(qs, (q) => time(store, q)) }
      }))
    yield* collect
    yield* step(`reads: filling the SQLite store with ${n} jobs (inserts of 1,000)`)
    const sqlite = yield* withStore(join(dir, "reads.sqlite"), (store) =>
      Effect.gen(function*() {
        const fillMs = yield* fill(store, records)
        yield* step(`reads: querying the SQLite store (filled in ${(fillMs / 1000).toFixed(1)} s)`)
        return { fillMs, results: yield* Effect.forEach(qs, (q) => time(store, q)) }
      }))

    const cases: Array<QueryCase> = []
    for (const [i, q] of qs.entries()) {
      const s = sqlite.results[i]
      const m = memory.results[i]
      if (s === undefined || m === undefined) return yield* Effect.dieMessage(`missing result for ${q.label}`)
      if (s.rows !== m.rows) {
        return yield* Effect.fail(new Error(`${q.label}: SQLite returned ${s.rows} rows, memory ${m.rows}`))
      }
      cases.push({ query: q.label, rows: s.rows, sqlite: s.timing, memory: m.timing, ratio: s.timing.medianMs / m.timing.medianMs })
    }
    return { fillMs: { sqlite: sqlite.fillMs, memory: memory.fillMs }, activeJobs, queries: cases }
  })

// ---------------------------------------------------------------------------------------------
// The whole benchmark and its report
// ---------------------------------------------------------------------------------------------

export const benchStore = (
  dir: string,
  options: { readonly writeJobs?: number; readonly writeRuns?: number; readonly listJobs?: number } = {}
): Effect.Effect<StoreResult, unknown> =>
  Effect.gen(function*() {
    const writeJobs = options.writeJobs ?? 2_000
    const writeRuns = options.writeRuns ?? 3
    const listJobs = options.listJobs ?? 100_000
    const loadStart = loadavg()[0] ?? NaN
    const writes = yield* benchWrites(dir, writeJobs, writeRuns)
    yield* collect
    const reads = yield* benchReads(dir, listJobs)
    return {
      cpus: availableParallelism(),
      loadAverage: { start: loadStart, end: loadavg()[0] ?? NaN },
      writeJobs,
      writeRuns,
      writes,
      listJobs,
      ...reads
    } satisfies StoreResult
  })
