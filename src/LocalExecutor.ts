/**
 * The local executor: each job is a process on this machine, in its own process group, with its
 * stdout and stderr written straight to files. At most `max_local_jobs` processes run at once;
 * the rest wait, Pending. A job with a walltime is ended (SIGTERM, then SIGKILL) when it runs past
 * it and reported as Failed(Timeout). Cancelling a job kills its whole process tree.
 *
 * Local jobs belong to the process that started them: when the layer's scope closes (the program
 * ends or is interrupted), every job still running is terminated.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Exit, FiberMap, Layer, Option, Queue } from "effect"
import { hostname } from "node:os"
import { CommandRunner } from "./CommandRunner.js"
import type { ProcessExit, SpawnedProcess } from "./CommandRunner.js"
import { ClusterConfig } from "./Config.js"
import type { ArraySpec, JobRecord, JobSpec, Observation } from "./Domain.js"
import { arrayIndices, isTerminal } from "./Domain.js"
import { InvalidJobSpec, JobNotFound, SubmitError } from "./Errors.js"
import type { CancelOptions, ExecutorShape } from "./Executor.js"
import { Executor, jobDirectories, nameMatches, prepareJob } from "./Executor.js"
import { JobStore } from "./JobStore.js"
import { arrayIndexVariable, logFileName, observe, renderLocalScript } from "./schedulers/Local.js"
import type { ProcessState } from "./schedulers/Local.js"
import { makeScriptWriter } from "./Script.js"
import { cancelled } from "./Transition.js"

/** How long a cancelled or timed-out local job gets between SIGTERM and SIGKILL. */
export const killGrace = Duration.seconds(5)

const elementKey = (jobId: string, index: number) => `${jobId}[${index}]`

