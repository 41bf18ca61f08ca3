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
import { Effect, Layer } from "effect"
import * as BatchExecutor from "../../BatchExecutor.js"
import { sightingOf } from "../../internal/detect/decide.js"
import { ClusterConfig } from "../../Config.js"
import type { ConfigOptions } from "../../Config.js"
import { currentUser } from "../../internal/batch/context.js"
import { dialect } from "./dialect.js"

/** The dialect of a flavour (for tests and programs that build on it). */
export { dialect }

/** The dialect the config asks for: its flavour, reconnecting to this user's jobs unless `poll_all_users`. */
const dialectFor = (options: ConfigOptions) => dialect(options.pbs_flavor, { user: currentUser() }, options)

/** The executor for the configured flavour: the shared batch machinery speaking its dialect. */
export const make = Effect.flatMap(ClusterConfig, ({ options }) => BatchExecutor.make(dialectFor(options)))

export const layer = Layer.unwrapEffect(
  Effect.map(ClusterConfig, ({ options }) => BatchExecutor.layer(dialectFor(options)))
)

/** PBS (Professional, OpenPBS or TORQUE, as `pbs_flavor` says): the shared batch machinery speaking this dialect. */
export const pbs = BatchExecutor.scheduler("pbs", layer, { detect: sightingOf("pbs") })
