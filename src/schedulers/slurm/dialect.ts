/** Slurm's dialect: the whole of its syntax, for BatchExecutor (see index.ts). */
import type { Dialect } from "../../Scheduler.js"
import { accountingCommand, accountingUnavailable, fallbackCommand, parseAccounting, parseScontrol } from "./accounting.js"
import { cancel, cancelOutcome, listCommand, parseListing, parseTokens, tokenArgs, tokenCommand } from "./control.js"
import { parseStatus, status, statusByUser, statusUsableOnFailure } from "./status.js"
import { directives, escapeLogPath, logFileName, parseSubmit, pathProblem, resolveLogPath, submit } from "./syntax.js"

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
  // An empty listing is an empty answer with exit 0: no `noJobs` needed.
  statusByUser: { command: (_jobs, options) => statusByUser(options.poll_all_users) },
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
