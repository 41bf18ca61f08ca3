/**
 * Jobs as a user names them on the command line (`52`, `slurm:52`), found in the job store.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import { JobNotFound } from "../Errors.js"
import { Executor } from "../Executor.js"
import * as JobQueries from "../JobQueries.js"
import { keyString } from "../JobStore.js"
import { builtin, namesOf } from "../schedulers/builtin.js"
import * as WorkingDirectory from "../internal/workingDirectory.js"
import { UsageError } from "./Exit.js"
import { statePath } from "./Globals.js"
import { inMemoryState } from "../internal/config/statePath.js"

/** Where stores were kept before the default became the user's own: `./logs/cluster-api.db`. */
export const legacyStoreFile = (cwd: string, join: (...segments: Array<string>) => string): string =>
  join(cwd, "logs", "cluster-api.db")

/**
 * What is said about a job id the store (at `path`) has no record of; `legacy` is a store of the
 * old default place found in the current directory.
 */
export const notFoundHint = (path: string, legacy?: string): string =>
  path === inMemoryState
    ? "state_path is :memory:, so jobs are known only to the program that submitted them"
    : `${path} has no record of it (jobs submitted with another state_path or $CLUSTER_API_STATE are in that store)` +
      (legacy === undefined
        ? ""
        : `; ${legacy} is a job store of an older cluster-api: to read it, give --config a file with state_path: ${legacy}, or set CLUSTER_API_STATE=${legacy}`)

/** A job id the store does not have, with a hint about where it may be. */
export const notFound = (jobId: string) =>
  Effect.gen(function*() {
    const path = yield* statePath
    const fs = yield* FileSystem.FileSystem
    const legacy = legacyStoreFile(yield* WorkingDirectory.current, (yield* Path.Path).join)
    const found = legacy !== path && (yield* fs.exists(legacy).pipe(Effect.orElseSucceed(() => false)))
    return new JobNotFound({ jobId, hint: notFoundHint(path, found ? legacy : undefined) })
  })

/**
 * The record of a job as the user named it (`52`, or `slurm:52` when jobs of several executors
 * have the id): JobNotFound with a hint about where it may be, or AmbiguousJob.
 */
export const lookupJob = (input: string) =>
  JobQueries.findJob(input).pipe(Effect.catchTag("JobNotFound", () => Effect.flatMap(notFound(input), Effect.fail)))

/** The records of these jobs, in order; JobNotFound (or AmbiguousJob) for the first not found. */
export const lookupAll = (inputs: ReadonlyArray<string>) => Effect.forEach(inputs, lookupJob)

/**
 * A job of the configured executor, as the user named it: a job the store holds for another
 * executor is refused, naming the executor to configure.
 */
export const lookupOwn = (input: string) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const record = yield* lookupJob(input)
    if (record.executor === executor.kind) return record
    return yield* new UsageError({
      message: `job ${keyString(record)} ran on ${record.executor}, and this config submits to ${executor.kind}: give the config or profile for ${record.executor} (--config, --profile)`
    })
  })

/** The executor a job named `executor:id` names, when it is one. */
export const executorNamed = (input: string): string | undefined => {
  const named = input.slice(0, Math.max(0, input.indexOf(":")))
  return namesOf(builtin).includes(named) ? named : undefined
}

/** The id part of a job as the user named it (`slurm:52` gives `52`). */
export const bareId = (input: string): string => {
  const named = executorNamed(input)
  return named === undefined ? input : input.slice(named.length + 1)
}

/**
 * A scheduler's job id as the user gave it: `52`, or `slurm:52` naming the configured executor.
 * Another executor's name is refused.
 */
export const schedulerId = (input: string) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const named = executorNamed(input)
    if (named === undefined) return input
    if (named === executor.kind) return bareId(input)
    return yield* new UsageError({
      message: `job ${input} is a ${named} job, and this config submits to ${executor.kind}: give the config or profile for ${named} (--config, --profile)`
    })
  })
