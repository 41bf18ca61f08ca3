/**
 * Slurm's dialect: everything cluster-api says to Slurm and reads back from it, as pure functions.
 *
 * - submit: a script with `#SBATCH` lines, `sbatch --parsable` (prints `ID` or `ID;CLUSTER`);
 * - status: ONE `squeue -h -j <ids> -o <fields>` for every tracked job, fields split by `|` with the
 *   job name last (it is the only free-text field), pending array elements compressed as
 *   `ID_[2-4,7%10]` and expanded here;
 * - accounting: ONE `sacct -P -n -j <ids> --starttime <earliest submit>` for the jobs squeue no
 *   longer shows. Not `-X`: the `.batch` step row is where Slurm reports MaxRSS and how the job's
 *   shell really ended (an over-memory kill is `CANCELLED by 0` on the batch step of a FAILED job);
 * - when accounting is disabled: `scontrol show job -o` for jobs still held by the controller;
 * - cancel: `scancel <ids>`; reconnect: `squeue --me`.
 *
 * Times without a zone are Slurm's local time and are read as this process's local time.
 */
import { Either } from "effect"
import type {
  BatchListing,
  CommandAnswer,
  CancelOutcome,
  CancelRefusal,
  Dialect,
  Invocation,
  JobPaths,
  SubmitRequest
} from "../Scheduler.js"
import { submitScript } from "../Scheduler.js"
import type { ConfigOptions } from "../Config.js"
import type { Dependency, ElementObservation, JobRecord, Observation } from "../Domain.js"
import { formatArraySpec, isTerminalStatus } from "../Domain.js"
import type { PreparedJob } from "../Executor.js"
import { directiveValue } from "../Script.js"
import { signalName } from "../Signals.js"
import type { ObservedRow, StateOutcome } from "./Observed.js"
import { exitCodeOf, expandRanges, groupRows, listingFrom, validDate } from "./Observed.js"
import { formatSlurmTime, memoryInMegabytes, parseMemory } from "../Units.js"
import type { TokenListing } from "./Token.js"
import { tokenIn, tokenMarker } from "./Token.js"

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------


/** `afterok:1:2,afterany:3`: ids grouped by type in first-seen order; every group must be met. */
export const formatDependencies = (deps: ReadonlyArray<Dependency>): string => {
  const groups = new Map<string, Array<string>>()
  for (const d of deps) {
    const ids = groups.get(d.type) ?? []
    if (!ids.includes(d.jobId)) ids.push(d.jobId)
    groups.set(d.type, ids)
  }
  return Array.from(groups, ([type, ids]) => `${type}:${ids.join(":")}`).join(",")
}

export const logFileName = (stream: "stdout" | "stderr", isArray: boolean): string =>
  `${stream}.${isArray ? "%A_%a" : "%j"}.log`

export const directives = (job: PreparedJob, paths: JobPaths, _options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [
    `--job-name=${directiveValue(job.name)}`,
    `--output=${directiveValue(paths.stdout)}`,
    `--error=${directiveValue(paths.stderr)}`,
    `--chdir=${directiveValue(paths.runDir)}`
  ]
  if (r.nodes !== undefined) lines.push(`--nodes=${r.nodes}`)
  if (r.cpus !== undefined) lines.push(`--cpus-per-task=${r.cpus}`)
  if (r.memoryBytes !== undefined) lines.push(`--mem=${memoryInMegabytes(r.memoryBytes)}M`)
  if (r.walltime !== undefined) lines.push(`--time=${formatSlurmTime(r.walltime)}`)
  if (r.queue !== undefined) lines.push(`--partition=${directiveValue(r.queue)}`)
  if (r.account !== undefined) lines.push(`--account=${directiveValue(r.account)}`)
  if (r.gpus !== undefined && r.gpus > 0) lines.push(`--gres=gpu:${r.gpus}`)
  if (job.array !== undefined) lines.push(`--array=${formatArraySpec(job.array)}`)
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) {
    lines.push(`--dependency=${formatDependencies(deps)}`)
    // A dependency that can never be met cancels the job instead of leaving it pending forever.
    lines.push("--kill-on-invalid-dep=yes")
  }
  return [...lines, ...r.extraDirectives].map((line) => `#SBATCH ${line}`)
}

/**
 * A literal path as `--output`/`--error` must say it: sbatch expands `%j`, `%x`, `%a`, `%u`, … in
 * them, and `%%` is its literal `%`. (`--chdir` takes its path as written.)
 */
