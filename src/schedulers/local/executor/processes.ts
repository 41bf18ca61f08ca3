/**
 * The processes of local jobs: one started here through the wrapper, in a slot, waited for to its
 * end or its walltime; one another program started, watched through its pid and exit files. Each
 * leaves its state in the context's `states`, which `poll` reports.
 */
import { Duration, Effect, Exit, Option, Queue } from "effect"
import type { ProcessExit, SpawnedProcess } from "../../../CommandRunner.js"
import type { JobRecord } from "../../../Domain.js"
import { isTerminal } from "../../../Domain.js"
import { wrapperArgv } from "../files.js"
import { cleanEnvironment } from "../script.js"
import { resumedState } from "../status.js"
import type { ProcessState } from "../status.js"
import type { LocalContext, StatusFiles } from "./context.js"
import { keyOf, killGrace, now, withSlot, withSlotIfFree } from "./context.js"
import { inspect, statusFiles, stopProcess } from "./files.js"

/** Everything needed to start one process of a job. */
export interface Launch {
  readonly key: string
  readonly jobId: string
  readonly index: number | undefined
  readonly script: string
  readonly env: Record<string, string>
  /** false: the process gets `cleanEnvironment` and `env`, nothing of this process's own. */
  readonly inheritEnv: boolean
  readonly cwd: string
  readonly stdoutFile: string
  readonly stderrFile: string
  readonly walltime: Duration.Duration | undefined
}

/**
 * Starts one process: through the spawner when there is one and it takes it, else through the
 * runner and the `/bin/sh` wrapper. Either way it leads its own process group and writes the same
 * pid and exit files.
 */
const start = (ctx: LocalContext, launch: Launch, files: StatusFiles) => {
  const direct = ctx.runner.spawn({
    argv: wrapperArgv(launch.script, files.pid, files.exit),
    env: launch.inheritEnv ? launch.env : { ...cleanEnvironment(process.env), ...launch.env },
    extendEnv: launch.inheritEnv,
    cwd: launch.cwd,
    stdoutFile: launch.stdoutFile,
    stderrFile: launch.stderrFile
  })
  if (ctx.spawner === undefined) return direct
  return ctx.spawner.spawn({
    script: launch.script,
    cwd: launch.cwd,
    stdoutFile: launch.stdoutFile,
    stderrFile: launch.stderrFile,
    pidFile: files.pid,
    exitFile: files.exit,
    env: launch.env,
    inheritEnv: launch.inheritEnv
  }).pipe(Effect.flatMap(Option.match({ onNone: () => direct, onSome: Effect.succeed })))
}

/**
 * Runs one process through the wrapper: waits for a slot, spawns it, waits for its end (or its
 * walltime). A job cancelled meanwhile by another program sharing the store is not started.
 */
export const runProcess = (ctx: LocalContext, launch: Launch) =>
  withSlot(
    ctx,
    Effect.gen(function*() {
      const { states } = ctx
      const { index, jobId, key, script, walltime } = launch
      const current = yield* ctx.store.get(keyOf(jobId)).pipe(Effect.orElseSucceed(() => Option.none<JobRecord>()))
      if (Option.isSome(current) && isTerminal(current.value)) {
        states.set(key, { _tag: "Withdrawn", finishTime: yield* now })
        return
      }
      if (!(yield* ctx.fs.exists(script).pipe(Effect.orElseSucceed(() => false)))) {
        states.set(key, {
          _tag: "NotStarted",
          finishTime: yield* now,
          message: `the job script ${script} does not exist (any more)`
        })
        return
      }
      const files = statusFiles(ctx, script, jobId, index)
      // Files left by an earlier job under the same id must not be read as this one's.
      yield* Effect.forEach([files.pid, files.exit], (file) => Effect.ignore(ctx.fs.remove(file)), { discard: true })
      // The start is read before the process is started: it may write files (expected outputs,
      // judged against its start) before spawn returns.
      const startTime = yield* now
      yield* Effect.acquireUseRelease(
        start(ctx, launch, files).pipe(
          Effect.tap((proc) =>
            Effect.sync(() => states.set(key, { _tag: "Running", pid: proc.pid, startTime, host: ctx.host }))
          )
        ),
        (proc: SpawnedProcess) =>
          Effect.gen(function*() {
            let timedOut = false
            let exit: ProcessExit
            if (walltime === undefined) exit = yield* proc.exit
            else {
              const ended = yield* proc.exit.pipe(Effect.timeoutOption(walltime))
              if (Option.isSome(ended)) exit = ended.value
              else {
                timedOut = true
                exit = yield* proc.terminate(killGrace)
              }
            }
            const finishTime = yield* now
            const running = states.get(key)
            states.set(key, {
              _tag: "Exited",
              pid: proc.pid,
              startTime: running?._tag === "Running" ? running.startTime : finishTime,
              finishTime,
              host: ctx.host,
              exitCode: exit.exitCode,
              signal: exit.signal,
              timedOut
            })
          }),
        (proc, exit) => Exit.isSuccess(exit) ? Effect.void : proc.terminate(killGrace)
      )
    })
  ).pipe(
    Effect.catchAll((error) =>
      now.pipe(
        Effect.map((finishTime) =>
          ctx.states.set(launch.key, { _tag: "NotStarted", finishTime, message: error.message })
        )
      )
    ),
    Effect.zipRight(Queue.offer(ctx.ended, undefined))
  )

/** The process another program started that `watchProcess` watches. */
export interface Watched {
  readonly key: string
  readonly jobId: string
  readonly index: number | undefined
  readonly script: string
  readonly running: Extract<ProcessState, { _tag: "Watching" }>
  readonly walltime: Duration.Duration | undefined
}

/**
 * Watches a process another program started, checking its files every `watchInterval` until it
 * has ended; interrupted (a cancel, the end of this program), it terminates the process. With a
 * walltime, a process still running that long after its start is ended and reported
 * Failed(Timeout), as one started here would be.
 */
export const watchProcess = (ctx: LocalContext, watched: Watched) => {
  const { index, jobId, key, running, script, walltime } = watched
  return withSlotIfFree(
    ctx,
    Effect.gen(function*() {
      const files = statusFiles(ctx, script, jobId, index)
      const deadline = walltime === undefined ? undefined : running.startTime.getTime() + Duration.toMillis(walltime)
      let lastSeen = yield* now
      for (;;) {
        const left = deadline === undefined
          ? ctx.watchInterval
          : Duration.millis(Math.max(0, deadline - lastSeen.getTime()))
        yield* Effect.sleep(Duration.min(ctx.watchInterval, left))
        const found = yield* inspect(ctx, files, script)
        const at = yield* now
        if (found.exit === undefined && found.pid?.alive === true) {
          if (deadline !== undefined && at.getTime() >= deadline) {
            yield* stopProcess(ctx, found.pid.pid, script)
            ctx.states.set(key, {
              _tag: "Exited",
              pid: found.pid.pid,
              startTime: running.startTime,
              finishTime: yield* now,
              host: running.host,
              timedOut: true
            })
            return
          }
          lastSeen = at
          continue
        }
        const known = { status: "Running" as const, startTime: running.startTime, execHost: running.host, lastSeen }
        ctx.states.set(key, resumedState(found, known, at, ctx.host))
        return
      }
    }).pipe(
      Effect.onInterrupt(() => stopProcess(ctx, running.pid, script)),
      // Ended (on its own, or at its walltime): the Monitor is told at once.
      Effect.zipRight(Queue.offer(ctx.ended, undefined))
    )
  )
}
