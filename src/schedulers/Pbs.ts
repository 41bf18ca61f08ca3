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
import { XMLParser } from "fast-xml-parser"
import { Either } from "effect"
import type {
  BatchListing,
  CancelOutcome,
  CancelRefusal,
  CommandAnswer,
  Dialect,
  Invocation,
  JobPaths,
  StatusContext,
  SubmitRequest
} from "../Scheduler.js"
import { scriptStemPlaceholder, submitScript } from "../Scheduler.js"
import type { ConfigOptions } from "../Config.js"
import type { Dependency, ElementObservation, JobRecord, Observation } from "../Domain.js"
import type { PreparedJob } from "../Executor.js"
import { indexPlaceholder } from "../Scheduler.js"
import { directiveValue as quotedValue, scriptShell, shellQuote, skipDirectives } from "../Script.js"
import { signalName, signalOfStatus } from "../Signals.js"
import { bytesIn, formatHMS } from "../Units.js"
import type { ObservedRow, StateOutcome } from "./Observed.js"
import { groupRows, listingFrom, parseMonthNameTime, validDate, wholeNumber } from "./Observed.js"
import type { TokenListing } from "./Token.js"
import { tokenMarker } from "./Token.js"

/** Which PBS: PBS Professional / OpenPBS, or TORQUE. */
export type Flavor = ConfigOptions["pbs_flavor"]

/**
 * A value on a `#PBS` line: as it is when it is one plain word (PBS Pro's `^array_index^`
 * included), else double-quoted, which qsub reads as one value.
 */
export const directiveValue = (value: string): string =>
  /^[\w@%+=:,./^-]+$/.test(value) ? value : quotedValue(value)

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/** The dependency types in the order they are written. */
const dependencyTypes: ReadonlyArray<Dependency["type"]> = ["afterok", "afternotok", "afterany"]

/** Whether a job id names an array (`1000[].server`). */
const isArrayId = (jobId: string): boolean => /^\d+\[\]/.test(jobId)

/**
 * The value of `-W depend=`: one group per type, each type once, its ids joined by `:`, the
 * groups joined by `,` (`afterok:1.s:2.s,afterany:3.s`). One `-W depend` line per type would be
 * wrong: PBS keeps only the last `depend` it reads. TORQUE needs the `…array` types for a
 * dependency on a whole array (`afterokarray:1000[].s`); PBS Pro takes the plain types.
 */
export const formatDependencies = (deps: ReadonlyArray<Dependency>, flavor: Flavor): string => {
  const groups = new Map<string, Array<string>>()
  for (const type of dependencyTypes) {
    for (const d of deps) {
      if (d.type !== type) continue
      const key = flavor === "torque" && isArrayId(d.jobId) ? `${type}array` : type
      const ids = groups.get(key) ?? []
      if (!ids.includes(d.jobId)) ids.push(d.jobId)
      groups.set(key, ids)
    }
  }
  return Array.from(groups, ([type, ids]) => [type, ...ids].join(":")).join(",")
}

/**
 * The array option: pro `-J start-end[:step][%max]` (subjob index in `PBS_ARRAY_INDEX`), torque
 * `-t start-end[%max]` (in `PBS_ARRAYID`; TORQUE has no step, see `validate`).
 */
export const formatArray = (array: NonNullable<PreparedJob["array"]>, flavor: Flavor): string => {
  const limit = array.maxConcurrent !== undefined ? `%${array.maxConcurrent}` : ""
  if (flavor === "torque") return `-t ${array.start}-${array.end}${limit}`
  const step = array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""
  return `-J ${array.start}-${array.end}${step}${limit}`
}

/**
 * Default log names, holding the script file stem (PBS cannot put the job id in them):
 * `stdout.{script}.log`; a pro array's subjobs `stdout.{script}.^array_index^.log` (PBS Pro puts
 * each subjob's index in place of `^array_index^`). TORQUE appends `-<index>` to an array
 * subjob's log path itself, so its arrays take the plain name (see `resolveLogPath`).
 */
export const logFileName = (flavor: Flavor) => (stream: "stdout" | "stderr", isArray: boolean): string =>
  isArray && flavor === "pro"
    ? `${stream}.${scriptStemPlaceholder}.^array_index^.log`
    : `${stream}.${scriptStemPlaceholder}.log`

/**
 * A log path as it will be on disk, the element's index left as `{index}`: pro's `^array_index^`
 * becomes `{index}`; TORQUE writes subjob N's log to the given path with `-N` appended.
 */
export const resolveLogPath = (flavor: Flavor) =>
(template: string, _jobId: string, _name: string, isArray: boolean): string => {
  if (!isArray) return template
  return flavor === "pro" ? template.replaceAll("^array_index^", indexPlaceholder) : `${template}-${indexPlaceholder}`
}

/**
 * `-l` resource lines. Memory is the job's per node (as Slurm's `--mem`), in whole MiB rounded
 * up (`8192mb`: PBS's `mb` is 1024² bytes).
 * - pro: one `select` chunk per node, `select=K:ncpus=N[:mem=Xmb][:ngpus=G]`, ncpus 1 unless
 *   more are asked, and with K > 1 `place=scatter` so that each chunk gets a host of its own
 *   (PBS Pro's default `free` may pack chunks onto one host);
 * - torque: `nodes=K:ppn=N[:gpus=G]` and `mem` for the whole job (K × the per-node memory).
 */
const resourceLines = (job: PreparedJob, flavor: Flavor): Array<string> => {
  const r = job.resources
  const nodes = r.nodes ?? 1
  const cpus = r.cpus ?? 1
  const mb = r.memoryBytes === undefined ? undefined : bytesIn(r.memoryBytes, "MB")
  const gpus = r.gpus !== undefined && r.gpus > 0 ? r.gpus : undefined
  if (flavor === "pro") {
    const chunk = [
      `${nodes}`,
      `ncpus=${cpus}`,
      ...(mb === undefined ? [] : [`mem=${mb}mb`]),
      ...(gpus === undefined ? [] : [`ngpus=${gpus}`])
    ].join(":")
    return [`-l select=${chunk}`, ...(nodes > 1 ? ["-l place=scatter"] : [])]
  }
  return [
    `-l nodes=${nodes}:ppn=${cpus}${gpus === undefined ? "" : `:gpus=${gpus}`}`,
    ...(mb === undefined ? [] : [`-l mem=${mb * nodes}mb`])
  ]
}