export const escapeLogPath = (path: string): string => path.replaceAll("%", "%%")

/**
 * What sbatch cannot be given in a path: in `--output`/`--error` a backslash turns its filename
 * patterns off and is dropped, so no literal backslash can be said there (the job's own `%j`
 * would stay unexpanded too).
 */
export const pathProblem = (path: string, use: "dir" | "log"): string | undefined =>
  use === "log" && path.includes("\\")
    ? `holds a backslash (${JSON.stringify(path)}), which Slurm drops from log paths (and then expands none of their %j patterns); use a path without one`
    : undefined

/**
 * The "signal" of a job whose script slurmd could not start because it could not set up the job's
 * output (it could not open the stdout or stderr file): FAILED with ExitCode `0:53`, its batch
 * step CANCELLED `0:53`, and `Reason=JobLaunchFailure` in scontrol (recorded on Slurm 22.05).
 */
export const launchFailureSignal = 53

/** What a job that ended with `launchFailureSignal` is told. */
export const launchFailureDetail =
  "Slurm could not start the job's script: slurmd could not set up its output (exit code 0:53), as when the stdout or stderr file cannot be opened; check that the log paths' directories exist and are writable"

/**
 * sbatch's filename patterns known at submit time: `%j`/`%J` and `%A` (the job id), `%x` (the
 * name), `%%`. `%a` (the element's index) stays for each element to fill in.
 */
export const resolveLogPath = (template: string, jobId: string, name: string): string =>
  template.replace(/%(%|[jJAx])/g, (_, c: string) => c === "%" ? "%%" : c === "x" ? name : jobId)

export const submit = (
  request: Omit<SubmitRequest, "paths">
): Invocation => {
  const args = [
    "sbatch",
    "--parsable",
    ...(request.job.inheritEnv ? [] : ["--export=NONE"]),
    ...request.job.resources.extraArgs
  ]
  return submitScript(args, request)
}

/** The job id from `sbatch --parsable`: `ID` or `ID;CLUSTER` on the last line. */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  const last = lines[lines.length - 1]
  const m = last === undefined ? null : /^(\d+)(?:;\S+)?$/.exec(last)
  return m?.[1] !== undefined
    ? Either.right(m[1])
    : Either.left(`sbatch printed no job id (expected "ID" or "ID;CLUSTER"): ${JSON.stringify(stdout.trim())}`)
}

// ---------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------

/** Every job state Slurm prints (long form), and what it means here. */
export const stateTable: Readonly<Record<string, StateOutcome>> = {
  PENDING: { status: "Pending" },
  CONFIGURING: { status: "Pending" },
  REQUEUED: { status: "Pending" },
  REQUEUE_HOLD: { status: "Pending" },
  REQUEUE_FED: { status: "Pending" },
  RESV_DEL_HOLD: { status: "Pending" },
  SPECIAL_EXIT: { status: "Pending" },
  RUNNING: { status: "Running" },
  COMPLETING: { status: "Running" },
  SUSPENDED: { status: "Running" },
  STOPPED: { status: "Running" },
  RESIZING: { status: "Running" },
  SIGNALING: { status: "Running" },
  STAGE_OUT: { status: "Running" },
  COMPLETED: { status: "Done" },
  FAILED: { status: "Failed" },
  TIMEOUT: { status: "Failed", reason: { _tag: "Timeout" } },
  OUT_OF_MEMORY: { status: "Failed", reason: { _tag: "OutOfMemory" } },
  NODE_FAIL: { status: "Failed", reason: { _tag: "NodeFailure" } },
  BOOT_FAIL: { status: "Failed", reason: { _tag: "NodeFailure" } },
  PREEMPTED: { status: "Failed", reason: { _tag: "Preempted" } },
  DEADLINE: { status: "Failed", reason: { _tag: "SchedulerFailure", detail: "reached its deadline (--deadline)" } },
  REVOKED: { status: "Killed", reason: { _tag: "SchedulerFailure", detail: "revoked: a sibling cluster runs it" } },
  CANCELLED: { status: "Killed", reason: { _tag: "Cancelled" } }
}

