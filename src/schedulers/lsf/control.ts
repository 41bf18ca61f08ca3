/**
 * Reconnect, cancel (by id, by name) and the submission-token listing: the commands and how their
 * answers read. Pure.
 */
import { Either } from "effect"
import type { BatchListing, CommandAnswer, CancelOutcome, CancelRefusal, Invocation } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import * as JobName from "../../JobName.js"
import { listingFrom } from "../Observed.js"
import type { TokenListing } from "../Token.js"
import { tokenIn, tokenMarker } from "../Token.js"
import { bjobsFields, field, observed, parseRecords, parseRows, users } from "./status.js"

// ---------------------------------------------------------------------------------------------
// Reconnect and cancel
// ---------------------------------------------------------------------------------------------

/**
 * This user's jobs (everyone's with `poll_all_users`) named `{prefix}-*`, for reconnecting after
 * a restart: `-J` lets LSF do the matching, and `-a` shows the ended elements of an array that
 * is still running, so its range can be rebuilt (ended jobs are then left alone).
 */
export const listCommand = (options: ConfigOptions): Invocation => {
  const pattern = JobName.listingPattern(options.job_name_prefix)
  return {
    argv: [
      "bjobs",
      "-a",
      "-json",
      "-o",
      bjobsFields,
      ...(pattern === undefined ? [] : ["-J", pattern]),
      ...users(options)
    ]
  }
}

const noJobsFound = /^No (?:unfinished|matching) job found/im

/** The jobs `listCommand` printed, by id, with their names (an element's `[index]` taken off). */
export const parseListing = (stdout: string): Either.Either<ReadonlyArray<BatchListing>, string> => {
  // Without -json's effect on an empty queue, bjobs says so in words.
  if (noJobsFound.test(stdout.trim())) return Either.right([])
  return Either.map(parseRows(stdout), (rows) => listingFrom(rows.map(observed)))
}

/**
 * bjobs exits 255 saying "No unfinished job found" (or "No matching job found") when there is
 * nothing to list: an empty listing, not a failure, when no records came with it.
 */
export const listNoJobs = (answer: CommandAnswer): boolean => {
  if (!noJobsFound.test(`${answer.stderr}\n${answer.stdout}`)) return false
  const records = parseRecords(answer.stdout)
  return Either.isLeft(records) || records.right.length === 0
}

/** A submission's token, as the job's description (`-Jd`; bjobs shows it as `job_description`). */
export const tokenArgs = (token: string): ReadonlyArray<string> => ["-Jd", tokenMarker(token)]

/** This user's jobs, ended ones too, with their descriptions. */
export const tokenCommand = (): Invocation => ({ argv: ["bjobs", "-a", "-json", "-o", "jobid job_description"] })

/** bjobs saying it has no job to show: "No job found", "No unfinished job found", "No matching job found". */
const noJobAtAll = /^No (?:unfinished |matching )?job found/im

/** Whether a failed `tokenCommand` only says this user has no jobs. */
export const tokenNoJobs = (answer: CommandAnswer): boolean => noJobAtAll.test(`${answer.stderr}\n${answer.stdout}`)

/** The jobs `tokenCommand` printed that carry a token (an array's elements under its id). */
export const parseTokens = (stdout: string): Either.Either<ReadonlyArray<TokenListing>, string> => {
  if (noJobAtAll.test(stdout.trim())) return Either.right([])
  return Either.flatMap(parseRecords(stdout), (records) => {
    const out = new Map<string, string>()
    for (const record of records) {
      const description = field(record.JOB_DESCRIPTION)
      const token = description === undefined ? undefined : tokenIn(description)
      if (token === undefined) continue
      const jobId = /^(\d+)(?:\[\d+\])?$/.exec(field(record.JOBID) ?? "")?.[1]
      if (jobId === undefined) return Either.left(`unreadable job id ${JSON.stringify(record.JOBID)}`)
      out.set(token, jobId)
    }
    return Either.right(Array.from(out, ([token, jobId]) => ({ token, jobId })))
  })
}

/** `bkill <ids>`; `bkill -d <ids>` has LSF record them as DONE. */
export const cancel = (jobIds: ReadonlyArray<string>, done: boolean): Invocation => ({
  argv: done ? ["bkill", "-d", ...jobIds] : ["bkill", ...jobIds]
})

const alreadyEnded = /No matching job|No unfinished job|Job has already finished/i

/**
 * Reads bkill's answer job by job: `Job <N>: Job has already finished` (or "No matching job
 * found", "No unfinished job found") means N had already ended; any other `Job <N>: …` (such as
 * "User permission denied") is a refusal of N. Such a message naming no job means all of them had
 * ended; any other failure naming no job (no contact with LSF) is a failed cancel.
 */
export const cancelOutcome = (
  jobIds: ReadonlyArray<string>,
  answer: CommandAnswer
): Either.Either<CancelOutcome, string> => {
  const ended: Array<string> = []
  const refused: Array<CancelRefusal> = []
  const text = `${answer.stderr}\n${answer.stdout}`
  for (const m of text.matchAll(/Job <(\d+)(?:\[\d+\])?>:\s*([^\n]*)/g)) {
    if (alreadyEnded.test(m[2]!)) ended.push(m[1]!)
    else refused.push({ jobId: m[1]!, detail: m[2]!.trim() })
  }
  if (answer.exitCode !== 0 && ended.length === 0 && refused.length === 0) {
    if (alreadyEnded.test(text)) return Either.right({ ended: jobIds, refused: [] })
    return Either.left(`bkill exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim()}`)
  }
  const asked = new Set(jobIds)
  return Either.right({
    ended: ended.filter((id) => asked.has(id)),
    refused: refused.filter((r) => asked.has(r.jobId))
  })
}

/**
 * `bkill [-d] -J GLOB 0`: every unfinished job of this user whose name matches (without the `0`,
 * bkill would reach only the most recent one). LSF's names take `*` only: a glob with `?` or
 * `[…]` gets no command, and the tracked jobs that match are cancelled by id.
 */
export const cancelByNameCommand = (glob: string, done: boolean): Invocation | undefined =>
  /[?[\]]/.test(glob) ? undefined : { argv: ["bkill", ...(done ? ["-d"] : []), "-J", glob, "0"] }

/**
 * The jobs `bkill -J GLOB 0` says it is terminating; "No matching job found" / "No unfinished job
 * found" mean none; any other failure naming no job is an error.
 */
export const cancelledByName = (answer: CommandAnswer): Either.Either<ReadonlyArray<string>, string> => {
  const text = `${answer.stdout}\n${answer.stderr}`
  const ids = Array.from(text.matchAll(/Job <(\d+)(?:\[\d+\])?> is being (?:terminated|signaled)/g), (m) => m[1]!)
  if (ids.length > 0 || answer.exitCode === 0 || alreadyEnded.test(text)) return Either.right(Array.from(new Set(ids)))
  return Either.left(`bkill exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim()}`)
}
