/**
 * A batch job's submission: the job prepared and checked, its script written, its intent (with
 * the token the scheduler carries) recorded before the scheduler is asked, the submit command
 * run, and the job recorded with the id the scheduler gave.
 */
import { Duration, Effect, Either, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import type { JobRecord, JobSpec } from "../../Domain.js"
import { InvalidJobSpec, SubmitError, SubmittedNotRecorded } from "../../Errors.js"
import type { SubmitFailureReason } from "../../Errors.js"
import type { PreparedJob } from "../../Executor.js"
import type { PathSource } from "../prepare.js"
import { jobDirectories, prepareJob, requirePlainPaths } from "../prepare.js"
import type { Dialect, Invocation, JobPaths } from "../../Scheduler.js"
import { arrayIndexVariable, scriptStemPlaceholder } from "../../Scheduler.js"
import { renderScript, skipDirectives } from "../script.js"
import type { BatchContext } from "./context.js"
import { call } from "./context.js"
import { scriptNotWritten } from "../executorServices.js"

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

/** Where a job's logs go and what its script says, for the script file stem the job gets. */
const layout = (ctx: BatchContext, job: PreparedJob, outDir: string, runDir: string) => {
  const { dialect, options, path } = ctx
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
  return { pathsFor, scriptFor }
}

/** The executor's `submit`: one span per call, named after the scheduler. */
export const submit = (ctx: BatchContext) =>
  Effect.fn(`${ctx.dialect.kind}.submit`)(function*(spec: JobSpec) {
    const { dialect, options, fs, path } = ctx
    const job = yield* prepareJob(spec, options)
    const refused = dialect.validate?.(job, options)
    if (refused !== undefined) return yield* new InvalidJobSpec({ name: job.name, ...refused })
    const { outDir, runDir, sources } = jobDirectories(job, options, ctx.baseDir, path.resolve)
    yield* checkPaths(dialect, job.name, sources)
    yield* fs.makeDirectory(outDir, { recursive: true }).pipe(
      Effect.mapError((e) =>
        new SubmitError({ name: job.name, detail: `could not create ${outDir}: ${e.message}`, reason: "Io", cause: e })
      )
    )
    const { pathsFor, scriptFor } = layout(ctx, job, outDir, runDir)
    const written = yield* ctx.writeNextScript(outDir, job.name, (stem) => scriptFor(pathsFor(stem))).pipe(
      Effect.provide(ctx.platform),
      Effect.mapError(scriptNotWritten(job.name, outDir))
    )
    const paths = pathsFor(path.basename(written.path, ".sh"))
    const script = written.content
    const startedAt = yield* ctx.now
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
    const token = yield* announce(ctx, draft, startedAt).pipe(
      Effect.mapError((e) =>
        failed(`the job store could not record the submission, so nothing was submitted: ${e.detail}`, "Store", e)
      )
    )
    const invocation = withArguments(
      dialect.submit({ job, options, scriptPath: written.path, script, paths }),
      token === undefined ? [] : dialect.token?.args(token) ?? [],
      written.path
    )
    const result = yield* call(ctx, invocation, runDir).pipe(
      // A submit that timed out may have reached the scheduler: its intent stays for the next program.
      Effect.tapError((e) => e._tag === "CommandTimeout" ? Effect.void : forget(ctx, token)),
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
      yield* forget(ctx, token)
      return yield* failed(jobId.left, "Unreadable")
    }
    const submitTime = yield* ctx.now
    const record = submittedRecord(dialect, { ...draft, submitTime, lastSeen: submitTime }, jobId.right)
    yield* recordSubmitted(ctx, token, record)
    return record
  })

/**
 * Writes the submission's intent before the scheduler is asked (a dialect that cannot carry
 * a token writes none): its token, or undefined. Fails with the store's error: nothing was
 * submitted then.
 */
const announce = (ctx: BatchContext, draft: JobRecord, at: Date) =>
  Effect.gen(function*() {
    if (ctx.dialect.token === undefined) return undefined
    const token = randomBytes(8).toString("hex")
    yield* ctx.store.addIntent({ token, executor: ctx.dialect.kind, name: draft.name, at, draft })
    return token
  })

/** Removes the intent of a submission the scheduler refused (a failure here is only logged). */
const forget = (ctx: BatchContext, token: string | undefined) =>
  token === undefined ? Effect.void : ctx.store.settleIntent(token, []).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning(`could not remove the submission ${token} from the job store; the next program settles it`, cause)
    )
  )

/**
 * Records a submitted job (and ends its intent), tried again a few times; when the store
 * still fails, the job runs unrecorded: SubmittedNotRecorded names it, and its intent stays
 * for the next program to adopt the job.
 */
const recordSubmitted = (ctx: BatchContext, token: string | undefined, record: JobRecord) =>
  (token === undefined ? ctx.store.insert([record]) : ctx.store.settleIntent(token, [record])).pipe(
    Effect.catchAllDefect((defect) => Effect.fail(defect)),
    Effect.retry(recordRetry),
    Effect.mapError((cause) =>
      new SubmittedNotRecorded({ executor: ctx.dialect.kind, jobId: record.jobId, name: record.name, cause })
    )
  )