/** Short codes (`squeue %t`, `scontrol` never prints them but users paste them). */
const shortCodes: Readonly<Record<string, string>> = {
  PD: "PENDING",
  CF: "CONFIGURING",
  RQ: "REQUEUED",
  RH: "REQUEUE_HOLD",
  RF: "REQUEUE_FED",
  RD: "RESV_DEL_HOLD",
  SE: "SPECIAL_EXIT",
  R: "RUNNING",
  CG: "COMPLETING",
  S: "SUSPENDED",
  ST: "STOPPED",
  RS: "RESIZING",
  SI: "SIGNALING",
  SO: "STAGE_OUT",
  CD: "COMPLETED",
  F: "FAILED",
  TO: "TIMEOUT",
  OOM: "OUT_OF_MEMORY",
  NF: "NODE_FAIL",
  BF: "BOOT_FAIL",
  PR: "PREEMPTED",
  DL: "DEADLINE",
  RV: "REVOKED",
  CA: "CANCELLED"
}

/**
 * A state as printed (`CANCELLED by 1001`, `CANCELLED+` from a narrow column, `RUNNING`), mapped;
 * undefined for a state this table does not know. `by` is the uid that cancelled the job.
 */
export const mapState = (text: string): StateOutcome | undefined => {
  const m = /^([A-Z_]+)\+?(?:\s+by\s+(\S+))?\s*$/.exec(text.trim())
  if (m === null) return undefined
  const name = shortCodes[m[1]!] ?? m[1]!
  const outcome = stateTable[name]
  if (outcome === undefined) return undefined
  if (name === "CANCELLED" && m[2] !== undefined) {
    return { status: "Killed", reason: { _tag: "Cancelled", by: m[2] } }
  }
  return outcome
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

/** `ExitCode` as `rc:signal`, each from 0 to 255; undefined otherwise. */
export const parseExitCode = (text: string): { readonly rc: number; readonly signal: number } | undefined => {
  const m = /^(\d+):(\d+)$/.exec(text.trim())
  const rc = exitCodeOf(m?.[1])
  const signal = exitCodeOf(m?.[2])
  return rc === undefined || signal === undefined ? undefined : { rc, signal }
}

/** A Slurm time (`2026-11-21T11:58:48`, local), or undefined for `Unknown`, `None`, `N/A`. */
export const parseTime = (text: string | undefined): Date | undefined => {
  const m = text === undefined ? null : /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)$/.exec(text.trim())
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  return validDate(new Date(y, mo - 1, d, h, mi, s))
}

/** A time as Slurm reads it on the command line (local, no zone). */
export const formatTime = (date: Date): string => {
  const p = (n: number) => String(n).padStart(2, "0")
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${
    p(date.getMinutes())
  }:${p(date.getSeconds())}`
}

/** Memory as sacct prints it (`102400K`, `1.50G`, `200M`, `0`): bytes, undefined when empty or 0. */
export const parseSlurmMemory = (text: string | undefined): number | undefined => {
  const t = text?.trim() ?? ""
  if (t === "" || t === "0") return undefined
  // ReqMem of older versions ends in `n` (per node) or `c` (per cpu).
  const parsed = parseMemory(t.replace(/[nc]$/, ""))
  return Either.isRight(parsed) ? parsed.right : undefined
}

const host = (text: string | undefined): string | undefined => {
  const t = text?.trim() ?? ""
  return t === "" || t === "(null)" || t === "None assigned" || t === "N/A" ? undefined : t
}

/**
 * The most elements (and one past the highest index) a Slurm array can have: `MaxArraySize` in
 * slurm.conf(5) is 1001 by default and may not exceed 4000001. A range past it is refused, never
 * enumerated.
 */
export const maxArraySize = 4_000_001

/** `2-4,7,9-12:2` (a `%N` throttle removed first) as indices, or what is wrong with it. */
export const readIndices = (text: string): Either.Either<ReadonlyArray<number>, string> =>
  Either.filterOrLeft(
    expandRanges(text.replace(/%\d+$/, ""), maxArraySize),
    (indices) => indices.every((i) => i < maxArraySize),
    () => `array index past Slurm's largest MaxArraySize (${maxArraySize}) in ${JSON.stringify(text)}`
  )

/** Expands `2-4,7,9-12:2` (a `%N` throttle removed first) into indices; undefined when unreadable. */
export const expandIndices = (text: string): ReadonlyArray<number> | undefined => Either.getOrUndefined(readIndices(text))

/** A job id as Slurm prints it: `5`, `3_1` (element), `3_[2-4%10]` (pending elements). */
export type ParsedId =
  | { readonly _tag: "Job"; readonly jobId: string }
  | { readonly _tag: "Elements"; readonly jobId: string; readonly indices: ReadonlyArray<number> }