/**
 * `#PBS` lines, in this order:
 * - `-N name`;
 * - logs: `-o path` and `-e path`, or `-j oe` and `-o path` when both streams go to one file;
 * - pro `-k oed`: PBS Pro otherwise spools the logs on the execution host and copies them at the
 *   end, so nothing could be read while the job runs (`d`, direct write, is in PBS Pro 19.4 and
 *   OpenPBS; drop it with `directives_skip: ["-k oed"]` on an older server);
 * - `-m n` with `suppress_job_email` (PBS mails on abort by default);
 * - `-q queue`, `-A account`, `-l walltime=HH:MM:SS`, the resources (see `resourceLines`);
 * - `-V` when the job inherits this process's environment (PBS passes only `PBS_O_*` otherwise);
 * - `-S shell`, the shebang's: PBS ignores the shebang and runs the user's login shell;
 * - torque `-d runDir`. PBS starts a job in $HOME; PBS Pro has no working-directory option, so
 *   the script itself `cd`s there first (`preamble`), with both flavours;
 * - the array (`formatArray`), ONE `-W depend=…` (`formatDependencies`): PBS deletes a job whose
 *   dependency can never be met, so no gate is needed;
 * - the job's own extra directives.
 * Lines holding any of `directives_skip` are left out.
 */
export const directives = (flavor: Flavor) =>
(job: PreparedJob, paths: JobPaths, options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [`-N ${directiveValue(job.name)}`]
  if (paths.stdout === paths.stderr) lines.push("-j oe", `-o ${directiveValue(paths.stdout)}`)
  else lines.push(`-o ${directiveValue(paths.stdout)}`, `-e ${directiveValue(paths.stderr)}`)
  if (flavor === "pro") lines.push("-k oed")
  if (options.suppress_job_email) lines.push("-m n")
  if (r.queue !== undefined) lines.push(`-q ${directiveValue(r.queue)}`)
  if (r.account !== undefined) lines.push(`-A ${directiveValue(r.account)}`)
  if (r.walltime !== undefined) lines.push(`-l walltime=${formatHMS(r.walltime)}`)
  lines.push(...resourceLines(job, flavor))
  if (job.inheritEnv) lines.push("-V")
  const shell = scriptShell(options.shebang, job.loginShell)
  if (shell !== undefined) lines.push(`-S ${directiveValue(shell)}`)
  if (flavor === "torque") lines.push(`-d ${directiveValue(paths.runDir)}`)
  if (job.array !== undefined) lines.push(formatArray(job.array, flavor))
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) lines.push(`-W depend=${formatDependencies(deps, flavor)}`)
  return skipDirectives([...lines, ...r.extraDirectives].map((line) => `#PBS ${line}`), options.directives_skip)
}

/**
 * What PBS cannot run as asked: TORQUE's `-t` has no step; PBS Pro's `-J` needs a start below
 * its end (it refuses a one-index array); PBS reads `host:path` in `-o`/`-e`, so a log path with
 * a colon would name a host.
 */
export const validate = (flavor: Flavor) =>
(job: PreparedJob, options: ConfigOptions): { readonly field: string; readonly problem: string } | undefined => {
  const array = job.array
  if (array !== undefined && flavor === "torque" && array.step !== undefined && array.step !== 1) {
    return {
      field: "array",
      problem:
        `TORQUE's qsub -t has no step (asked ${array.start}-${array.end}:${array.step}); submit the range with step 1 and skip the other indices in the script, or use PBS Pro`
    }
  }
  if (array !== undefined && flavor === "pro" && array.start >= array.end) {
    return {
      field: "array",
      problem:
        `PBS Pro's qsub -J needs a start below the end (asked ${array.start}-${array.end}); submit a single job, or widen the range`
    }
  }
  for (
    const [field, value] of [
      ["resources.stdoutPath", job.resources.stdoutPath],
      ["resources.stderrPath", job.resources.stderrPath],
      ["log_directory", job.resources.workDir === undefined ? options.log_directory : undefined],
      ["resources.workDir", job.resources.workDir]
    ] as const
  ) {
    if (value !== undefined && value.includes(":")) {
      return {
        field,
        problem: `${JSON.stringify(value)} holds a colon, which PBS reads as host:path in -o and -e; use a path without one`
      }
    }
  }
  return undefined
}

/**
 * What qsub cannot be given in a path: in `-o`/`-e` a colon names a host (`host:path`), and PBS
 * Pro puts each subjob's index in place of `^array_index^`. (Both flavours take `-d` and the
 * script's `cd` as written.)
 */
export const pathProblem = (flavor: Flavor) => (path: string, use: "dir" | "log"): string | undefined => {
  if (use !== "log") return undefined
  if (path.includes(":")) {
    return `holds a colon (${JSON.stringify(path)}), which PBS reads as host:path in -o and -e; use a path without one`
  }
  return flavor === "pro" && path.includes("^array_index^")
    ? `holds ^array_index^ (${JSON.stringify(path)}), which PBS Pro replaces in -o and -e; use a path without it`
    : undefined
}

/**
 * `qsub [extra args] script`, or `qsub [extra args]` with the script on stdin (qsub reads its
 * `#PBS` lines either way). Everything else is in the script's directives.
 */
export const submit = (request: Omit<SubmitRequest, "paths">): Invocation => {
  return submitScript(["qsub", ...request.job.resources.extraArgs], request)
}

