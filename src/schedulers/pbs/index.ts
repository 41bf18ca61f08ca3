/**
 * PBS's dialects: PBS Professional / OpenPBS (`pro`) and TORQUE (`torque`), everything
 * cluster-api says to PBS and reads back from it, as pure functions.
 *
 * - submit: a script with `#PBS` lines, `qsub [extra args] script` (or the script on stdin when
 *   `use_stdin`), answering the job id with its server: `1000.server`, `1000[].server` for an
 *   array. The id is kept whole: qstat and qdel take it, and it is what users see;
 * - status: ONE command for every tracked job:
 *   - pro: `qstat -f -F json -x -t <ids>`. `-x` adds finished jobs from the server's job history
 *     (so there is no separate accounting command), `-t` lists an array's subjobs
 *     (`1000[3].server`), which are grouped under their array;
 *   - torque: `qstat -f -x -t <ids>` (`-x` is XML there). TORQUE keeps a completed job (state C)
 *     for `keep_completed` seconds only, and has no accounting command to ask afterwards;
 *   an id qstat no longer knows is printed on stderr (`qstat: Unknown Job Id <id>`, exit 153)
 *   while the others are still printed on stdout: such an answer is read, and the unknown job
 *   gets no observation. A job missing from qstat is NEVER taken as done: only the zombie
 *   timeout ends it;
 * - cancel: `qdel <ids>`, read id by id (unknown or finished ids had already ended). PBS has no
 *   cancel by name: the tracked jobs that match are cancelled by id;
 * - reconnect: every job qstat lists (`qstat -f -F json -t`, torque `qstat -f -x -t`), kept when
 *   its `Job_Owner` is this user (anyone's with `poll_all_users`: pro's `-u` does not combine with
 *   `-f`, so the owner is filtered here).
 *
 * PBS does not put the job id into `-o`/`-e` paths: default log names hold the job's script file
 * stem (`scriptStemPlaceholder`), unique per job. Pro times are local-time text
 * (`Fri Nov 11 17:57:05 2016`), read as this process's local time; TORQUE's are epoch seconds.
 */
import type { ConfigOptions } from "../../Config.js"
import type { Dialect, StatusContext } from "../../Scheduler.js"
import { cancel, cancelOutcome, parseTokens, tokenCommand } from "./control.js"
import { listCommand, parseListing, parseStatus, status, statusUsableOnFailure } from "./status.js"
import type { Flavor } from "./syntax.js"
import { directives, logFileName, parseSubmit, pathProblem, preamble, resolveLogPath, submit, tokenArgs, validate } from "./syntax.js"

export * from "./control.js"
export * from "./status.js"
export * from "./syntax.js"

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