/** A job id as Slurm prints it, or what is wrong with it (an index out of range, …). */
export const readJobId = (text: string): Either.Either<ParsedId, string> => {
  const t = text.trim()
  const plain = /^(\d+)$/.exec(t)
  if (plain !== null) return Either.right({ _tag: "Job", jobId: plain[1]! })
  const element = /^(\d+)_(\d+)$/.exec(t)
  const compressed = /^(\d+)_\[([\d,:%-]+)\]$/.exec(t)
  const range = element?.[2] ?? compressed?.[2]
  const jobId = element?.[1] ?? compressed?.[1]
  if (range === undefined || jobId === undefined) return Either.left(`unreadable job id ${JSON.stringify(text)}`)
  return Either.match(readIndices(range), {
    onLeft: (problem) => Either.left(`job id ${JSON.stringify(t)}: ${problem}`),
    onRight: (indices) => Either.right({ _tag: "Elements", jobId, indices })
  })
}

export const parseJobId = (text: string): ParsedId | undefined => Either.getOrUndefined(readJobId(text))

/** The job a line is about when the rest of it cannot be read: its leading job id. */
const leadingJobId = (line: string): string | undefined => /^\s*(\d+)(?=[_.|\s]|$)/.exec(line)?.[1]

/** One row per parsed id, for grouping. */
const observed = (
  id: ParsedId,
  obs: Omit<ElementObservation, "index">,
  name?: string,
  unreadable?: string
): ObservedRow => ({
  jobId: id.jobId,
  indices: id._tag === "Elements" ? id.indices : undefined,
  name,
  obs,
  unreadable
})

interface IdRow {
  readonly id: ParsedId
  readonly name?: string | undefined
  readonly obs: Omit<ElementObservation, "index">
  /** What in the row about this job could not be read. */
  readonly unreadable?: string | undefined
}

/** A row about job `jobId` that could not be read, for `problem`. */
const unreadableRow = (jobId: string, problem: string): IdRow => ({
  id: { _tag: "Job", jobId },
  obs: { status: "Unknown" },
  unreadable: problem
})

/**
 * The rows with each row of several elements (a pending range, `26_[3-6%2]`) narrowed to the
 * elements no row of one element names. sacct keeps an array's pending-range row as it was when
 * the range was first written until its last element starts, so it still names elements that
 * started, even ended, since; their own rows (`26_3 RUNNING`) say where they are.
 */
const withoutStaleRanges = (rows: ReadonlyArray<IdRow>): ReadonlyArray<IdRow> => {
  const named = new Set<string>()
  for (const { id } of rows) if (id._tag === "Elements" && id.indices.length === 1) named.add(`${id.jobId}_${id.indices[0]}`)
  return rows.flatMap((row): ReadonlyArray<IdRow> => {
    const id = row.id
    if (id._tag !== "Elements" || id.indices.length === 1) return [row]
    const indices = id.indices.filter((i) => !named.has(`${id.jobId}_${i}`))
    if (indices.length === id.indices.length) return [row]
    return indices.length === 0 ? [] : [{ ...row, id: { ...id, indices } }]
  })
}

/**
 * Groups per-element observations under their array's id; plain jobs pass through. A range row
 * speaks only for the elements no row of their own names (`withoutStaleRanges`).
 */
const collect = (rows: ReadonlyArray<IdRow>): ReadonlyArray<Observation> =>
  groupRows(withoutStaleRanges(rows).map(({ id, name, obs, unreadable }) => observed(id, obs, name, unreadable)))

const splitLines = (stdout: string): Array<string> => stdout.split("\n").filter((l) => l.trim().length > 0)

/**
 * One `|`-separated line as its named fields. The last field takes the rest of the line, `|`s
 * included: both squeue and sacct are asked for the free-text job name last.
 */
const splitFields = <const K extends string>(
  line: string,
  names: ReadonlyArray<K>
): Either.Either<Readonly<Record<K, string>>, string> => {
  const parts = line.split("|")
  if (parts.length < names.length) {
    return Either.left(`expected ${names.length} fields separated by | in ${JSON.stringify(line)}`)
  }
  const fields = {} as Record<K, string>
  names.forEach((name, i) => {
    fields[name] = i === names.length - 1 ? parts.slice(i).join("|") : parts[i]!
  })
  return Either.right(fields)
}

// ---------------------------------------------------------------------------------------------
// squeue
// ---------------------------------------------------------------------------------------------