/** A PBS job id: `1000.server`, `1000[].server` (an array), the server part possibly dotted. */
const submittedId = /^(\d+(?:\[\])?(?:\.[\w.-]+)?)$/

/** The job id qsub printed (`1000.server`, `1000[].server`): its last line that is one. */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  for (let i = lines.length - 1; i >= 0; i--) {
    const id = submittedId.exec(lines[i]!)?.[1]
    if (id !== undefined) return Either.right(id)
  }
  return Either.left(`qsub printed no job id (expected "1234.server" or "1234[].server"): ${JSON.stringify(stdout.trim())}`)
}

// ---------------------------------------------------------------------------------------------
// States and exit statuses
// ---------------------------------------------------------------------------------------------

/**
 * What each job state means while the job is not finished. H (held: by a user, or by a
 * dependency not met yet) is Pending and `held`; W (waiting for its start time) and T (in
 * transit between servers) are Pending; E (exiting: the script ended, PBS is cleaning up) and
 * S/U (suspended) are Running, as is B (an array that has begun). M (moved to another server) is
 * Unknown here. The finished states (pro F, X for a subjob; torque C) are read by `finishedOutcome`.
 */
export const stateTable: Readonly<Record<string, StateOutcome>> = {
  Q: { status: "Pending" },
  H: { status: "Pending" },
  W: { status: "Pending" },
  T: { status: "Pending" },
  R: { status: "Running" },
  E: { status: "Running" },
  S: { status: "Running" },
  U: { status: "Running" },
  B: { status: "Running" },
  M: { status: "Unknown" }
}

/** Whether a state says the job (or subjob) finished: pro F and X, torque C. */
export const isFinishedState = (state: string, flavor: Flavor): boolean =>
  flavor === "pro" ? state === "F" || state === "X" : state === "C"

interface ExecCode {
  readonly name: string
  readonly outcome: StateOutcome
}

const failure = (detail: string): StateOutcome => ({ status: "Failed", reason: { _tag: "SchedulerFailure", detail } })

/** PBS's own (negative) exit statuses shared by both (`JOB_EXEC_*` in job.h). */
const sharedCodes: Readonly<Record<number, ExecCode>> = {
  [-1]: { name: "JOB_EXEC_FAIL1", outcome: failure("job could not start (JOB_EXEC_FAIL1)") },
  [-2]: { name: "JOB_EXEC_FAIL2", outcome: failure("job could not start after its files were staged (JOB_EXEC_FAIL2)") },
  [-3]: { name: "JOB_EXEC_RETRY", outcome: failure("job could not start and was to be retried (JOB_EXEC_RETRY)") },
  [-4]: { name: "JOB_EXEC_INITABT", outcome: failure("job aborted while its execution host restarted (JOB_EXEC_INITABT)") },
  [-5]: { name: "JOB_EXEC_INITRST", outcome: failure("job aborted while its execution host restarted (JOB_EXEC_INITRST)") },
  [-6]: { name: "JOB_EXEC_INITRMG", outcome: failure("job aborted while its execution host restarted (JOB_EXEC_INITRMG)") },
  [-7]: { name: "JOB_EXEC_BADRESRT", outcome: failure("job restart failed (JOB_EXEC_BADRESRT)") }
}

/** PBS Pro's codes past -7 (`src/include/job.h`). */
const proCodes: Readonly<Record<number, ExecCode>> = {
  ...sharedCodes,
  [-10]: { name: "JOB_EXEC_FAILUID", outcome: failure("job could not start: invalid user or group on the execution host (JOB_EXEC_FAILUID)") },
  [-11]: { name: "JOB_EXEC_RERUN", outcome: failure("job was to be rerun (JOB_EXEC_RERUN)") },
  [-12]: { name: "JOB_EXEC_CHKP", outcome: failure("job was checkpointed and killed (JOB_EXEC_CHKP)") },
  [-13]: { name: "JOB_EXEC_FAIL_PASSWORD", outcome: failure("job could not start: bad password (JOB_EXEC_FAIL_PASSWORD)") },
  [-14]: { name: "JOB_EXEC_RERUN_ON_SIS_FAIL", outcome: { status: "Failed", reason: { _tag: "NodeFailure" } } },
  [-15]: { name: "JOB_EXEC_QUERST", outcome: failure("job was requeued for restart (JOB_EXEC_QUERST)") },
  [-16]: { name: "JOB_EXEC_FAILHOOK_RERUN", outcome: failure("a hook refused to run the job (JOB_EXEC_FAILHOOK_RERUN)") },
  [-17]: { name: "JOB_EXEC_FAILHOOK_DELETE", outcome: failure("a hook refused to run the job (JOB_EXEC_FAILHOOK_DELETE)") },
  [-18]: { name: "JOB_EXEC_HOOK_RERUN", outcome: failure("a hook asked for the job to be rerun (JOB_EXEC_HOOK_RERUN)") },
  [-19]: { name: "JOB_EXEC_HOOK_DELETE", outcome: failure("a hook deleted the job (JOB_EXEC_HOOK_DELETE)") },
  [-20]: { name: "JOB_EXEC_RERUN_MS_FAIL", outcome: { status: "Failed", reason: { _tag: "NodeFailure" } } },
  [-21]: { name: "JOB_EXEC_FAIL_SECURITY", outcome: failure("job could not start: PBS security check failed (JOB_EXEC_FAIL_SECURITY)") },
  [-22]: { name: "JOB_EXEC_HOOKERROR", outcome: failure("a hook failed or timed out (JOB_EXEC_HOOKERROR)") },
  [-23]: { name: "JOB_EXEC_FAIL_KRB5", outcome: failure("job could not start: no Kerberos credentials (JOB_EXEC_FAIL_KRB5)") },
  [-24]: { name: "JOB_EXEC_KILL_NCPUS_BURST", outcome: failure("job killed for using more cpus than it asked for (JOB_EXEC_KILL_NCPUS_BURST)") },
  [-25]: { name: "JOB_EXEC_KILL_NCPUS_SUM", outcome: failure("job killed for using more cpus than it asked for (JOB_EXEC_KILL_NCPUS_SUM)") },
  [-26]: { name: "JOB_EXEC_KILL_VMEM", outcome: { status: "Failed", reason: { _tag: "OutOfMemory" } } },
  [-27]: { name: "JOB_EXEC_KILL_MEM", outcome: { status: "Failed", reason: { _tag: "OutOfMemory" } } },
  [-28]: { name: "JOB_EXEC_KILL_CPUT", outcome: failure("job killed for passing its cpu time limit (JOB_EXEC_KILL_CPUT)") },
  [-29]: { name: "JOB_EXEC_KILL_WALLTIME", outcome: { status: "Failed", reason: { _tag: "Timeout" } } },
  [-30]: { name: "JOB_EXEC_JOINJOB", outcome: failure("job could not start: its hosts could not be joined (JOB_EXEC_JOINJOB)") }
}

