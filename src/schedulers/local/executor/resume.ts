/**
 * Taking over the local jobs an earlier program started (`resume`): how each of their processes
 * ended is read from its exit file, the ones still running are watched through their pid files,
 * the ones that never got to are started here, and a job still held for its dependencies stays
 * held.
 */
import { Effect, Either, FiberMap } from "effect"
import type { JobRecord } from "../../../Domain.js"
import { isTerminal } from "../../../Domain.js"
import { walltimeOf } from "../../../internal/prepare.js"
import { jobEnvironment, logFileName, processLogPath, wantsCleanEnv } from "../script.js"
import { resumedState } from "../status.js"
import type { LocalContext } from "./context.js"
import { now, processesOf } from "./context.js"
import { inspect, statusFiles } from "./files.js"
import { checkHolds } from "./holds.js"
import { runProcess, watchProcess } from "./processes.js"

/**
 * The walltime a job taken over is held to: its spec's, else the config's, as at submit. A record
 * without its spec (written before records kept it) gives none: the job is not held to one.
 */
const resumedWalltime = (ctx: LocalContext, record: JobRecord) =>
  Effect.gen(function*() {
    if (record.spec === undefined) return undefined
    const parsed = walltimeOf(record.spec.resources, ctx.options)
    if (Either.isRight(parsed)) return parsed.right
    yield* Effect.logWarning(
      `local job ${record.jobId} is not held to its walltime: ${parsed.left.message}`
    )
    return undefined
  })

/**
 * Takes over one job another program started, process by process (see `resumedState`): ended
 * ones are read from their exit files, running ones watched, never-started ones started here
 * exactly as `submit` would have (same script, logs and environment, in a slot, an array's
 * `maxConcurrent` kept). A job none of whose processes started and that has dependencies stays
 * held (see `checkHolds`, which `resume` runs next). A job taken over is held to the walltime of
 * the spec its record keeps (a running process counted from its start); a record without its
 * spec gives none.
 */
const resumeJob = (ctx: LocalContext, record: JobRecord) =>
  Effect.gen(function*() {
    const { path, states } = ctx
    const at = yield* now
    const script = record.scriptPath
    const walltime = yield* resumedWalltime(ctx, record)
    const watchers: Array<Effect.Effect<void>> = []
    const starters: Array<Effect.Effect<void>> = []
    const queued: Array<string> = []
    const cleanEnv = script !== undefined &&
      wantsCleanEnv(yield* ctx.fs.readFileString(script).pipe(Effect.orElseSucceed(() => "")))
    for (const { index, key, known } of processesOf(record)) {
      if (script === undefined) {
        // Nothing to look for or to run: the record names no script (not a job this executor wrote).
        states.set(
          key,
          known.status === "Pending"
            ? { _tag: "NotStarted", finishTime: at, message: "its record names no job script to run" }
            : resumedState({}, known, at, ctx.host)
        )
        continue
      }
      const found = yield* inspect(ctx, statusFiles(ctx, script, record.jobId, index), script)
      const state = resumedState(found, known, at, ctx.host)
      states.set(key, state)
      if (state._tag === "Watching") {
        watchers.push(watchProcess(ctx, { key, jobId: record.jobId, index, script, running: state, walltime }))
      } else if (state._tag === "Queued") {
        queued.push(key)
        const recorded = (stream: "stdout" | "stderr", given: string | undefined) =>
          given === undefined
            ? path.join(path.dirname(script), logFileName(stream, record.jobId, index))
            : processLogPath(given, stream, record.jobId, index)
        starters.push(runProcess(ctx, {
          key,
          jobId: record.jobId,
          index,
          script,
          env: jobEnvironment(record.jobId, index),
          inheritEnv: !cleanEnv,
          cwd: record.workDir ?? ctx.baseDir,
          stdoutFile: recorded("stdout", record.stdoutPath),
          stderrFile: recorded("stderr", record.stderrPath),
          walltime
        }))
      }
    }
    ctx.tracked.add(record.jobId)
    // Running elements first: their program kept to `maxConcurrent`, so they all fit at once.
    const all = [...watchers, ...starters]
    const [only] = all
    if (only === undefined) return
    const run = record.array === undefined
      ? only
      : Effect.forEach(all, (e) => e, { concurrency: record.array.maxConcurrent ?? "unbounded", discard: true })
    const dependsOn = record.dependsOn ?? []
    // Nothing of it started: it may still be waiting for its dependencies.
    const neverStarted = record.status === "Pending" && watchers.length === 0 &&
      queued.length === processesOf(record).length
    if (dependsOn.length > 0 && neverStarted) {
      for (const key of queued) states.set(key, { _tag: "Held", heldAt: at })
      ctx.holds.set(record.jobId, { dependsOn, keys: queued, run })
      return
    }
    yield* FiberMap.run(ctx.fibers, record.jobId, run)
  })

/** Takes over the given jobs of earlier programs; see `resumeJob`. */
export const resume = Effect.fn("LocalExecutor.resume")(function*(ctx: LocalContext, jobs: ReadonlyArray<JobRecord>) {
  const taken: Array<string> = []
  for (const record of jobs) {
    if (record.executor !== "local" || isTerminal(record) || ctx.tracked.has(record.jobId)) continue
    yield* resumeJob(ctx, record)
    taken.push(record.jobId)
  }
  // Once every job is taken over, so a dependency among them is judged by what its files say.
  yield* checkHolds(ctx, taken)
})
