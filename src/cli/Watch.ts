/**
 * Waiting for jobs from the command line: live progress, and what Ctrl-C does meanwhile.
 */
import { Terminal } from "@effect/platform"
import { Duration, Effect, Option, Schedule } from "effect"
import type { JobRecord } from "../Domain.js"
import { Executor } from "../Executor.js"
import { Monitor } from "../Monitor.js"
import * as Interrupt from "./Interrupt.js"
import * as Progress from "./Progress.js"
import { LocalAwaitTimeout } from "./Exit.js"
import type { Globals } from "./Globals.js"

export const localNote = "Local jobs run as child processes of cluster-api and end with it"

/**
 * For the scope's life, the jobs of an executor whose poll costs next to nothing
 * (`capabilities.cheapPoll`: local jobs, a poll only reads this process's memory) are polled every
 * 250 ms, so that short jobs are not held up by a long `poll_interval`. Other executors are left
 * to the Monitor's own `poll_interval`.
 */
export const pollLocalOften = Effect.gen(function*() {
  const monitor = yield* Monitor
  const executor = yield* Executor
  if (!executor.capabilities.cheapPoll) return
  yield* monitor.tick.pipe(
    Effect.catchAll((e) => Effect.logWarning(e.message)),
    Effect.repeat(Schedule.spaced(Duration.millis(250))),
    Effect.forkScoped
  )
})

/**
 * Runs `body` while progress is shown on the Terminal (redrawn in place on a terminal, a line per
 * event otherwise), subscribed to the Monitor's events before `body` submits
 * anything, local jobs polled often (`pollLocalOften`).
 */
export const withProgress = <A, E, R>(
  json: boolean,
  initial: ReadonlyArray<JobRecord>,
  body: (progress: Progress.Progress) => Effect.Effect<A, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const monitor = yield* Monitor
    const terminal = yield* Terminal.Terminal
    const events = yield* monitor.subscribe
    const progress = yield* Progress.start(events, {
      mode: json ? "off" : (yield* terminal.isTTY) ? "tty" : "lines",
      // Progress is a view of what happens: a stdout that can no longer be written stops no job.
      write: (text) => Effect.ignore(terminal.display(text)),
      width: Effect.map(terminal.columns, (columns) => (columns > 0 ? columns : 100)),
      initial
    })
    yield* pollLocalOften
    return yield* body(progress)
  }))

/** Waits for jobs with progress; returns their final records. */
export const awaitJobs = (
  progress: Progress.Progress,
  jobs: ReadonlyArray<JobRecord>,
  timeout: Option.Option<Duration.Duration>
) =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const executor = yield* Executor
    return yield* monitor.awaitAll(jobs, { timeout: Option.getOrUndefined(timeout) }).pipe(
      Effect.tap((finals) => progress.finish(finals)),
      Effect.tapError(() => progress.finish([])),
      // Jobs that end with this program are terminated on the way out: the timeout says so.
      Effect.catchTag("AwaitTimeout", (error) =>
        !executor.capabilities.outlivesProgram
          ? Effect.fail(new LocalAwaitTimeout({ jobIds: error.jobIds, timeoutMillis: error.timeoutMillis }))
          : Effect.fail(error))
    )
  })

/**
 * What a wait interrupted by Ctrl-C or SIGTERM does (Interrupt.ts): `progress`'s live summary is
 * erased first, and the commands it prints name the config and profile this one was given.
 */
export const interruptOptions = (g: Globals, cancel: boolean, progress?: Progress.Progress): Interrupt.InterruptOptions => ({
  cancel,
  globalArgs: [
    ...(g.configPath === undefined ? [] : ["--config", g.configPath]),
    ...(g.profile === undefined ? [] : ["--profile", g.profile])
  ],
  before: progress?.finish([])
})