/** TORQUE's codes past -7 (`src/include/job.h`). */
const torqueCodes: Readonly<Record<number, ExecCode>> = {
  ...sharedCodes,
  [-8]: { name: "JOB_EXEC_CMDFAIL", outcome: failure("job could not start: the shell could not be run (JOB_EXEC_CMDFAIL)") },
  [-9]: { name: "JOB_EXEC_STDOUTFAIL", outcome: failure("job could not start: its stdout/stderr files could not be created (JOB_EXEC_STDOUTFAIL)") },
  [-10]: { name: "JOB_EXEC_OVERLIMIT_MEM", outcome: { status: "Failed", reason: { _tag: "OutOfMemory" } } },
  [-11]: { name: "JOB_EXEC_OVERLIMIT_WT", outcome: { status: "Failed", reason: { _tag: "Timeout" } } },
  [-12]: { name: "JOB_EXEC_OVERLIMIT_CPUT", outcome: failure("job killed for passing its cpu time limit (JOB_EXEC_OVERLIMIT_CPUT)") }
}

/**
 * What a finished job's exit status means: 0 Done; 1–255 the script's own exit code (129–255
 * from a shell is 128 + the signal that killed the command); 256 and up, the job was killed by
 * signal status − 256 (271: SIGTERM, as qdel of a running job; 265: SIGKILL); below 0, PBS's own
 * code (`JOB_EXEC_*`): past the walltime, over memory, could not start, ….
 */
export const exitOutcome = (flavor: Flavor, status: number): StateOutcome => {
  if (status === 0) return { status: "Done" }
  if (status >= 256) return { status: "Failed", reason: { _tag: "Signalled", signal: signalName(status - 256) } }
  if (status > 0) {
    const signal = signalOfStatus(status)
    return signal !== undefined
      ? { status: "Failed", reason: { _tag: "Signalled", signal } }
      : { status: "Failed", reason: { _tag: "NonZeroExit", exitCode: status } }
  }
  const known = (flavor === "pro" ? proCodes : torqueCodes)[status]
  return known?.outcome ?? failure(`PBS ended the job with its own exit status ${status}`)
}

/** `Job deleted as result of dependency on job 1000.server`: the id it names. */
const dependencyDeletion = /dependency on job\s+([^\s,;]+?)\.?(?:\s|$)/i

/**
 * How a finished job (or subjob) ended: its exit status when it has one (`exitOutcome`). Without
 * one it never ran: deleted because a dependency can never be met is Failed(DependencyFailed) —
 * TORQUE says so in its comment (`Job deleted as result of dependency on job <id>`), PBS Pro does
 * not (its server aborts the job without a comment), so there `waitedOn` are the `after…`
 * dependencies its `depend` still lists when the server, not qdel, ended it (see `readJob`);
 * otherwise it was deleted before it ran, Killed(Cancelled). One that started and has no exit
 * status is a SchedulerFailure.
 */
export const finishedOutcome = (
  flavor: Flavor,
  exitStatus: number | undefined,
  started: boolean,
  comment: string | undefined,
  waitedOn: ReadonlyArray<string> = []
): StateOutcome => {
  if (exitStatus !== undefined) return exitOutcome(flavor, exitStatus)
  const on = comment === undefined ? null : dependencyDeletion.exec(comment)
  if (on !== null) return { status: "Failed", reason: { _tag: "DependencyFailed", dependencies: [on[1]!] } }
  if (!started && waitedOn.length > 0) return { status: "Failed", reason: { _tag: "DependencyFailed", dependencies: waitedOn } }
  if (!started) return { status: "Killed", reason: { _tag: "Cancelled" } }
  return failure(`PBS reports the job finished without an exit status${comment === undefined ? "" : ` (${comment})`}`)
}

/**
 * How a finished array ended when PBS lists none of its subjobs: pro's parent Exit_status is 0
 * (every subjob exited 0), 1 (some exited non-zero) or 2 (a PBS error); without one, as any
 * finished job (deleted before it ran, or for a dependency).
 */
