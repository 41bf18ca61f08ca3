/**
 * Reconnect, cancel and the submission-token listing: the commands and how their answers read. Pure.
 */
import { Either } from "effect"
import type { BatchListing, CommandAnswer, CancelOutcome, CancelRefusal, Invocation } from "../../Scheduler.js"
import { listingFrom } from "../Observed.js"
import type { TokenListing } from "../Token.js"
import { tokenIn, tokenMarker } from "../Token.js"
import { observed, parseSqueueRows, splitLines, squeueFormat } from "./status.js"

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
