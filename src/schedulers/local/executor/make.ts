/**
 * The local executor: each job is a process on this machine, in its own process group, with its
 * stdout and stderr written straight to files. At most `max_local_jobs` processes run at once;
 * the rest wait, Pending. A job with a walltime is ended (SIGTERM, then SIGKILL) when it runs past
 * it and reported as Failed(Timeout). Cancelling a job kills its whole process tree.
 *
 * A job with dependencies (`dependsOn`) is held, as a batch scheduler would hold it: recorded
 * Pending, its processes not started and no slot taken, until every dependency is met. The check
 * is made when it is submitted, and after every tick by the Monitor's gate (which calls `release`
 * or `withdraw`), from the statuses the job store holds for the jobs it depends on. `poll` only
 * reports such a job Pending and held. Once one dependency can never be met (an `afterok` on a job
 * that failed, say) the job is never started: it is recorded Failed(DependencyFailed) naming those
 * dependencies. A dependency on a job the store does not hold keeps the job held, with one
 * warning. Holding needs a program that runs a Monitor (a library program, or the CLI's `wait`).
 *
 * Every process is started through a small shell wrapper (see schedulers/local/files.ts) that leads its
 * process group and leaves two files beside the job script: its pid when it starts, and the
 * script's exit status when the script ends. The processes do not need the program that started
 * them: when that program dies they run on, and the next program on the same store takes the jobs
 * over (`resume`): it reads how the ended ones ended from their exit files, watches the ones still
 * running through their pid files, and starts the ones that never got to (a job still held for
 * its dependencies stays held). Any program sharing the store can cancel a job through its pid file.
 *
 * When the layer's scope closes (the program ends or is interrupted), the jobs it started or took
 * over are ended with it: those still running are terminated, and they and those still waiting are
 * recorded Killed (cancelled by the program's end), so that no later program takes them for
 * vanished.
 */
import { FileSystem, Path } from "@effect/platform"
import { Duration, Effect, FiberMap, Layer, Option, Queue } from "effect"
import { hostname } from "node:os"
import { CommandRunner } from "../../../CommandRunner.js"
import { ClusterConfig } from "../../../Config.js"
import type { ArraySpec, JobSpec } from "../../../Domain.js"
import { JobNotFound } from "../../../Errors.js"
import type { ExecutorShape } from "../../../Executor.js"
import { Executor } from "../../../Executor.js"
import { JobStore } from "../../../JobStore.js"
import * as Cancel from "./cancel.js"
import type { LocalContext } from "./context.js"
import { keyOf } from "./context.js"
import * as Holds from "./holds.js"
import * as Observe from "./observe.js"
import * as Resume from "./resume.js"
import * as Submit from "./submit.js"
import { executorServices } from "../../../internal/executorServices.js"
import { isNodeRunner } from "../../../internal/nodeRunner.js"
import { cleanEnvironment } from "../script.js"
import * as Spawner from "./spawner.js"

/**
 * `killGrace`: how long a cancelled or timed-out local job gets between SIGTERM and SIGKILL.
 * `programEnded`: whom a job is recorded as cancelled by when the program running it ends before it does.
 */
export { killGrace, programEnded } from "./context.js"

/**
 * The local executor over its parts (schedulers/local/executor/): the context they share is built here,
 * once, and each method is a function of it.
 */
export const make = Effect.gen(function*() {
  const services = yield* executorServices
  const { fs, options, store } = services
  // Slots are tokens in a queue: waiting jobs get them first come, first served, so array
  // elements start in index order.
  const slots = yield* Queue.bounded<void>(options.max_local_jobs)
  yield* Queue.offerAll(slots, Array.from({ length: options.max_local_jobs }, () => undefined))
  const hasProc = yield* fs.exists("/proc/self/cmdline").pipe(Effect.orElseSucceed(() => false))
  // Added before the fibers' own finalizer so that it runs after it, once every process it
  // interrupted has been terminated. Before the context is built no job was started: nothing to record.
  let built: LocalContext | undefined
  yield* Effect.addFinalizer(() => built === undefined ? Effect.void : Cancel.recordProgramEnd(built))
  // Closed after the fibers' finalizer too: the processes it terminates are seen to end through it.
  const spawner = isNodeRunner(services.runner) && hasProc ? yield* Spawner.make(cleanEnvironment) : undefined
  const fibers = yield* FiberMap.make<string>()
  const ctx: LocalContext = {
    ...services,
    slots,
    states: new Map(),
    holds: new Map(),
    tracked: new Set(),
    fibers,
    host: hostname(),
    // Ids are `{pid of this process}-{n}`, n counted for the whole process (see submit.ts).
    idPrefix: `${process.pid}-`,
    hasProc,
    // How often a process started by another program is checked: the poll interval, within 50 ms–1 s.
    watchInterval: Duration.max(
      Duration.millis(50),
      Duration.min(Duration.seconds(options.poll_interval), Duration.seconds(1))
    ),
    ended: yield* Queue.sliding<void>(1),
    spawner
  }
  built = ctx

  const submit = (spec: JobSpec) => Submit.submit(ctx, spec)
  const shape: ExecutorShape = {
    kind: "local",
    // Jobs are this program's child processes: they end with it, are watched from this host
    // only, a poll reads memory and a few files, and a job waits here for its dependencies.
    capabilities: { outlivesProgram: false, hostBound: true, cheapPoll: true, nativeDependencies: false },
    submit,
    submitArray: (spec: JobSpec, array: ArraySpec) => submit({ ...spec, array }),
    poll: (jobs) => Observe.poll(ctx, jobs),
    // A process's exit wakes the Monitor at once (what it records is then one poll away).
    ended: Queue.take(ctx.ended),
    // No scheduler judges a local job's dependencies: every one is the gate's, and may name a job
    // of any executor.
    gatedDependencies: (job) => job.dependsOn ?? [],
    dependencyLookup: "any",
    release: (jobIds) => Holds.release(ctx, jobIds),
    withdraw: (jobs) => Holds.withdraw(ctx, jobs),
    cancel: (jobId, cancelOptions) => Cancel.cancel(ctx, jobId, cancelOptions),
    cancelByName: (pattern, cancelOptions) => Cancel.cancelByName(ctx, pattern, cancelOptions),
    cancelAll: (cancelOptions) => Cancel.cancelAll(ctx, cancelOptions),
    // A local job exists only in the job store that recorded it: there is no scheduler to ask.
    track: (jobId) =>
      store.get(keyOf(jobId)).pipe(
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () =>
            Effect.fail(
              new JobNotFound({
                jobId,
                hint: "local jobs are known only from the job store that recorded them; point state_path at it"
              })
            )
        }))
      ),
    // There is no scheduler to ask: jobs of other programs come from the store, through `resume`.
    reconnect: Effect.succeed([]),
    resume: (jobs) => Resume.resume(ctx, jobs)
  }
  return shape
})

/** The local executor; needs the config, a CommandRunner, a JobStore, and FileSystem/Path. */
export const layer: Layer.Layer<
  Executor,
  never,
  ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path
> = Layer.scoped(Executor, make)