export const make = Effect.gen(function*() {
  const { options } = yield* ClusterConfig
  const runner = yield* CommandRunner
  const store = yield* JobStore
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const platform = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
  const writeNextScript = yield* makeScriptWriter
  // Slots are tokens in a queue: waiting jobs get them first come, first served, so array
  // elements start in index order.
  const slots = yield* Queue.bounded<void>(options.max_local_jobs)
  yield* Queue.offerAll(slots, Array.from({ length: options.max_local_jobs }, () => undefined))
  const withSlot = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(Queue.take(slots), () => effect, () => Queue.offer(slots, undefined))
  const fibers = yield* FiberMap.make<string>()
  const states = new Map<string, ProcessState>()
  const host = hostname()
  const baseDir = process.cwd()
  // Ids are `{pid of this process}-{n}`: unique among the processes alive on this machine.
  const idPrefix = `${process.pid}-`
  let counter = 0

  const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))

  /** Runs one process: waits for a slot, spawns it, waits for its end (or its walltime). */
  const runProcess = (
    key: string,
    argv: ReadonlyArray<string>,
    env: Record<string, string>,
    cwd: string,
    stdoutFile: string,
    stderrFile: string,
    walltime: Duration.Duration | undefined
  ) =>
    withSlot(
      Effect.acquireUseRelease(
        runner.spawn({ argv, env, cwd, stdoutFile, stderrFile }).pipe(
          Effect.tap((proc) =>
            now.pipe(Effect.map((startTime) => states.set(key, { _tag: "Running", pid: proc.pid, startTime, host })))
          )
        ),
        (proc: SpawnedProcess) =>
          Effect.gen(function*() {
            let timedOut = false
            let exit: ProcessExit
            if (walltime === undefined) exit = yield* proc.exit
            else {
              const ended = yield* proc.exit.pipe(Effect.timeoutOption(walltime))
              if (Option.isSome(ended)) exit = ended.value
              else {
                timedOut = true
                exit = yield* proc.terminate(killGrace)
              }
            }
            const finishTime = yield* now
            const running = states.get(key)
            states.set(key, {
              _tag: "Exited",
              pid: proc.pid,
              startTime: running?._tag === "Running" ? running.startTime : finishTime,
              finishTime,
              host,
              exitCode: exit.exitCode,
              signal: exit.signal,
              timedOut
            })
          }),
        (proc, exit) => Exit.isSuccess(exit) ? Effect.void : proc.terminate(killGrace)
      )
    ).pipe(
      Effect.catchAll((error) =>
        now.pipe(Effect.map((finishTime) => states.set(key, { _tag: "NotStarted", finishTime, message: error.message })))
      )
    )

  const submit = Effect.fn("LocalExecutor.submit")(function*(spec: JobSpec) {
    const job = yield* prepareJob(spec, options)
    const { outDir, runDir } = jobDirectories(job, options, baseDir, path.resolve)
    if (job.spec.dependsOn !== undefined && job.spec.dependsOn.length > 0) {
      return yield* new InvalidJobSpec({
        name: job.name,
        field: "dependsOn",
        problem:
          "the local executor has no scheduler to hold a job for others; submit it once they have ended (Monitor.onExit or Monitor.await)"
      })
    }
    if (job.resources.workDir !== undefined) {
      const exists = yield* fs.exists(runDir).pipe(Effect.orElseSucceed(() => false))
      if (!exists) {
        return yield* new InvalidJobSpec({
          name: job.name,
          field: "resources.workDir",
          problem: `does not exist: ${runDir}; create it first or fix the path`
        })
      }
    }
    const script = yield* writeNextScript(outDir, job.name, renderLocalScript(job, options)).pipe(
      Effect.provide(platform),
      Effect.mapError((e) =>
        new SubmitError({ name: job.name, detail: `could not write the job script in ${outDir}: ${e.message}` })
      )
    )
    counter += 1
    const jobId = `${idPrefix}${counter}`
    const logPath = (stream: "stdout" | "stderr", given: string | undefined, index?: number | "{index}") =>
      given !== undefined ? path.resolve(runDir, given) : path.join(outDir, logFileName(stream, jobId, index))
    const submitTime = yield* now
    const record: JobRecord = {
      jobId,
      name: job.name,
      command: spec.command,
      executor: "local",
      status: "Pending",
      submitTime,
      lastSeen: submitTime,
      workDir: runDir,
      scriptPath: script.path,
      stdoutPath: job.array === undefined
        ? logPath("stdout", job.resources.stdoutPath)
        : logPath("stdout", job.resources.stdoutPath, "{index}"),
      stderrPath: job.array === undefined
        ? logPath("stderr", job.resources.stderrPath)
        : logPath("stderr", job.resources.stderrPath, "{index}"),
      metadata: spec.metadata ?? {},
      ...(job.array === undefined ? {} : { array: job.array })
    }
    yield* store.insert([record])

    const argv = [script.path]
    const baseEnv = { CLUSTER_API_JOB_ID: jobId }
    const walltime = job.resources.walltime
    const array = job.array
    let run: Effect.Effect<void>
    if (array === undefined) {
      states.set(jobId, { _tag: "Queued", queuedAt: submitTime })
      run = runProcess(
        jobId,
        argv,
        baseEnv,
        runDir,
        logPath("stdout", job.resources.stdoutPath),
        logPath("stderr", job.resources.stderrPath),
        walltime
      )
    } else {
      const indices = arrayIndices(array)
      for (const i of indices) states.set(elementKey(jobId, i), { _tag: "Queued", queuedAt: submitTime })
      run = Effect.forEach(
        indices,
        (i) =>
          runProcess(
            elementKey(jobId, i),
            argv,
            { ...baseEnv, [arrayIndexVariable]: String(i) },
            runDir,
            logPath("stdout", job.resources.stdoutPath, i),
            logPath("stderr", job.resources.stderrPath, i),
            walltime
          ),
        { concurrency: array.maxConcurrent ?? "unbounded", discard: true }
      )
    }
    yield* FiberMap.run(fibers, jobId, run)
    return record
  })

  const observeJob = (record: JobRecord): Observation | undefined => {
    if (record.array === undefined) {
      const state = states.get(record.jobId)
      if (state === undefined) return undefined
      const { index: _index, ...seen } = observe(state)
      return { jobId: record.jobId, ...seen }
    }
    const elements = []
    for (const i of arrayIndices(record.array)) {
      const state = states.get(elementKey(record.jobId, i))
      if (state !== undefined) elements.push(observe(state, i))
    }
    return elements.length === 0 ? undefined : { jobId: record.jobId, elements }
  }

  const poll: ExecutorShape["poll"] = (jobs) =>
    Effect.sync(() => {
      const out: Array<Observation> = []
      for (const job of jobs) {
        const o = observeJob(job)
        if (o !== undefined) out.push(o)
      }
      return out
    })

  /** Whether every process of a job has already ended on its own. */
  const alreadyEnded = (record: JobRecord): boolean => {
    const keys = record.array === undefined
      ? [record.jobId]
      : arrayIndices(record.array).map((i) => elementKey(record.jobId, i))
    return keys.every((k) => {
      const s = states.get(k)
      return s !== undefined && (s._tag === "Exited" || s._tag === "NotStarted")
    })
  }

  const cancel = Effect.fn("LocalExecutor.cancel")(function*(jobId: string, cancelOptions?: CancelOptions) {
    const found = yield* store.get(jobId)
    if (Option.isNone(found)) {
      return yield* new JobNotFound({
        jobId,
        hint: "local jobs are known only to the process that started them"
      })
    }
    const record = found.value
    // A job that ended on its own keeps its true end; the next poll records it.
    if (isTerminal(record) || alreadyEnded(record)) return record
    const at = yield* now
    const changes = yield* store.modify([jobId], (r) => cancelled(r, at, cancelOptions?.done === true))
    yield* FiberMap.remove(fibers, jobId)
    return changes[0]?.after ?? record
  })

  const cancelMany = (records: ReadonlyArray<JobRecord>, cancelOptions?: CancelOptions) =>
    Effect.forEach(
      records,
      (r) =>
        cancel(r.jobId, cancelOptions).pipe(
          Effect.map(Option.some),
          Effect.catchAll((e) =>
            Effect.logWarning(`cancel of local job ${r.jobId} failed: ${e.message}`).pipe(Effect.as(Option.none()))
          )
        ),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((results) => results.flatMap((o) => Option.isSome(o) ? [o.value] : [])))

  const shape: ExecutorShape = {
    kind: "local",
    submit,
    submitArray: (spec: JobSpec, array: ArraySpec) => submit({ ...spec, array }),
    poll,
    cancel,
    cancelByName: (pattern, cancelOptions) =>
      store.active.pipe(
        Effect.flatMap((active) => {
          const matches = nameMatches(pattern, options.job_name_prefix)
          return cancelMany(active.filter((r) => r.executor === "local" && matches(r.name)), cancelOptions)
        })
      ),
    cancelAll: (cancelOptions) =>
      store.active.pipe(
        Effect.flatMap((active) => cancelMany(active.filter((r) => r.executor === "local"), cancelOptions))
      ),
    // Local processes belong to the process that started them: there is nothing to rediscover.
    reconnect: Effect.succeed([])
  }
  return shape
})

/** The local executor; needs the config, a CommandRunner, a JobStore, and FileSystem/Path. */
export const layer: Layer.Layer<
  Executor,
  never,
  ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path
> = Layer.scoped(Executor, make)