export const arrayOutcome = (
  flavor: Flavor,
  exitStatus: number | undefined,
  started: boolean,
  comment: string | undefined
): StateOutcome => {
  if (exitStatus === 0) return { status: "Done" }
  if (exitStatus === 1) return failure("some subjobs of the array exited non-zero (PBS lists none of them any more)")
  if (exitStatus !== undefined) return failure(`PBS reports the array ended with status ${exitStatus}`)
  return finishedOutcome(flavor, undefined, started, comment)
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

/** A value's text, undefined for empty or missing values. */
const text = (v: unknown): string | undefined => {
  if (v === undefined || v === null || typeof v === "object") return undefined
  const t = String(v).trim()
  return t === "" ? undefined : t
}

/**
 * A whole number (possibly negative) that fits PBS's C `int` (an exit status is one), undefined
 * otherwise.
 */
const integer = (v: unknown): number | undefined => {
  const t = text(v)
  const n = t !== undefined && /^-?\d{1,10}$/.test(t) ? Number(t) : undefined
  return n !== undefined && n >= -(2 ** 31) && n < 2 ** 31 ? n : undefined
}

/**
 * A PBS time: pro's `Fri Nov 11 17:57:05 2016` (ctime(3) form, local time), or TORQUE's epoch
 * seconds. Undefined for anything else.
 */
export const parseTime = (v: unknown): Date | undefined => {
  const t = text(v)
  if (t === undefined) return undefined
  if (/^\d+$/.test(t)) return Number(t) === 0 ? undefined : validDate(new Date(Number(t) * 1000))
  return parseMonthNameTime(t)
}

const unitPowers: Readonly<Record<string, number>> = { b: 0, kb: 1, mb: 2, gb: 3, tb: 4, pb: 5 }

/** PBS memory (`1234kb`, `2gb`, `512`: bytes; PBS's units are powers of 1024): bytes. */
export const parsePbsMemory = (v: unknown): number | undefined => {
  const m = /^(\d+)\s*([kmgtp]?b)?$/i.exec(text(v) ?? "")
  if (m === null) return undefined
  const power = unitPowers[(m[2] ?? "b").toLowerCase()]
  const bytes = power === undefined ? undefined : Number(m[1]) * 1024 ** power
  return bytes !== undefined && Number.isSafeInteger(bytes) ? bytes : undefined
}

/** The first host of `exec_host` (`node1/0*2+node2/0`, TORQUE `node1/0-3+node2/0`). */
export const firstHost = (v: unknown): string | undefined => {
  const first = text(v)?.split("+")[0]?.split("/")[0]?.trim()
  return first === undefined || first === "" ? undefined : first
}

/**
 * The jobs a `depend` value waits for (`afterok:1.s@s:2.s@s,beforeok:3.s@s` → `1.s`, `2.s`): the
 * ids of its `after`, `afterok`, `afternotok` and `afterany` groups, without their `@server`.
 */
export const waitedFor = (v: unknown): ReadonlyArray<string> =>
  (text(v) ?? "").split(",").flatMap((group) => {
    const [type, ...ids] = group.trim().split(":")
    return type !== undefined && /^after(?:ok|notok|any)?$/.test(type)
      ? ids.map((id) => id.split("@")[0]!.trim()).filter((id) => id !== "")
      : []
  })

/** PBS Pro's substate of a job qdel ended (JOB_SUBSTATE_TERMINATED); the server's own end is 92. */
const terminatedSubstate = 91

/** A PBS duration (`HH:MM:SS`, hours past 24 allowed) in seconds. */
const durationSeconds = (v: unknown): number | undefined => {
  const m = /^(\d{1,9}):([0-5]\d):([0-5]\d)$/.exec(text(v) ?? "")
  return m === null ? undefined : (Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])
}

/**
 * Whether a PBS Pro job was killed at its walltime by a MoM older than OpenPBS 22.05 (which has
 * no JOB_EXEC_KILL_WALLTIME): it ends the job with SIGTERM, then SIGKILL, as qdel does (Exit_status
 * 271 or 265), but the job was not qdel'd (substate not 91) and used all of its walltime.
 */
const killedAtWalltime = (flavor: Flavor, exitStatus: number | undefined, attrs: Readonly<Record<string, unknown>>) => {
  if (flavor !== "pro" || (exitStatus !== 256 + 15 && exitStatus !== 256 + 9)) return false
  if (integer(attrs.substate) === terminatedSubstate) return false
  const used = durationSeconds(nested(attrs, "resources_used", "walltime"))
  const limit = durationSeconds(nested(attrs, "Resource_List", "walltime"))
  return used !== undefined && limit !== undefined && limit > 0 && used >= limit
}

/** Whose row this is: a job or an array (`1000[].s`), or subjob `index` of array `jobId`. */
export interface PbsId {
  readonly jobId: string
  readonly index?: number | undefined
  /** The row is an array's own (`1000[].server`). */
  readonly parent: boolean
}

const idPattern = /^(\d+)(?:\[(\d*)\])?((?:\.[\w.-]+)?)$/

/**
 * `1000.s` (a job), `1000[].s` (an array), `1000[7].s` (subjob 7 of array `1000[].s`); undefined
 * for anything else, and for an index that is not a safe whole number (ranges are never
 * enumerated here: qstat -t lists each subjob).
 */
export const parseJobId = (id: string): PbsId | undefined => {
  const t = id.trim()
  const m = idPattern.exec(t)
  if (m === null) return undefined
  if (m[2] === undefined) return { jobId: t, parent: false }
  if (m[2] === "") return { jobId: t, parent: true }
  const index = wholeNumber(m[2])
  return index === undefined ? undefined : { jobId: `${m[1]}[]${m[3]}`, index, parent: false }
}

/** The job (or array) an id that `parseJobId` cannot read is about, when it names one. */
const jobOf = (id: string): string | undefined => {
  const m = idPattern.exec(id.trim())
  return m === null ? undefined : m[2] === undefined ? id.trim() : `${m[1]}[]${m[3]}`
}

/** A sub-object (`resources_used`), or a flat `resources_used.mem` key. */
const nested = (attrs: Readonly<Record<string, unknown>>, group: string, key: string): unknown => {
  const g = attrs[group]
  if (typeof g === "object" && g !== null) return (g as Record<string, unknown>)[key]
  return attrs[`${group}.${key}`]
}

// ---------------------------------------------------------------------------------------------
// qstat -f
// ---------------------------------------------------------------------------------------------

/** One job, array or subjob as qstat listed it, read. */
export interface PbsRow {
  readonly id: PbsId
  readonly name: string
  /** `Job_Owner`: `user@host`. */
  readonly owner: string | undefined
  readonly obs: Omit<ElementObservation, "index">
  /** What in the row about this job could not be read. */
  readonly unreadable?: string | undefined
}

