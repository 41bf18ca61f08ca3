/**
 * What the command line does when Ctrl-C (SIGINT) or SIGTERM interrupts a command that waits for
 * jobs (`submit --wait`, `wait`, `retry --wait`, `run`). Jobs on a batch scheduler do not end with
 * cluster-api: it says which are still queued or running and how to cancel them, or cancels them
 * when `--cancel-on-interrupt` asks. Local jobs end with cluster-api: it says which it terminates.
 * Everything is printed on stderr, so that stdout keeps only what the command prints (JSON with
 * --json).
 */
import { Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { JobRecord } from "../Domain.js"
import { isTerminal } from "../Domain.js"
import { Executor } from "../Executor.js"
import { JobStore } from "../JobStore.js"
import { lastAttemptOf } from "../Retry.js"
import { shellQuote } from "../internal/script.js"
import { formatTable } from "./Progress.js"

export const cancelOnInterruptOption = Options.boolean("cancel-on-interrupt").pipe(
  Options.withDescription(
    "On Ctrl-C or SIGTERM, cancel the jobs still queued or running on the scheduler (without it they keep running, and cluster-api prints how to cancel them); local jobs end with cluster-api either way"
  )
)

/** What an interrupted command does about the jobs it waited for. */
export interface InterruptOptions {
  /** Cancel the jobs still queued or running (`--cancel-on-interrupt`). */
  readonly cancel: boolean
  /** The options that found the job store (`--config PATH`, `--profile NAME`), for the commands printed. */
  readonly globalArgs: ReadonlyArray<string>
  /** Run first (e.g. erase the live progress summary). */
  readonly before?: Effect.Effect<void> | undefined
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

const jobTable = (records: ReadonlyArray<JobRecord>): string =>
  formatTable(["ID", "NAME", "STATUS"], records.map((r) => [r.jobId, r.name, r.status]))
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n")

/** `cluster-api SUBCOMMAND [global options] ID…`, every word quoted for a shell. */
export const commandFor = (
  subcommand: string,
  globalArgs: ReadonlyArray<string>,
  records: ReadonlyArray<JobRecord>
): string => ["cluster-api", subcommand, ...globalArgs, ...records.map((r) => r.jobId)].map(shellQuote).join(" ")

/**
 * What is printed about scheduler jobs left queued or running; `hint` adds that
 * --cancel-on-interrupt would have cancelled them.
 */
export const leftRunningText = (
  executor: string,
  records: ReadonlyArray<JobRecord>,
  globalArgs: ReadonlyArray<string>,
  hint = true
): string =>
  records.length === 0
    ? "Interrupted: no job waited for is still queued or running."
    : [
      `Interrupted: ${plural(records.length, "job is", "jobs are")} still queued or running on ${executor}; ${
        records.length === 1 ? "it runs" : "they run"
      } on without cluster-api:`,
      jobTable(records),
      `Cancel ${records.length === 1 ? "it" : "them"} with: ${commandFor("cancel", globalArgs, records)}`,
      `Watch ${records.length === 1 ? "it" : "them"} again with: ${commandFor("wait", globalArgs, records)}`,
      ...(hint ? [`(with --cancel-on-interrupt, Ctrl-C or SIGTERM cancels ${records.length === 1 ? "it" : "them"} instead)`] : [])
    ].join("\n")

/** What is printed about scheduler jobs cancelled on the interrupt. */
export const cancelledText = (executor: string, records: ReadonlyArray<JobRecord>): string =>
  `Interrupted: cancelled ${plural(records.length, "job", "jobs")} still queued or running on ${executor} (--cancel-on-interrupt):\n${
    jobTable(records)
  }`

/** What is printed about jobs the scheduler says ended before the cancel reached them. */
export const endedFirstText = (records: ReadonlyArray<JobRecord>, globalArgs: ReadonlyArray<string>): string =>
  `Interrupted: ${plural(records.length, "job", "jobs")} had already ended, so there was nothing to cancel; ${
    commandFor("wait", globalArgs, records)
  } reads how:\n${formatTable(["ID", "NAME"], records.map((r) => [r.jobId, r.name])).split("\n").map((l) => `  ${l}`).join("\n")}`

/** What is printed about local jobs, which end with cluster-api. */
export const terminatedText = (records: ReadonlyArray<JobRecord>): string =>
  records.length === 0
    ? "Interrupted: no job waited for is still queued or running."
    : `Interrupted: local jobs run as child processes of cluster-api and end with it, so ${
      records.length === 1 ? "this one is" : `these ${records.length} are`
    } terminated now (recorded Killed):\n${jobTable(records)}`

/**
 * The jobs of `executor` among `jobIds` (each at its last attempt) that have not ended, as the
 * store has them.
 */
export const unfinished = (executor: string, jobIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const found = yield* Effect.forEach(new Set(jobIds), (jobId) =>
      store.get({ executor, jobId }).pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.succeed(Option.none()), onSome: (r) => Effect.asSome(lastAttemptOf(r)) }))
      ))
    const latest = new Map(found.flatMap((r) => (Option.isSome(r) ? [[r.value.jobId, r.value] as const] : [])))
    return Array.from(latest.values()).filter((r) => !isTerminal(r))
  })

/** Says what is left of the jobs (or cancels them); never fails, so the exit stays an interrupt. */
const report = (jobIds: ReadonlyArray<string>, options: InterruptOptions) =>
  Effect.gen(function*() {
    if (options.before !== undefined) yield* options.before
    const executor = yield* Executor
    const left = yield* unfinished(executor.kind, jobIds)
    // Jobs that end with this program: nothing to cancel or leave running, they are terminated.
    if (!executor.capabilities.outlivesProgram) return yield* Console.error(terminatedText(left))
    if (!options.cancel || left.length === 0) return yield* Console.error(leftRunningText(executor.kind, left, options.globalArgs))
    // Newest first: a dependent cancelled after what it depends on could be failed by the
    // scheduler first (its dependency can no longer be met) rather than cancelled.
    const newestFirst = [...left].reverse()
    const results = yield* Effect.forEach(newestFirst, (r) => Effect.either(executor.cancel(r.jobId)))
    const answered = results.flatMap((e) => (e._tag === "Right" ? [e.right] : [])).reverse()
    // One the scheduler said had already ended keeps its record until a poll reads how it ended.
    const cancelled = answered.filter(isTerminal)
    const endedFirst = answered.filter((r) => !isTerminal(r))
    if (cancelled.length > 0) yield* Console.error(cancelledText(executor.kind, cancelled))
    if (endedFirst.length > 0) yield* Console.error(endedFirstText(endedFirst, options.globalArgs))
    const failed = newestFirst.filter((_, i) => results[i]!._tag === "Left").reverse()
    for (const e of results) if (e._tag === "Left") yield* Console.error(`Could not cancel: ${e.left.message}`)
    if (failed.length > 0) yield* Console.error(leftRunningText(executor.kind, failed, options.globalArgs, false))
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("could not say which jobs are still queued or running", cause))
  )

/**
 * Runs `self`; interrupted, says which of the jobs `jobIds` gives are still queued or running and
 * how to cancel them, or cancels them (see the module's comment).
 */
export const whenInterrupted = (jobIds: Effect.Effect<ReadonlyArray<string>>, options: InterruptOptions) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Executor | JobStore> =>
  Effect.onInterrupt(self, () => Effect.flatMap(jobIds, (ids) => report(ids, options)))
