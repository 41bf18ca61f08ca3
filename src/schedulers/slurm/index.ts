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
import type { Dialect } from "../../Scheduler.js"
import { accountingCommand, accountingUnavailable, fallbackCommand, parseAccounting, parseScontrol } from "./accounting.js"
import { cancel, cancelOutcome, listCommand, parseListing, parseTokens, tokenArgs, tokenCommand } from "./control.js"
import { parseStatus, status, statusUsableOnFailure } from "./status.js"
import { directives, escapeLogPath, logFileName, parseSubmit, pathProblem, resolveLogPath, submit } from "./syntax.js"

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

export const slurmDialect: Dialect = {
  kind: "slurm",
  logFileName,
  directives,
  pathProblem,
  escapeLogPath,
  submit,
  parseSubmit,
  status,
  parseStatus,
  statusUsableOnFailure,
  accounting: {
    command: accountingCommand,
    parse: parseAccounting,
    unavailable: accountingUnavailable,
    fallback: { command: fallbackCommand, parse: parseScontrol }
  },
  list: { command: listCommand, parse: parseListing },
  token: { args: tokenArgs, command: tokenCommand, parse: parseTokens },
  arrayIndexVariable: "SLURM_ARRAY_TASK_ID",
  resolveLogPath,
  cancel,
  cancelOutcome
}
