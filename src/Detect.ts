/**
 * `executor: auto`: which scheduler this machine submits to, judged from the commands on PATH.
 *
 * {@link decide} is pure: it turns the facts into a {@link Detection} (the executor, for PBS its
 * flavor, a one-sentence reason, and every scheduler seen). {@link gatherFacts} collects the facts
 * (an executable file of each name in a PATH directory, `SGE_ROOT`, the PBS config file, and,
 * only when `qsub` and `qstat` are both there, what `qstat -help` / `qstat --version` say of
 * themselves), and {@link detect} does both.
 *
 * Precedence: Slurm (`sbatch` and `squeue`), LSF (`bsub` and `bjobs`), SGE (`qsub` and `qstat`,
 * and qstat says it is Grid Engine or `SGE_ROOT` is set), PBS (`qsub` and `qstat`, and qstat says
 * PBS Pro/OpenPBS or TORQUE, or a PBS config file exists), else local.
 */
import { Config, Duration, Effect, Option } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as CommandRunnerNode from "./CommandRunner.js"
import { CommandRunner } from "./CommandRunner.js"

/** The executors detection can pick. */
export type DetectedExecutor = "local" | "slurm" | "lsf" | "sge" | "pbs"
export type DetectedPbsFlavor = "pro" | "torque"

/** One scheduler whose commands were seen, and what showed it. */
export interface Found {
  /** The scheduler's name (`slurm`, …; a scheduler a program adds may be found too). */
  readonly executor: string
  /** Short, e.g. `sbatch and squeue in /usr/bin` or `qstat -help says "SGE 8.1.9"`. */
  readonly evidence: string
}

/** What shows one scheduler on this machine: what a scheduler's `detect` answers. */
export interface Sighting {
  /** Short, e.g. `sbatch and squeue in /usr/bin` or `qstat -help says "SGE 8.1.9"`. */
  readonly evidence: string
  /** One sentence: why this scheduler. */
  readonly reason: string
  /** For PBS: the flavor qstat showed (it becomes the config's `pbs_flavor`). */
  readonly pbsFlavor?: DetectedPbsFlavor | undefined
}

/** A scheduler as detection asks it: its name and whether the facts show it. */
export interface Detector {
  readonly name: string
  readonly detect?: ((facts: DetectFacts) => Option.Option<Sighting>) | undefined
}

export interface Detection {
  /** The picked scheduler's name (`local` when none was found). */
  readonly executor: string
  /** Set when `executor` is pbs. */
  readonly pbsFlavor?: DetectedPbsFlavor
  /** One sentence: why this executor. */
  readonly reason: string
  /** Every scheduler seen, the picked one first when it is a scheduler (others lost on precedence). */
  readonly found: ReadonlyArray<Found>
}

/** What detection looks at. */
export interface DetectFacts {
  /** The commands found on PATH, each with the directory it was found in (the first on PATH). */
  readonly onPath: Readonly<Record<string, string>>
  /** `$SGE_ROOT`, when set and not empty. */
  readonly sgeRoot?: string | undefined
  /** The PBS config file that exists (`$PBS_CONF_FILE`, else `/etc/pbs.conf`), if any. */
  readonly pbsConf?: string | undefined
  /** What `qstat -help` printed (stdout, then stderr), whatever its exit code; unset if not run or it failed to run. */
  readonly qstatHelp?: string | undefined
  /** What `qstat --version` printed, likewise. */
  readonly qstatVersion?: string | undefined
}

/** The commands looked for: each scheduler's submit and status commands. */
export const schedulerCommands = {
  slurm: ["sbatch", "squeue"],
  lsf: ["bsub", "bjobs"],
  qsub: ["qsub", "qstat"]
} as const

const allCommands: ReadonlyArray<string> = Object.values(schedulerCommands).flat()

// ---------------------------------------------------------------------------------------------
// What qstat says of itself
// ---------------------------------------------------------------------------------------------

const firstLines = (text: string, n: number): ReadonlyArray<string> =>
  text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0).slice(0, n)

/**
 * The line by which a Grid Engine qstat names itself (`SGE 8.1.9`, `OGS/GE 2011.11p1`,
 * `Univa Grid Engine 8.6.4`, `UGE 8.5.4`, `AGE 2023.1.0`), looked for in the first lines of
 * `qstat -help`.
 */
