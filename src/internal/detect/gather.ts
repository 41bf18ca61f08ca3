/**
 * Gathering the facts detection judges from this machine (or a given environment): the commands
 * on PATH, `SGE_ROOT`, the PBS config file, and what `qstat` says of itself.
 */
import { Config, Duration, Effect, Option } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { CommandRunner } from "../../CommandRunner.js"
import { decide, decideAmong } from "./decide.js"
import { allCommands, sgeIdentity, unique } from "./identity.js"
import type { Detection, DetectFacts, Detector } from "./types.js"

export interface DetectOptions {
  /**
   * The environment to judge: PATH, SGE_ROOT, PBS_CONF_FILE; qstat runs with it. Default: this
   * process's environment, with those three as the ConfigProvider gives them (the same, unless a
   * program provides another, as the command line run in-process does).
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** How long each `qstat` may run before it is killed and says nothing. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The PBS config file when `$PBS_CONF_FILE` is not set. Default `/etc/pbs.conf`. */
  readonly defaultPbsConf?: string | undefined
}

const isExecutableFile = (file: string): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    try {
      await NodeFs.promises.access(file, NodeFs.constants.X_OK)
      return (await NodeFs.promises.stat(file)).isFile()
    } catch {
      return false
    }
  })

const fileExists = (file: string): Effect.Effect<boolean> =>
  Effect.promise(() => NodeFs.promises.stat(file).then((s) => s.isFile(), () => false))

/** The first PATH directory holding an executable file `name`. */
const findOnPath = (name: string, dirs: ReadonlyArray<string>): Effect.Effect<Option.Option<string>> =>
  Effect.findFirst(dirs, (d) => isExecutableFile(NodePath.join(d, name)))

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.length === 0 ? undefined : value

/** The variables detection judges, read through the ConfigProvider. */
const judgedVariables = ["PATH", "SGE_ROOT", "PBS_CONF_FILE"] as const

/** This process's environment with the judged variables as the ConfigProvider has them (or not). */
const configuredEnvironment: Effect.Effect<Readonly<Record<string, string | undefined>>> = Effect.gen(function*() {
  const env: Record<string, string | undefined> = { ...process.env }
  for (const name of judgedVariables) {
    const value = yield* Config.option(Config.string(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    if (Option.isSome(value)) env[name] = value.value
    else delete env[name]
  }
  return env
})

/**
 * Collects the facts from this machine (or the given environment). Never fails: a command that
 * cannot run, fails without output or outlives the timeout says nothing.
 */
export const gatherFacts: (options?: DetectOptions) => Effect.Effect<DetectFacts, never, CommandRunner> = Effect.fn(
  "Detect.gatherFacts"
)(function*(options: DetectOptions = {}) {
  const runner = yield* CommandRunner
  const env = options.env ?? (yield* configuredEnvironment)
  const dirs = unique((env["PATH"] ?? "").split(NodePath.delimiter).filter((d) => d.length > 0))
  const onPath: Record<string, string> = {}
  for (const name of allCommands) {
    const dir = yield* findOnPath(name, dirs)
    if (Option.isSome(dir)) onPath[name] = dir.value
  }

  const sgeRoot = nonEmpty(env["SGE_ROOT"])
  const pbsConfFile = nonEmpty(env["PBS_CONF_FILE"]) ?? options.defaultPbsConf ?? "/etc/pbs.conf"
  const pbsConf = (yield* fileExists(pbsConfFile)) ? pbsConfFile : undefined

  let qstatHelp: string | undefined
  let qstatVersion: string | undefined
  const qstatDir = onPath["qstat"]
  if (onPath["qsub"] !== undefined && qstatDir !== undefined) {
    const qstat = NodePath.join(qstatDir, "qstat")
    const childEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v
    const says = (arg: string) =>
      runner.run({
        argv: [qstat, arg],
        env: childEnv,
        extendEnv: false,
        timeout: options.timeout ?? Duration.seconds(5),
        killGrace: Duration.seconds(1)
      }).pipe(
        Effect.map((r) => `${r.stdout}\n${r.stderr}`),
        // SGE's qstat -help exits non-zero; what it printed still counts.
        Effect.catchTag("CommandFailed", (e) => Effect.succeed(`${e.stdout}\n${e.stderr}`)),
        Effect.orElseSucceed(() => undefined)
      )
    qstatHelp = yield* says("-help")
    if (qstatHelp === undefined || sgeIdentity(qstatHelp) === undefined) qstatVersion = yield* says("--version")
  }
  return {
    onPath,
    ...(sgeRoot === undefined ? {} : { sgeRoot }),
    ...(pbsConf === undefined ? {} : { pbsConf }),
    ...(qstatHelp === undefined ? {} : { qstatHelp }),
    ...(qstatVersion === undefined ? {} : { qstatVersion })
  } satisfies DetectFacts
})

/** Gathers the facts with the given CommandRunner and decides (among `detectors`, if given). */
export const detectWith = (
  options?: DetectOptions,
  detectors?: ReadonlyArray<Detector>
): Effect.Effect<Detection, never, CommandRunner> =>
  Effect.map(gatherFacts(options), (facts) => detectors === undefined ? decide(facts) : decideAmong(facts, detectors))
