/**
 * What Grid Engine says about jobs it no longer lists: qacct read into observations, out of
 * memory told from other failures. Pure.
 */
import { Either } from "effect"
import type { CommandAnswer, Invocation, StatusContext } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { JobRecord, Observation } from "../../Domain.js"
import { signalOfStatus } from "../../internal/signals.js"
import { parseMemory } from "../../Units.js"
import type { ObservedRow, StateOutcome } from "../Observed.js"
import { exitCodeOf, groupRows, parseMonthNameTime, unreadableRow, validDate } from "../Observed.js"

// ---------------------------------------------------------------------------------------------
// qacct
// ---------------------------------------------------------------------------------------------

/** `[[CC]YY]MMDDhhmm[.SS]` in local time, as qacct's `-b` takes it. */
export const formatQacctTime = (date: Date): string => {
  const two = (n: number) => String(n).padStart(2, "0")
  return `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}${two(date.getHours())}${
    two(date.getMinutes())
  }.${two(date.getSeconds())}`
}

/**
 * ONE qacct for every job that left qstat: one id is asked about directly (`qacct -j 7`);
 * several get every job of the user that started since the earliest of them was submitted
 * (`qacct -o <user> -b <time> -j`), read and filtered here.
 */
export const accountingCommand = (
  jobs: ReadonlyArray<JobRecord>,
  options: ConfigOptions,
  context: StatusContext
): Invocation => {
  const [only] = jobs
  if (jobs.length === 1 && only !== undefined) return { argv: ["qacct", "-j", only.jobId] }
  // qacct -b keeps jobs that started after it: the earliest submit (or start) known, a minute
  // early for clocks that differ; a job known by neither (tracked by id) reaches a week back.
  const since = Math.min(
    ...jobs.map((j) => (j.submitTime ?? j.startTime)?.getTime() ?? j.lastSeen.getTime() - 7 * 24 * 3600_000)
  ) - 60_000
  const owner = options.poll_all_users || context.user === "" ? [] : ["-o", context.user]
  return { argv: ["qacct", ...owner, "-b", formatQacctTime(new Date(since)), "-j"] }
}

/** qacct's records: key/value lines, records separated by a line of `=`. */
export const parseQacctRecords = (stdout: string): ReadonlyArray<ReadonlyMap<string, string>> => {
  const records: Array<Map<string, string>> = []
  let current: Map<string, string> | undefined
  for (const line of stdout.split("\n")) {
    if (/^=+\s*$/.test(line)) {
      current = new Map()
      records.push(current)
      continue
    }
    const m = /^(\w+)\s+(.*?)\s*$/.exec(line)
    if (m === null || current === undefined) continue
    current.set(m[1]!, m[2]!)
  }
  return records.filter((r) => r.size > 0)
}

/** A qacct time: `Sat Nov 21 12:51:34 2026` or `2026-11-21 12:51:34.123` (local); undefined for `-/-`. */
export const parseQacctTime = (value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined
  const iso = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?/.exec(value)
  if (iso !== null) {
    const [y, mo, d, h, mi, s] = iso.slice(1, 7).map(Number) as [number, number, number, number, number, number]
    return validDate(new Date(y, mo - 1, d, h, mi, s, iso[7] === undefined ? 0 : Number(iso[7].padEnd(3, "0").slice(0, 3))))
  }
  return parseMonthNameTime(value)
}

/** qacct's memory (`maxvmem 12.340M`, `1.5G`, `0.000B`) in bytes; undefined for zero or unreadable. */
export const parseQacctMemory = (value: string | undefined): number | undefined => {
  const m = value === undefined ? null : /^(\d+(?:\.\d+)?)([KMGTP]?)B?$/i.exec(value.trim())
  if (m === null) return undefined
  const amount = Number(m[1])
  if (amount === 0) return undefined
  if (m[2] === "") return Number.isSafeInteger(Math.round(amount)) ? Math.round(amount) : undefined
  const parsed = parseMemory(`${m[1]}${m[2]}`)
  return Either.isRight(parsed) ? parsed.right : undefined
}

/** Seconds in an SGE time value: `2`, `34s`, `1:30:00`, `34.5`; undefined unless finite. */
export const sgeSeconds = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const t = value.trim().replace(/s$/, "")
  const hms = /^(\d+):(\d\d):(\d\d)$/.exec(t)
  const seconds = /^\d+(?:\.\d+)?$/.test(t)
    ? Number(t)
    : hms === null
    ? undefined
    : Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Number(hms[3])
  return seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined
}

