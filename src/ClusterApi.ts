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
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { Config, ConfigError } from "effect"
import { Effect, Layer, Option } from "effect"
import * as CommandRunnerNode from "./CommandRunner.js"
import type { CommandRunner } from "./CommandRunner.js"
import type { ConfigLocation, ConfigOptions, LoadOptions } from "./Config.js"
import { ClusterConfig, defaultOptions } from "./Config.js"
import { statePathOf } from "./internal/config/statePath.js"
import * as Detect from "./Detect.js"
import type { ConfigNotFound, UnknownProfile } from "./Errors.js"
import { ConfigInvalid, StoreError } from "./Errors.js"
import type { Executor } from "./Executor.js"
import type { JobStore } from "./JobStore.js"
import { layerMemory } from "./JobStore.js"
import * as Monitor from "./Monitor.js"
import type { ExecutorRequirements, Registry } from "./Scheduler.js"
import { schedulerNamed, Schedulers } from "./Scheduler.js"
import { builtin, namesOf } from "./schedulers/builtin.js"
import * as SqliteJobStore from "./SqliteJobStore.js"
import type { Rule, SpawnRule } from "./TestCommandRunner.js"
import { TestCommandRunner } from "./TestCommandRunner.js"
import { withDetection } from "./internal/config/detection.js"
import { inMemoryState } from "./internal/config/statePath.js"

export { builtin } from "./schedulers/builtin.js"

/** Every service a program gets from `ClusterApi.layer`. */
export type Services = ClusterConfig | CommandRunner | JobStore | Executor | Monitor.Monitor | Schedulers

/** The schedulers provided, else the built-in ones. */
const knownSchedulers: Effect.Effect<Registry> = Effect.map(
  Effect.serviceOption(Schedulers),
  Option.getOrElse((): Registry => builtin)
)

/**
 * The executor of the scheduler the config names, from the Schedulers provided (the built-in ones
 * when none are). `auto` detects among them. A name none of them has fails with ConfigInvalid
 * listing the names they have.
 */
export const layerExecutor: Layer.Layer<Executor, ConfigInvalid, ExecutorRequirements> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* ClusterConfig
    const schedulers = yield* knownSchedulers
    const { executor } = config.options
    if (executor === "auto") {
      // A config made in code (a loaded one has auto resolved already): detect, then build the
      // detected scheduler's executor, with the config saying so.
      const detection = yield* Detect.detect(undefined, schedulers)
      yield* Effect.logDebug(`executor: auto → ${detection.executor}: ${detection.reason}`)
      // Made in code, an explicit pbs_flavor cannot be told from the default: one that is
      // not the default is kept.
      const keepPbsFlavor = config.options.pbs_flavor !== defaultOptions.pbs_flavor
      const resolved = withDetection(config, detection, { keepPbsFlavor })
      // fresh: the memoized layerExecutor is this very layer, still being built
      return Layer.fresh(layerExecutor).pipe(Layer.provide(Layer.succeed(ClusterConfig, resolved)))
    }
    const scheduler = schedulerNamed(schedulers, executor)
    if (scheduler !== undefined) return scheduler.layer
    return yield* new ConfigInvalid({
      file: config.source.file ?? "made in code",
      problems: [`executor: expected one of ${namesOf(schedulers).join(", ")}, auto, got ${JSON.stringify(executor)}`]
    })
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

/**
 * Wires the services from a config layer, a command runner layer, a store and an executor, with
 * the schedulers the program knows.
 */
export const compose = <E, R, ES = never, EE = never>(parts: {
  readonly config: Layer.Layer<ClusterConfig, E, Platform>
  readonly runner: Layer.Layer<R | CommandRunner>
  /** Default: in memory. */
  readonly store?: Layer.Layer<JobStore, ES, ClusterConfig | Platform> | undefined
  /** Default: the executor of the scheduler the config names. */
  readonly executor?: Layer.Layer<Executor, EE, ExecutorRequirements> | undefined
  /** How the Monitor starts (default: it adopts every unfinished job left by an earlier program). */
  readonly monitor?: Monitor.MonitorOptions | undefined
  /** The schedulers the program knows (default: the built-in ones). */
  readonly schedulers?: Registry | undefined
}): Layer.Layer<Services | R, E | ES | EE | ConfigInvalid | StoreError> => {
  const executor: Layer.Layer<Executor, EE | ConfigInvalid, ExecutorRequirements> = parts.executor ?? layerExecutor
  return Monitor.layerWith(parts.monitor ?? {}).pipe(
    Layer.provideMerge(executor),
    Layer.provideMerge(Layer.mergeAll(parts.runner, parts.store ?? layerMemory)),
    Layer.provideMerge(parts.config),
    Layer.provideMerge(Schedulers.layer(parts.schedulers ?? builtin)),
    Layer.provide(NodeContext.layer)
  )
}

export type LayerError = ConfigNotFound | ConfigInvalid | UnknownProfile | StoreError

/** What `layer` loads the config with, and the schedulers the program knows. */
export interface LayerOptions extends LoadOptions {
  /**
   * The schedulers the program knows, the first that detection finds winning `executor: auto`
   * (default: the built-in ones, `builtin`; give `[...builtin, mine]` to add one).
   */
  readonly schedulers?: Registry | undefined
}

/**
 * Everything, for real: the config from YAML (`profile`, `configPath`, `overrides` as in
 * `ClusterConfig.layer`), real processes, the store `state_path` names (SQLite by default), and
 * a Monitor that takes over what an earlier program left unfinished (`monitor` says otherwise).
 */
export const layer = (options: LayerOptions = {}, monitor?: Monitor.MonitorOptions): Layer.Layer<Services, LayerError> => {
  const { schedulers = builtin, ...load } = options
  return compose({
    config: ClusterConfig.layer({
      ...load,
      executors: load.executors ?? namesOf(schedulers),
      detect: load.detect ?? Detect.detect(undefined, schedulers)
    }),
    runner: CommandRunnerNode.layerNode,
    store: layerStore,
    monitor,
    schedulers
  })
}

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
    /** Default: the executor of the scheduler the config names. */
    readonly executor?: Layer.Layer<Executor, never, ExecutorRequirements> | undefined
    /** The schedulers the program knows (default: the built-in ones). */
    readonly schedulers?: Registry | undefined
  } = {}
): Layer.Layer<Services | TestCommandRunner, StoreError | ConfigInvalid> =>
  compose({
    config: ClusterConfig.layerTest(options.config),
    runner: TestCommandRunner.layer({ rules: options.rules ?? [], spawnRules: options.spawnRules ?? [] }),
    executor: options.executor,
    schedulers: options.schedulers
  })
