/**
 * What the parts of every executor share, whatever its scheduler: the config, the command runner,
 * the store, files and paths, the job-script writer and the directory a job's relative paths
 * resolve against. Each executor's own context extends it.
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import type { Context } from "effect"
import { Effect } from "effect"
import type { CommandRunnerShape } from "../CommandRunner.js"
import { CommandRunner } from "../CommandRunner.js"
import type { ConfigOptions } from "../Config.js"
import { ClusterConfig } from "../Config.js"
import { SubmitError } from "../Errors.js"
import type { JobStoreShape } from "../JobStore.js"
import { JobStore } from "../JobStore.js"
import { makeScriptWriter } from "./script.js"
import * as WorkingDirectory from "./workingDirectory.js"

export interface ExecutorServices {
  readonly options: ConfigOptions
  readonly runner: CommandRunnerShape
  readonly store: JobStoreShape
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly platform: Context.Context<FileSystem.FileSystem | Path.Path>
  readonly writeNextScript: Effect.Effect.Success<typeof makeScriptWriter>
  /** The directory relative paths of a job resolve against. */
  readonly baseDir: string
}

/** The services of an executor's layer, gathered once. */
export const executorServices = Effect.gen(function*() {
  const services: ExecutorServices = {
    options: (yield* ClusterConfig).options,
    runner: yield* CommandRunner,
    store: yield* JobStore,
    fs: yield* FileSystem.FileSystem,
    path: yield* Path.Path,
    platform: yield* Effect.context<FileSystem.FileSystem | Path.Path>(),
    writeNextScript: yield* makeScriptWriter,
    baseDir: yield* WorkingDirectory.current
  }
  return services
})

/** The SubmitError of a job script that could not be written in `dir`. */
export const scriptNotWritten = (name: string, dir: string) => (e: PlatformError) =>
  new SubmitError({ name, detail: `could not write the job script in ${dir}: ${e.message}`, reason: "Io", cause: e })