/** What a job asked for, from qacct's `category` (`-l h_rt=2,h_vmem=50M -pe smp 2`): its `-l` values. */
export const categoryRequests = (category: string | undefined): ReadonlyMap<string, string> => {
  const found = new Map<string, string>()
  for (const m of (category ?? "").matchAll(/-l\s+(\S+)/g)) {
    for (const pair of m[1]!.split(",")) {
      const [key, value] = pair.split("=")
      if (key !== undefined && value !== undefined) found.set(key, value)
    }
  }
  return found
}

/**
 * An SGE memory value (sge_types(1)) in bytes: a bare number of bytes, or one with `k`, `m`, `g`,
 * `t` (powers of 1000) or `K`, `M`, `G`, `T` (powers of 1024); undefined for `INFINITY`, zero or
 * anything else.
 */
export const sgeMemory = (value: string | undefined): number | undefined => {
  const m = value === undefined ? null : /^(\d+(?:\.\d+)?)([kmgtKMGT]?)$/.exec(value.trim())
  if (m === null) return undefined
  const unit = m[2]!
  const power = unit === "" ? 0 : "kmgt".indexOf(unit.toLowerCase()) + 1
  const bytes = Number(m[1]) * (unit === unit.toLowerCase() ? 1000 : 1024) ** power
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined
}

/**
 * The address space a job's processes may each take, from what it asked for (qacct's `category`):
 * the lower of `h_vmem` and `s_vmem`, which count per slot, times its slots (recorded: a job of
 * `-pe smp 2 -l h_vmem=100M` grew one process to 194 MB). Undefined without either.
 */
export const memoryLimit = (category: string | undefined, slots: number | undefined): number | undefined => {
  const asked = categoryRequests(category)
  const limits = ["h_vmem", "s_vmem"].flatMap((key) => {
    const bytes = sgeMemory(asked.get(key))
    return bytes === undefined ? [] : [bytes]
  })
  return limits.length === 0 ? undefined : Math.min(...limits) * Math.max(1, slots ?? 1)
}

/**
 * How close to its memory limit a job that failed on its own must have come to have failed for
 * want of memory. Recorded (see the fixtures' README) at 93–99% for programs whose allocation the
 * limit refused, and at 10% and 75% for jobs that failed for other reasons.
 */
export const nearMemoryLimit = 0.9

/** What qacct says of how a job ended. */
export interface QacctEnd {
  /** `0`, or `N : text` (`37  : qmaster enforced h_rt, h_cpu, or h_vmem limit`). */
  readonly failed?: string | undefined
  readonly exitStatus?: number | undefined
  readonly category?: string | undefined
  readonly wallclock?: string | undefined
  /** The job's peak memory in bytes: the larger of qacct's `maxvmem` and `ru_maxrss`. */
  readonly peakMemory?: number | undefined
  /** The slots it was granted (qacct's `slots`). */
  readonly slots?: number | undefined
}

/**
 * Signals a program ends in when an allocation is refused: SIGSEGV (C: writing to the NULL malloc
 * returned), SIGABRT (C++: an uncaught std::bad_alloc), SIGBUS. SGE reports them as `failed 100`.
 */
const allocationSignals: ReadonlySet<string> = new Set(["SIGSEGV", "SIGABRT", "SIGBUS"])

/**
 * Whether a job that ended on its own (not killed by SGE) did so because its memory limit refused
 * an allocation: it failed (`failed 0` with a non-zero exit, or `failed 100` with one of
 * `allocationSignals`) and its peak memory reached `nearMemoryLimit` of its limit.
 */
const refusedMemory = (code: number, end: QacctEnd): boolean => {
  const exitStatus = end.exitStatus
  if (exitStatus === undefined || exitStatus === 0) return false
  const signal = signalOfStatus(exitStatus)
  if (!(code === 0 || (code === 100 && signal !== undefined && allocationSignals.has(signal)))) return false
  const limit = memoryLimit(end.category, end.slots)
  return limit !== undefined && end.peakMemory !== undefined && end.peakMemory >= nearMemoryLimit * limit
}

/**
 * How a job ended, from qacct's `failed` and `exit_status`: failed 0 with exit 0 is Done. SGE's
 * failure 37 ("qmaster enforced h_rt, h_cpu, or h_vmem limit") names no one limit: it is
 * Timeout when the job asked for `h_rt` and ran that long, else OutOfMemory when it asked for a
 * memory limit. A job that failed on its own at its memory limit is OutOfMemory too (see
 * `refusedMemory`). Otherwise an exit status above 128 is the signal that ended it (137 after qdel
 * or a kill), any other non-zero one the job's own exit code, and any other failure code SGE's own
 * reason (`28 : changing into working directory`).
 */
