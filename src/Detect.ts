/**
 * `executor: auto`: which scheduler this machine submits to, judged from the commands on PATH.
 *
 * {@link decide} is pure: it turns the facts into a {@link Detection} (the executor, for PBS its
 * flavor, a one-sentence reason, and every scheduler seen). {@link detect} collects the facts
 * from this machine (an executable file of each name in a PATH directory, `SGE_ROOT`, the PBS
 * config file, and, only when `qsub` and `qstat` are both there, what `qstat -help` /
 * `qstat --version` say of themselves) and decides.
 *
 * Precedence: Slurm (`sbatch` and `squeue`), LSF (`bsub` and `bjobs`), SGE (`qsub` and `qstat`,
 * and qstat says it is Grid Engine or `SGE_ROOT` is set), PBS (`qsub` and `qstat`, and qstat says
 * PBS Pro/OpenPBS or TORQUE, or a PBS config file exists), else local.
 */
import { Effect } from "effect"
import * as CommandRunnerNode from "./CommandRunner.js"
import type { DetectOptions } from "./internal/detect/gather.js"
import { detectWith } from "./internal/detect/gather.js"
import type { Detection, Detector } from "./internal/detect/types.js"

export type {
  DetectedExecutor,
  DetectedPbsFlavor,
  Detection,
  DetectFacts,
  Detector,
  Found,
  Sighting
} from "./internal/detect/types.js"
export type { DetectOptions } from "./internal/detect/gather.js"
export { decide } from "./internal/detect/decide.js"

/**
 * Detects the executor of this machine (real processes): among the built-in schedulers, or among
 * `detectors` (a program's list of schedulers), the first that the facts show.
 */
export const detect = (options?: DetectOptions, detectors?: ReadonlyArray<Detector>): Effect.Effect<Detection> =>
  detectWith(options, detectors).pipe(Effect.provide(CommandRunnerNode.layerNode))
