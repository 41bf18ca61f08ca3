/** LSF's dialect: the whole of its syntax, for BatchExecutor (see index.ts). */
import type { ConfigOptions } from "../../Config.js"
import type { JobRecord } from "../../Domain.js"
import * as JobName from "../../JobName.js"
import type { Dialect, Invocation } from "../../Scheduler.js"
import { cancel, cancelByNameCommand, cancelOutcome, cancelledByName, listCommand, listNoJobs, parseListing, parseTokens, tokenArgs, tokenCommand, tokenNoJobs } from "./control.js"
import { parseStatus, status, statusByUser, statusUsableOnFailure } from "./status.js"
import { directives, logFileName, parseSubmit, pathProblem, resolveLogPath, submit } from "./syntax.js"

/**
 * This user's jobs for a poll past the command-line limit, narrowed with `-J {prefix}-*` when
 * every tracked job carries the configured name prefix (as py-cluster-api asks); a job tracked
 * from elsewhere under another name would be left out by it, so then every job of the user is
 * listed.
 */
export const statusByUserCommand = (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions): Invocation => {
  const prefix = options.job_name_prefix
  const pattern = JobName.listingPattern(prefix)
  const shared = pattern !== undefined && jobs.every((j) => JobName.isOurs(prefix, j.name))
  return statusByUser(options, shared ? pattern : undefined)
}

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
  // bjobs answers an empty listing by saying "No unfinished job found" (exit 255), as on reconnect.
  statusByUser: { command: statusByUserCommand, noJobs: listNoJobs },
  list: { command: listCommand, parse: parseListing, noJobs: listNoJobs },
  token: { args: tokenArgs, command: tokenCommand, parse: parseTokens, noJobs: tokenNoJobs },
  arrayIndexVariable: "LSB_JOBINDEX",
  loginShellOnSubmit: true,
  resolveLogPath,
  cancel,
  cancelOutcome,
  cancelByName: { command: cancelByNameCommand, cancelled: cancelledByName }
}
