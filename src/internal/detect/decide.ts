/**
 * The decision, pure: which scheduler the facts show, in order of precedence (Slurm, LSF, SGE,
 * PBS, else local; see Detect.ts), with a one-sentence reason and every scheduler seen.
 */
import { Option } from "effect"
import { pbsIdentity, schedulerCommands, sgeIdentity, unique } from "./identity.js"
import type { DetectedExecutor, DetectedPbsFlavor, Detection, DetectFacts, Detector, Found, Sighting } from "./types.js"

const flavorName = (flavor: DetectedPbsFlavor): string =>
  flavor === "pro" ? "PBS Professional/OpenPBS" : "TORQUE"

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
