/**
 * Which config file to read: `configPath`, `$CLUSTER_API_CONFIG`, `./cluster-api.yaml`, then
 * `~/.config/cluster-api/config.yaml`.
 */
import { FileSystem, Path } from "@effect/platform"
import { Config, Effect, Option } from "effect"
import { ConfigNotFound } from "../../Errors.js"
import { homeDirectory } from "./statePath.js"

/**
 * The file to read (`configPath` named by a program, relative to `cwd`, or else as searched), or
 * none; an explicitly named file that is missing is an error.
 */
export const findConfigFile = Effect.fnUntraced(function*(configPath: string | undefined, cwd: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const home = yield* homeDirectory
  const resolve = (p: string): string =>
    path.resolve(cwd, p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p)
  // A path someone named must exist; an error other than "no such file" surfaces when reading.
  const named = (p: string, source: string) =>
    fs.exists(resolve(p)).pipe(
      Effect.orElseSucceed(() => true),
      Effect.flatMap((exists) =>
        exists ? Effect.succeed(resolve(p)) : Effect.fail(new ConfigNotFound({ path: resolve(p), source }))
      )
    )
  const searched = (p: string) =>
    fs.exists(p).pipe(Effect.orElseSucceed(() => false), Effect.map((exists) => (exists ? Option.some(p) : Option.none())))

  if (configPath !== undefined) return Option.some(yield* named(configPath, "configPath"))
  const fromEnv = yield* Config.option(Config.string("CLUSTER_API_CONFIG")).pipe(Effect.orDie)
  if (Option.isSome(fromEnv) && fromEnv.value.length > 0) {
    return Option.some(yield* named(fromEnv.value, "$CLUSTER_API_CONFIG"))
  }
  const inCwd = yield* searched(path.join(cwd, "cluster-api.yaml"))
  if (Option.isSome(inCwd)) return inCwd
  return yield* searched(path.join(home, ".config", "cluster-api", "config.yaml"))
})
