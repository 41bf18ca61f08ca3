/**
 * The one layer users provide: config → command runner → job store → executor → monitor.
 *
 * ```ts
 * import { ClusterApi, Executor, Monitor } from "cluster-api"
 *
 * const program = Effect.gen(function*() {
 *   const executor = yield* Executor.Executor
 *   const monitor = yield* Monitor.Monitor
 *   const job = yield* executor.submit({ name: "hello", command: "echo hello" })
 *   yield* monitor.await(job)
 * })
 * program.pipe(Effect.provide(ClusterApi.layer()), NodeRuntime.runMain)
 * ```
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import type { Config, ConfigError } from "effect"
import { Effect, Layer } from "effect"
import * as CommandRunnerNode from "./CommandRunner.js"
import type { CommandRunner } from "./CommandRunner.js"
import type { ConfigLocation, ConfigOptions, LoadOptions } from "./Config.js"
import { ClusterConfig, defaultOptions, inMemoryState, withDetection } from "./Config.js"
import { statePathOf } from "./internal/config/statePath.js"
import * as Detect from "./Detect.js"
import type { ConfigInvalid, ConfigNotFound, UnknownProfile } from "./Errors.js"
import { StoreError } from "./Errors.js"
import type { Executor } from "./Executor.js"
import type { JobStore } from "./JobStore.js"
import { layerMemory } from "./JobStore.js"
import * as LocalExecutor from "./LocalExecutor.js"
import * as LsfExecutor from "./LsfExecutor.js"
import * as Monitor from "./Monitor.js"
import * as PbsExecutor from "./PbsExecutor.js"
import * as SgeExecutor from "./SgeExecutor.js"
import * as SlurmExecutor from "./SlurmExecutor.js"
import * as SqliteJobStore from "./SqliteJobStore.js"
import type { Rule, SpawnRule } from "./TestCommandRunner.js"
import { TestCommandRunner } from "./TestCommandRunner.js"

/** Every service a program gets from `ClusterApi.layer`. */
export type Services = ClusterConfig | CommandRunner | JobStore | Executor | Monitor.Monitor

/** The executor the config names. */
export const layerExecutor: Layer.Layer<
  Executor,
  never,
  ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path
> = Layer.unwrapEffect(
  Effect.map(ClusterConfig, ({ options }) => {
    switch (options.executor) {
      case "local":
        return LocalExecutor.layer
      case "slurm":
        return SlurmExecutor.layer
      case "lsf":
        return LsfExecutor.layer
      case "sge":
        return SgeExecutor.layer
      case "auto":
        // A config made in code (a loaded one has auto resolved already): detect, then build the
        // layer this switch picks for the detected executor, with the config saying so.
        return Layer.unwrapEffect(
          Effect.gen(function*() {
            const config = yield* ClusterConfig
            const detection = yield* Detect.detect()
            yield* Effect.logDebug(`executor: auto → ${detection.executor}: ${detection.reason}`)
            // Made in code, an explicit pbs_flavor cannot be told from the default: one that is
            // not the default is kept.
            const keepPbsFlavor = config.options.pbs_flavor !== defaultOptions.pbs_flavor
            const resolved = withDetection(config, detection, { keepPbsFlavor })
            // fresh: the memoized layerExecutor is this very layer, still being built
            return Layer.fresh(layerExecutor).pipe(Layer.provide(Layer.succeed(ClusterConfig, resolved)))
          })
        )
      case "pbs":
        return PbsExecutor.layer
    }
  })
)

type Platform = FileSystem.FileSystem | Path.Path

/**
 * The store the config names: the SQLite file at `state_path` (default `$CLUSTER_API_STATE`, else
 * the user's own `$XDG_STATE_HOME/cluster-api/jobs.db` or `~/.local/state/cluster-api/jobs.db`,
 * its directory created 0700), or memory for `:memory:`.
 */
