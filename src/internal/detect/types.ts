/**
 * What detection looks at (the facts) and what it answers (a Detection, each scheduler Found),
 * and what a scheduler's `detect` answers (a Sighting).
 */
import type { Option } from "effect"

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
