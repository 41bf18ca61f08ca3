/** PBS's dialect: the whole of its syntax, for BatchExecutor (see index.ts). */
import type { ConfigOptions } from "../../Config.js"
import type { Dialect, StatusContext } from "../../Scheduler.js"
import { cancel, cancelOutcome, parseTokens, tokenCommand } from "./control.js"
import { listCommand, parseListing, parseStatus, status, statusUsableOnFailure } from "./status.js"
import type { Flavor } from "./syntax.js"
import { directives, logFileName, parseSubmit, pathProblem, preamble, resolveLogPath, submit, tokenArgs, validate } from "./syntax.js"

/**
 * One PBS flavour's dialect. `owner` keeps reconnect to that user's jobs (undefined: everyone's,
 * as with `poll_all_users`); the listing's parser is not told who asks, so the executor's layer
 * says it here.
 */
export const makeDialect = (flavor: Flavor, owner?: string): Dialect => ({
  kind: "pbs",
  logFileName: logFileName(flavor),
  directives: directives(flavor),
  validate: validate(flavor),
  pathProblem: pathProblem(flavor),
  preamble,
  submit,
  parseSubmit,
  status: status(flavor),
  parseStatus: parseStatus(flavor),
  statusUsableOnFailure: statusUsableOnFailure(flavor),
  // No `statusByUser`: qstat's `-u` does not combine with `-f` (pro or TORQUE), which is what
  // carries the exit status, and `qstat -f -x` without ids lists every user's jobs with the
  // server's whole history. Past the command-line limit the ids are split instead.
  // An empty queue is an empty answer with exit 0: no `noJobs` needed.
  list: { command: listCommand(flavor), parse: parseListing(flavor, owner) },
  token: { args: tokenArgs, command: tokenCommand(flavor), parse: parseTokens },
  resolveLogPath: resolveLogPath(flavor),
  arrayIndexVariable: flavor === "pro" ? "PBS_ARRAY_INDEX" : "PBS_ARRAYID",
  cancel,
  cancelOutcome
})

/** PBS Professional / OpenPBS, listing every owner's jobs on reconnect. */
export const proDialect: Dialect = makeDialect("pro")

/** TORQUE, listing every owner's jobs on reconnect. */
export const torqueDialect: Dialect = makeDialect("torque")

/**
 * The dialect of `flavor`, reconnecting to `context.user`'s jobs (everyone's with
 * `poll_all_users`).
 */
export const dialect = (flavor: Flavor, context?: StatusContext, options?: Pick<ConfigOptions, "poll_all_users">): Dialect =>
  context === undefined || options?.poll_all_users === true ? makeDialect(flavor) : makeDialect(flavor, context.user)
