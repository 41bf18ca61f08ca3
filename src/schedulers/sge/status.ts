/**
 * What Grid Engine says about jobs it still lists: `qstat -xml` read into observations, and
 * `qstat -j`, asked why a job is in error state. Pure.
 */
import { XMLParser } from "fast-xml-parser"
import { Either } from "effect"
import type { Invocation, StatusContext } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { ElementObservation, JobRecord, Observation } from "../../Domain.js"
import type { ObservedRow, StateOutcome } from "../Observed.js"
import { expandRanges, groupRows, unreadableRow, validDate } from "../Observed.js"

// ---------------------------------------------------------------------------------------------
// qstat -xml
// ---------------------------------------------------------------------------------------------

const users = (options: ConfigOptions, context: StatusContext): string =>
  options.poll_all_users || context.user === "" ? "*" : context.user

/** One `qstat -xml -u <user>` (`-u *` with `poll_all_users`) for every tracked job. */
export const status = (_jobs: ReadonlyArray<JobRecord>, options: ConfigOptions, context: StatusContext): Invocation => ({
  argv: ["qstat", "-xml", "-u", users(options, context)]
})

/**
 * What a qstat state code means: `E` (error: `Eqw`) Failed; `r`/`t`/`R` running (also
 * suspended `s`/`S`/`T`, and `d` being deleted); otherwise waiting (`qw`, `hqw`, `hRwq`). `h`
 * means held.
 */
export const stateOutcome = (state: string): StateOutcome & { readonly held: boolean } => {
  const held = state.includes("h")
  if (state.includes("E")) {
    return {
      status: "Failed",
      reason: { _tag: "SchedulerFailure", detail: `SGE put the job in error state (${state})` },
      held
    }
  }
  // Waiting: `qw`, `hqw`, `hRwq` (R: rescheduled). Otherwise running, transferring, suspended.
  if (state.includes("q") && state.includes("w")) return { status: "Pending", held }
  if (/[rtsST]/.test(state)) return { status: "Running", held }
  return { status: "Pending", held }
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => name === "job_list"
})

/** An element's text; undefined when empty, missing, or not text (nested tags: a wrong shape). */
const text = (v: unknown): string | undefined => {
  if (v === undefined || v === null || typeof v === "object") return undefined
  const t = String(v).trim()
  return t === "" ? undefined : t
}