export const sgeIdentity = (text: string): string | undefined =>
  firstLines(text, 3).find((line) =>
    /^(SGE|OGS\/GE|UGE|AGE|GE)\s+\d/.test(line) || /\bGrid\s*Engine\b/i.test(line)
  )

/**
 * PBS Professional / OpenPBS (`pbs_version = 2022.1.0`) or TORQUE (`Version: 6.1.3`,
 * `version: 4.2.10`, or a line naming TORQUE), from `qstat --version`.
 */
export const pbsIdentity = (text: string): { readonly flavor: DetectedPbsFlavor; readonly line: string } | undefined => {
  const lines = firstLines(text, 5)
  const pro = lines.find((l) => /^pbs_version\s*=/i.test(l))
  if (pro !== undefined) return { flavor: "pro", line: pro }
  const torque = lines.find((l) => /\btorque\b/i.test(l) || /^version:\s*\S/i.test(l))
  if (torque !== undefined) return { flavor: "torque", line: torque }
  const pbs = lines.find((l) => /\b(Open)?PBS(\s*Pro(fessional)?)?\b/.test(l))
  if (pbs !== undefined) return { flavor: "pro", line: pbs }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------

const flavorName = (flavor: DetectedPbsFlavor): string =>
  flavor === "pro" ? "PBS Professional/OpenPBS" : "TORQUE"

const unique = (items: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(items)]

/** A built-in scheduler seen in the facts. */
type BuiltinSighting = Sighting & { readonly executor: Exclude<DetectedExecutor, "local"> }

/** The built-in schedulers the facts show, in order of precedence (see the module's comment). */
export const sightings = (facts: DetectFacts): ReadonlyArray<BuiltinSighting> => {
  const dir = (name: string): string | undefined => facts.onPath[name]
  const both = (pair: readonly [string, string]): boolean => pair.every((n) => dir(n) !== undefined)
  const where = (pair: readonly [string, string]): string => unique(pair.map((n) => dir(n) ?? "")).join(", ")
  const onPathIn = (pair: readonly [string, string]): string => `${pair[0]} and ${pair[1]} are on PATH (${where(pair)})`

  const candidates: Array<BuiltinSighting> = []

  const slurm = schedulerCommands.slurm
  if (both(slurm)) {
    candidates.push({ executor: "slurm", evidence: `${slurm.join(" and ")} in ${where(slurm)}`, reason: onPathIn(slurm) })
  }
  const lsf = schedulerCommands.lsf
  if (both(lsf)) {
    candidates.push({ executor: "lsf", evidence: `${lsf.join(" and ")} in ${where(lsf)}`, reason: onPathIn(lsf) })
  }

  const qsub = schedulerCommands.qsub
  if (!both(qsub)) return candidates
  const said = (command: "qstat -help" | "qstat --version", line: string) => `${command} says "${line}"`
  let sge: string | undefined
  let pbs: { readonly flavor: DetectedPbsFlavor; readonly evidence: string } | undefined
  const fromHelp = facts.qstatHelp === undefined ? undefined : sgeIdentity(facts.qstatHelp)
  const fromVersion = facts.qstatVersion === undefined ? undefined : sgeIdentity(facts.qstatVersion)
  const pbsFromVersion = facts.qstatVersion === undefined ? undefined : pbsIdentity(facts.qstatVersion)
  const pbsFromHelp = facts.qstatHelp === undefined ? undefined : pbsIdentity(facts.qstatHelp)
  if (fromHelp !== undefined) sge = said("qstat -help", fromHelp)
  else if (fromVersion !== undefined) sge = said("qstat --version", fromVersion)
  else if (pbsFromVersion !== undefined) {
    pbs = { flavor: pbsFromVersion.flavor, evidence: said("qstat --version", pbsFromVersion.line) }
  } else if (pbsFromHelp !== undefined) {
    pbs = { flavor: pbsFromHelp.flavor, evidence: said("qstat -help", pbsFromHelp.line) }
  } else if (facts.sgeRoot !== undefined) {
    // qstat said nothing of itself: SGE_ROOT is the next best sign, then a PBS config file.
    sge = `SGE_ROOT is set (${facts.sgeRoot})`
  } else if (facts.pbsConf !== undefined) {
    pbs = { flavor: "pro", evidence: `${facts.pbsConf} exists` }
  }
  if (sge !== undefined) {
    candidates.push({ executor: "sge", evidence: sge, reason: `qsub and qstat are on PATH and ${sge}` })
  }
  if (pbs !== undefined) {
    candidates.push({
      executor: "pbs",
      pbsFlavor: pbs.flavor,
      evidence: `${pbs.evidence}, ${flavorName(pbs.flavor)}`,
      reason: `qsub and qstat are on PATH and ${pbs.evidence} (${flavorName(pbs.flavor)})`
    })
  }
  return candidates
}

/** Whether the facts show this built-in scheduler: a built-in scheduler's `detect`. */
export const sightingOf = (executor: Exclude<DetectedExecutor, "local">) => (facts: DetectFacts): Option.Option<Sighting> =>
  Option.map(
    Option.fromNullable(sightings(facts).find((s) => s.executor === executor)),
    ({ evidence, pbsFlavor, reason }) => (pbsFlavor === undefined ? { evidence, reason } : { evidence, reason, pbsFlavor })
  )

/** Why no scheduler was picked: local, with what was seen of the schedulers' commands. */
const localReason = (facts: DetectFacts): string => {
  const dir = (name: string): string | undefined => facts.onPath[name]
  const qsub = schedulerCommands.qsub
  const local = "running jobs as local processes"
  if (qsub.every((n) => dir(n) !== undefined)) {
    const where = unique(qsub.map((n) => dir(n) ?? "")).join(", ")
    return `${qsub[0]} and ${qsub[1]} are on PATH (${where}) but cannot be told apart: neither qstat -help nor qstat --version names SGE or PBS, ` +
      `SGE_ROOT is not set and there is no PBS config file ($PBS_CONF_FILE or /etc/pbs.conf); ${local}. ` +
      `Set executor: sge, or executor: pbs with pbs_flavor: pro or torque, to use them`
  }
  const halves = Object.values(schedulerCommands).flatMap(([a, b]) =>
    dir(a) !== undefined ? [`${a} without ${b}`] : dir(b) !== undefined ? [`${b} without ${a}`] : []
  )
  const lookedFor = Object.values(schedulerCommands).map(([a]) => a).join(", ")
  return halves.length > 0
    ? `no scheduler has both its commands on PATH (found ${halves.join(", ")}): ${local}`
    : `no scheduler's commands are on PATH (looked for ${lookedFor}): ${local}`
}

/**
 * Picks the first of `detectors` the facts show (they are asked in order: the order is the
 * precedence), listing every one they show; none: local.
 */
export const decideAmong = (facts: DetectFacts, detectors: ReadonlyArray<Detector>): Detection => {
  const seen = detectors.flatMap(({ detect, name }) =>
    detect === undefined ? [] : Option.toArray(Option.map(detect(facts), (s) => ({ ...s, executor: name })))
  )
  const found: ReadonlyArray<Found> = seen.map(({ evidence, executor }) => ({ executor, evidence }))
  const picked = seen[0]
  if (picked === undefined) return { executor: "local", reason: localReason(facts), found }
  return {
    executor: picked.executor,
    ...(picked.pbsFlavor === undefined ? {} : { pbsFlavor: picked.pbsFlavor }),
    reason: picked.reason,
    found
  }
}

/** Picks the built-in executor from the facts: see the module's comment for the precedence. */
export const decide = (facts: DetectFacts): Detection =>
  decideAmong(facts, sightings(facts).map((s) => ({ name: s.executor, detect: () => Option.some(s) })))

// ---------------------------------------------------------------------------------------------
// Gathering the facts from this machine
// ---------------------------------------------------------------------------------------------

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

/**
 * Detects the executor of this machine (real processes): among the built-in schedulers, or among
 * `detectors` (a program's list of schedulers), the first that the facts show.
 */
export const detect = (options?: DetectOptions, detectors?: ReadonlyArray<Detector>): Effect.Effect<Detection> =>
  detectWith(options, detectors).pipe(Effect.provide(CommandRunnerNode.layerNode))