/** The attribute names that differ between the flavours. */
const keys = {
  pro: { exit: "Exit_status", start: "stime", finish: "obittime" },
  torque: { exit: "exit_status", start: "start_time", finish: "comp_time" }
} as const

/** What one job's attributes say (`id` is its id as qstat printed it). */
export const readJob = (
  flavor: Flavor,
  id: string,
  attrs: Readonly<Record<string, unknown>>
): Either.Either<PbsRow, string> => {
  const parsed = parseJobId(id)
  if (parsed === undefined) return Either.left(`unreadable job id ${JSON.stringify(id)}`)
  const k = keys[flavor]
  const state = text(attrs.job_state) ?? ""
  const exitStatus = integer(attrs[k.exit])
  if (exitStatus === undefined && text(attrs[k.exit]) !== undefined) {
    return Either.left(`unreadable ${k.exit} ${JSON.stringify(text(attrs[k.exit]))} of job ${id} (PBS prints a whole number that fits a 32-bit int)`)
  }
  const startTime = parseTime(attrs[k.start])
  const execHost = firstHost(attrs.exec_host)
  const comment = text(attrs.comment)
  const started = startTime !== undefined || execHost !== undefined
  const finished = isFinishedState(state, flavor)
  const outcome: StateOutcome = !finished
    ? stateTable[state] ?? { status: "Unknown" }
    : !parsed.parent && killedAtWalltime(flavor, exitStatus, attrs)
    ? { status: "Failed", reason: { _tag: "Timeout" } }
    : parsed.parent
    ? arrayOutcome(flavor, exitStatus, started, comment)
    : finishedOutcome(
      flavor,
      exitStatus,
      started,
      comment,
      flavor === "pro" && integer(attrs.substate) !== terminatedSubstate ? waitedFor(attrs.depend) : []
    )
  const rawName = text(attrs.Job_Name) ?? ""
  // TORQUE names subjob N `name-N`; the array's name is `name`.
  const name = flavor === "torque" && parsed.index !== undefined && rawName.endsWith(`-${parsed.index}`)
    ? rawName.slice(0, -`-${parsed.index}`.length)
    : rawName
  return Either.right({
    id: parsed,
    name,
    owner: text(attrs.Job_Owner),
    obs: {
      status: outcome.status,
      reason: outcome.reason,
      exitCode: outcome.status === "Done"
        ? 0
        : finished && exitStatus !== undefined && exitStatus > 0 && exitStatus < 256 && !parsed.parent
        ? exitStatus
        : undefined,
      execHost,
      maxMem: parsePbsMemory(nested(attrs, "resources_used", "mem")),
      submitTime: parseTime(attrs.ctime),
      startTime,
      // A job requeued after a failed start (held, or queued again) keeps the obittime of that attempt.
      finishTime: finished ? parseTime(attrs[k.finish]) ?? parseTime(attrs.mtime) : undefined,
      held: state === "H" ? true : undefined
    }
  })
}

/** A bare value JSON reads: a number as JSON writes it, true, false or null. */
const jsonScalar = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/

/**
 * PBS Pro's JSON made parseable: qstat (before OpenPBS 20.0.1, openpbs#2049, #1255, #2541)
 * writes some values unescaped — a backslash not starting an escape (`ab\,c`); and up to 23.06.06
 * it writes unquoted any value strtod(3) reads whole, JSON number or not (`"foo":005`,
 * `"Job_Name":inf`, `.5`, `+1`, `1.`). Those are mended (such a value quoted as the text it is);
 * if the text still does not parse, the environment (`Variable_List`, one attribute per line,
 * where such values come from) and `Submit_arguments` are dropped, as nothing here reads them.
 */
export const parseProJson = (stdout: string): Either.Either<unknown, string> => {
  const attempt = (t: string): unknown => {
    try {
      return JSON.parse(t)
    } catch {
      return undefined
    }
  }
  const direct = attempt(stdout)
  if (direct !== undefined) return Either.right(direct)
  const mended = stdout
    .replace(/\\(?!["\\/bfnrt]|u[0-9a-fA-F]{4})/g, "\\\\")
    .replace(/^(\s*"[^"\n]*":\s*)([^"{[\s,][^\n,]*?)(\s*,?)$/gm, (line, key: string, value: string, end: string) =>
      jsonScalar.test(value) ? line : `${key}${JSON.stringify(value)}${end}`)
  const second = attempt(mended)
  if (second !== undefined) return Either.right(second)
  const kept: Array<string> = []
  let skipUntil: string | undefined
  for (const line of mended.split("\n")) {
    if (skipUntil !== undefined) {
      if (line === `${skipUntil}},` || line === `${skipUntil}}`) skipUntil = undefined
      continue
    }
    const block = /^(\s*)"Variable_List":\{\s*$/.exec(line)
    if (block !== null) {
      skipUntil = block[1]!
      continue
    }
    if (/^\s*"(?:Variable_List|Submit_arguments)":/.test(line)) continue
    kept.push(line)
  }
  // A dropped line may have been the last of its object: no comma before a closing brace.
  const third = attempt(kept.join("\n").replace(/,(\s*\})/g, "$1"))
  return third !== undefined
    ? Either.right(third)
    : Either.left(`not JSON: ${JSON.stringify(stdout.trim().slice(0, 200))}`)
}

/** The jobs of a `qstat -f -F json` answer: id → attributes (none without a `Jobs` key). */
export const parseProJobs = (
  stdout: string
): Either.Either<ReadonlyArray<readonly [string, Readonly<Record<string, unknown>>]>, string> => {
  if (stdout.trim() === "") return Either.right([])
  return Either.flatMap(parseProJson(stdout), (data) => {
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      return Either.left(`not a qstat JSON document: ${JSON.stringify(stdout.trim().slice(0, 200))}`)
    }
    const jobs = (data as { Jobs?: unknown }).Jobs
    if (jobs === undefined) return Either.right([])
    if (typeof jobs !== "object" || jobs === null) return Either.left(`"Jobs" is not an object`)
    return Either.right(
      Object.entries(jobs as Record<string, unknown>).flatMap(([id, attrs]) =>
        typeof attrs === "object" && attrs !== null ? [[id, attrs as Record<string, unknown>] as const] : []
      )
    )
  })
}

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name, jpath) => name === "Job" && jpath === "Data.Job"
})

