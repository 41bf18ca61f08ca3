/**
 * The executor for batch schedulers, built on a `Dialect`: a scheduler's whole syntax as pure
 * functions (argv and text in, data out). The machinery every scheduler shares lives in
 * internal/batch/: writing the script and submitting (submit), running the commands with the
 * configured timeout, one status command per tick for every tracked job (split only past the
 * command-line limit) and one accounting command for the jobs that left the live queue (observe),
 * cancellation written through the JobStore and the Monitor gate's release and withdraw (cancel),
 * and taking over jobs (reconnect). This module builds an executor from them.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Effect, Layer } from "effect"
import type { ClusterConfig } from "./Config.js"
import type { CommandRunner } from "./CommandRunner.js"
import type { ExecutorShape } from "./Executor.js"
import { Executor } from "./Executor.js"
import * as Cancel from "./internal/batch/cancel.js"
import { makeContext } from "./internal/batch/context.js"
import * as Observe from "./internal/batch/observe.js"
import * as Reconnect from "./internal/batch/reconnect.js"
import * as Submit from "./internal/batch/submit.js"
import type { JobStore } from "./JobStore.js"
import type { Dialect, Scheduler } from "./Scheduler.js"
import { batchCapabilities } from "./Scheduler.js"

export const make = (dialect: Dialect) =>
  Effect.gen(function*() {
    const ctx = yield* makeContext(dialect)
    const submit = Submit.submit(ctx)
    const shape: ExecutorShape = {
      reconnect: Reconnect.reconnect(ctx),
      recoverSubmits: Reconnect.recoverSubmits(ctx),
      track: Reconnect.track(ctx),
      // The scheduler is asked by job id: an adopted job is polled like any other.
      resume: () => Effect.void,
      kind: dialect.kind,
      // The cluster runs the jobs, whoever submitted them and from wherever; a poll is a command
      // the scheduler answers; the scheduler holds a job for its dependencies.
      capabilities: { outlivesProgram: true, hostBound: false, cheapPoll: false, nativeDependencies: true },
      submit,
      submitArray: (spec, array) => submit({ ...spec, array }),
      poll: Observe.poll(ctx),
      gatedDependencies: Cancel.gatedDependencies(ctx),
      dependencyLookup: "own",
      release: Cancel.release(ctx),
      withdraw: Cancel.withdraw(ctx),
      cancel: Cancel.cancel(ctx),
      cancelByName: Cancel.cancelByName(ctx),
      cancelAll: Cancel.cancelAll(ctx)
    }
    return shape
  })

/** The executor of one batch scheduler: this machinery speaking `dialect`. */
export const layer = (
  dialect: Dialect
): Layer.Layer<Executor, never, ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path> =>
  Layer.effect(Executor, make(dialect))

/**
 * A batch scheduler's descriptor: `executor` (this machinery speaking its dialect) with the
 * capabilities every batch scheduler has, and what `more` says (how `executor: auto` finds it, its
 * own log-path placeholders).
 */
export const scheduler = <Name extends string>(
  name: Name,
  executor: Scheduler["layer"],
  more: Pick<Scheduler<Name>, "detect" | "logPath"> = {}
): Scheduler<Name> => ({ name, capabilities: batchCapabilities, layer: executor, ...more })
