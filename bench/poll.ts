/**
 * One `Executor.poll` of N tracked jobs through the real LSF and Slurm dialects, asking by id (the
 * ids split by BatchExecutor's argv budget, as every poll did before `statusByUser`) and by listing
 * the user's jobs (one command): status commands per poll and what the poll costs in this process.
 * The status command is answered by the TestCommandRunner from bench/schedulerText.ts (the same
 * text the tick reads), built in an untimed warm-up poll; the two ways of asking and JSON.parse of
 * the floor text are alternated so the machine's load hits all three alike.
 */
import { Effect, ManagedRuntime } from "effect"
import { layer as batchLayer } from "../src/BatchExecutor.js"
import * as ClusterApi from "../src/ClusterApi.js"
import { Executor } from "../src/Executor.js"
import { dialect as lsfDialect } from "../src/schedulers/lsf/index.js"
import { dialect as slurmDialect } from "../src/schedulers/slurm/index.js"
import type { Dialect } from "../src/Scheduler.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { median } from "./report.js"
import type { DialectName } from "./schedulerText.js"
import { floorText, jobRecord, schedulerRules, statusCommand } from "./schedulerText.js"
import { timeJsonParse } from "./tick.js"

export type PollMode = "ids" | "listing"

export interface PollResult {
  readonly mode: PollMode
  readonly callsPerPoll: number
  readonly medianMs: number
  readonly runs: number
}

export interface PollCase {
  readonly dialect: DialectName
  readonly jobs: number
  readonly runs: number
  readonly dir: string
}

const dialects: Record<DialectName, Dialect> = { lsf: lsfDialect, slurm: slurmDialect }

/** Both ways of asking at one size, and the floor: JSON.parse of the same jobs' text. */
export const benchPoll = (c: PollCase): Effect.Effect<{ readonly results: ReadonlyArray<PollResult>; readonly floorMs: number }, unknown> =>
  Effect.promise(async () => {
    const records = Array.from({ length: c.jobs }, (_, i) => jobRecord(i, c.dialect, c.dir))
    const floor = floorText(c.dialect, c.jobs)
    const command = statusCommand(c.dialect)
    const pollers = (["ids", "listing"] as const).map((mode) => {
      const scheduler = schedulerRules(c.dialect, c.jobs, () => "a")
      const real = dialects[c.dialect]
      const dialect: Dialect = mode === "ids" ? { ...real, statusByUser: undefined } : real
      const runtime = ManagedRuntime.make(ClusterApi.layerTest({
        executor: batchLayer(dialect),
        rules: scheduler.rules,
        config: { executor: c.dialect, poll_interval: 3600, log_directory: c.dir }
      }))
      const poll = Effect.flatMap(Executor, (e) => e.poll(records))
      const calls = Effect.flatMap(TestCommandRunner, (r) => r.callsMatching((argv) => argv[0] === command))
      const clear = Effect.flatMap(TestCommandRunner, (r) => r.clearCalls)
      return { mode, runtime, poll, calls, clear, times: [] as Array<number> }
    })
    const floors: Array<number> = []
    try {
      for (const p of pollers) {
        const observed = await p.runtime.runPromise(p.poll) // warm-up: every answer text built
        if (observed.length !== c.jobs) throw new Error(`${c.dialect}/${p.mode} poll@${c.jobs}: observed ${observed.length}`)
        await p.runtime.runPromise(p.clear)
      }
      for (let r = 0; r < c.runs; r++) {
        for (const p of pollers) {
          const start = performance.now()
          await p.runtime.runPromise(p.poll)
          p.times.push(performance.now() - start)
        }
        floors.push(...timeJsonParse(floor, 1))
      }
      const results: Array<PollResult> = []
      for (const p of pollers) {
        const calls = (await p.runtime.runPromise(p.calls)).length
        results.push({ mode: p.mode, callsPerPoll: calls / c.runs, medianMs: median(p.times), runs: p.times.length })
      }
      return { results, floorMs: median(floors) }
    } finally {
      for (const p of pollers) await p.runtime.dispose()
    }
  })