/** The jobs of TORQUE's `qstat -f -x` answer (`<Data><Job><Job_Id>…`): id → attributes. */
export const parseTorqueJobs = (
  stdout: string
): Either.Either<ReadonlyArray<readonly [string, Readonly<Record<string, unknown>>]>, string> => {
  const t = stdout.trim()
  if (t === "") return Either.right([])
  if (!t.includes("<Data")) return Either.left(`not qstat XML: ${JSON.stringify(t.slice(0, 200))}`)
  // TORQUE's qstat prints one XML document per job id it was given, each with its declaration.
  const documents = t.match(/<Data\s*\/>|<Data>[\s\S]*?<\/Data>/g) ?? []
  const out: Array<readonly [string, Readonly<Record<string, unknown>>]> = []
  for (const document of documents) {
    let doc: unknown
    try {
      doc = xmlParser.parse(document, true)
    } catch (e) {
      return Either.left(`unreadable XML (${e instanceof Error ? e.message : String(e)}): ${JSON.stringify(document.slice(0, 200))}`)
    }
    const data = (doc as { Data?: unknown }).Data
    const jobs = typeof data === "object" && data !== null ? (data as { Job?: unknown }).Job : undefined
    if (jobs === undefined) continue
    if (!Array.isArray(jobs)) return Either.left("<Job> is not a list")
    for (const job of jobs) {
      if (typeof job !== "object" || job === null) continue
      const id = text((job as Record<string, unknown>).Job_Id)
      if (id === undefined) return Either.left("a <Job> without <Job_Id>")
      out.push([id, job as Record<string, unknown>])
    }
  }
  if (documents.length === 0) return Either.left(`no <Data> in ${JSON.stringify(t.slice(0, 200))}`)
  return Either.right(out)
}

/** Every row of a qstat answer, read. */
export const parseRows = (flavor: Flavor) => (stdout: string): Either.Either<ReadonlyArray<PbsRow>, string> =>
  Either.flatMap(flavor === "pro" ? parseProJobs(stdout) : parseTorqueJobs(stdout), (jobs) => {
    const rows: Array<PbsRow> = []
    for (const [id, attrs] of jobs) {
      const row = readJob(flavor, id, attrs)
      if (Either.isRight(row)) {
        rows.push(row.right)
        continue
      }
      // A row about a job that cannot be read leaves that job unread; one naming no job, the answer.
      const jobId = jobOf(id)
      if (jobId === undefined) return Either.left(row.left)
      rows.push({ id: { jobId, parent: false }, name: "", owner: text(attrs.Job_Owner), obs: { status: "Unknown" }, unreadable: row.left })
    }
    return Either.right(rows)
  })

/** A row as the shared grouping reads it. */
const observed = (row: PbsRow): ObservedRow => ({
  jobId: row.id.jobId,
  indices: row.id.index === undefined ? undefined : [row.id.index],
  name: row.name,
  obs: row.obs,
  unreadable: row.unreadable
})

/**
 * One observation per job. An array's subjobs become its elements, and the array's own row is
 * then dropped (its state is theirs). An array listed without any subjob (nothing of it is
 * instantiated yet, or TORQUE without `-t`) is observed by its own row: Pending while queued or
 * held, Running once begun, and once finished as pro's parent Exit_status says (`arrayOutcome`).
 * The record's elements already known then stay as they are.
 */
export const parseStatus = (flavor: Flavor) => (stdout: string): Either.Either<ReadonlyArray<Observation>, string> =>
  Either.map(parseRows(flavor)(stdout), (rows) => groupRows(rows.map(observed)))

/** `qstat -f -F json -x -t <ids>` (pro) or `qstat -f -x -t <ids>` (torque): one call for every job. */
export const status = (flavor: Flavor) => (jobs: ReadonlyArray<JobRecord>): Invocation => ({
  argv: [...(flavor === "pro" ? ["qstat", "-f", "-F", "json", "-x", "-t"] : ["qstat", "-f", "-x", "-t"]), ...jobs.map((j) => j.jobId)]
})

/**
 * What qstat prints on stderr about an id it cannot show (and still exits non-zero for): pro
 * `qstat: Unknown Job Id 1000.s` (153) and, without `-x`, `qstat: 1000.s Job has finished, use
 * -x or -H …` (35); TORQUE `qstat: Unknown Job Id Error 1000.s`.
 */
const unknownJobLine = /^qstat: (?:Unknown Job Id\b|\S+ Job has finished\b|Job has finished\b)/

/**
 * qstat exits non-zero when any id it was given is unknown, yet prints the others on stdout: an
 * answer whose stdout parses is read. With nothing on stdout, the answer is usable (no jobs)
 * only when every line on stderr is about an unknown or finished id; anything else (no contact
 * with the server) is a failed poll.
 */
export const statusUsableOnFailure = (flavor: Flavor) =>
(_exitCode: number | undefined, stdout: string, stderr: string): boolean => {
  if (stdout.trim() !== "") return Either.isRight(parseRows(flavor)(stdout))
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  return lines.length > 0 && lines.every((l) => unknownJobLine.test(l))
}

// ---------------------------------------------------------------------------------------------
// Reconnect and cancel
// ---------------------------------------------------------------------------------------------

/**
 * Every job qstat lists, for reconnecting after a restart: pro `qstat -f -F json -t` (PBS Pro's
 * `-u` does not combine with `-f`, so the owner is filtered in `parseListing`), torque
 * `qstat -f -x -t`. Finished jobs (TORQUE's C) are left alone by the executor; names are matched
 * against the prefix there too.
 */
