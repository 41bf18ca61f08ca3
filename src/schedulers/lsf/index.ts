/**
 * IBM Spectrum LSF's dialect: everything cluster-api says to LSF and reads back from it, as pure
 * functions.
 *
 * - submit: a script with `#BSUB` lines, always on `bsub`'s stdin (`bsub < script`), whatever
 *   `use_stdin` says: LSF reads the `#BSUB` lines of a script given as a file only when lsf.conf
 *   sets `LSB_BSUB_PARSE_SCRIPT=Y`, off by default (IBM LSF 10.1, bsub's `job_script` argument);
 *   bsub answers `Job <ID> is submitted to queue <Q>.`;
 * - status: ONE `bjobs -a -json -o <fields> <ids>` for every tracked job. `-a` keeps finished jobs
 *   in the answer for LSF's CLEAN_PERIOD, so there is no separate accounting command. Array
 *   elements come back one record each (`123[4]`, or id `123` with the name `name[4]`) and are
 *   grouped under their array's id. An id LSF no longer knows comes back as a record with an
 *   `ERROR` field and is skipped: only the zombie timeout ends a job nobody reports;
 * - cancel: `bkill <ids>` (`bkill -d` to mark them done), by name `bkill -J <glob> 0`;
 * - reconnect: `bjobs -a -json -J "{prefix}-*"`, the jobs not ended yet.
 *
 * LSF prints times without a zone (`Jan  5 10:00:00 2024`, sometimes with a trailing ` L`); they
 * are LSF's local time and are read as this process's local time.
 */
import * as BatchExecutor from "../../BatchExecutor.js"
import { sightingOf } from "../../internal/detect/decide.js"
import { dialect } from "./dialect.js"

/** The dialect, as BatchExecutor speaks it (for tests and programs that build on it). */
export { dialect }

/** The executor: the shared batch machinery (BatchExecutor) speaking this dialect. */
export const make = BatchExecutor.make(dialect)

export const layer = BatchExecutor.layer(dialect)

/** LSF: the shared batch machinery speaking this dialect. */
export const lsf = BatchExecutor.scheduler("lsf", layer, { detect: sightingOf("lsf") })