/** Job id, state, reason, nodes, submit, start, then the name (free text, so last). */
export const squeueFormat = "%i|%T|%r|%N|%V|%S|%j"
const squeueFields = ["id", "state", "reason", "nodes", "submit", "start", "name"] as const

export const status = (jobs: ReadonlyArray<JobRecord>): Invocation => ({
  argv: ["squeue", "-h", "-j", jobs.map((j) => j.jobId).join(","), "-o", squeueFormat]
})

/** One squeue line, or what is wrong with it. */
const readSqueueLine = (line: string): Either.Either<IdRow, string> => {
  const fields = splitFields(line, squeueFields)
  if (Either.isLeft(fields)) return Either.left(fields.left)
  const { id: idText, name, nodes, start: startText, state: stateText, submit: submitText } = fields.right
  const id = readJobId(idText)
  if (Either.isLeft(id)) return Either.left(`${id.left} in ${JSON.stringify(line)}`)
  const outcome = mapState(stateText)
  if (outcome === undefined) return Either.left(`unknown job state ${JSON.stringify(stateText)}`)
  const started = outcome.status !== "Pending"
  return Either.right({
    id: id.right,
    name,
    obs: {
      status: outcome.status,
      reason: outcome.reason,
      execHost: started ? host(nodes) : undefined,
      submitTime: parseTime(submitText),
      // For a pending job %S is when Slurm expects to start it, not a start.
      startTime: started ? parseTime(startText) : undefined
    }
  })
}

/**
 * The rows of squeue's answer. A line about a job that cannot be read makes that job unreadable
 * (the others are read); a line that names no job makes the whole answer unreadable.
 */
const parseSqueueRows = (stdout: string): Either.Either<ReadonlyArray<IdRow>, string> => {
  const rows: Array<IdRow> = []
  for (const line of splitLines(stdout)) {
    const row = readSqueueLine(line)
    if (Either.isRight(row)) {
      rows.push(row.right)
      continue
    }
    const jobId = leadingJobId(line)
    if (jobId === undefined) return Either.left(row.left)
    rows.push(unreadableRow(jobId, row.left))
  }
  return Either.right(rows)
}

export const parseStatus = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> =>
  Either.map(parseSqueueRows(stdout), collect)

/**
 * squeue given only ids that have left the controller fails with "Invalid job id specified";
 * that answer means "none of them is queued", not a failed poll.
 */
export const statusUsableOnFailure = (_exitCode: number | undefined, stdout: string, stderr: string): boolean =>
  stdout.trim() === "" && /Invalid job id specified/i.test(stderr)

// ---------------------------------------------------------------------------------------------
// sacct
// ---------------------------------------------------------------------------------------------

export const sacctFields = [
  "JobID",
  "JobIDRaw",
  "State",
  "ExitCode",
  "Reason",
  "MaxRSS",
  "ReqMem",
  "NodeList",
  "Submit",
  "Start",
  "End",
  "JobName"
] as const

/** How far before the earliest submit time sacct looks (clock differences between hosts). */
export const starttimeMarginMillis = 3_600_000

/** sacct's window starts at the earliest submit time among the jobs (never "since midnight"). */
export const accountingStart = (jobs: ReadonlyArray<JobRecord>): Date => {
  let earliest = Infinity
  for (const j of jobs) earliest = Math.min(earliest, (j.submitTime ?? j.lastSeen).getTime())
  return new Date(earliest - starttimeMarginMillis)
}

export const accountingCommand = (jobs: ReadonlyArray<JobRecord>): Invocation => ({
  argv: [
    "sacct",
    "-P",
    "-n",
    "-j",
    jobs.map((j) => j.jobId).join(","),
    "--starttime",
    formatTime(accountingStart(jobs)),
    "-o",
    sacctFields.join(",")
  ]
})

interface AccountRow {
  readonly id: string
  readonly step: string | undefined
  readonly state: string
  readonly exitCode: string
  readonly reason: string
  readonly maxRss: string
  readonly reqMem: string
  readonly nodes: string
  readonly submit: string
  readonly start: string
  readonly end: string
  /** The job's name (on a step's row, the step's). */
  readonly name: string
}

/** How long after a job's end sacct may still lack its batch step's figures. */
export const settleMillis = 30_000

