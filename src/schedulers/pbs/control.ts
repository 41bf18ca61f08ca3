/**
 * Reconnect, cancel and the submission-token listing: the commands and how their answers read. Pure.
 */
import { Either } from "effect"
import type { CancelOutcome, CancelRefusal, CommandAnswer, Invocation } from "../../Scheduler.js"
import type { TokenListing } from "../Token.js"
import type { Flavor } from "./syntax.js"
import { parseJobId } from "./status.js"

// ---------------------------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------------------------

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
