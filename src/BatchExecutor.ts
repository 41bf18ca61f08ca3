/**
 * The executor for batch schedulers, built on a `Dialect`: a scheduler's whole syntax as pure
 * functions (argv and text in, data out). This file owns everything the schedulers share: writing
 * the script, running the commands with the configured timeout, one status command per tick for
 * every tracked job (split only past the command-line limit), one accounting command for the jobs
 * that left the live queue, and cancellation written through the JobStore.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Either, Layer, Option, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import type { CommandRunnerShape } from "./CommandRunner.js"
import { CommandRunner } from "./CommandRunner.js"
import { ClusterConfig } from "./Config.js"
import { userInfo } from "node:os"
import type { JobRecord, JobSpec, Observation } from "./Domain.js"
import { isTerminal, isTerminalStatus } from "./Domain.js"
import { CancelError, HoldError, InvalidJobSpec, JobNotFound, PollError, SubmitError, SubmittedNotRecorded } from "./Errors.js"
import type { CommandError, CommandFailed, PollFailureReason, SubmitFailureReason } from "./Errors.js"
import type { CancelOptions, ExecutorShape } from "./Executor.js"
import type { PathSource } from "./internal/prepare.js"
import { Executor } from "./Executor.js"
import { jobDirectories, prepareJob, requirePlainPaths } from "./internal/prepare.js"
import * as JobName from "./JobName.js"
import { JobStore } from "./JobStore.js"
import type { JobKey, SubmitIntent } from "./JobStore.js"
import type { CancelOutcome, CancelRefusal, CommandAnswer, Dialect, Invocation, JobPaths, StatusContext } from "./Scheduler.js"
import { arrayIndexVariable, scriptStemPlaceholder } from "./Scheduler.js"
import { makeScriptWriter, renderScript, skipDirectives } from "./Script.js"
import { applyObservation, cancelled } from "./Transition.js"
import * as WorkingDirectory from "./WorkingDirectory.js"

export { dependencyVerdict } from "./Domain.js"

export { scriptStemPlaceholder, submitScript } from "./Scheduler.js"
export type {
  BatchListing,
  CancelOutcome,
  CancelRefusal,
  CommandAnswer,
  Dialect,
  Invocation,
  JobPaths,
  StatusContext,
  SubmitRequest
} from "./Scheduler.js"

/**
 * A scheduler that says only that a job's dependency can never be met (not which) gets the job's
 * dependencies named from its record.
 */
export const nameDependencies = (
  jobs: ReadonlyArray<JobRecord>,
  observations: ReadonlyArray<Observation>
): ReadonlyArray<Observation> => {
  const byId = new Map(jobs.map((j) => [j.jobId, j] as const))
  return observations.map((o) => {
    const deps = byId.get(o.jobId)?.dependsOn
    if (o.reason?._tag !== "DependencyFailed" || o.reason.dependencies.length > 0 || deps === undefined) return o
    return { ...o, reason: { _tag: "DependencyFailed", dependencies: deps.map((d) => d.jobId) } }
  })
}

/** Whether what the scheduler shows of a job says it has ended (an array: every element it shows). */
export const hasEnded = (observation: Observation): boolean => {
  const elements = observation.elements ?? []
  if (elements.length > 0) return elements.every((e) => isTerminalStatus(e.status))
  return observation.status !== undefined && isTerminalStatus(observation.status)
}

/**
 * A record for a job this program did not submit, from what the scheduler shows of it: its
 * command is unknown, and an array's range is rebuilt from the elements shown.
 */
export const recordFrom = (
  executor: string,
  jobId: string,
  name: string,
  observation: Observation,
  at: Date,
  metadata?: JobRecord["metadata"]
): JobRecord => {
  const indices = (observation.elements ?? []).map((e) => e.index)
  const base: JobRecord = {
    jobId,
    name,
    command: "",
    executor,
    status: "Pending",
    lastSeen: at,
    metadata: { ...metadata, reconnected: true },
    ...(indices.length === 0 ? {} : { array: { start: Math.min(...indices), end: Math.max(...indices) } })
  }
  return applyObservation(base, observation, at)
}

/** Status commands are split so that no argv passes this many characters. */
export const argvBudget = 100_000