/** What the dialect knows of a job besides the line it reads. */
export interface AccountContext {
  /** The ids of the jobs the job depends on, when it has any. */
  readonly dependencies?: ReadonlyArray<string> | undefined
  /** When the answer was read; undefined: take the answer as final. */
  readonly now?: Date | undefined
}

/**
 * What one allocation row (with its batch step) says about a job: an observation, undefined when
 * the answer is not final yet (ask again next tick), or what is unreadable in it.
 *
 * - FAILED with signal 9 is an OverMemoryKill when the batch step's MaxRSS is over `ReqMem`. The
 *   database can answer before it has the whole story: the batch step's row missing or still
 *   RUNNING, or the job's own row a placeholder (JobName `allocation`, ReqMem `16?`) written when
 *   the step's record came first. Until `settleMillis` after the end such a FAILED 0:9 is not final.
 * - Slurm cancels a job whose dependency can never be met (`--kill-on-invalid-dep`): plain
 *   CANCELLED (no "by"), never on a node; its Reason reads None at first, `Dependency` later.
 */
export const accountOutcome = (
  row: AccountRow,
  batch: AccountRow | undefined,
  context: AccountContext = {}
): Either.Either<Omit<ElementObservation, "index"> | undefined, string> => {
  const outcome = mapState(row.state)
  if (outcome === undefined) return Either.left(`unknown job state ${JSON.stringify(row.state)}`)
  const exit = parseExitCode(row.exitCode)
  if (exit === undefined && row.exitCode.trim() !== "") {
    return Either.left(`unreadable ExitCode ${JSON.stringify(row.exitCode)} (expected CODE:SIGNAL, each from 0 to 255)`)
  }
  let status = outcome.status
  let reason = outcome.reason
  let exitCode: number | undefined
  const maxMem = parseSlurmMemory(batch?.maxRss)
  const requested = parseSlurmMemory(row.reqMem)
  const finishTime = parseTime(row.end)
  const node = host(row.nodes)
  if (status === "Done") exitCode = 0
  if (status === "Failed" && reason === undefined && exit !== undefined) {
    const batchOutcome = batch === undefined ? undefined : mapState(batch.state)
    if (batchOutcome?.reason?._tag === "OutOfMemory") {
      reason = { _tag: "OutOfMemory" }
    } else if (exit.signal === 9 && maxMem !== undefined && requested !== undefined && maxMem > requested) {
      reason = { _tag: "OutOfMemory" }
    } else if (
      exit.signal === 9 && context.now !== undefined &&
      (batchOutcome === undefined || !isTerminalStatus(batchOutcome.status) || maxMem === undefined ||
        requested === undefined) &&
      (finishTime === undefined || context.now.getTime() - finishTime.getTime() < settleMillis)
    ) {
      return Either.right(undefined)
    } else if (exit.signal === launchFailureSignal) {
      reason = { _tag: "SchedulerFailure", detail: launchFailureDetail }
    } else if (exit.signal !== 0) {
      reason = { _tag: "Signalled", signal: signalName(exit.signal) }
    } else {
      exitCode = exit.rc
      reason = exit.rc !== 0 ? { _tag: "NonZeroExit", exitCode: exit.rc } : {
        _tag: "SchedulerFailure",
        detail: `Slurm reports FAILED${row.reason !== "" && row.reason !== "None" ? ` (${row.reason})` : ""}`
      }
    }
  }
  const dependencies = context.dependencies ?? []
  if (
    status === "Killed" && (
      row.reason === "DependencyNeverSatisfied" ||
      (dependencies.length > 0 && !/\bby\b/.test(row.state) && node === undefined)
    )
  ) {
    status = "Failed"
    reason = { _tag: "DependencyFailed", dependencies }
  }
  return Either.right({
    status,
    reason,
    exitCode,
    maxMem,
    execHost: node,
    submitTime: parseTime(row.submit),
    // A job cancelled while pending has Start = End but never ran.
    startTime: node === undefined ? undefined : parseTime(row.start),
    finishTime
  })
}

const dependencyIds = (record: JobRecord | undefined): ReadonlyArray<string> =>
  (record?.dependsOn ?? []).map((d) => d.jobId)

