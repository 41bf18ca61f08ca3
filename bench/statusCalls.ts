/**
 * One poll of N tracked jobs through the real LSF and Slurm dialects on the scripted runner: how
 * many status commands it sends and what it costs in this process, asking by id (the ids split
 * by BatchExecutor's argv budget, as every poll did before `statusByUser`) and by listing the
 * user's jobs (one command). Both run in the same process, against replies computed up front;
 * the floor is JSON.parse of the same jobs' status text (bjobs -json itself; squeue's rows
 * written as JSON).
 *
 * `node dist/bench/statusCalls.js [sizes…] [--processes] [--json]` after `npm run build` (default
 * sizes 10000 100000). With `--processes` every status command is a real process, `cat` of its
 * reply: what a poll's calls cost beyond parsing (fork, pipe), scheduler time still excluded.
 */
import { Effect, ManagedRuntime } from "effect"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as batchLayer } from "../src/BatchExecutor.js"
import * as ClusterApi from "../src/ClusterApi.js"
import { CommandRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { dialect as lsfDialect } from "../src/schedulers/lsf/dialect.js"
import { slurmDialect } from "../src/schedulers/slurm/dialect.js"
import type { Dialect, Invocation } from "../src/Scheduler.js"
import type { RecordedCall, Rule } from "../src/TestCommandRunner.js"

export interface StatusCallsResult {
  readonly scheduler: "lsf" | "slurm"
  readonly jobs: number
  readonly mode: "ids" | "listing"
  readonly callsPerPoll: number
  readonly medianMs: number
  /** JSON.parse of the same jobs' status text, median ms. */
  readonly floorMs: number
}

const T0 = "2026-11-21T12:00:00"
const lsfTime = "Nov 21 12:00:00 2026 L"

const idOf = (i: number) => String(1_000_000 + i)

const makeRecords = (n: number, executor: string): Array<JobRecord> => {
  const at = new Date(2026, 10, 21, 12)
  return Array.from({ length: n }, (_, i) => ({
    jobId: idOf(i),
    name: `capi-step-${i}`,
    command: "true",
    executor,
    status: "Running" as const,
    submitTime: at,
    lastSeen: at,
    metadata: {}
  }))
}

/** What the scheduler prints for one job, per scheduler. */
const lsfRecord = (j: JobRecord) => ({
  JOBID: j.jobId,
  JOB_NAME: j.name,
  STAT: "RUN",
  EXIT_CODE: "",
  EXIT_REASON: "",
  EXEC_HOST: "node1",
  MAX_MEM: "12 Mbytes",
  SUBMIT_TIME: lsfTime,
  START_TIME: lsfTime,
  FINISH_TIME: ""
})
const lsfText = (jobs: ReadonlyArray<JobRecord>) =>
  JSON.stringify({ COMMAND: "bjobs", JOBS: jobs.length, RECORDS: jobs.map(lsfRecord) }, null, 2)
const squeueFields = (j: JobRecord) => [j.jobId, "RUNNING", "None", "n1", T0, T0, j.name]
const squeueText = (jobs: ReadonlyArray<JobRecord>) => jobs.map((j) => squeueFields(j).join("|")).join("\n")

interface Setup {
  readonly scheduler: "lsf" | "slurm"
  readonly dialect: Dialect
  readonly command: string
  readonly text: (jobs: ReadonlyArray<JobRecord>) => string
  /** The ids a status command names. */
  readonly asked: (call: RecordedCall) => ReadonlyArray<string>
  readonly floorText: (jobs: ReadonlyArray<JobRecord>) => string
}

const setups: ReadonlyArray<Setup> = [
  {
    scheduler: "lsf",
    dialect: lsfDialect,
    command: "bjobs",
    text: lsfText,
    asked: (call) => call.argv.filter((a) => /^\d+$/.test(a)),
    floorText: lsfText
  },
  {
    scheduler: "slurm",
    dialect: slurmDialect,
    command: "squeue",
    text: squeueText,
    asked: (call) => {
      const j = call.argv.indexOf("-j")
      return j === -1 ? [] : (call.argv[j + 1] ?? "").split(",")
    },
    floorText: (jobs) => JSON.stringify(jobs.map(squeueFields))
  }
]

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? Number.NaN
}

const timed = async (f: () => Promise<unknown> | unknown): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

/** One way of asking, ready to poll: its executor's runtime and how to count its status calls. */
interface Poller {
  readonly mode: "ids" | "listing"
  readonly poll: () => Promise<number>
  /** Status commands sent since the warm-up. */
  readonly calls: () => Promise<number>
  readonly dispose: () => Promise<void>
}

/**
 * The executor of `dialect` (asking by id or by listing) for `jobs`. With `processes`, each status
 * command is a real process (`cat` of its reply, written to `dir` up front) run by the Node
 * CommandRunner; otherwise the scripted runner answers in-process.
 */
