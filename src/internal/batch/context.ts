/**
 * What the parts of a batch executor share, built once per executor: its dialect, the config,
 * the command runner and the store, files and paths, and the helpers that run a scheduler command
 * with the configured timeout and turn its failures into the executor's errors.
 */
import { Clock, Duration, Effect, Either, Ref } from "effect"
import { userInfo } from "node:os"
import { CancelError, PollError } from "../../Errors.js"
import type { CommandError, CommandFailed, PollFailureReason } from "../../Errors.js"
import type { JobKey } from "../../JobStore.js"
import type { CommandAnswer, Dialect, Invocation, StatusContext } from "../../Scheduler.js"
import type { ExecutorServices } from "../executorServices.js"
import { executorServices } from "../executorServices.js"

/** The name this process runs as (for `qstat -u`, and whose jobs a reconnect keeps). */
export const currentUser = (): string => {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? ""
  }
}

/** One batch executor's dialect, services and per-executor state. */
export interface BatchContext extends ExecutorServices {
  readonly dialect: Dialect
  readonly timeout: Duration.Duration
  readonly now: Effect.Effect<Date>
  /** What the dialect's listing and status commands are told (whose jobs). */
  readonly statusContext: StatusContext
  /** Whether accounting was found missing: said once, then the fallback is used quietly. */
  readonly warnedUnavailable: Ref.Ref<boolean>
}

/** The context of the executor speaking `dialect`, from the services its layer is given. */
export const makeContext = (dialect: Dialect) =>
  Effect.gen(function*() {
    const services = yield* executorServices
    const ctx: BatchContext = {
      ...services,
      dialect,
      timeout: Duration.seconds(services.options.command_timeout),
      now: Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms))),
      statusContext: { user: currentUser() },
      warnedUnavailable: yield* Ref.make(false)
    }
    return ctx
  })

/** A job of this scheduler, as the store knows it. */
export const keyOf = (ctx: BatchContext, jobId: string): JobKey => ({ executor: ctx.dialect.kind, jobId })

/** Runs one scheduler command with the configured timeout. */
export const call = (ctx: BatchContext, invocation: Invocation, cwd?: string) =>
  ctx.runner.run({
    argv: invocation.argv,
    stdin: invocation.stdin,
    env: invocation.env,
    cwd,
    timeout: ctx.timeout
  })

/**
 * Runs a command for its answer: a non-zero exit is an answer too when `readable` says so
 * (a scheduler that says "none of these jobs" by failing), and a CommandFailed otherwise.
 * An answer read from a failed command keeps that CommandFailed (`failure`).
 */
export const answerOf = (ctx: BatchContext, invocation: Invocation, readable: (answer: CommandAnswer) => boolean) =>
  call(ctx, invocation).pipe(
    Effect.map((r): CommandAnswer & { readonly failure?: CommandFailed } => r),
    Effect.catchTag("CommandFailed", (e) => {
      const answer = { exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, failure: e }
      return readable(answer) ? Effect.succeed(answer) : Effect.fail(e)
    })
  )

/** What kind of failure a scheduler command's error is: it ran and failed, timed out, or could not be run. */
export const commandFailureReason = (e: CommandError): "Failed" | "Timeout" | "Unavailable" =>
  e._tag === "CommandFailed" ? "Failed" : e._tag === "CommandTimeout" ? "Timeout" : "Unavailable"

/** A cancel whose command failed, timed out or could not be run, keeping the command's error. */
export const commandCancelError = (jobId: string, e: CommandError) =>
  new CancelError({ jobId, detail: e.message, reason: commandFailureReason(e), cause: e })

export const pollError = (ctx: BatchContext, detail: string, reason: PollFailureReason, cause?: unknown) =>
  new PollError({ executor: ctx.dialect.kind, detail, reason, cause })

/** A PollError for a command that failed, timed out or could not be run, keeping its error. */
export const commandPollError = (ctx: BatchContext, e: CommandError, prefix = "") =>
  pollError(ctx, `${prefix}${e.message}`, commandFailureReason(e), e)

/** What a dialect read from a command's output, or a PollError naming the command. */
export const parsed = <A>(
  ctx: BatchContext,
  invocation: Invocation,
  result: Either.Either<A, string>
): Effect.Effect<A, PollError> =>
  Either.isRight(result)
    ? Effect.succeed(result.right)
    : Effect.fail(pollError(ctx, `unreadable output from ${invocation.argv[0]}: ${result.left}`, "Unreadable"))
