/**
 * The options every command takes (--config, --profile, --json) and the services they build.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Clock, Context, Effect, Layer, Option } from "effect"
import * as ClusterApi from "../ClusterApi.js"
import { ClusterConfig } from "../Config.js"
import { statePathOf } from "../internal/config/statePath.js"
import { JobStore } from "../JobStore.js"
import type { MonitorOptions } from "../Monitor.js"
import type { CliError } from "./Exit.js"
import { report } from "./Exit.js"
import { inMemoryState } from "../internal/config/statePath.js"

export const jsonDescription = "Machine-readable output: JSON on stdout, no progress drawing"

export const profileDescription = "Profile of the config file to apply on top of its top-level options"

export const configDescription =
  "Config file to read (default: $CLUSTER_API_CONFIG, ./cluster-api.yaml, ~/.config/cluster-api/config.yaml)"

const json = Options.boolean("json").pipe(Options.withDescription(jsonDescription))
const profile = Options.text("profile").pipe(Options.withPseudoName("NAME"), Options.withDescription(profileDescription))
const config = Options.text("config").pipe(Options.withPseudoName("PATH"), Options.withDescription(configDescription))

/** The root command, with the options given before a subcommand's name (`cluster-api -P gpu list`). */
export const rootCommand = Command.make("cluster-api", {
  json,
  profile: profile.pipe(Options.withAlias("P"), Options.optional),
  config: Options.optional(config)
})

/**
 * The same options after the subcommand name (`cluster-api status --json`), long forms only, so
 * that no short form is taken from a subcommand's own options. Given in both places, these win.
 */
export const globalOptions = { json, profile: Options.optional(profile), config: Options.optional(config) }

export interface GlobalOptions {
  readonly json: boolean
  readonly profile: Option.Option<string>
  readonly config: Option.Option<string>
}

export interface Globals {
  readonly json: boolean
  readonly profile: string | undefined
  readonly configPath: string | undefined
}

export const resolveGlobals = (local: GlobalOptions) =>
  Effect.map(rootCommand, (root): Globals => ({
    json: local.json || root.json,
    profile: Option.getOrUndefined(Option.orElse(local.profile, () => root.profile)),
    configPath: Option.getOrUndefined(Option.orElse(local.config, () => root.config))
  }))

/**
 * Every service, from the config the global options name (plus `overrides`). The Monitor takes
 * over no job another program left unfinished unless `monitor` says which: a command must not
 * start, or end with it, local jobs it was not asked about.
 */
export const services = (
  local: GlobalOptions,
  overrides?: Readonly<Record<string, unknown>>,
  monitor: MonitorOptions = { adopt: "none" }
) =>
  Layer.unwrapEffect(
    Effect.map(
      resolveGlobals(local),
      (g) => ClusterApi.layer({ profile: g.profile, configPath: g.configPath, overrides }, monitor)
    )
  )

/** Where the job store is (`state_path` resolved, or `:memory:`), and whether its file exists. */
export class StoreLocation extends Context.Tag("cluster-api/cli/StoreLocation")<StoreLocation, {
  readonly path: string
  readonly exists: boolean
}>() {}

/** The store file the config names (or `$CLUSTER_API_STATE`, or the user's own). */
export const statePath = Effect.flatMap(ClusterConfig, ({ options }) => statePathOf(options))

/**
 * The config and the job store alone, for commands that read or tidy the store: no executor and
 * no Monitor, so nothing polls and no job is taken over. A store file that does not exist yet
 * reads as empty and is not created, unless `create`.
 */
export const storeServices = (local: GlobalOptions, create: boolean) =>
  Layer.unwrapEffect(
    Effect.map(resolveGlobals(local), (g) =>
      Layer.unwrapEffect(Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* statePath
        const exists = path === inMemoryState || create ||
          (yield* fs.exists(path).pipe(Effect.orElseSucceed(() => true)))
        return Layer.merge(
          exists ? ClusterApi.layerStore : JobStore.layerMemory,
          Layer.succeed(StoreLocation, { path, exists })
        )
      })).pipe(Layer.provideMerge(ClusterConfig.layer({ profile: g.profile, configPath: g.configPath }))))
  )

export const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

export const storeCommand = <Name extends string, R, E extends CliError, A extends { readonly globals: GlobalOptions }>(
  self: Command.Command<Name, R, E, A>,
  create = false
) => self.pipe(Command.provide((o) => storeServices(o.globals, create)), reported)

/** Typed errors of a subcommand (its services' too) printed and turned into the exit code. */
export const reported = <Name extends string, R, E extends CliError, A extends { readonly globals: GlobalOptions }>(
  self: Command.Command<Name, R, E, A>
) =>
  Command.transformHandler(
    self,
    (effect, a) =>
      Effect.catchAll(effect, (error) => Effect.flatMap(resolveGlobals(a.globals), (g) => report(error, g.json)))
  )