export const listCommand = (flavor: Flavor) => (): Invocation => ({
  argv: flavor === "pro" ? ["qstat", "-f", "-F", "json", "-t"] : ["qstat", "-f", "-x", "-t"]
})

/** The user part of `Job_Owner` (`alice@login1` → `alice`). */
export const ownerName = (owner: string | undefined): string | undefined => owner?.split("@")[0]

/**
 * The jobs the listing shows, by id with their names, keeping those of `user` (every job when
 * `user` is undefined, as with `poll_all_users`).
 */
export const parseListing = (flavor: Flavor, user: string | undefined) =>
(stdout: string): Either.Either<ReadonlyArray<BatchListing>, string> =>
  Either.map(
    parseRows(flavor)(stdout),
    (rows) => listingFrom(rows.filter((r) => user === undefined || ownerName(r.owner) === user).map(observed))
  )

/** `qdel <ids>`. PBS cannot mark a job done: `done` is the executor's record only. */
export const cancel = (jobIds: ReadonlyArray<string>, _done: boolean): Invocation => ({ argv: ["qdel", ...jobIds] })

/**
 * What qdel says of a job that had already ended: it left the server (`Unknown Job Id`, TORQUE
 * `Unknown Job Id Error`, TORQUE 5 and later `nonexistent job id: <id>`), pro's `Job has
 * finished`, TORQUE's `Invalid state for job - COMPLETE`.
 */
const alreadyEnded = /Unknown Job Id|nonexistent job id|Job has finished|has already finished|Invalid state for job - COMPLETE/i

/** qdel's exit status when an id was unknown: PBSE_UNKJOBID (15001) & 0xff. */
const unknownJobExit = 153

/** The asked id a line names (as given, or with a different server part). */
const idIn = (line: string, jobIds: ReadonlyArray<string>): string | undefined => {
  const tokens = line.split(/\s+/).map((t) => t.replace(/[,;:.]+$/, ""))
  const seq = (id: string) => id.split(".")[0]!
  for (const id of jobIds) if (tokens.includes(id)) return id
  for (const id of jobIds) if (tokens.some((t) => seq(t) === seq(id) && /^\d/.test(t))) return id
  return undefined
}

/**
 * Reads qdel's answer id by id: silence is success; a line naming an id that had already ended
 * (see `alreadyEnded`) puts it in `ended`; any other line naming an id (`Unauthorized Request`)
 * is a refusal with its text. TORQUE 4.2's qdel prints nothing for an unknown id and exits 153:
 * that silence is read as every id having ended (the next poll tells each one's end). Any other
 * failure naming no id (no contact with the server) is an error.
 */
export const cancelOutcome = (
  jobIds: ReadonlyArray<string>,
  answer: CommandAnswer
): Either.Either<CancelOutcome, string> => {
  const ended: Array<string> = []
  const refused: Array<CancelRefusal> = []
  const lines = `${answer.stderr}\n${answer.stdout}`.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  for (const line of lines) {
    const id = idIn(line, jobIds)
    if (id === undefined) continue
    if (alreadyEnded.test(line)) ended.push(id)
    else refused.push({ jobId: id, detail: line.replace(/^qdel:\s*/, "") })
  }
  if (answer.exitCode === unknownJobExit && lines.length === 0) return Either.right({ ended: [...jobIds], refused: [] })
  if (answer.exitCode !== 0 && ended.length === 0 && refused.length === 0) {
    const said = answer.stderr.trim() || answer.stdout.trim()
    return Either.left(`qdel exited with ${answer.exitCode ?? "no exit code"}${said === "" ? " and printed nothing" : `: ${said}`}`)
  }
  return Either.right({ ended, refused })
}

// ---------------------------------------------------------------------------------------------
// The dialects
// ---------------------------------------------------------------------------------------------

/** The script's first line: PBS starts a job in $HOME, so it goes to its directory (or fails). */
export const preamble = (_job: PreparedJob, paths: JobPaths): ReadonlyArray<string> => [
  `cd ${shellQuote(paths.runDir)} || exit 1`
]

/** A submission's token, as a variable of the job's environment (`-v`; qstat -f shows Variable_List). */
export const tokenArgs = (token: string): ReadonlyArray<string> => ["-v", `CLUSTER_API_TOKEN=${tokenMarker(token)}`]

/** Every job with its attributes, elements and (PBS Pro) recently ended ones too. */
export const tokenCommand = (flavor: Flavor) => (): Invocation => ({
  argv: flavor === "pro" ? ["qstat", "-f", "-F", "json", "-x", "-t"] : ["qstat", "-f", "-x", "-t"]
})

/**
 * The jobs `tokenCommand` printed that carry a token: each token belongs to the job whose id came
 * last before it (`"ID":{` in PBS Pro's JSON, `<Job_Id>ID</Job_Id>` in TORQUE's XML), an element
 * to its array (`1[2].s` → `1[].s`). Read as text, so PBS Pro's unescaped Variable_List values
 * cannot make it unreadable.
 */
export const parseTokens = (stdout: string): Either.Either<ReadonlyArray<TokenListing>, string> => {
  const out = new Map<string, string>()
  let jobId: string | undefined
  const pattern = /"(\d+(?:\[\d*\])?(?:\.[\w.-]+)?)":\s*\{|<Job_Id>([^<]+)<\/Job_Id>|cluster-api:([0-9a-f]{8,64})\b/g
  for (const m of stdout.matchAll(pattern)) {
    const id = m[1] ?? m[2]
    if (id !== undefined) {
      const parsed = parseJobId(id)
      if (parsed === undefined) return Either.left(`unreadable job id ${JSON.stringify(id.trim())}`)
      jobId = parsed.jobId
      continue
    }
    if (jobId === undefined) return Either.left("a job's token came before any job id")
    if (!out.has(m[3]!)) out.set(m[3]!, jobId)
  }
  return Either.right(Array.from(out, ([token, id]) => ({ token, jobId: id })))
}

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
