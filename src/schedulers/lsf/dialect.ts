/** LSF's dialect: the whole of its syntax, for BatchExecutor (see index.ts). */
import type { Dialect } from "../../Scheduler.js"
import { cancel, cancelByNameCommand, cancelOutcome, cancelledByName, listCommand, listNoJobs, parseListing, parseTokens, tokenArgs, tokenCommand, tokenNoJobs } from "./control.js"
import { parseStatus, status, statusUsableOnFailure } from "./status.js"
import { directives, logFileName, parseSubmit, pathProblem, resolveLogPath, submit } from "./syntax.js"

export const dialect: Dialect = {
  kind: "lsf",
  logFileName,
  directives,
  pathProblem,
  submit,
  parseSubmit,
  status,
  parseStatus,
  statusUsableOnFailure,
  list: { command: listCommand, parse: parseListing, noJobs: listNoJobs },
  token: { args: tokenArgs, command: tokenCommand, parse: parseTokens, noJobs: tokenNoJobs },
  arrayIndexVariable: "LSB_JOBINDEX",
  loginShellOnSubmit: true,
  resolveLogPath,
  cancel,
  cancelOutcome,
  cancelByName: { command: cancelByNameCommand, cancelled: cancelledByName }
}
