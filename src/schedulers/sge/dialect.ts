/** SGE's dialect: the whole of its syntax, for BatchExecutor (see index.ts). */
import type { Dialect } from "../../Scheduler.js"
import { accountingCommand, accountingNoRecord, parseAccounting } from "./accounting.js"
import { cancel, cancelByNameCommand, cancelOutcome, cancelledByName, listCommand, parseListing, parseTokens, release, tokenArgs, tokenCommand, tokenNoJobs } from "./control.js"
import { explainCommand, parseExplain, parseStatus, status } from "./status.js"
import { directives, gated, logFileName, parseSubmit, pathProblem, resolveLogPath, submit, validate } from "./syntax.js"

export const dialect: Dialect = {
  kind: "sge",
  logFileName,
  directives,
  pathProblem,
  validate,
  submit,
  parseSubmit,
  status,
  statusListsAll: true,
  parseStatus,
  // qstat lists jobs, not ids: an answer that says nothing of a job is not an error.
  statusUsableOnFailure: undefined,
  accounting: {
    command: accountingCommand,
    parse: parseAccounting,
    noRecord: accountingNoRecord
  },
  list: { command: listCommand, parse: parseListing },
  token: { args: tokenArgs, command: tokenCommand, parse: parseTokens, noJobs: tokenNoJobs },
  arrayIndexVariable: "SGE_TASK_ID",
  resolveLogPath,
  gate: { gated, release },
  explain: {
    wanted: (o) => o.status === "Failed" && o.reason?._tag === "SchedulerFailure" && /error state/.test(o.reason.detail),
    command: explainCommand,
    parse: parseExplain
  },
  cancel,
  cancelOutcome,
  cancelByName: { command: cancelByNameCommand, cancelled: cancelledByName }
}
