/**
 * What PBS says about jobs: its states and exit statuses, and `qstat -f` (JSON on PBS Pro, XML on
 * TORQUE) read into observations. Pure.
 */
import { XMLParser } from "fast-xml-parser"
import { Either } from "effect"
import type { BatchListing, Invocation } from "../../Scheduler.js"
import type { ElementObservation, JobRecord, Observation } from "../../Domain.js"
import { signalName, signalOfStatus } from "../../internal/signals.js"
import type { ObservedRow, StateOutcome } from "../Observed.js"
import { groupRows, listingFrom, parseMonthNameTime, stateIn, validDate, wholeNumber } from "../Observed.js"
import type { Flavor } from "./syntax.js"

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
    ? stateIn(stateTable, state) ?? { status: "Unknown" }
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
// Reconnect
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
