/**
 * Grid Engine's dialect (Son of Grid Engine, Univa/Altair GE, Open Cluster Scheduler): everything
 * cluster-api says to SGE and reads back from it, as pure functions.
 *
 * - submit: a script with `#$` lines, `qsub -terse` answering the bare id (`7`, or `9.1-3:1` for
 *   an array);
 * - status: ONE `qstat -xml -u <user>` per poll, whatever the number of jobs: SGE lists the
 *   user's jobs, running ones under `queue_info` and waiting ones (a pending array's elements as
 *   one range) under `job_info`. Jobs it no longer lists have ended, or not yet been written to
 *   accounting: ONE `qacct` for all of them (never "assumed done");
 * - a job in error state (`Eqw`) is Failed; `qstat -j <ids>` says why, asked once;
 * - dependencies: `-hold_jid` only orders jobs (the dependent runs once the other has ended,
 *   however it ended), so a job with an `afterok` or `afternotok` dependency is also submitted
 *   held (`-h`) and the executor releases it (`qrls -h u`) or cancels it (see `Dialect.gate`);
 * - cancel: `qdel <ids>`, by name `qdel <pattern>`;
 * - out of memory: `-l h_vmem` is an address-space limit on each process (h_vmem × slots), so a
 *   program past it mostly has an allocation refused and ends on its own: exit 1 (Python's
 *   MemoryError, `tail: memory exhausted`), 2 (bash), SIGSEGV or SIGABRT (C, C++: `failed 100`).
 *   Only processes that together pass it are killed by execd (`failed 37`, exit 137). The first
 *   kind is OutOfMemory when its peak memory (the larger of qacct's `maxvmem`, sampled every few
 *   seconds, and `ru_maxrss`, exact but per process) reached 9/10 of the limit: measured at 93–99%
 *   for refused allocations, 10% and 75% for other failures. One allocation far past the limit,
 *   refused at once, leaves the peak low and stays the program's exit code.
 *
 * SGE prints times without a zone; they are the cluster's local time and are read as this
 * process's local time.
 */
import * as BatchExecutor from "../../BatchExecutor.js"
import { sightingOf } from "../../internal/detect/decide.js"
import { dialect } from "./dialect.js"

/** The dialect, as BatchExecutor speaks it (for tests and programs that build on it). */
export { dialect }

/** The executor: the shared batch machinery (BatchExecutor) speaking this dialect. */
export const make = BatchExecutor.make(dialect)

export const layer = BatchExecutor.layer(dialect)

/** Grid Engine: the shared batch machinery speaking this dialect. */
export const sge = BatchExecutor.scheduler("sge", layer, { detect: sightingOf("sge") })
