/**
 * What Slurm says about jobs squeue no longer shows: sacct read into observations, and
 * `scontrol show job -o` when accounting is disabled. Pure.
 */
import { Either } from "effect"
import type { Invocation } from "../../Scheduler.js"
import type { ElementObservation, JobRecord, Observation } from "../../Domain.js"
import { isTerminalStatus } from "../../Domain.js"
import { signalName } from "../../internal/signals.js"
import type { IdRow, ParsedId } from "./status.js"
import { collect, formatTime, host, leadingJobId, mapState, parseExitCode, parseSlurmMemory, parseTime, readIndices, readJobId, splitFields, splitLines, unreadableRow } from "./status.js"
import { launchFailureDetail, launchFailureSignal } from "./syntax.js"

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
