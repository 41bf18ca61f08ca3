/**
 * The executor for batch schedulers, built on a `Dialect`: a scheduler's whole syntax as pure
 * functions (argv and text in, data out). This file owns everything the schedulers share: writing
 * the script, running the commands with the configured timeout, one status command per tick for
 * every tracked job (split only past the command-line limit), one accounting command for the jobs
 * that left the live queue, and cancellation written through the JobStore.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Either, Option } from "effect"
import type { CommandRunnerShape } from "./CommandRunner.js"
import { CommandRunner } from "./CommandRunner.js"
import { ClusterConfig } from "./Config.js"
import type { ConfigOptions } from "./Config.js"
import type { JobRecord, JobSpec, Observation } from "./Domain.js"
import { isTerminal } from "./Domain.js"
import { CancelError, JobNotFound, PollError, SubmitError } from "./Errors.js"
import type { CancelOptions, ExecutorShape, PreparedJob } from "./Executor.js"
import { jobDirectories, nameMatches, prepareJob } from "./Executor.js"
import { JobStore } from "./JobStore.js"
import { makeScriptWriter, renderScript, skipDirectives } from "./Script.js"
import { cancelled } from "./Transition.js"

/** A command to run: argv, and optionally text for its stdin and extra environment. */
export interface Invocation {
  readonly argv: ReadonlyArray<string>
  readonly stdin?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

/** Where a job's files go, as the dialect writes them into directives. */
export interface JobPaths {
  /** The directory the job runs in. */
  readonly runDir: string
  /** stdout and stderr as the scheduler should expand them (e.g. with `%j`). */
  readonly stdout: string
  readonly stderr: string
}

export interface SubmitRequest {
  readonly job: PreparedJob
  readonly options: ConfigOptions
  readonly scriptPath: string
  readonly script: string
  readonly paths: JobPaths
}

/** One scheduler's syntax. Every function is pure. */
export interface Dialect {
  /** The executor's name, written in each record's `executor`. */
  readonly kind: string
  /** Default log file names, with the scheduler's placeholders for the job id (and array index). */
  readonly logFileName: (stream: "stdout" | "stderr", isArray: boolean) => string
  /** Directive lines for the script header, prefixed (`#SBATCH …`); the job's extra directives too. */
  readonly directives: (job: PreparedJob, paths: JobPaths, options: ConfigOptions) => ReadonlyArray<string>
  /** The submit command for a written script. */
  readonly submit: (request: SubmitRequest) => Invocation
  /** The job id from the submit command's stdout, or what is wrong with the output. */
  readonly parseSubmit: (stdout: string) => Either.Either<string, string>
  /** One status command for all the given jobs. */
  readonly status: (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions) => Invocation
  /** Observations from the status command's output, or what is wrong with it. */
  readonly parseStatus: (stdout: string) => Either.Either<ReadonlyArray<Observation>, string>
  /** Whether a status command that exited non-zero still printed usable status on stdout. */
  readonly statusUsableOnFailure?: ((exitCode: number | undefined, stdout: string, stderr: string) => boolean) | undefined
  /** Asks the accounting tool about jobs that left the live queue (they are never assumed done). */
  readonly accounting?: {
    readonly command: (jobs: ReadonlyArray<JobRecord>, options: ConfigOptions) => Invocation
    readonly parse: (stdout: string) => Either.Either<ReadonlyArray<Observation>, string>
  } | undefined
  /** The cancel command for some jobs. */
  readonly cancel: (jobIds: ReadonlyArray<string>, done: boolean) => Invocation
  /** Whether a failed cancel only means the jobs had already ended. */
  readonly cancelAlreadyEnded?: ((stderr: string, stdout: string) => boolean) | undefined
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

export const make = (dialect: Dialect) =>
  Effect.gen(function*() {
    const { options } = yield* ClusterConfig
    const runner: CommandRunnerShape = yield* CommandRunner
    const store = yield* JobStore
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const platform = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
    const writeNextScript = yield* makeScriptWriter
    const baseDir = process.cwd()
    const timeout = Duration.seconds(options.command_timeout)
    const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))

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
      const { outDir, runDir } = jobDirectories(job, options, baseDir, path.resolve)
      yield* fs.makeDirectory(outDir, { recursive: true }).pipe(
        Effect.mapError((e) => new SubmitError({ name: job.name, detail: `could not create ${outDir}: ${e.message}` }))
      )
      const isArray = job.array !== undefined
      const paths: JobPaths = {
        runDir,
        stdout: job.resources.stdoutPath !== undefined
          ? path.resolve(runDir, job.resources.stdoutPath)
          : path.join(outDir, dialect.logFileName("stdout", isArray)),
        stderr: job.resources.stderrPath !== undefined
          ? path.resolve(runDir, job.resources.stderrPath)
          : path.join(outDir, dialect.logFileName("stderr", isArray))
      }
      const script = renderScript({
        shebang: options.shebang,
        header: [
          ...skipDirectives(dialect.directives(job, paths, options), options.directives_skip),
          ...options.extra_directives
        ],
        env: job.spec.env,
        prologue: [...options.script_prologue, ...(job.spec.prologue ?? [])],
        command: job.spec.command,
        epilogue: [...options.script_epilogue, ...(job.spec.epilogue ?? [])]
      })
      const written = yield* writeNextScript(outDir, job.name, script).pipe(
        Effect.provide(platform),
        Effect.mapError((e) =>
          new SubmitError({ name: job.name, detail: `could not write the job script in ${outDir}: ${e.message}` })
        )
      )
      const invocation = dialect.submit({ job, options, scriptPath: written.path, script, paths })
      const result = yield* call(invocation, runDir).pipe(
        Effect.mapError((e) =>
          new SubmitError({ name: job.name, detail: e.message, scriptPath: written.path })
        )
      )
      const jobId = dialect.parseSubmit(result.stdout)
      if (Either.isLeft(jobId)) {
        return yield* new SubmitError({ name: job.name, detail: jobId.left, scriptPath: written.path })
      }
      const submitTime = yield* now
      const record: JobRecord = {
        jobId: jobId.right,
        name: job.name,
        command: spec.command,
        executor: dialect.kind,
        status: "Pending",
        submitTime,
        lastSeen: submitTime,
        workDir: runDir,
        scriptPath: written.path,
        stdoutPath: paths.stdout,
        stderrPath: paths.stderr,
        metadata: spec.metadata ?? {},
        ...(job.array === undefined ? {} : { array: job.array })
      }
      yield* store.insert([record])
      return record
    })

    const runStatus = (
      invocation: Invocation,
      parse: (stdout: string) => Either.Either<ReadonlyArray<Observation>, string>,
      usableOnFailure: Dialect["statusUsableOnFailure"]
    ) =>
      call(invocation).pipe(
        Effect.map((r) => r.stdout),
        Effect.catchTag("CommandFailed", (e) =>
          usableOnFailure !== undefined && usableOnFailure(e.exitCode, e.stdout, e.stderr)
            ? Effect.succeed(e.stdout)
            : Effect.fail(e)),
        Effect.mapError((e) => new PollError({ executor: dialect.kind, detail: e.message })),
        Effect.flatMap((stdout) => {
          const parsed = parse(stdout)
          return Either.isRight(parsed)
            ? Effect.succeed(parsed.right)
            : Effect.fail(
              new PollError({
                executor: dialect.kind,
                detail: `unreadable output from ${invocation.argv[0]}: ${parsed.left}`
              })
            )
        })
      )

    const poll: ExecutorShape["poll"] = (jobs) =>
      Effect.gen(function*() {
        if (jobs.length === 0) return []
        const live = yield* Effect.forEach(
          chunkJobs(jobs),
          (chunk) => runStatus(dialect.status(chunk, options), dialect.parseStatus, dialect.statusUsableOnFailure)
        )
        const observations = live.flat()
        const accounting = dialect.accounting
        if (accounting === undefined) return observations
        const seen = new Set(observations.map((o) => o.jobId))
        const missing = jobs.filter((j) => !seen.has(j.jobId))
        if (missing.length === 0) return observations
        const later = yield* Effect.forEach(
          chunkJobs(missing),
          (chunk) => runStatus(accounting.command(chunk, options), accounting.parse, undefined)
        )
        return [...observations, ...later.flat()]
      }).pipe(Effect.withSpan(`${dialect.kind}.poll`))

    const cancelJobs = (records: ReadonlyArray<JobRecord>, cancelOptions?: CancelOptions) =>
      Effect.gen(function*() {
        const open = records.filter((r) => !isTerminal(r))
        if (open.length === 0) return []
        const ids = open.map((r) => r.jobId)
        const ok = yield* call(dialect.cancel(ids, cancelOptions?.done === true)).pipe(
          Effect.as(true),
          Effect.catchTag("CommandFailed", (e) =>
            dialect.cancelAlreadyEnded?.(e.stderr, e.stdout) === true ? Effect.succeed(false) : Effect.fail(e)),
          Effect.mapError((e) => new CancelError({ jobId: ids.join(","), detail: e.message }))
        )
        // Jobs that had already ended keep their true end, which the next poll records.
        if (!ok) return []
        const at = yield* now
        const changes = yield* store.modify(ids, (r) => cancelled(r, at, cancelOptions?.done === true))
        return changes.map((c) => c.after)
      })

    const cancel = Effect.fn(`${dialect.kind}.cancel`)(function*(jobId: string, cancelOptions?: CancelOptions) {
      const found = yield* store.get(jobId)
      if (Option.isNone(found)) return yield* new JobNotFound({ jobId })
      const changed = yield* cancelJobs([found.value], cancelOptions)
      if (changed[0] !== undefined) return changed[0]
      return Option.getOrElse(yield* store.get(jobId), () => found.value)
    })

    const mine = store.active.pipe(Effect.map((active) => active.filter((r) => r.executor === dialect.kind)))

    const shape: ExecutorShape = {
      kind: dialect.kind,
      submit,
      submitArray: (spec, array) => submit({ ...spec, array }),
      poll,
      cancel,
      cancelByName: (pattern, cancelOptions) =>
        mine.pipe(
          Effect.flatMap((active) => {
            const matches = nameMatches(pattern, options.job_name_prefix)
            return cancelJobs(active.filter((r) => matches(r.name)), cancelOptions)
          })
        ),
      cancelAll: (cancelOptions) =>
        mine.pipe(
          Effect.flatMap((active) =>
            cancelJobs(active, cancelOptions).pipe(
              Effect.catchTag("CancelError", (e) => Effect.logWarning(e.message).pipe(Effect.as([])))
            )
          )
        )
    }
    return shape
  })
