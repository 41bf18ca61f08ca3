/**
 * The commands detection looks for on PATH, and what `qstat` says of itself: Grid Engine or PBS
 * (Professional/OpenPBS or TORQUE).
 */
import type { DetectedPbsFlavor } from "./types.js"

/** The commands looked for: each scheduler's submit and status commands. */
export const schedulerCommands = {
  slurm: ["sbatch", "squeue"],
  lsf: ["bsub", "bjobs"],
  qsub: ["qsub", "qstat"]
} as const

export const allCommands: ReadonlyArray<string> = Object.values(schedulerCommands).flat()

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

/** The items, each once, in their first order. */
export const unique = (items: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(items)]