export const layerStore: Layer.Layer<JobStore, StoreError, ClusterConfig | Platform> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { options } = yield* ClusterConfig
    const path = yield* Path.Path
    const fs = yield* FileSystem.FileSystem
    const file = yield* statePathOf(options)
    if (file === inMemoryState) return layerMemory
    yield* fs.makeDirectory(path.dirname(file), { recursive: true, mode: 0o700 }).pipe(
      Effect.mapError((e) =>
        new StoreError({
          operation: "open",
          reason: "CantOpen",
          detail: `cannot create the directory of the job store ${file}: ${e.message}; fix state_path (or $CLUSTER_API_STATE)`,
          cause: e
        })
      )
    )
    return SqliteJobStore.layer(file)
  })
)

/** Wires the services from a config layer, a command runner layer, a store and an executor. */
export const compose = <E, R, ES = never>(parts: {
  readonly config: Layer.Layer<ClusterConfig, E, Platform>
  readonly runner: Layer.Layer<R | CommandRunner>
  /** Default: in memory. */
  readonly store?: Layer.Layer<JobStore, ES, ClusterConfig | Platform> | undefined
  /** Default: the executor the config names. */
  readonly executor?: Layer.Layer<Executor, never, ClusterConfig | CommandRunner | JobStore | Platform> | undefined
  /** How the Monitor starts (default: it adopts every unfinished job left by an earlier program). */
  readonly monitor?: Monitor.MonitorOptions | undefined
}): Layer.Layer<Services | R, E | ES | StoreError> =>
  Monitor.layerWith(parts.monitor ?? {}).pipe(
    Layer.provideMerge(parts.executor ?? layerExecutor),
    Layer.provideMerge(Layer.mergeAll(parts.runner, parts.store ?? layerMemory)),
    Layer.provideMerge(parts.config),
    Layer.provide(NodeContext.layer)
  )

export type LayerError = ConfigNotFound | ConfigInvalid | UnknownProfile | StoreError

/**
 * Everything, for real: the config from YAML (`profile`, `configPath`, `overrides` as in
 * `ClusterConfig.layer`), real processes, the store `state_path` names (SQLite by default), and
 * a Monitor that takes over what an earlier program left unfinished (`monitor` says otherwise).
 */
export const layer = (options?: LoadOptions, monitor?: Monitor.MonitorOptions): Layer.Layer<Services, LayerError> =>
  compose({ config: ClusterConfig.layer(options), runner: CommandRunnerNode.layerNode, store: layerStore, monitor })

/**
 * Everything, for real, as `layer` does, with the profile and config file read through
 * `effect/Config` (by default the profile in `CLUSTER_API_PROFILE`): see `ClusterConfig.layerConfig`.
 */
export const layerConfig = (
  config?: Config.Config.Wrap<ConfigLocation>,
  monitor?: Monitor.MonitorOptions
): Layer.Layer<Services, LayerError | ConfigError.ConfigError> =>
  compose({ config: ClusterConfig.layerConfig(config), runner: CommandRunnerNode.layerNode, store: layerStore, monitor })

/**
 * Everything for tests: a config made in code, a TestCommandRunner answering from rules (exposed
 * too, to read the calls it recorded), the in-memory store. Time is whatever clock the test runs on.
 */
export const layerTest = (
  options: {
    readonly config?: Partial<ConfigOptions> | undefined
    readonly rules?: ReadonlyArray<Rule> | undefined
    readonly spawnRules?: ReadonlyArray<SpawnRule> | undefined
    /** Default: the executor the config names. */
    readonly executor?: Layer.Layer<Executor, never, ClusterConfig | CommandRunner | JobStore | Platform> | undefined
  } = {}
): Layer.Layer<Services | TestCommandRunner, StoreError> =>
  compose({
    config: ClusterConfig.layerTest(options.config),
    runner: TestCommandRunner.layer({ rules: options.rules ?? [], spawnRules: options.spawnRules ?? [] }),
    executor: options.executor
  })
