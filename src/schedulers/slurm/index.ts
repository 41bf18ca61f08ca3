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
import * as BatchExecutor from "../../BatchExecutor.js"
import { sightingOf } from "../../internal/detect/decide.js"
import { slurmDialect } from "./dialect.js"
import { fillLogPath, showLogPath } from "./syntax.js"

/** The dialect, as BatchExecutor speaks it (for tests and programs that build on it). */
export { slurmDialect as dialect }

/** The executor: the shared batch machinery (BatchExecutor) speaking this dialect. */
export const make = BatchExecutor.make(slurmDialect)

export const layer = BatchExecutor.layer(slurmDialect)

/** Slurm: the shared batch machinery speaking this dialect. */
export const slurm = BatchExecutor.scheduler("slurm", layer, {
  detect: sightingOf("slurm"),
  logPath: { fill: fillLogPath, shown: showLogPath }
})