/** A qstat time: epoch seconds, or `2026-11-21T12:00:00` (local, optionally with milliseconds). */
export const parseQstatTime = (value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined
  if (/^\d+$/.test(value)) return validDate(new Date(Number(value) * 1000))
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(value)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  return validDate(new Date(y, mo - 1, d, h, mi, s, m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0").slice(0, 3))))
}

/**
 * The most tasks one SGE array job can have: `max_aj_tasks` in sge_conf(5), 75000 by default. A
 * `tasks` range past it is refused, never enumerated.
 */
export const maxArrayTasks = 75_000

/** The array indices a `tasks` field names (`4`, `1-3:1`, `2-10:2`, several joined by commas), or what is wrong. */
export const readTasks = (tasks: string): Either.Either<ReadonlyArray<number>, string> => expandRanges(tasks, maxArrayTasks)

/** Array indices a `tasks` field names; undefined when unreadable. */
export const parseTasks = (tasks: string): ReadonlyArray<number> | undefined => Either.getOrUndefined(readTasks(tasks))

/** One `job_list` entry of `qstat -xml`, read; undefined for an entry with no job number. */
export const readJobList = (entry: Readonly<Record<string, unknown>>): Either.Either<
  (ObservedRow & { readonly held: boolean }) | undefined,
  string
> => {
  const number = text(entry.JB_job_number)
  if (number === undefined) return Either.right(undefined)
  if (!/^\d+$/.test(number)) return Either.left(`unreadable job number ${JSON.stringify(number)}`)
  const state = text(entry.state) ?? ""
  const outcome = stateOutcome(state)
  const tasks = text(entry.tasks)
  const indices = tasks === undefined ? undefined : readTasks(tasks)
  if (indices !== undefined && Either.isLeft(indices)) {
    return Either.right({ ...unreadableRow(number, `tasks ${JSON.stringify(tasks)}: ${indices.left}`), held: false })
  }
  const queue = text(entry.queue_name)
  const host = queue?.includes("@") === true ? queue.slice(queue.indexOf("@") + 1) : undefined
  const obs: Omit<ElementObservation, "index"> = {
    status: outcome.status,
    reason: outcome.reason,
    execHost: outcome.status === "Running" ? host : undefined,
    submitTime: parseQstatTime(text(entry.JB_submission_time)),
    startTime: outcome.status === "Running" ? parseQstatTime(text(entry.JAT_start_time)) : undefined,
    held: outcome.held
  }
  return Either.right({ jobId: number, indices: indices?.right, name: text(entry.JB_name), obs, held: outcome.held })
}

/** Every `job_list` entry of a `qstat -xml` answer, or what is wrong with it. */
export const parseQstatXml = (stdout: string): Either.Either<ReadonlyArray<ObservedRow & { readonly held: boolean }>, string> => {
  const xml = stdout.trim()
  if (xml === "") return Either.right([])
  let doc: unknown
  try {
    doc = parser.parse(xml, true)
  } catch (e) {
    return Either.left(`not XML: ${e instanceof Error ? e.message : String(e)}`)
  }
  const root = (doc as { job_info?: unknown }).job_info
  if (root === undefined) return Either.left(`no <job_info> in ${JSON.stringify(xml.slice(0, 200))}`)
  const entries: Array<Record<string, unknown>> = []
  const collect = (node: unknown) => {
    if (typeof node !== "object" || node === null) return
    for (const e of (node as { job_list?: unknown }).job_list as ReadonlyArray<unknown> | undefined ?? []) {
      if (typeof e === "object" && e !== null) entries.push(e as Record<string, unknown>)
    }
  }
  const top = root as { queue_info?: unknown; job_info?: unknown }
  collect(top.queue_info)
  collect(top.job_info)
  const rows: Array<ObservedRow & { readonly held: boolean }> = []
  for (const entry of entries) {
    const row = readJobList(entry)
    // A job number that cannot be read names no job: the whole answer is unreadable.
    if (Either.isLeft(row)) return Either.left(row.left)
    if (row.right !== undefined) rows.push(row.right)
  }
  return Either.right(rows)
}

/** One observation per job; an array held as a whole (its waiting range `hqw`) is held. */
const collect = (rows: ReadonlyArray<ObservedRow & { readonly held: boolean }>): ReadonlyArray<Observation> => {
  const held = new Set(rows.filter((r) => r.held).map((r) => r.jobId))
  return groupRows(rows).map((o) => (held.has(o.jobId) ? { ...o, held: true } : o))
}

export const parseStatus = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> =>
  Either.map(parseQstatXml(stdout), collect)

// ---------------------------------------------------------------------------------------------
// qstat -j: why a job is in error state
// ---------------------------------------------------------------------------------------------

/** `qstat -j 7,9`: each job's details, with `error reason` lines for jobs in error state. */
export const explainCommand = (jobIds: ReadonlyArray<string>): Invocation => ({
  argv: ["qstat", "-j", jobIds.join(",")]
})

/** The `error reason` lines of `qstat -j`, per job number (several lines joined with "; "). */
export const parseExplain = (stdout: string): ReadonlyMap<string, string> => {
  const reasons = new Map<string, Array<string>>()
  let current: string | undefined
  for (const line of stdout.split("\n")) {
    const number = /^job_number:\s+(\d+)/.exec(line)
    if (number !== null) {
      current = number[1]
      continue
    }
    const reason = /^error reason\s+[\d,-]*:?\s*(.*)$/.exec(line.trim())
    if (reason !== null && current !== undefined && reason[1] !== undefined && reason[1].trim() !== "") {
      const list = reasons.get(current) ?? []
      list.push(reason[1].trim())
      reasons.set(current, list)
    }
  }
  return new Map(Array.from(reasons, ([id, lines]) => [id, Array.from(new Set(lines)).join("; ")] as const))
}
