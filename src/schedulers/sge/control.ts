/**
 * Reconnect, cancel (by id, by name), release of a gated job and the submission-token listing:
 * the commands and how their answers read. Pure.
 */
import { Either } from "effect"
import type { BatchListing, CancelOutcome, CancelRefusal, CommandAnswer, Invocation, StatusContext } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import { listingFrom } from "../Observed.js"
import type { TokenListing } from "../Token.js"
import { tokenIn, tokenMarker } from "../Token.js"
import { parseQstatXml, status } from "./status.js"

// ---------------------------------------------------------------------------------------------
// Reconnect and cancel
// ---------------------------------------------------------------------------------------------

/** The user's jobs (everyone's with `poll_all_users`), for reconnecting after a restart. */
export const listCommand = (options: ConfigOptions, context: StatusContext): Invocation => status([], options, context)

export const parseListing = (stdout: string): Either.Either<ReadonlyArray<BatchListing>, string> =>
  Either.map(parseQstatXml(stdout), (rows) => listingFrom(rows))

/** A submission's token, as a job context variable (`-ac`; `qstat -j` shows it as `context:`). */
export const tokenArgs = (token: string): ReadonlyArray<string> => ["-ac", `cluster_api=${tokenMarker(token)}`]

/** Every job the qmaster holds, in detail (context included). */
export const tokenCommand = (): Invocation => ({ argv: ["qstat", "-j", "*"] })

/** Whether a failed `tokenCommand` only says there are no jobs. */
export const tokenNoJobs = (answer: CommandAnswer): boolean =>
  /do(?:es)? not exist/i.test(`${answer.stderr}\n${answer.stdout}`)

/** The jobs `tokenCommand` printed whose context carries a token. */
export const parseTokens = (stdout: string): Either.Either<ReadonlyArray<TokenListing>, string> => {
  const out = new Map<string, string>()
  let jobId: string | undefined
  for (const line of stdout.split("\n")) {
    const m = /^(job_number|context):\s*(.*)$/.exec(line)
    if (m === null) continue
    if (m[1] === "job_number") {
      if (!/^\d+$/.test(m[2]!.trim())) return Either.left(`unreadable job_number ${JSON.stringify(m[2])}`)
      jobId = m[2]!.trim()
      continue
    }
    const token = tokenIn(m[2]!)
    if (token === undefined) continue
    if (jobId === undefined) return Either.left("a context line before any job_number")
    out.set(token, jobId)
  }
  return Either.right(Array.from(out, ([token, id]) => ({ token, jobId: id })))
}

/** `qdel <ids>` (SGE has no "mark done": a cancelled job is always Killed). */
export const cancel = (jobIds: ReadonlyArray<string>, _done: boolean): Invocation => ({ argv: ["qdel", ...jobIds] })

/**
 * Reads qdel's answer job by job: `… has deleted job 7` / `… has registered the job 7 for
 * deletion` cancelled it; `job 7 is already in deletion` too; `denied: job "7" does not exist`
 * means it had already ended (and left qstat); any other line naming a job refuses it.
 */
export const cancelOutcome = (jobIds: ReadonlyArray<string>, answer: CommandAnswer): Either.Either<CancelOutcome, string> => {
  const ended: Array<string> = []
  const refused: Array<CancelRefusal> = []
  const done = new Set<string>()
  for (const line of `${answer.stdout}\n${answer.stderr}`.split("\n")) {
    const t = line.trim()
    if (t === "") continue
    const deleted = /has (?:deleted|registered the) job(?:-array)? (?:task )?(\d+)|job (\d+) is already in deletion/.exec(t)
    if (deleted !== null) {
      done.add((deleted[1] ?? deleted[2])!)
      continue
    }
    const missing = /job "?(\d+)"? does not exist/.exec(t)
    if (missing !== null) {
      ended.push(missing[1]!)
      continue
    }
    const other = /\bjob "?(\d+)"?/.exec(t)
    if (other !== null) refused.push({ jobId: other[1]!, detail: t })
  }
  if (answer.exitCode !== 0 && done.size === 0 && ended.length === 0 && refused.length === 0) {
    return Either.left(`qdel exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim() || answer.stdout.trim()}`)
  }
  const asked = new Set(jobIds)
  return Either.right({
    ended: ended.filter((id) => asked.has(id) && !done.has(id)),
    refused: refused.filter((r) => asked.has(r.jobId) && !done.has(r.jobId))
  })
}

/**
 * `qdel -u <user> <glob>`: SGE takes a job name pattern (`*`, `?`, `[…]`); `-u` keeps it to this
 * user's jobs even for an operator, whose qdel would reach everyone's (`poll_all_users`: it does).
 */
export const cancelByNameCommand = (glob: string, _done: boolean, options: ConfigOptions, context: StatusContext): Invocation => ({
  argv: ["qdel", ...(options.poll_all_users || context.user === "" ? [] : ["-u", context.user]), glob]
})

/** The jobs `qdel <glob>` says it deleted; "does not exist"/no match means none. */
export const cancelledByName = (answer: CommandAnswer): Either.Either<ReadonlyArray<string>, string> => {
  const text = `${answer.stdout}\n${answer.stderr}`
  const ids = Array.from(
    text.matchAll(/has (?:deleted|registered the) job(?:-array)? (?:task )?(\d+)|job (\d+) is already in deletion/g),
    (m) => (m[1] ?? m[2])!
  )
  if (ids.length > 0 || answer.exitCode === 0 || /does not exist|no job/i.test(text)) return Either.right(Array.from(new Set(ids)))
  return Either.left(`qdel exited with ${answer.exitCode ?? "no exit code"}: ${answer.stderr.trim()}`)
}

/** `qrls -h u <ids>`: releases the user hold a gated job was submitted with. */
export const release = (jobIds: ReadonlyArray<string>): Invocation => ({ argv: ["qrls", "-h", "u", ...jobIds] })