export const parseAccounting = (
  stdout: string,
  jobs: ReadonlyArray<JobRecord> = [],
  now?: Date
): Either.Either<ReadonlyArray<Observation>, string> => {
  const allocations: Array<AccountRow> = []
  const batches = new Map<string, AccountRow>()
  const rows: Array<IdRow> = []
  for (const line of splitLines(stdout)) {
    const fields = splitFields(line, sacctFields)
    if (Either.isLeft(fields)) {
      const jobId = leadingJobId(line)
      if (jobId === undefined) return Either.left(fields.left)
      rows.push(unreadableRow(jobId, fields.left))
      continue
    }
    const f = fields.right
    const jobId = f.JobID
    const dot = jobId.indexOf(".")
    const row: AccountRow = {
      id: dot === -1 ? jobId : jobId.slice(0, dot),
      step: dot === -1 ? undefined : jobId.slice(dot + 1),
      state: f.State,
      exitCode: f.ExitCode,
      reason: f.Reason,
      maxRss: f.MaxRSS,
      reqMem: f.ReqMem,
      nodes: f.NodeList,
      submit: f.Submit,
      start: f.Start,
      end: f.End,
      name: f.JobName
    }
    if (row.step === undefined) allocations.push(row)
    else if (row.step === "batch") batches.set(row.id, row)
  }
  const records = new Map(jobs.map((j) => [j.jobId, j] as const))
  for (const row of allocations) {
    const id = readJobId(row.id)
    if (Either.isLeft(id)) {
      const jobId = leadingJobId(row.id)
      if (jobId === undefined) return Either.left(id.left)
      rows.push(unreadableRow(jobId, id.left))
      continue
    }
    // sacct names an array's elements `ID_N`. A row of an array job without an index is the
    // placeholder slurmdbd writes when a step's record comes before its job's (JobName
    // `allocation`, ReqMem `16?`): about some element, but not which one; the next answer says.
    if (id.right._tag === "Job" && records.get(id.right.jobId)?.array !== undefined) continue
    const obs = accountOutcome(row, batches.get(row.id), { dependencies: dependencyIds(records.get(id.right.jobId)), now })
    if (Either.isLeft(obs)) rows.push(unreadableRow(id.right.jobId, obs.left))
    else if (obs.right !== undefined) rows.push({ id: id.right, name: row.name, obs: obs.right })
  }
  return Either.right(collect(rows))
}

/** sacct's answer when the cluster keeps no accounting: only the controller knows the jobs. */
export const accountingUnavailable = (stdout: string, stderr: string): boolean =>
  /accounting storage is disabled/i.test(`${stderr}\n${stdout}`)

// ---------------------------------------------------------------------------------------------
// scontrol show job -o (accounting disabled)
// ---------------------------------------------------------------------------------------------

/** One `scontrol show job -o` line as key/value pairs (values may hold spaces). */
export const parseScontrolLine = (line: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  const keys = [...line.matchAll(/(?:^|\s)([A-Za-z][\w:/.]*)=/g)]
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    const start = k.index! + k[0].length
    const end = i + 1 < keys.length ? keys[i + 1]!.index! : line.length
    out.set(k[1]!, line.slice(start, end).trim())
  }
  return out
}

export const fallbackCommand = (): Invocation => ({ argv: ["scontrol", "show", "job", "-o"] })

/** Observations of the given jobs from `scontrol show job -o` (every job the controller holds). */
export const parseScontrol = (
  stdout: string,
  jobs: ReadonlyArray<JobRecord> = []
): Either.Either<ReadonlyArray<Observation>, string> => {
  const wanted = new Map(jobs.map((j) => [j.jobId, j] as const))
  const rows: Array<IdRow> = []
  for (const line of splitLines(stdout)) {
    if (/^No jobs in the system/i.test(line.trim())) continue
    const kv = parseScontrolLine(line)
    const own = kv.get("JobId")
    if (own === undefined) return Either.left(`no JobId in ${JSON.stringify(line.slice(0, 200))}`)
    const arrayJob = kv.get("ArrayJobId")
    const task = kv.get("ArrayTaskId")
    let id: ParsedId | undefined
    if (arrayJob !== undefined && task !== undefined) {
      const indices = readIndices(task)
      if (Either.isLeft(indices)) {
        if (wanted.has(arrayJob)) rows.push(unreadableRow(arrayJob, `ArrayTaskId ${JSON.stringify(task)}: ${indices.left}`))
        continue
      }
      id = { _tag: "Elements", jobId: arrayJob, indices: indices.right }
    } else {
      id = { _tag: "Job", jobId: own }
    }
    if (!wanted.has(id.jobId)) continue
    const row: AccountRow = {
      id: own,
      step: undefined,
      state: kv.get("JobState") ?? "",
      exitCode: kv.get("ExitCode") ?? "",
      reason: kv.get("Reason") ?? "",
      maxRss: "",
      reqMem: "",
      nodes: kv.get("NodeList") ?? "",
      submit: kv.get("SubmitTime") ?? "",
      start: kv.get("StartTime") ?? "",
      end: kv.get("EndTime") ?? "",
      name: kv.get("JobName") ?? ""
    }
    // Without accounting there is no batch step to wait for: the answer is final.
    const obs = accountOutcome(row, undefined, { dependencies: dependencyIds(wanted.get(id.jobId)) })
    if (Either.isLeft(obs)) {
      rows.push(unreadableRow(id.jobId, obs.left))
      continue
    }
    const o = obs.right
    if (o === undefined) continue
    // Only a job that ended has real start and end times; scontrol prints estimates otherwise.
    rows.push({
      id,
      name: row.name,
      obs: o.status === "Pending" ? { ...o, startTime: undefined, finishTime: undefined } :
        o.status === "Running" ? { ...o, finishTime: undefined } : o
    })
  }
  return Either.right(collect(rows))
}

