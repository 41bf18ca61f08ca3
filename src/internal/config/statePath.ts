/**
 * Where the job store is: `state_path`, `$CLUSTER_API_STATE` or the user's own file, and the
 * environment values (HOME, XDG_STATE_HOME) read for it through Effect's ConfigProvider.
 */
import { Path } from "@effect/platform"
import { Config, Effect, Option } from "effect"
import { homedir } from "node:os"
import * as WorkingDirectory from "../workingDirectory.js"

/** The value of `state_path` that keeps jobs in memory only. */
export const inMemoryState = ":memory:"

/** The environment variable naming the job store file; it beats the config file, not code. */
export const stateEnvVar = "CLUSTER_API_STATE"

/**
 * The user's own job store, the same from every directory: `$XDG_STATE_HOME/cluster-api/jobs.db`,
 * or `~/.local/state/cluster-api/jobs.db` when XDG_STATE_HOME is unset, empty or relative (the XDG
 * base directory spec ignores relative values).
 */
export const defaultStatePath = (
  env: { readonly home: string; readonly xdgStateHome?: string | undefined },
  path: Pick<Path.Path, "join" | "isAbsolute">
): string =>
  env.xdgStateHome !== undefined && env.xdgStateHome !== "" && path.isAbsolute(env.xdgStateHome)
    ? path.join(env.xdgStateHome, "cluster-api", "jobs.db")
    : path.join(env.home, ".local", "state", "cluster-api", "jobs.db")

/**
 * Where the job store lives: `state_path` resolved against `cwd` (a config file's relative value
 * was already resolved against the file's directory), else `defaultPath`; or `:memory:`.
 */
export const resolveStatePath = (
  options: { readonly state_path?: string | undefined },
  cwd: string,
  resolve: (...segments: Array<string>) => string,
  defaultPath: string
): string =>
  options.state_path === inMemoryState
    ? inMemoryState
    : options.state_path !== undefined
    ? resolve(cwd, options.state_path)
    : defaultPath

/** HOME (or the OS's idea of it when unset or empty). */
export const homeDirectory = Config.option(Config.string("HOME")).pipe(
  Effect.map(Option.filter((h) => h.length > 0)),
  Effect.map(Option.getOrElse(() => homedir())),
  Effect.orDie
)

/** An environment variable's value, none when unset or empty. */
export const envValue = (name: string) =>
  Config.option(Config.string(name)).pipe(Effect.map(Option.filter((v) => v.length > 0)), Effect.orDie)

/** `~` or `~/…` expanded to `home`, then resolved against `base`; `:memory:` kept. */
export const expandPath = (path: Path.Path, home: string, base: string, p: string): string =>
  p === inMemoryState
    ? p
    : path.resolve(base, p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p)

/**
 * The job store file of these options, the same from any directory: `state_path` (relative:
 * against the current directory), else `$CLUSTER_API_STATE`, else {@link defaultStatePath}; or
 * `:memory:`. Reads HOME, XDG_STATE_HOME and CLUSTER_API_STATE through Effect's ConfigProvider.
 */
export const statePathOf = Effect.fnUntraced(function*(options: { readonly state_path?: string | undefined }) {
  const path = yield* Path.Path
  const home = yield* homeDirectory
  const cwd = yield* WorkingDirectory.current
  const fromEnv = yield* envValue(stateEnvVar)
  const fallback = Option.isSome(fromEnv)
    ? expandPath(path, home, cwd, fromEnv.value)
    : defaultStatePath({ home, xdgStateHome: Option.getOrUndefined(yield* envValue("XDG_STATE_HOME")) }, path)
  return resolveStatePath(options, cwd, path.resolve, fallback)
})

/**
 * `state_path` as the file wrote it made absolute against the file's directory (where its writer
 * meant it), or replaced by `$CLUSTER_API_STATE` (which beats the file, not the overrides).
 */
export const fileStatePath = Effect.fnUntraced(
  function*(merged: Record<string, unknown>, file: string | undefined, cwd: string, fromFile: boolean) {
    const path = yield* Path.Path
    const home = yield* homeDirectory
    const fromEnv = yield* envValue(stateEnvVar)
    if (Option.isSome(fromEnv)) merged.state_path = expandPath(path, home, cwd, fromEnv.value)
    else if (file !== undefined && fromFile && typeof merged.state_path === "string") {
      merged.state_path = expandPath(path, home, path.dirname(file), merged.state_path)
    }
  }
)