export const endOutcome = (end: QacctEnd): StateOutcome => {
  const code = Number(/^\s*(\d+)/.exec(end.failed ?? "0")?.[1] ?? "0")
  const why = (end.failed ?? "").replace(/^\s*\d+\s*:?\s*/, "").trim()
  const exitStatus = end.exitStatus
  if (code === 0 && exitStatus === 0) return { status: "Done" }
  if (code === 37) {
    const asked = categoryRequests(end.category)
    const limit = sgeSeconds(asked.get("h_rt") ?? asked.get("s_rt"))
    const ran = sgeSeconds(end.wallclock)
    const memory = Array.from(asked.keys()).some((k) => /vmem|mem/.test(k))
    if (limit !== undefined && (ran === undefined || ran >= limit || !memory)) return { status: "Failed", reason: { _tag: "Timeout" } }
    if (memory) return { status: "Failed", reason: { _tag: "OutOfMemory" } }
  }
  if (refusedMemory(code, end)) return { status: "Failed", reason: { _tag: "OutOfMemory" } }
  if (code === 0 || code === 100) {
    const signal = exitStatus === undefined ? undefined : signalOfStatus(exitStatus)
    if (signal !== undefined) return { status: "Failed", reason: { _tag: "Signalled", signal } }
    if (exitStatus !== undefined && exitStatus !== 0) return { status: "Failed", reason: { _tag: "NonZeroExit", exitCode: exitStatus } }
  }
  return {
    status: "Failed",
    reason: { _tag: "SchedulerFailure", detail: `SGE reports failed ${code}${why === "" ? "" : ` (${why})`}` }
  }
}

/**
 * Observations of `jobs` from qacct's records (one per job, or per array element). A job with
 * no record yet (SGE writes accounting a moment after the end) gets none, and is asked about again.
 */
export const parseAccounting = (
  stdout: string,
  jobs: ReadonlyArray<JobRecord>,
  _now: Date
): Either.Either<ReadonlyArray<Observation>, string> => {
  const wanted = new Set(jobs.map((j) => j.jobId))
  const rows: Array<ObservedRow> = []
  for (const record of parseQacctRecords(stdout)) {
    const jobId = record.get("jobnumber")
    if (jobId === undefined || !wanted.has(jobId)) continue
    // `137                  (Killed)`: the number, then SGE's name for a signal.
    const exitText = /^(\d+)/.exec(record.get("exit_status") ?? "")?.[1]
    const exitStatus = exitCodeOf(exitText)
    if (exitText !== undefined && exitStatus === undefined) {
      rows.push(unreadableRow(jobId, `exit_status ${JSON.stringify(exitText)} is not a whole number from 0 to 255`))
      continue
    }
    const maxvmem = parseQacctMemory(record.get("maxvmem"))
    // qacct prints ru_maxrss, a count of kilobytes, as if it were bytes: `193.566KB` is 193.566 MB.
    const maxrss = parseQacctMemory(record.get("ru_maxrss"))
    const peaks = [maxvmem, maxrss === undefined ? undefined : maxrss * 1024].filter((n) => n !== undefined)
    const slots = Number(record.get("slots"))
    const outcome = endOutcome({
      failed: record.get("failed"),
      exitStatus,
      category: record.get("category"),
      wallclock: record.get("ru_wallclock"),
      peakMemory: peaks.length === 0 ? undefined : Math.max(...peaks),
      slots: Number.isSafeInteger(slots) && slots > 0 ? slots : undefined
    })
    const task = record.get("taskid")
    const host = record.get("hostname")
    rows.push({
      jobId,
      indices: task !== undefined && /^\d+$/.test(task) ? [Number(task)] : undefined,
      name: record.get("jobname"),
      obs: {
        status: outcome.status,
        reason: outcome.reason,
        exitCode: exitStatus,
        execHost: host === undefined || host === "-" ? undefined : host,
        maxMem: maxvmem,
        submitTime: parseQacctTime(record.get("qsub_time")),
        startTime: parseQacctTime(record.get("start_time")),
        finishTime: parseQacctTime(record.get("end_time"))
      }
    })
  }
  return Either.right(groupRows(rows))
}

/** qacct's answer when a job is not in the accounting file (yet): not a failure, just no record. */
export const accountingNoRecord = (answer: CommandAnswer): boolean =>
  answer.stdout.trim() === "" && /\bjob (?:id )?\S+ not found|no jobs? (?:running|found)/i.test(answer.stderr)
