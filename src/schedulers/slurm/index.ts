/**
 * Slurm's dialect: everything cluster-api says to Slurm and reads back from it, as pure functions.
 *
 * - submit: a script with `#SBATCH` lines, `sbatch --parsable` (prints `ID` or `ID;CLUSTER`);
 * - status: ONE `squeue -h -j <ids> -o <fields>` for every tracked job, fields split by `|` with the
 *   job name last (it is the only free-text field), pending array elements compressed as
 *   `ID_[2-4,7%10]` and expanded here;
 * - accounting: ONE `sacct -P -n -j <ids> --starttime <earliest submit>` for the jobs squeue no
 *   longer shows. Not `-X`: the `.batch` step row is where Slurm reports MaxRSS and how the job's
 *   shell really ended (an over-memory kill is `CANCELLED by 0` on the batch step of a FAILED job);
 * - when accounting is disabled: `scontrol show job -o` for jobs still held by the controller;
 * - cancel: `scancel <ids>`; reconnect: `squeue --me`.
 *
 * Times without a zone are Slurm's local time and are read as this process's local time.
 */
import { batchCapabilities } from "../../Scheduler.js"
import type { Scheduler } from "../../Scheduler.js"
import * as SlurmExecutor from "../../SlurmExecutor.js"
import { fillLogPath, showLogPath } from "./syntax.js"
import { sightingOf } from "../../internal/detect/decide.js"

export * from "./syntax.js"
// status.ts's public names, one by one: the squeue readers that sacct and the reconnect
// listing share are exported to its siblings only, not to this namespace.
export {
  stateTable,
  mapState,
  parseExitCode,
  parseTime,
  formatTime,
  parseSlurmMemory,
  maxArraySize,
  readIndices,
  expandIndices,
  type ParsedId,
  readJobId,
  parseJobId,
  squeueFormat,
  status,
  parseStatus,
  statusUsableOnFailure
} from "./status.js"
export * from "./accounting.js"
export * from "./control.js"
export * from "./dialect.js"

/** Slurm: the shared batch machinery speaking this dialect. */
export const slurm: Scheduler<"slurm"> = {
  name: "slurm",
  capabilities: batchCapabilities,
  detect: sightingOf("slurm"),
  logPath: { fill: fillLogPath, shown: showLogPath },
  layer: SlurmExecutor.layer
}