// ---------------------------------------------------------------------------------------------
// Reconnect and cancel
// ---------------------------------------------------------------------------------------------

/** This user's jobs still in the queue, for reconnecting after a restart. */
export const listCommand = (): Invocation => ({ argv: ["squeue", "--me", "-h", "-o", squeueFormat] })

/** The jobs `listCommand` printed, by id, with their names. */
export const parseListing = (stdout: string): Either.Either<ReadonlyArray<BatchListing>, string> =>
  Either.map(parseSqueueRows(stdout), (rows) => listingFrom(rows.map((r) => observed(r.id, r.obs, r.name, r.unreadable))))

/** A submission's token, as the job's comment (squeue shows it as `%k`). */
export const tokenArgs = (token: string): ReadonlyArray<string> => [`--comment=${tokenMarker(token)}`]

/** This user's jobs the controller holds, ended ones too, as `ARRAY_OR_JOB_ID|COMMENT`. */
export const tokenCommand = (): Invocation => ({ argv: ["squeue", "--me", "-h", "-t", "all", "-o", "%F|%k"] })

/** The jobs `tokenCommand` printed that carry a token (the comment is free text, so it comes last). */
export const parseTokens = (stdout: string): Either.Either<ReadonlyArray<TokenListing>, string> => {
  const out = new Map<string, string>()
  for (const line of splitLines(stdout)) {
    const bar = line.indexOf("|")
    const jobId = line.slice(0, bar).trim()
    if (bar < 0 || !/^\d+$/.test(jobId)) return Either.left(`expected "JOBID|COMMENT", got ${JSON.stringify(line.slice(0, 200))}`)
    const token = tokenIn(line.slice(bar + 1))
    if (token !== undefined) out.set(token, jobId)
  }
  return Either.right(Array.from(out, ([token, jobId]) => ({ token, jobId })))
}

/** `-v`: without it scancel says nothing, and exits 0, for a job that had already ended. */
export const cancel = (jobIds: ReadonlyArray<string>): Invocation => ({ argv: ["scancel", "-v", ...jobIds] })

/**
 * Reads `scancel -v`: "Kill job error on job id N: Job/step already completing or completed" or
 * "…: Invalid job id specified" (it left the controller) mean N had already ended; any other
 * such error (permission denied) is a refusal of N; a failure naming no job (no contact with the
 * controller) is a failed cancel.
 */
export const cancelOutcome = (
  jobIds: ReadonlyArray<string>,
  answer: CommandAnswer
): Either.Either<CancelOutcome, string> => {
  const ended: Array<string> = []
  const refused: Array<CancelRefusal> = []
  for (const m of answer.stderr.matchAll(/Kill job error on job id (\S+): ([^\n]*?)(?=scancel:|\n|$)/g)) {
    const id = m[1]!.replace(/_.*$/, "")
    if (/already completing or completed|Invalid job id specified/i.test(m[2]!)) ended.push(id)
    else refused.push({ jobId: id, detail: m[2]!.trim() })
  }
  if (answer.exitCode !== 0 && answer.exitCode !== undefined && ended.length === 0 && refused.length === 0) {
    return Either.left(`scancel exited with ${answer.exitCode}: ${answer.stderr.trim()}`)
  }
  return Either.right({
    ended: ended.filter((id) => jobIds.includes(id)),
    refused: refused.filter((r) => jobIds.includes(r.jobId))
  })
}

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
