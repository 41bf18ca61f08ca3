/**
 * What Slurm says about jobs: its states and exit codes, the small readers of its fields, and
 * squeue read into observations. Pure.
 */
import { Either } from "effect"
import type { Invocation } from "../../Scheduler.js"
import type { ElementObservation, JobRecord, Observation } from "../../Domain.js"
import type { ObservedRow, StateOutcome } from "../Observed.js"
import { cachedTimes, exitCodeOf, expandRanges, groupRows, Grouping, isDigits, scanIsoTime, validDate } from "../Observed.js"
import { parseMemory } from "../../Units.js"

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
  const fast = text === undefined ? undefined : scanIsoTime(text)
  if (fast !== undefined) return validDate(new Date(fast))
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

export const host = (text: string | undefined): string | undefined => {
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
export const leadingJobId = (line: string): string | undefined => /^\s*(\d+)(?=[_.|\s]|$)/.exec(line)?.[1]

/** One row per parsed id, for grouping. */
export const observed = (
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

export interface IdRow {
  readonly id: ParsedId
  readonly name?: string | undefined
  readonly obs: Omit<ElementObservation, "index">
  /** What in the row about this job could not be read. */
  readonly unreadable?: string | undefined
}

/** A row about job `jobId` that could not be read, for `problem`. */
export const unreadableRow = (jobId: string, problem: string): IdRow => ({
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
  const named = namedElements(rows)
  return rows.flatMap((row): ReadonlyArray<IdRow> => {
    const narrowed = narrowedRow(row, named)
    return narrowed === undefined ? [] : [narrowed]
  })
}

/** `${jobId}_${index}` of each row about one element. */
const namedElements = (rows: ReadonlyArray<Observation | IdRow>): ReadonlySet<string> => {
  const named = new Set<string>()
  for (const row of rows) {
    if (!isIdRow(row)) continue
    const id = row.id
    if (id._tag === "Elements" && id.indices.length === 1) named.add(`${id.jobId}_${id.indices[0]}`)
  }
  return named
}

/** A row of several elements narrowed to those no row in `named` names (undefined: none left). */
const narrowedRow = (row: IdRow, named: ReadonlySet<string>): IdRow | undefined => {
  const id = row.id
  if (id._tag !== "Elements" || id.indices.length === 1) return row
  const indices = id.indices.filter((i) => !named.has(`${id.jobId}_${i}`))
  if (indices.length === id.indices.length) return row
  return indices.length === 0 ? undefined : { ...row, id: { ...id, indices } }
}

const isIdRow = (entry: Observation | IdRow): entry is IdRow => (entry as Partial<IdRow>).id !== undefined

/**
 * Groups per-element observations under their array's id; plain jobs pass through. A range row
 * speaks only for the elements no row of their own names (`withoutStaleRanges`).
 */
export const collect = (rows: ReadonlyArray<IdRow>): ReadonlyArray<Observation> =>
  groupRows(withoutStaleRanges(rows).map(({ id, name, obs, unreadable }) => observed(id, obs, name, unreadable)))

export const splitLines = (stdout: string): Array<string> => stdout.split("\n").filter((l) => l.trim().length > 0)

/**
 * One `|`-separated line as its named fields. The last field takes the rest of the line, `|`s
 * included: both squeue and sacct are asked for the free-text job name last.
 */
export const splitFields = <const K extends string>(
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

/**
 * One squeue for every job of this user (`--me`; everyone's with `poll_all_users`), for more
 * tracked jobs than one command line can name. `-a` shows jobs in hidden partitions too, as an
 * id list does; like it, no `-t`: the states squeue shows by default.
 */
export const statusByUser = (allUsers: boolean): Invocation => ({
  argv: ["squeue", ...(allUsers ? [] : ["--me"]), "-a", "-h", "-o", squeueFormat]
})

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
export const parseSqueueRows = (stdout: string): Either.Either<ReadonlyArray<IdRow>, string> => {
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


/**
 * One squeue line as `readSqueueLine` reads it, but a plain job's line straight into its
 * observation, in the shape `collect` gives it (`name` last when the line gives one); any other
 * line as its row. Only the fields used are cut out of the line.
 */
const readSqueueLineFast = (
  line: string,
  submitTimeOf: (text: string | undefined) => Date | undefined,
  startTimeOf: (text: string | undefined) => Date | undefined
): Either.Either<Observation | IdRow, string> => {
  const p1 = line.indexOf("|")
  const p2 = p1 < 0 ? -1 : line.indexOf("|", p1 + 1)
  const p3 = p2 < 0 ? -1 : line.indexOf("|", p2 + 1)
  const p4 = p3 < 0 ? -1 : line.indexOf("|", p3 + 1)
  const p5 = p4 < 0 ? -1 : line.indexOf("|", p4 + 1)
  const p6 = p5 < 0 ? -1 : line.indexOf("|", p5 + 1)
  if (p6 < 0) return readSqueueLine(line)
  const idText = line.slice(0, p1)
  const plain = isDigits(idText)
  const id = plain ? undefined : readJobId(idText)
  if (id !== undefined && Either.isLeft(id)) return Either.left(`${id.left} in ${JSON.stringify(line)}`)
  const stateText = line.slice(p1 + 1, p2)
  const outcome = Object.hasOwn(stateTable, stateText) ? stateTable[stateText] : mapState(stateText)
  if (outcome === undefined) return Either.left(`unknown job state ${JSON.stringify(stateText)}`)
  const started = outcome.status !== "Pending"
  const status = outcome.status
  const reason = outcome.reason
  const execHost = started ? host(line.slice(p3 + 1, p4)) : undefined
  const submitTime = submitTimeOf(line.slice(p4 + 1, p5))
  // For a pending job %S is when Slurm expects to start it, not a start.
  const startTime = started ? startTimeOf(line.slice(p5 + 1, p6)) : undefined
  const name = line.slice(p6 + 1)
  if (id !== undefined) return Either.right({ id: id.right, name, obs: { status, reason, execHost, submitTime, startTime } })
  return Either.right(
    name === ""
      ? { jobId: idText, status, reason, execHost, submitTime, startTime }
      : { jobId: idText, status, reason, execHost, submitTime, startTime, name }
  )
}

/** A row as `collect` hands it to the shared grouping. */
const addRow = (group: Grouping, { id, name, obs, unreadable }: IdRow): void => {
  if (unreadable !== undefined) group.unreadable(id.jobId, name, unreadable)
  else if (id._tag === "Elements") group.elements(id.jobId, id.indices, name, obs)
  else group.plain(name !== undefined && name !== "" ? { jobId: id.jobId, ...obs, name } : { jobId: id.jobId, ...obs })
}

/**
 * One observation per job, as `collect(parseSqueueRows(…))` gives them: read in one pass, each
 * plain job's observation built once, each time text read once. Rows of several elements (pending
 * ranges) are narrowed as `collect` narrows them, once every line is read.
 */
export const parseStatus = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> => {
  const submitTimeOf = cachedTimes(parseTime)
  const startTimeOf = cachedTimes(parseTime)
  const entries: Array<Observation | IdRow> = []
  let ranges = false
  for (let from = 0; from < stdout.length;) {
    const newline = stdout.indexOf("\n", from)
    const to = newline < 0 ? stdout.length : newline
    const line = stdout.slice(from, to)
    from = to + 1
    const c = line.charCodeAt(0)
    if (line.length === 0 || (!(c > 32 && c < 127) && line.trim().length === 0)) continue
    const entry = readSqueueLineFast(line, submitTimeOf, startTimeOf)
    if (Either.isLeft(entry)) {
      const jobId = leadingJobId(line)
      if (jobId === undefined) return Either.left(entry.left)
      entries.push(unreadableRow(jobId, entry.left))
      continue
    }
    const row = entry.right
    if (isIdRow(row) && row.id._tag === "Elements" && row.id.indices.length !== 1) ranges = true
    entries.push(row)
  }
  const group = new Grouping()
  const named = ranges ? namedElements(entries) : undefined
  for (const entry of entries) {
    if (!isIdRow(entry)) group.plain(entry)
    else {
      const row = named === undefined ? entry : narrowedRow(entry, named)
      if (row !== undefined) addRow(group, row)
    }
  }
  return Either.right(group.done())
}

/**
 * squeue given only ids that have left the controller fails with "Invalid job id specified";
 * that answer means "none of them is queued", not a failed poll.
 */
export const statusUsableOnFailure = (_exitCode: number | undefined, stdout: string, stderr: string): boolean =>
  stdout.trim() === "" && /Invalid job id specified/i.test(stderr)
