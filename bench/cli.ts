/**
 * The command line from outside: cold starts (`--help`, `list --json` on an empty store) beside
 * `node -e 0` in paired runs, and `status ID` of one job on a 100,000-row SQLite store.
 *
 * The CLI runs as users run it: `node <bin>`, the bin read from package.json (it may point to a
 * bundle), HOME, the config file and the job store all in a temporary directory.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { JobRecord } from "../src/Domain.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { median } from "./report.js"
import { historyRecords } from "./store.js"

/** The package's root: dist/bench/cli.js is two levels below it. */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** The `cluster-api` executable package.json names. */
export const binPath = (): string => {
  const pkg = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { bin?: string | Record<string, string> }
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.["cluster-api"]
  if (bin === undefined) throw new Error("package.json names no cluster-api bin")
  return join(packageRoot, bin)
}

export interface CliSetup {
  readonly dir: string
  readonly bin: string
  readonly env: NodeJS.ProcessEnv
}

/** A home of its own: config file (local executor, logs here) and job store file under `dir`. */
export const cliSetup = (dir: string, store = join(dir, "state", "jobs.db")): CliSetup => {
  mkdirSync(join(dir, "logs"), { recursive: true })
  mkdirSync(dirname(store), { recursive: true })
  const config = join(dir, "config.yaml")
  writeFileSync(config, `executor: local\nlog_directory: ${JSON.stringify(join(dir, "logs"))}\n`)
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, CLUSTER_API_CONFIG: config, CLUSTER_API_STATE: store }
  delete env.XDG_STATE_HOME
  delete env.XDG_CONFIG_HOME
  delete env.CLUSTER_API_PROFILE
  return { dir, bin: binPath(), env }
}

export interface CliRun {
  readonly ms: number
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const timed = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv, cwd: string, timeout: number): CliRun => {
  const start = performance.now()
  const r = spawnSync(argv[0]!, argv.slice(1), { env, cwd, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 })
  return { ms: performance.now() - start, status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}

export const runCli = (setup: CliSetup, args: ReadonlyArray<string>, timeout = 120_000): CliRun =>
  timed([process.execPath, setup.bin, ...args], setup.env, setup.dir, timeout)

const nodeNothing = (setup: CliSetup): CliRun => timed([process.execPath, "-e", "0"], setup.env, setup.dir, 60_000)

export interface PairedResult {
  readonly runs: number
  readonly medianMs: number
  readonly floorMedianMs: number
  /** The median of the per-pair ratios (each run of the command over the `node -e 0` beside it). */
  readonly ratio: number
}

/** One untimed pair, then `runs` pairs: the command, then `node -e 0`. Fails on a non-zero exit. */
export const paired = (setup: CliSetup, args: ReadonlyArray<string>, runs: number): PairedResult => {
  const a: Array<number> = []
  const b: Array<number> = []
  for (let i = 0; i <= runs; i++) {
    const run = runCli(setup, args)
    if (run.status !== 0) throw new Error(`cluster-api ${args.join(" ")} exited with ${run.status}: ${run.stderr.slice(0, 500)}`)
    const floor = nodeNothing(setup)
    if (i === 0) continue
    a.push(run.ms)
    b.push(floor.ms)
  }
  return { runs, medianMs: median(a), floorMedianMs: median(b), ratio: median(a.map((x, i) => x / (b[i] ?? NaN))) }
}

/** Fills the SQLite store `file` with `n` records (99% ended; inserts of 1,000); returns one ended job's id. */
export const fillStore = (file: string, n: number, dir: string): Effect.Effect<string, unknown> => {
  const records = historyRecords(n, Date.now(), dir)
  const target: JobRecord | undefined = records[Math.floor(n / 3)]
  if (target === undefined || target.status === "Pending" || target.status === "Running") {
    return Effect.fail(new Error("no ended job to look up"))
  }
  return Effect.gen(function*() {
    const store = yield* JobStore
    for (let i = 0; i < records.length; i += 1000) yield* store.insert(records.slice(i, i + 1000))
    return target.jobId
  }).pipe(Effect.provide(SqliteJobStore.layer(file)))
}

export interface StatusResult {
  readonly jobs: number
  readonly runs: number
  readonly medianMs: number
  readonly floorMedianMs: number
}

/** `status ID` of one ended job on a store of `jobs` rows, `runs` timed runs after one untimed. */
export const benchStatus = (setup: CliSetup, jobId: string, jobs: number, runs: number): StatusResult => {
  const times: Array<number> = []
  const floors: Array<number> = []
  for (let i = 0; i <= runs; i++) {
    const run = runCli(setup, ["status", "--json", jobId])
    if (run.status !== 0 || !run.stdout.includes(jobId)) {
      throw new Error(`cluster-api status ${jobId} exited with ${run.status}: ${run.stderr.slice(0, 500)}`)
    }
    const floor = nodeNothing(setup)
    if (i === 0) continue
    times.push(run.ms)
    floors.push(floor.ms)
  }
  return { jobs, runs, medianMs: median(times), floorMedianMs: median(floors) }
}