/** Splits jobs into groups whose ids fit in one command line. */
export const chunkJobs = (jobs: ReadonlyArray<JobRecord>, budget = argvBudget): Array<Array<JobRecord>> => {
  const chunks: Array<Array<JobRecord>> = []
  let current: Array<JobRecord> = []
  let size = 0
  for (const job of jobs) {
    const cost = job.jobId.length + 1
    if (current.length > 0 && size + cost > budget) {
      chunks.push(current)
      current = []
      size = 0
    }
    current.push(job)
    size += cost
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/**
 * Whether a job needs the accounting tool: the live queue did not show it, or it is an array
 * whose known unfinished elements the live queue no longer shows (they ended since).
 */
export const needsAccounting = (record: JobRecord, live: Observation | undefined): boolean => {
  if (live === undefined) return true
  if (record.array === undefined || record.elements === undefined) return false
  const shown = new Set((live.elements ?? []).map((e) => e.index))
  return record.elements.some((e) => !isTerminalStatus(e.status) && !shown.has(e.index))
}

/**
 * One observation per job: where the live queue and the accounting tool both spoke of an array,
 * its elements are merged, the live queue's word winning for an element both mention.
 */
export const mergeObservations = (
  live: ReadonlyArray<Observation>,
  later: ReadonlyArray<Observation>
): ReadonlyArray<Observation> => {
  const byId = new Map(live.map((o) => [o.jobId, o] as const))
  for (const o of later) {
    const current = byId.get(o.jobId)
    if (current === undefined) {
      byId.set(o.jobId, o)
      continue
    }
    const elements = new Map((o.elements ?? []).map((e) => [e.index, e] as const))
    for (const e of current.elements ?? []) elements.set(e.index, e)
    byId.set(o.jobId, {
      ...current,
      elements: Array.from(elements.values()).sort((a, b) => a.index - b.index),
      // What either answer could not read about the job keeps it unread.
      ...(o.unreadable !== undefined ? { unreadable: o.unreadable } : {})
    })
  }
  return Array.from(byId.values())
}

/** The name this process runs as (for `qstat -u`, and whose jobs a reconnect keeps). */
export const currentUser = (): string => {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? ""
  }
}


/** The submit command with more options (a submission's token): before the script's path, or last. */
export const withArguments = (invocation: Invocation, args: ReadonlyArray<string>, scriptPath: string): Invocation => {
  const argv = invocation.argv
  const at = argv.length > 1 && argv[argv.length - 1] === scriptPath ? argv.length - 1 : argv.length
  return args.length === 0 ? invocation : { ...invocation, argv: [...argv.slice(0, at), ...args, ...argv.slice(at)] }
}

/**
 * A submitted job's record, from the draft its submission wrote (JobStore.SubmitIntent) and the
 * id the scheduler gave: the log paths get what is known once the job has an id.
 */
export const submittedRecord = (dialect: Dialect, draft: JobRecord, jobId: string): JobRecord => {
  const isArray = draft.array !== undefined
  const resolve = (template: string | undefined) =>
    template === undefined ? undefined : dialect.resolveLogPath?.(template, jobId, draft.name, isArray) ?? template
  return { ...draft, jobId, stdoutPath: resolve(draft.stdoutPath), stderrPath: resolve(draft.stderrPath) }
}

/**
 * The record of a submission whose program died while submitting and whose job the scheduler
 * does not show: Failed(SubmitFailed), under the submission's token for an id.
 */
export const lostSubmission = (intent: SubmitIntent, at: Date): JobRecord => ({
  ...intent.draft,
  jobId: `unsubmitted-${intent.token}`,
  status: "Failed",
  reason: {
    _tag: "SubmitFailed",
    message:
      `the program ended during the submit and ${intent.executor} has no such job (no job of yours carries its token ${intent.token}; a job that ended long ago may have left the scheduler's memory)`
  },
  finishTime: at,
  lastSeen: at
})

/** How often a job's record is written again when the store fails right after the submit. */
export const recordRetry = Schedule.exponential(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(4)))

/**
 * Refuses, naming the field, a resolved path holding a control character or what the scheduler
 * cannot be given (see `Dialect.pathProblem`).
 */
export const checkPaths = (
  dialect: Dialect,
  jobName: string,
  sources: ReadonlyArray<PathSource>
): Effect.Effect<void, InvalidJobSpec> =>
  Effect.gen(function*() {
    yield* requirePlainPaths(jobName, sources)
    for (const source of sources) {
      const problem = source.use === "script" ? undefined : dialect.pathProblem?.(source.path, source.use)
      if (problem !== undefined) return yield* new InvalidJobSpec({ name: jobName, field: source.field, problem })
    }
  })

