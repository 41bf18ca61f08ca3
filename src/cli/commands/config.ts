/**
 * The `cluster-api config` command.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { ClusterConfig, renderConfig } from "../../Config.js"
import { setExitCode } from "../Exit.js"
import { globalOptions, reported, resolveGlobals } from "../Globals.js"
import { printJson } from "../Output.js"

export const configShowCommand = Command.make("show", { globals: globalOptions }, (o) =>
  Effect.gen(function*() {
    const g = yield* resolveGlobals(o.globals)
    const config = yield* ClusterConfig
    yield* g.json ? printJson(config.options) : Console.log(renderConfig(config).trimEnd())
  })).pipe(
    Command.withDescription(
      "Print the resolved configuration (file, profile and defaults merged) as YAML; with executor: auto, which scheduler was detected and why"
    ),
    Command.provide((o) =>
      Layer.unwrapEffect(
        Effect.map(resolveGlobals(o.globals), (g) => ClusterConfig.layer({ profile: g.profile, configPath: g.configPath }))
      )
    ),
    reported
  )

export const configCommand = Command.make(
  "config",
  {},
  () =>
    Effect.zipRight(
      Console.error("cluster-api config: give a subcommand: show (see cluster-api config --help)"),
      setExitCode(2)
    )
).pipe(
  Command.withDescription("Inspect the configuration"),
  Command.withSubcommands([configShowCommand])
)