const poller = async (
  setup: Setup,
  jobs: ReadonlyArray<JobRecord>,
  mode: "ids" | "listing",
  processes: string | undefined
): Promise<Poller> => {
  const byFirst = new Map(jobs.map((j, i) => [j.jobId, i] as const))
  const replyFor = (ids: ReadonlyArray<string>) => {
    if (ids.length === 0) return setup.text(jobs)
    const from = byFirst.get(ids[0]!) ?? 0
    return setup.text(jobs.slice(from, from + ids.length))
  }
  let dialect: Dialect = mode === "ids" ? { ...setup.dialect, statusByUser: undefined } : setup.dialect
  let count = 0
  const rules: Array<Rule> = []
  if (processes === undefined) {
    // Every reply computed on first use (the warm-up poll), then looked up.
    const cache = new Map<string, string>()
    rules.push({
      match: setup.command,
      reply: (call) => {
        count++
        const ids = setup.asked(call)
        const key = `${ids[0]}:${ids.length}`
        const text = cache.get(key) ?? replyFor(ids)
        cache.set(key, text)
        return { stdout: text }
      }
    })
  } else {
    // Each command becomes `cat` of its reply, in a file named after what it asks.
    const file = (ids: ReadonlyArray<string>) => {
      const path = join(processes, `${setup.scheduler}-${mode}-${ids[0] ?? "all"}-${ids.length}.txt`)
      if (!existsSync(path)) writeFileSync(path, replyFor(ids))
      return path
    }
    const cat = (invocation: Invocation): Invocation => {
      count++
      return { argv: ["cat", file(setup.asked({ kind: "run", argv: invocation.argv, atMillis: 0 }))] }
    }
    const asked = dialect
    const byUser = asked.statusByUser
    dialect = {
      ...asked,
      status: (js, o, c) => cat(asked.status(js, o, c)),
      statusByUser: byUser === undefined ? undefined : { ...byUser, command: (js, o, c) => cat(byUser.command(js, o, c)) }
    }
  }
  const base = ClusterConfig.layerTest({ executor: setup.dialect.kind, poll_interval: 3600 })
  const runtime = processes === undefined
    ? ManagedRuntime.make(ClusterApi.layerTest({ executor: batchLayer(dialect), rules, config: { executor: setup.dialect.kind, poll_interval: 3600 } }))
    : ManagedRuntime.make(ClusterApi.compose({ config: base, runner: CommandRunner.layerNode, executor: batchLayer(dialect) }))
  const poll = Effect.flatMap(Executor, (e) => e.poll(jobs))
  const observed = await runtime.runPromise(poll)
  if (observed.length !== jobs.length) throw new Error(`${setup.scheduler}/${mode}: observed ${observed.length}`)
  count = 0
  return { mode, poll: () => timed(() => runtime.runPromise(poll)), calls: async () => count, dispose: () => runtime.dispose() }
}

/**
 * Each scheduler at each size: a poll asking by id and one asking by listing, alternated `runs`
 * times (after a warm-up each) with JSON.parse of the same jobs' text, so the three share the
 * machine's load; medians.
 */
export const benchStatusCalls = async (
  sizes: ReadonlyArray<number>,
  options: { readonly runs?: number; readonly processes?: boolean } = {}
): Promise<Array<StatusCallsResult>> => {
  const runs = options.runs ?? 7
  const dir = options.processes === true ? mkdtempSync(join(tmpdir(), "capi-bench-status-")) : undefined
  const out: Array<StatusCallsResult> = []
  try {
    for (const n of sizes) {
      for (const setup of setups) {
        const jobs = makeRecords(n, setup.dialect.kind)
        const floor = setup.floorText(jobs)
        const pollers = [await poller(setup, jobs, "ids", dir), await poller(setup, jobs, "listing", dir)]
        const times = pollers.map(() => [] as Array<number>)
        const floors: Array<number> = []
        for (let r = 0; r < runs; r++) {
          for (const [i, p] of pollers.entries()) times[i]!.push(await p.poll())
          floors.push(await timed(() => JSON.parse(floor)))
        }
        for (const [i, p] of pollers.entries()) {
          out.push({
            scheduler: setup.scheduler,
            jobs: n,
            mode: p.mode,
            callsPerPoll: (await p.calls()) / runs,
            medianMs: median(times[i]!),
            floorMs: median(floors)
          })
          await p.dispose()
        }
      }
    }
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
  return out
}

const isMain = process.argv[1]?.endsWith("statusCalls.js") === true
if (isMain) {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0)
  const processes = process.argv.includes("--processes")
  const results = await benchStatusCalls(sizes.length > 0 ? sizes : [10_000, 100_000], { processes })
  console.log(`status commands ${processes ? "run as processes (cat of the reply)" : "answered in-process"}`)
  console.log("scheduler  jobs     mode     calls/poll  poll ms  JSON.parse ms  ratio")
  for (const r of results) {
    console.log(
      [
        r.scheduler.padEnd(9),
        String(r.jobs).padStart(7),
        r.mode.padEnd(8),
        String(r.callsPerPoll).padStart(10),
        r.medianMs.toFixed(1).padStart(8),
        r.floorMs.toFixed(1).padStart(13),
        (r.medianMs / r.floorMs).toFixed(1).padStart(6)
      ].join("  ")
    )
  }
  if (process.argv.includes("--json")) console.log(JSON.stringify(results))
}