/** What kind of failure a scheduler command's error is: it ran and failed, timed out, or could not be run. */
const commandFailureReason = (e: CommandError): "Failed" | "Timeout" | "Unavailable" =>
  e._tag === "CommandFailed" ? "Failed" : e._tag === "CommandTimeout" ? "Timeout" : "Unavailable"

/** A cancel whose command failed, timed out or could not be run, keeping the command's error. */
const commandCancelError = (jobId: string, e: CommandError) =>
  new CancelError({ jobId, detail: e.message, reason: commandFailureReason(e), cause: e })

export const make = (dialect: Dialect) =>
  Effect.gen(function*() {
    const { options } = yield* ClusterConfig
    const runner: CommandRunnerShape = yield* CommandRunner
    const store = yield* JobStore
    /** A job of this scheduler, as the store knows it. */
    const keyOf = (jobId: string): JobKey => ({ executor: dialect.kind, jobId })
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const platform = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
    const writeNextScript = yield* makeScriptWriter
    const baseDir = yield* WorkingDirectory.current
    const timeout = Duration.seconds(options.command_timeout)
    const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))
    const context: StatusContext = { user: currentUser() }

    const call = (invocation: Invocation, cwd?: string) =>
      runner.run({
        argv: invocation.argv,
        stdin: invocation.stdin,
        env: invocation.env,
        cwd,
        timeout
      })

    const submit = Effect.fn(`${dialect.kind}.submit`)(function*(spec: JobSpec) {
      const job = yield* prepareJob(spec, options)
      const refused = dialect.validate?.(job, options)
      if (refused !== undefined) return yield* new InvalidJobSpec({ name: job.name, ...refused })
      const { outDir, runDir, sources } = jobDirectories(job, options, baseDir, path.resolve)
      yield* checkPaths(dialect, job.name, sources)
      yield* fs.makeDirectory(outDir, { recursive: true }).pipe(
        Effect.mapError((e) =>
          new SubmitError({ name: job.name, detail: `could not create ${outDir}: ${e.message}`, reason: "Io", cause: e })
        )
      )
      const isArray = job.array !== undefined
      const escape = dialect.escapeLogPath ?? ((p: string) => p)
      const logPath = (stream: "stdout" | "stderr", given: string | undefined, stem: string) =>
        given !== undefined
          ? escape(path.resolve(runDir, given))
          : path.join(escape(outDir), dialect.logFileName(stream, isArray).replaceAll(scriptStemPlaceholder, stem))
      /** Where the logs go, for the script file stem the job gets. */
      const pathsFor = (stem: string): JobPaths => ({
        runDir,
        stdout: logPath("stdout", job.resources.stdoutPath, stem),
        stderr: logPath("stderr", job.resources.stderrPath, stem)
      })
      const scriptFor = (paths: JobPaths) =>
        renderScript({
          shebang: dialect.loginShellOnSubmit === true
            ? options.shebang
            : job.loginShell?.shebang ?? options.shebang,
          header: skipDirectives(
            [...dialect.directives(job, paths, options), ...options.extra_directives],
            options.directives_skip
          ),
          env: job.spec.env,
          prologue: [
            ...(dialect.preamble?.(job, paths) ?? []),
            // Every executor gives an array element its index as $ARRAY_INDEX.
            ...(isArray && dialect.arrayIndexVariable !== undefined
              ? [`export ${arrayIndexVariable}="\${${dialect.arrayIndexVariable}}"`]
              : []),
            ...options.script_prologue,
            ...(job.spec.prologue ?? [])
          ],
          command: job.spec.command,
          epilogue: [...options.script_epilogue, ...(job.spec.epilogue ?? [])]
        })
      const written = yield* writeNextScript(outDir, job.name, (stem) => scriptFor(pathsFor(stem))).pipe(
        Effect.provide(platform),
        Effect.mapError((e) =>
          new SubmitError({
            name: job.name,
            detail: `could not write the job script in ${outDir}: ${e.message}`,
            reason: "Io",
            cause: e
          })
        )
      )
      const paths = pathsFor(path.basename(written.path, ".sh"))
      const script = written.content
      const startedAt = yield* now
      const draft: JobRecord = {
        jobId: "",
        name: job.name,
        command: spec.command,
        executor: dialect.kind,
        status: "Pending",
        submitTime: startedAt,
        lastSeen: startedAt,
        workDir: runDir,
        scriptPath: written.path,
        stdoutPath: paths.stdout,
        stderrPath: paths.stderr,
        metadata: job.spec.metadata ?? {},
        spec: job.spec,
        ...(job.array === undefined ? {} : { array: job.array }),
        ...(job.spec.dependsOn === undefined || job.spec.dependsOn.length === 0
          ? {}
          : { dependsOn: job.spec.dependsOn })
      }
      const failed = (detail: string, reason: SubmitFailureReason, cause?: unknown) =>
        new SubmitError({ name: job.name, detail, scriptPath: written.path, reason, cause })
      const token = yield* announce(draft, startedAt).pipe(
        Effect.mapError((e) =>
          failed(`the job store could not record the submission, so nothing was submitted: ${e.detail}`, "Store", e)
        )
      )
      const invocation = withArguments(
        dialect.submit({ job, options, scriptPath: written.path, script, paths }),
        token === undefined ? [] : dialect.token?.args(token) ?? [],
        written.path
      )
      const result = yield* call(invocation, runDir).pipe(
        // A submit that timed out may have reached the scheduler: its intent stays for the next program.
        Effect.tapError((e) => e._tag === "CommandTimeout" ? Effect.void : forget(token)),
        Effect.mapError((e) =>
          failed(
            e.message,
            e._tag === "CommandFailed" ? "Rejected" : e._tag === "CommandTimeout" ? "Timeout" : "Unavailable",
            e
          )
        )
      )
      const jobId = dialect.parseSubmit(result.stdout)
      if (Either.isLeft(jobId)) {
        yield* forget(token)
        return yield* failed(jobId.left, "Unreadable")
      }
      const submitTime = yield* now
      const record = submittedRecord(dialect, { ...draft, submitTime, lastSeen: submitTime }, jobId.right)
      yield* recordSubmitted(token, record)
      return record
    })

    /**
     * Writes the submission's intent before the scheduler is asked (a dialect that cannot carry
     * a token writes none): its token, or undefined. Fails with the store's error: nothing was
     * submitted then.
     */
    const announce = (draft: JobRecord, at: Date) =>
      Effect.gen(function*() {
        if (dialect.token === undefined) return undefined
        const token = randomBytes(8).toString("hex")
        yield* store.addIntent({ token, executor: dialect.kind, name: draft.name, at, draft })
        return token
      })

    /** Removes the intent of a submission the scheduler refused (a failure here is only logged). */
    const forget = (token: string | undefined) =>
      token === undefined ? Effect.void : store.settleIntent(token, []).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`could not remove the submission ${token} from the job store; the next program settles it`, cause)
        )
      )

    /**
     * Records a submitted job (and ends its intent), tried again a few times; when the store
     * still fails, the job runs unrecorded: SubmittedNotRecorded names it, and its intent stays
     * for the next program to adopt the job.
     */
    const recordSubmitted = (token: string | undefined, record: JobRecord) =>
      (token === undefined ? store.insert([record]) : store.settleIntent(token, [record])).pipe(
        Effect.catchAllDefect((defect) => Effect.fail(defect)),
        Effect.retry(recordRetry),
        Effect.mapError((cause) =>
          new SubmittedNotRecorded({ executor: dialect.kind, jobId: record.jobId, name: record.name, cause })
        )
      )

    /**
     * Runs a command for its answer: a non-zero exit is an answer too when `readable` says so
     * (a scheduler that says "none of these jobs" by failing), and a CommandFailed otherwise.
     * An answer read from a failed command keeps that CommandFailed (`failure`).
     */
    const answerOf = (invocation: Invocation, readable: (answer: CommandAnswer) => boolean) =>
      call(invocation).pipe(
        Effect.map((r): CommandAnswer & { readonly failure?: CommandFailed } => r),
        Effect.catchTag("CommandFailed", (e) => {
          const answer = { exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, failure: e }
          return readable(answer) ? Effect.succeed(answer) : Effect.fail(e)
        })
      )

    const pollError = (detail: string, reason: PollFailureReason, cause?: unknown) =>
      new PollError({ executor: dialect.kind, detail, reason, cause })

    /** A PollError for a command that failed, timed out or could not be run, keeping its error. */
    const commandPollError = (e: CommandError, prefix = "") =>
      pollError(`${prefix}${e.message}`, commandFailureReason(e), e)

    /** What a dialect read from a command's output, or a PollError naming the command. */
    const parsed = <A>(invocation: Invocation, result: Either.Either<A, string>): Effect.Effect<A, PollError> =>
      Either.isRight(result)
        ? Effect.succeed(result.right)
        : Effect.fail(pollError(`unreadable output from ${invocation.argv[0]}: ${result.left}`, "Unreadable"))

    const runStatus = (jobs: ReadonlyArray<JobRecord>) => {
      const invocation = dialect.status(jobs, options, context)
      const usable = dialect.statusUsableOnFailure
      return answerOf(invocation, (a) => usable?.(a.exitCode, a.stdout, a.stderr) === true).pipe(
        Effect.mapError((e) => commandPollError(e)),
        Effect.flatMap((answer) => parsed(invocation, dialect.parseStatus(answer.stdout)))
      )
    }

    /** Whether accounting was found missing: said once, then the fallback is used quietly. */
    let warnedUnavailable = false

    const runAccounting = (accounting: NonNullable<Dialect["accounting"]>, jobs: ReadonlyArray<JobRecord>) =>
      Effect.gen(function*() {
        const invocation = accounting.command(jobs, options, context)
        const answer = yield* call(invocation).pipe(
          Effect.map((r) => ({ failure: undefined, stdout: r.stdout, stderr: r.stderr })),
          Effect.catchTag("CommandFailed", (e) => Effect.succeed({ failure: e, stdout: e.stdout, stderr: e.stderr })),
          Effect.mapError((e) => commandPollError(e))
        )
        const fallback = accounting.fallback
        if (accounting.unavailable?.(answer.stdout, answer.stderr) === true) {
          if (fallback === undefined) {
            return yield* pollError(
              `${invocation.argv[0]} says accounting is disabled: ${answer.stderr.trim()}`,
              "Unavailable",
              answer.failure
            )
          }
          return { unavailable: true as const }
        }
        if (answer.failure !== undefined) {
          const failed: CommandAnswer = { exitCode: answer.failure.exitCode, stdout: answer.stdout, stderr: answer.stderr }
          if (accounting.noRecord?.(failed) !== true) return yield* commandPollError(answer.failure)
          return { unavailable: false as const, observations: [] }
        }
        const at = yield* now
        return {
          unavailable: false as const,
          observations: yield* parsed(invocation, accounting.parse(answer.stdout, jobs, at))
        }
      })

    const poll: ExecutorShape["poll"] = (jobs) =>
      observe(jobs).pipe(Effect.map((observations) => nameDependencies(jobs, observations)))

    /**
     * Tracked jobs the status answer says failed without saying why get the scheduler's reason,
     * from one more command (asked once: the job is then recorded Failed and no longer polled).
     */
    const explained = (jobs: ReadonlyArray<JobRecord>, observations: ReadonlyArray<Observation>) =>
      Effect.gen(function*() {
        const explain = dialect.explain
        if (explain === undefined) return observations
        const tracked = new Set(jobs.map((j) => j.jobId))
        const wanted = observations.filter((o) => tracked.has(o.jobId) && explain.wanted(o)).map((o) => o.jobId)
        if (wanted.length === 0) return observations
        const invocation = explain.command(wanted)
        const reasons = yield* answerOf(invocation, (a) => a.stdout.trim() !== "").pipe(
          Effect.map((a) => explain.parse(a.stdout)),
          Effect.catchAll((e) =>
            Effect.logWarning(`${invocation.argv[0]} could not say why jobs ${wanted.join(", ")} failed: ${e.message}`).pipe(
              Effect.as(new Map<string, string>())
            )
          )
        )
        return observations.map((o) => {
          const why = reasons.get(o.jobId)
          if (why === undefined || o.reason?._tag !== "SchedulerFailure") return o
          return { ...o, reason: { _tag: "SchedulerFailure" as const, detail: `${o.reason.detail}: ${why}` } }
        })
      })

    /** A HoldError for a release or withdraw command that failed, timed out or could not be run. */
    const holdError = (action: "release" | "withdraw", jobIds: ReadonlyArray<string>) => (e: CommandError) =>
      new HoldError({ executor: dialect.kind, action, jobIds, detail: e.message, reason: commandFailureReason(e), cause: e })

    /** Dependencies the scheduler only orders by (see `Dialect.gate`), left to the Monitor's gate. */
    const gatedDependencies: ExecutorShape["gatedDependencies"] = (job) => {
      const gate = dialect.gate
      return gate === undefined ? [] : (job.dependsOn ?? []).filter(gate.gated)
    }

    const release: ExecutorShape["release"] = (jobIds) => {
      const gate = dialect.gate
      if (gate === undefined || jobIds.length === 0) return Effect.void
      return call(gate.release(jobIds)).pipe(Effect.asVoid, Effect.mapError(holdError("release", jobIds)))
    }

    /** Held jobs whose dependencies can never be met are cancelled at the scheduler. */
    const withdraw: ExecutorShape["withdraw"] = (jobs) => {
      const ids = jobs.map((j) => j.jobId)
      if (ids.length === 0) return Effect.void
      return answerOf(dialect.cancel(ids, false), () => true).pipe(
        Effect.asVoid,
        Effect.mapError(holdError("withdraw", ids))
      )
    }

    const observe = (jobs: ReadonlyArray<JobRecord>) =>
      Effect.gen(function*() {
        if (jobs.length === 0) return []
        const chunks = dialect.statusListsAll === true ? [jobs] : chunkJobs(jobs)
        const live = yield* explained(jobs, (yield* Effect.forEach(chunks, runStatus)).flat())
        const accounting = dialect.accounting
        if (accounting === undefined) return live
        const seen = new Map(live.map((o) => [o.jobId, o] as const))
        const missing = jobs.filter((j) => needsAccounting(j, seen.get(j.jobId)))
        if (missing.length === 0) return live
        const answers = yield* Effect.forEach(chunkJobs(missing), (chunk) => runAccounting(accounting, chunk))
        const later: Array<Observation> = []
        let unavailable = false
        for (const a of answers) {
          if (a.unavailable) unavailable = true
          else later.push(...a.observations)
        }
        if (unavailable && accounting.fallback !== undefined) {
          if (!warnedUnavailable) {
            warnedUnavailable = true
            yield* Effect.logWarning(
              `${dialect.kind}: the cluster keeps no accounting; jobs that left the queue are read from the controller while it still holds them`
            )
          }
          const answered = new Set(later.map((o) => o.jobId))
          const rest = missing.filter((j) => !answered.has(j.jobId))
          const invocation = accounting.fallback.command(rest, options)
          const result = yield* call(invocation).pipe(Effect.mapError((e) => commandPollError(e)))
          later.push(...(yield* parsed(invocation, accounting.fallback.parse(result.stdout, rest))))
        }
        return mergeObservations(live, later)
      }).pipe(Effect.withSpan(`${dialect.kind}.poll`))

    /** Records the given jobs as cancelled (Killed, or Done with `done`). */
    const recordCancelled = (ids: ReadonlyArray<string>, cancelOptions?: CancelOptions) =>
      Effect.gen(function*() {
        if (ids.length === 0) return []
        const at = yield* now
        const changes = yield* store.modify(ids.map(keyOf), (r) => cancelled(r, at, cancelOptions?.done === true))
        return changes.map((c) => c.after)
      })

    /**
     * Cancels jobs by id in one command. Each job the scheduler cancelled is recorded so; one that
     * had already ended keeps its true end (the next poll reads it). Jobs the scheduler refused are
     * reported with the jobs that were cancelled, so one refusal never loses the others' ends.
     */
    const cancelJobs = (records: ReadonlyArray<JobRecord>, cancelOptions?: CancelOptions) =>
      Effect.gen(function*() {
        const open = records.filter((r) => !isTerminal(r))
        if (open.length === 0) return { changed: [], refused: [] }
        const ids = open.map((r) => r.jobId)
        const answer = yield* answerOf(
          dialect.cancel(ids, cancelOptions?.done === true),
          () => dialect.cancelOutcome !== undefined
        ).pipe(Effect.mapError((e) => commandCancelError(ids.join(","), e)))
        const outcome = dialect.cancelOutcome?.(ids, answer) ?? Either.right<CancelOutcome>({ ended: [], refused: [] })
        if (Either.isLeft(outcome)) {
          return yield* new CancelError({ jobId: ids.join(","), detail: outcome.left, reason: "Failed", cause: answer.failure })
        }
        const { ended, refused } = outcome.right
        const untouched = new Set([...ended, ...refused.map((r) => r.jobId)])
        const changed = yield* recordCancelled(ids.filter((id) => !untouched.has(id)), cancelOptions)
        return { changed, refused }
      })

    /** The refusals as one error, after the cancelled jobs were recorded. */
    const refusalError = (refused: ReadonlyArray<CancelRefusal>) =>
      new CancelError({
        jobId: refused.map((r) => r.jobId).join(","),
        detail: refused.map((r) => `job ${r.jobId}: ${r.detail}`).join("; "),
        reason: "Refused"
      })

    /** The scheduler's own cancel by name, reaching every job of this user whose name matches. */
    const cancelNamed = (
      byName: NonNullable<Dialect["cancelByName"]>,
      invocation: Invocation,
      tracked: ReadonlyArray<JobRecord>,
      cancelOptions?: CancelOptions
    ) =>
      Effect.gen(function*() {
        const jobId = invocation.argv.join(" ")
        const answer = yield* answerOf(invocation, () => true).pipe(Effect.mapError((e) => commandCancelError(jobId, e)))
        const ids = byName.cancelled(answer)
        if (Either.isLeft(ids)) {
          return yield* new CancelError({ jobId, detail: ids.left, reason: "Failed", cause: answer.failure })
        }
        // Tracked jobs the command did not name had already ended: they keep their true end.
        const named = new Set(ids.right)
        return yield* recordCancelled(tracked.filter((r) => named.has(r.jobId)).map((r) => r.jobId), cancelOptions)
      })

    const cancel = Effect.fn(`${dialect.kind}.cancel`)(function*(jobId: string, cancelOptions?: CancelOptions) {
      const found = yield* store.get(keyOf(jobId))
      if (Option.isNone(found)) return yield* new JobNotFound({ jobId })
      const { changed, refused } = yield* cancelJobs([found.value], cancelOptions)
      if (refused.length > 0) return yield* refusalError(refused)
      if (changed[0] !== undefined) return changed[0]
      return Option.getOrElse(yield* store.get(found.value), () => found.value)
    })

    const mine = store.list({ active: true, executor: dialect.kind })

    const reconnect = Effect.gen(function*() {
      const list = dialect.list
      if (list === undefined) return []
      const prefix = options.job_name_prefix
      if (prefix === undefined || prefix.length === 0) {
        return yield* pollError(
          "reconnect finds jobs by their name prefix: set job_name_prefix (it was empty, and every job of yours would match)",
          "Config"
        )
      }
      const invocation = list.command(options, context)
      const noJobs = list.noJobs
      const answer = yield* answerOf(invocation, (a) => noJobs?.(a) === true).pipe(
        Effect.mapError((e) => commandPollError(e))
      )
      // A failed listing only got here by saying there are no jobs.
      const stdout = answer.exitCode === 0 ? answer.stdout : ""
      const listing = stdout.trim() === "" ? [] : yield* parsed(invocation, list.parse(stdout))
      const tracked = new Set(
        (yield* store.list({ ids: listing.map((l) => l.jobId), executor: dialect.kind })).map((r) => r.jobId)
      )
      const at = yield* now
      const found: Array<JobRecord> = []
      for (const { jobId, name, observation } of listing) {
        if (!JobName.isOurs(prefix, name) || tracked.has(jobId) || hasEnded(observation)) continue
        if (observation.unreadable !== undefined) {
          yield* Effect.logWarning(`${dialect.kind} job ${jobId} not taken over: what ${dialect.kind} says of it is unreadable (${observation.unreadable})`)
          continue
        }
        found.push(recordFrom(dialect.kind, jobId, name, observation, at))
      }
      if (found.length > 0) yield* store.insert(found)
      return found
    }).pipe(Effect.withSpan(`${dialect.kind}.reconnect`))

    /**
     * Submissions whose program died between writing the intent and recording the job: the
     * scheduler is asked once (its listing of this user's jobs with their tokens); a job found is
     * recorded from the intent's draft, one not found as Failed(SubmitFailed).
     */
    const recoverSubmits = Effect.gen(function*() {
      const carrier = dialect.token
      if (carrier === undefined) return []
      const intents = yield* store.adoptIntents(dialect.kind)
      if (intents.length === 0) return []
      const invocation = carrier.command(options, context)
      const answer = yield* answerOf(invocation, (a) => carrier.noJobs?.(a) === true).pipe(
        Effect.mapError((e) => commandPollError(e, "could not look for the jobs of interrupted submissions: "))
      )
      const stdout = answer.exitCode === 0 ? answer.stdout : ""
      const listing = stdout.trim() === "" ? [] : yield* parsed(invocation, carrier.parse(stdout))
      const byToken = new Map(listing.map((l) => [l.token, l.jobId] as const))
      const known = new Set(
        (yield* store.list({ ids: listing.map((l) => l.jobId), executor: dialect.kind })).map((r) => r.jobId)
      )
      const at = yield* now
      const recorded: Array<JobRecord> = []
      for (const intent of intents) {
        const jobId = byToken.get(intent.token)
        // A job tracked meanwhile (`cluster-api track ID`) keeps its record.
        if (jobId !== undefined && known.has(jobId)) {
          yield* store.settleIntent(intent.token, [])
          continue
        }
        const record = jobId === undefined ? lostSubmission(intent, at) : submittedRecord(dialect, intent.draft, jobId)
        yield* store.settleIntent(intent.token, [record])
        recorded.push(record)
      }
      const found = recorded.filter((r) => r.status !== "Failed").length
      yield* Effect.logInfo(
        `settled ${intents.length} ${dialect.kind} submission(s) a program left unfinished: ${found} job(s) found, ${recorded.length - found} recorded as failed to submit`
      )
      return recorded
    }).pipe(Effect.withSpan(`${dialect.kind}.recoverSubmits`))

    const track: ExecutorShape["track"] = Effect.fn(`${dialect.kind}.track`)(function*(jobId, trackOptions) {
      const known = yield* store.get(keyOf(jobId))
      if (Option.isSome(known)) return known.value
      // An id: `123`, `123.server`, or a PBS array's `123[].server`.
      if (!/^[\w.-]+(?:\[\])?[\w.-]*$/.test(jobId)) {
        return yield* new JobNotFound({ jobId, hint: "a job id is the number the scheduler printed at submit" })
      }
      const at = yield* now
      const stub: JobRecord = {
        jobId,
        name: jobId,
        command: "",
        executor: dialect.kind,
        status: "Pending",
        lastSeen: at,
        metadata: {}
      }
      const [observation] = (yield* poll([stub])).filter((o) => o.jobId === jobId)
      if (observation === undefined) {
        return yield* new JobNotFound({
          jobId,
          hint: `${dialect.kind} does not know it (any more): check the id, and that it is yours or poll_all_users is set`
        })
      }
      if (observation.unreadable !== undefined) {
        return yield* pollError(
          `what ${dialect.kind} says of job ${jobId} is unreadable (${observation.unreadable}); track it again once it reads`,
          "Unreadable"
        )
      }
      const record = recordFrom(dialect.kind, jobId, trackOptions?.name ?? observation.name ?? jobId, observation, at, trackOptions?.metadata)
      yield* store.insert([record])
      return record
    })

    const shape: ExecutorShape = {
      reconnect,
      recoverSubmits,
      track,
      // The scheduler is asked by job id: an adopted job is polled like any other.
      resume: () => Effect.void,
      kind: dialect.kind,
      // The cluster runs the jobs, whoever submitted them and from wherever; a poll is a command
      // the scheduler answers; the scheduler holds a job for its dependencies.
      capabilities: { outlivesProgram: true, hostBound: false, cheapPoll: false, nativeDependencies: true },
      submit,
      submitArray: (spec, array) => submit({ ...spec, array }),
      poll,
      gatedDependencies,
      dependencyLookup: "own",
      release,
      withdraw,
      cancel,
      cancelByName: (pattern, cancelOptions) =>
        Effect.gen(function*() {
          const active = yield* mine
          const matches = JobName.matcher(options.job_name_prefix, pattern)
          const matching = active.filter((r) => matches(r.name))
          const byName = dialect.cancelByName
          const invocation = byName?.command(
            JobName.withPrefix(options.job_name_prefix, pattern),
            cancelOptions?.done === true,
            options,
            context
          )
          if (byName !== undefined && invocation !== undefined) {
            return yield* cancelNamed(byName, invocation, active, cancelOptions)
          }
          const { changed, refused } = yield* cancelJobs(matching, cancelOptions)
          if (refused.length > 0) {
            yield* Effect.logWarning(`${refusalError(refused).message}; the other matching jobs were cancelled`)
            return yield* refusalError(refused)
          }
          return changed
        }),
      cancelAll: (cancelOptions) =>
        Effect.gen(function*() {
          const { changed, refused } = yield* cancelJobs(yield* mine, cancelOptions).pipe(
            Effect.catchTag("CancelError", (e) =>
              Effect.logWarning(e.message).pipe(Effect.as({ changed: [], refused: [] })))
          )
          if (refused.length > 0) yield* Effect.logWarning(refusalError(refused).message)
          return changed
        })
    }
    return shape
  })

/** The executor of one batch scheduler: this machinery speaking `dialect`. */
export const layer = (
  dialect: Dialect
): Layer.Layer<Executor, never, ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path> =>
  Layer.effect(Executor, make(dialect))
