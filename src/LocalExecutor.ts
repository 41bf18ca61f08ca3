/**
 * The local executor: each job is a process on this machine, in its own process group, with its
 * stdout and stderr written straight to files. At most `max_local_jobs` processes run at once;
 * the rest wait, Pending. A job with a walltime is ended (SIGTERM, then SIGKILL) when it runs past
 * it and reported as Failed(Timeout). Cancelling a job kills its whole process tree.
 *
 * A job with dependencies (`dependsOn`) is held, as a batch scheduler would hold it: recorded
 * Pending, its processes not started and no slot taken, until every dependency is met. The check
 * is made when it is submitted, and after every tick by the Monitor's gate (which calls `release`
 * or `withdraw`), from the statuses the job store holds for the jobs it depends on. `poll` only
 * reports such a job Pending and held. Once one dependency can never be met (an `afterok` on a job
 * that failed, say) the job is never started: it is recorded Failed(DependencyFailed) naming those
 * dependencies. A dependency on a job the store does not hold keeps the job held, with one
 * warning. Holding needs a program that runs a Monitor (a library program, or the CLI's `wait`).
 *
 * Every process is started through a small shell wrapper (see schedulers/Local.ts) that leads its
 * process group and leaves two files beside the job script: its pid when it starts, and the
 * script's exit status when the script ends. The processes do not need the program that started
 * them: when that program dies they run on, and the next program on the same store takes the jobs
 * over (`resume`): it reads how the ended ones ended from their exit files, watches the ones still
 * running through their pid files, and starts the ones that never got to (a job still held for
 * its dependencies stays held). Any program sharing the store can cancel a job through its pid file.
 *
 * When the layer's scope closes (the program ends or is interrupted), the jobs it started or took
 * over are ended with it: those still running are terminated, and they and those still waiting are
 * recorded Killed (cancelled by the program's end), so that no later program takes them for
 * vanished.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Either, Exit, FiberMap, Layer, Option, Queue } from "effect"
import { hostname } from "node:os"
import { CommandRunner, terminateGroup } from "./CommandRunner.js"
import type { ProcessExit, SpawnedProcess } from "./CommandRunner.js"
import { ClusterConfig } from "./Config.js"
import type { ArraySpec, Dependency, JobRecord, JobSpec, JobStatus, Observation } from "./Domain.js"
import { arrayIndices, isTerminal, isTerminalStatus } from "./Domain.js"
import { InvalidJobSpec, JobNotFound, SubmitError } from "./Errors.js"
import type { CancelOptions, ExecutorShape } from "./Executor.js"
import { Executor } from "./Executor.js"
import { jobDirectories, prepareJob, requirePlainPaths, walltimeOf } from "./internal/prepare.js"
import * as JobName from "./JobName.js"
import { JobStore } from "./JobStore.js"
import type { JobKey } from "./JobStore.js"
import { judgeDependencies, withAttempts, withObservations } from "./Retry.js"
import {
  cleanEnvironment,
  hasEnded,
  jobEnvironment,
  logFileName,
  observe,
  parseStatusFile,
  processLogPath,
  renderLocalScript,
  resumedState,
  statusFileName,
  wantsCleanEnv,
  wrapperArgv
} from "./schedulers/Local.js"
import type { Findings, ProcessState, RecordedProcess } from "./schedulers/Local.js"
import { makeScriptWriter } from "./Script.js"
import { applyObservation, cancelled } from "./Transition.js"
import * as WorkingDirectory from "./WorkingDirectory.js"

/** How long a cancelled or timed-out local job gets between SIGTERM and SIGKILL. */
export const killGrace = Duration.seconds(5)

/** Whom a job is recorded as cancelled by when the program running it ends before it does. */
export const programEnded = "cluster-api: the program that ran it ended"

const elementKey = (jobId: string, index: number) => `${jobId}[${index}]`


/** The pid and exit files of one process of a job. */
interface StatusFiles {
  readonly pid: string
  readonly exit: string
}

/** One process of a job: the job itself, or one array element. */
interface JobProcess {
  readonly key: string
  readonly index: number | undefined
}

/**
 * A job held for its dependencies: what it waits for, its processes (all `Held`), and what starts
 * them once the dependencies are met (exactly what `submit` or `resume` would have run).
 */
interface Hold {
  readonly dependsOn: ReadonlyArray<Dependency>
  readonly keys: ReadonlyArray<string>
  readonly run: Effect.Effect<void>
}

/**
 * The last n given to a local job id `{pid}-{n}` by any local executor of this process. One count
 * per process, not per executor: two executors in one program (two layers, or command lines run
 * in-process) on one store would otherwise both pick `{pid}-1`. Ids are unique among the processes
 * alive on this machine, and each is checked against the store, which may hold the jobs of an
 * earlier program that had this pid.
 */
let lastLocalNumber = 0

/** The processes of a job that have not ended as far as its record knows. */
const processesOf = (record: JobRecord): ReadonlyArray<JobProcess & { readonly known: RecordedProcess }> => {
  if (record.array === undefined) {
    const known = {
      status: record.status,
      startTime: record.startTime,
      execHost: record.execHost,
      lastSeen: record.lastSeen
    }
    return [{ key: record.jobId, index: undefined, known }]
  }
  const elements = new Map((record.elements ?? []).map((e) => [e.index, e] as const))
  return arrayIndices(record.array).flatMap((index) => {
    const e = elements.get(index)
    if (e !== undefined && isTerminalStatus(e.status)) return []
    // An element no poll reported yet was still waiting for its turn.
    const status: JobStatus = e?.status ?? "Pending"
    const known = { status, startTime: e?.startTime, execHost: e?.execHost, lastSeen: record.lastSeen }
    return [{ key: elementKey(record.jobId, index), index, known }]
  })
}

export const make = Effect.gen(function*() {
  const { options } = yield* ClusterConfig
  const runner = yield* CommandRunner
  const store = yield* JobStore
  /** A local job, as the store knows it. */
  const keyOf = (jobId: string): JobKey => ({ executor: "local", jobId })
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
  // A process that is already running takes a slot when one is free and runs on regardless.
  const withSlotIfFree = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      Queue.poll(slots),
      () => effect,
      (slot) => Option.isSome(slot) ? Queue.offer(slots, undefined) : Effect.void
    )
  const states = new Map<string, ProcessState>()
  // Jobs held for their dependencies; a job leaves it once started, doomed or cancelled.
  const holds = new Map<string, Hold>()
  // Jobs this executor started or took over: the ones it ends with its scope.
  const tracked = new Set<string>()
  // Added before the fibers' own finalizer so that it runs after it, once every process it
  // interrupted has been terminated.
  yield* Effect.addFinalizer(() => recordProgramEnd)
  const fibers = yield* FiberMap.make<string>()
  const host = hostname()
  const baseDir = yield* WorkingDirectory.current
  // Ids are `{pid of this process}-{n}`, n counted for the whole process (see lastLocalNumber).
  const idPrefix = `${process.pid}-`
  const hasProc = yield* fs.exists("/proc/self/cmdline").pipe(Effect.orElseSucceed(() => false))
  // How often a process started by another program is checked: the poll interval, within 50 ms–1 s.
  const watchInterval = Duration.max(
    Duration.millis(50),
    Duration.min(Duration.seconds(options.poll_interval), Duration.seconds(1))
  )

  const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))

  const statusFiles = (script: string, jobId: string, index: number | undefined): StatusFiles => {
    const dir = path.dirname(script)
    return {
      pid: path.join(dir, statusFileName("pid", jobId, index)),
      exit: path.join(dir, statusFileName("exit", jobId, index))
    }
  }

  /** The number a pid or exit file holds and the file's mtime; undefined when there is none. */
  const readStatusFile = (file: string) =>
    Effect.gen(function*() {
      const info = yield* fs.stat(file)
      const value = parseStatusFile(yield* fs.readFileString(file))
      if (value === undefined) return undefined
      return { value, at: Option.getOrUndefined(info.mtime) ?? (yield* now) }
    }).pipe(Effect.orElseSucceed(() => undefined))

  /**
   * Whether `pid` is a running process of the job whose script is `script`: on Linux one of its
   * arguments is the script (not so for a pid reused by an unrelated process, nor for a zombie);
   * where there is no /proc, only that a process with this pid exists.
   */
  const isJobProcess = (pid: number, script: string): Effect.Effect<boolean> =>
    hasProc
      ? fs.readFileString(`/proc/${pid}/cmdline`).pipe(
        Effect.map((cmdline) => cmdline.split("\0").includes(script)),
        Effect.orElseSucceed(() => false)
      )
      : Effect.sync(() => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      })

  /** What the pid and exit files of one process say, its pid checked. */
  const inspect = (files: StatusFiles, script: string) =>
    Effect.gen(function*() {
      const exit = yield* readStatusFile(files.exit)
      const pidFile = yield* readStatusFile(files.pid)
      if (exit !== undefined) {
        const found: Findings = {
          exit: { status: exit.value, at: exit.at },
          pid: pidFile === undefined ? undefined : { pid: pidFile.value, at: pidFile.at, alive: false }
        }
        return found
      }
      if (pidFile === undefined) return {}
      const alive = pidFile.value > 0 && (yield* isJobProcess(pidFile.value, script))
      const pid = { pid: pidFile.value, at: pidFile.at, alive }
      if (alive) return { pid }
      // The wrapper writes the exit file before it exits: look again now that it is gone.
      const late = yield* readStatusFile(files.exit)
      return late === undefined ? { pid } : { exit: { status: late.value, at: late.at }, pid }
    })

  /**
   * Ends a job process this program did not start (so cannot wait for as a child): SIGTERM to its
   * process group, SIGKILL after `killGrace` if anything of it is left, then waits until the group
   * is gone. A pid that is no longer the job's is left alone.
   */
  const stopProcess = (pid: number, script: string) =>
    Effect.gen(function*() {
      if (!(yield* isJobProcess(pid, script))) return
      yield* terminateGroup(pid, killGrace)
    })

  /** Everything needed to start one process of a job. */
  interface Launch {
    readonly key: string
    readonly jobId: string
    readonly index: number | undefined
    readonly script: string
    readonly env: Record<string, string>
    /** false: the process gets `cleanEnvironment` and `env`, nothing of this process's own. */
    readonly inheritEnv: boolean
    readonly cwd: string
    readonly stdoutFile: string
    readonly stderrFile: string
    readonly walltime: Duration.Duration | undefined
  }

  /**
   * Runs one process through the wrapper: waits for a slot, spawns it, waits for its end (or its
   * walltime). A job cancelled meanwhile by another program sharing the store is not started.
   */
  const runProcess = (launch: Launch) =>
    withSlot(Effect.gen(function*() {
      const { index, jobId, key, script, walltime } = launch
      const current = yield* store.get(keyOf(jobId)).pipe(Effect.orElseSucceed(() => Option.none<JobRecord>()))
      if (Option.isSome(current) && isTerminal(current.value)) {
        states.set(key, { _tag: "Withdrawn", finishTime: yield* now })
        return
      }
      if (!(yield* fs.exists(script).pipe(Effect.orElseSucceed(() => false)))) {
        states.set(key, {
          _tag: "NotStarted",
          finishTime: yield* now,
          message: `the job script ${script} does not exist (any more)`
        })
        return
      }
      const files = statusFiles(script, jobId, index)
      // Files left by an earlier job under the same id must not be read as this one's.
      yield* Effect.forEach([files.pid, files.exit], (file) => Effect.ignore(fs.remove(file)), { discard: true })
      // The start is read before the process is started: it may write files (expected outputs,
      // judged against its start) before spawn returns.
      const startTime = yield* now
      yield* Effect.acquireUseRelease(
        runner.spawn({
          argv: wrapperArgv(script, files.pid, files.exit),
          env: launch.inheritEnv ? launch.env : { ...cleanEnvironment(process.env), ...launch.env },
          extendEnv: launch.inheritEnv,
          cwd: launch.cwd,
          stdoutFile: launch.stdoutFile,
          stderrFile: launch.stderrFile
        }).pipe(
          Effect.tap((proc) => Effect.sync(() => states.set(key, { _tag: "Running", pid: proc.pid, startTime, host })))
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
    })).pipe(
      Effect.catchAll((error) =>
        now.pipe(
          Effect.map((finishTime) => states.set(launch.key, { _tag: "NotStarted", finishTime, message: error.message }))
        )
      )
    )

  /**
   * Watches a process another program started, checking its files every `watchInterval` until it
   * has ended; interrupted (a cancel, the end of this program), it terminates the process. With a
   * walltime, a process still running that long after its start is ended and reported
   * Failed(Timeout), as one started here would be.
   */
  const watchProcess = (
    key: string,
    jobId: string,
    index: number | undefined,
    script: string,
    running: Extract<ProcessState, { _tag: "Watching" }>,
    walltime: Duration.Duration | undefined
  ) =>
    Effect.gen(function*() {
      const files = statusFiles(script, jobId, index)
      const deadline = walltime === undefined ? undefined : running.startTime.getTime() + Duration.toMillis(walltime)
      let lastSeen = yield* now
      for (;;) {
        const left = deadline === undefined ? watchInterval : Duration.millis(Math.max(0, deadline - lastSeen.getTime()))
        yield* Effect.sleep(Duration.min(watchInterval, left))
        const found = yield* inspect(files, script)
        const at = yield* now
        if (found.exit === undefined && found.pid?.alive === true) {
          if (deadline !== undefined && at.getTime() >= deadline) {
            yield* stopProcess(found.pid.pid, script)
            states.set(key, {
              _tag: "Exited",
              pid: found.pid.pid,
              startTime: running.startTime,
              finishTime: yield* now,
              host: running.host,
              timedOut: true
            })
            return
          }
          lastSeen = at
          continue
        }
        const known = { status: "Running" as const, startTime: running.startTime, execHost: running.host, lastSeen }
        states.set(key, resumedState(found, known, at, host))
        return
      }
    }).pipe(
      Effect.onInterrupt(() => stopProcess(running.pid, script)),
      withSlotIfFree
    )

  const submit = Effect.fn("LocalExecutor.submit")(function*(spec: JobSpec) {
    const job = yield* prepareJob(spec, options)
    const { outDir, runDir, sources } = jobDirectories(job, options, baseDir, path.resolve)
    yield* requirePlainPaths(job.name, sources)
    const dependsOn = job.spec.dependsOn ?? []
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
        new SubmitError({
          name: job.name,
          detail: `could not write the job script in ${outDir}: ${e.message}`,
          reason: "Io",
          cause: e
        })
      )
    )
    let jobId: string
    do {
      lastLocalNumber += 1
      jobId = `${idPrefix}${lastLocalNumber}`
    } while (Option.isSome(yield* store.get(keyOf(jobId))))
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
      metadata: job.spec.metadata ?? {},
      spec: job.spec,
      ...(job.array === undefined ? {} : { array: job.array }),
      ...(dependsOn.length === 0 ? {} : { dependsOn })
    }
    yield* store.insert([record])
    tracked.add(jobId)

    const launch = (key: string, index: number | undefined): Launch => ({
      key,
      jobId,
      index,
      script: script.path,
      env: jobEnvironment(jobId, index),
      inheritEnv: job.inheritEnv,
      cwd: runDir,
      stdoutFile: logPath("stdout", job.resources.stdoutPath, index),
      stderrFile: logPath("stderr", job.resources.stderrPath, index),
      walltime: job.resources.walltime
    })
    const array = job.array
    const keys = array === undefined ? [jobId] : arrayIndices(array).map((i) => elementKey(jobId, i))
    const run = array === undefined
      ? runProcess(launch(jobId, undefined))
      : Effect.forEach(arrayIndices(array), (i) => runProcess(launch(elementKey(jobId, i), i)), {
        concurrency: array.maxConcurrent ?? "unbounded",
        discard: true
      })
    if (dependsOn.length === 0) {
      for (const key of keys) states.set(key, { _tag: "Queued", queuedAt: submitTime })
      yield* FiberMap.run(fibers, jobId, run)
    } else {
      for (const key of keys) states.set(key, { _tag: "Held", heldAt: submitTime })
      holds.set(jobId, { dependsOn, keys, run })
      // Dependencies that have already ended are judged at once: a met one starts the job now.
      yield* checkHolds([jobId])
    }
    return record
  })

  /**
   * Judges, once, the dependencies of the held jobs among `jobIds` (one store read for all of
   * them), when they are submitted or taken over: a job whose dependencies have all ended as they
   * must is started at once, one with a dependency that can never be met is never started (its
   * processes become `Unmet`, reported Failed(DependencyFailed)); the others stay held for the
   * Monitor's gate, which judges them after each tick and calls `release` or `withdraw`. A
   * dependency this executor runs is judged by what it has seen of it, which may be ahead of the
   * store. When the store cannot be read, the jobs stay held for the gate.
   */
  const checkHolds = (jobIds: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const waiting = jobIds.flatMap((id) => {
        const hold = holds.get(id)
        return hold === undefined ? [] : [[id, hold] as const]
      })
      if (waiting.length === 0) return
      const targets = Array.from(new Set(waiting.flatMap(([, hold]) => hold.dependsOn.map((d) => d.jobId))))
      const found = yield* withAttempts({ prefer: "local" }, targets).pipe(
        Effect.provideService(JobStore, store),
        Effect.map(Option.some),
        Effect.catchAll((e) =>
          Effect.logWarning(
            `could not read the dependencies of held local jobs (they stay held until the next tick): ${e.message}`
          ).pipe(Effect.as(Option.none<ReadonlyMap<string, JobRecord>>()))
        )
      )
      if (Option.isNone(found)) return
      const at = yield* now
      // With what this executor sees of its own jobs now (Retry.withObservations).
      const current = withObservations(found.value, (id) => {
        const record = found.value.get(id)
        return record !== undefined && tracked.has(id) ? observeJob(record) : undefined
      }, at)
      for (const [jobId, hold] of waiting) {
        // Cancelled (or judged) while the store was read.
        if (holds.get(jobId) !== hold) continue
        const { never, ready } = judgeDependencies(hold.dependsOn, current, options)
        if (never.length > 0) {
          holds.delete(jobId)
          for (const key of hold.keys) states.set(key, { _tag: "Unmet", finishTime: at, dependencies: never })
          continue
        }
        if (ready) {
          holds.delete(jobId)
          for (const key of hold.keys) states.set(key, { _tag: "Queued", queuedAt: at })
          yield* FiberMap.run(fibers, jobId, hold.run)
          continue
        }
      }
    })

  /**
   * The walltime a job taken over is held to: its spec's, else the config's, as at submit. A record
   * without its spec (written before records kept it) gives none: the job is not held to one.
   */
  const resumedWalltime = (record: JobRecord) =>
    Effect.gen(function*() {
      if (record.spec === undefined) return undefined
      const parsed = walltimeOf(record.spec.resources, options)
      if (Either.isRight(parsed)) return parsed.right
      yield* Effect.logWarning(
        `local job ${record.jobId} is not held to its walltime: ${parsed.left.message}`
      )
      return undefined
    })

  /**
   * Takes over one job another program started, process by process (see `resumedState`): ended
   * ones are read from their exit files, running ones watched, never-started ones started here
   * exactly as `submit` would have (same script, logs and environment, in a slot, an array's
   * `maxConcurrent` kept). A job none of whose processes started and that has dependencies stays
   * held (see `checkHolds`, which `resume` runs next). A job taken over is held to the walltime of
   * the spec its record keeps (a running process counted from its start); a record without its
   * spec gives none.
   */
  const resumeJob = (record: JobRecord) =>
    Effect.gen(function*() {
      const at = yield* now
      const script = record.scriptPath
      const walltime = yield* resumedWalltime(record)
      const watchers: Array<Effect.Effect<void>> = []
      const starters: Array<Effect.Effect<void>> = []
      const queued: Array<string> = []
      const cleanEnv = script !== undefined &&
        wantsCleanEnv(yield* fs.readFileString(script).pipe(Effect.orElseSucceed(() => "")))
      for (const { index, key, known } of processesOf(record)) {
        if (script === undefined) {
          // Nothing to look for or to run: the record names no script (not a job this executor wrote).
          states.set(
            key,
            known.status === "Pending"
              ? { _tag: "NotStarted", finishTime: at, message: "its record names no job script to run" }
              : resumedState({}, known, at, host)
          )
          continue
        }
        const state = resumedState(yield* inspect(statusFiles(script, record.jobId, index), script), known, at, host)
        states.set(key, state)
        if (state._tag === "Watching") watchers.push(watchProcess(key, record.jobId, index, script, state, walltime))
        else if (state._tag === "Queued") {
          queued.push(key)
          const recorded = (stream: "stdout" | "stderr", given: string | undefined) =>
            given === undefined
              ? path.join(path.dirname(script), logFileName(stream, record.jobId, index))
              : processLogPath(given, stream, record.jobId, index)
          starters.push(runProcess({
            key,
            jobId: record.jobId,
            index,
            script,
            env: jobEnvironment(record.jobId, index),
            inheritEnv: !cleanEnv,
            cwd: record.workDir ?? baseDir,
            stdoutFile: recorded("stdout", record.stdoutPath),
            stderrFile: recorded("stderr", record.stderrPath),
            walltime
          }))
        }
      }
      tracked.add(record.jobId)
      // Running elements first: their program kept to `maxConcurrent`, so they all fit at once.
      const all = [...watchers, ...starters]
      const [only] = all
      if (only === undefined) return
      const run = record.array === undefined
        ? only
        : Effect.forEach(all, (e) => e, { concurrency: record.array.maxConcurrent ?? "unbounded", discard: true })
      const dependsOn = record.dependsOn ?? []
      // Nothing of it started: it may still be waiting for its dependencies.
      const neverStarted = record.status === "Pending" && watchers.length === 0 &&
        queued.length === processesOf(record).length
      if (dependsOn.length > 0 && neverStarted) {
        for (const key of queued) states.set(key, { _tag: "Held", heldAt: at })
        holds.set(record.jobId, { dependsOn, keys: queued, run })
        return
      }
      yield* FiberMap.run(fibers, record.jobId, run)
    })

  const resume = Effect.fn("LocalExecutor.resume")(function*(jobs: ReadonlyArray<JobRecord>) {
    const taken: Array<string> = []
    for (const record of jobs) {
      if (record.executor !== "local" || isTerminal(record) || tracked.has(record.jobId)) continue
      yield* resumeJob(record)
      taken.push(record.jobId)
    }
    // Once every job is taken over, so a dependency among them is judged by what its files say.
    yield* checkHolds(taken)
  })

  const observeJob = (record: JobRecord): Observation | undefined => {
    if (record.array === undefined) {
      const state = states.get(record.jobId)
      if (state === undefined) return undefined
      const { index: _index, ...seen } = observe(state)
      return { jobId: record.jobId, ...seen, ...(state._tag === "Held" ? { held: true } : {}) }
    }
    const elements = []
    let unmet: Extract<ProcessState, { _tag: "Unmet" }> | undefined
    for (const i of arrayIndices(record.array)) {
      const state = states.get(elementKey(record.jobId, i))
      if (state === undefined) continue
      if (state._tag === "Unmet") unmet = state
      elements.push(observe(state, i))
    }
    if (elements.length === 0) return undefined
    // Never started for its dependencies: the array failed for them, not for its elements.
    return unmet === undefined
      ? { jobId: record.jobId, elements, ...(holds.has(record.jobId) ? { held: true } : {}) }
      : {
        jobId: record.jobId,
        status: "Failed",
        reason: { _tag: "DependencyFailed", dependencies: unmet.dependencies },
        finishTime: unmet.finishTime,
        elements
      }
  }

  /**
   * What the pid and exit files of a job another program runs (or ran) say, read only: nothing
   * is started, watched or taken over. A process that ended is reported with its exit status, a
   * live one Running, one never started Pending; one whose files say nothing sure (its pid gone
   * with no exit file, or a pid of another host) is not reported, for its owner or the zombie
   * timeout to judge.
   */
  const observeElsewhere = (record: JobRecord) =>
    Effect.gen(function*() {
      const script = record.scriptPath
      if (script === undefined || record.executor !== "local" || isTerminal(record)) return undefined
      if (record.execHost !== undefined && record.execHost !== host) return undefined
      const at = yield* now
      const elements = []
      for (const { index, known } of processesOf(record)) {
        const state = resumedState(yield* inspect(statusFiles(script, record.jobId, index), script), known, at, host)
        if (state._tag !== "Vanished") elements.push(observe(state, index))
      }
      if (record.array !== undefined) return elements.length === 0 ? undefined : { jobId: record.jobId, elements }
      const [only] = elements
      if (only === undefined) return undefined
      const { index: _index, ...seen } = only
      return { jobId: record.jobId, ...seen } satisfies Observation
    })

  /**
   * What this executor sees of the given jobs, changing nothing: a job held for its dependencies
   * is reported Pending and held (the Monitor's gate judges it and calls `release` or
   * `withdraw`). Jobs it does not run are read from their files (see `observeElsewhere`).
   */
  const poll = Effect.fn("LocalExecutor.poll")(function*(jobs: ReadonlyArray<JobRecord>) {
    const out: Array<Observation> = []
    for (const job of jobs) {
      const o = tracked.has(job.jobId) ? observeJob(job) : yield* observeElsewhere(job)
      if (o !== undefined) out.push(o)
    }
    return out
  })

  /** Held jobs whose dependencies the Monitor's gate found met: their processes are started. */
  const release: ExecutorShape["release"] = (jobIds) =>
    Effect.gen(function*() {
      const at = yield* now
      for (const jobId of jobIds) {
        const hold = holds.get(jobId)
        if (hold === undefined) continue
        holds.delete(jobId)
        for (const key of hold.keys) states.set(key, { _tag: "Queued", queuedAt: at })
        yield* FiberMap.run(fibers, jobId, hold.run)
      }
    })

  /** Held jobs one of whose dependencies can never be met: never started, reported Failed(DependencyFailed). */
  const withdraw: ExecutorShape["withdraw"] = (jobs) =>
    Effect.gen(function*() {
      const at = yield* now
      for (const { jobId, unmet } of jobs) {
        const hold = holds.get(jobId)
        if (hold === undefined) continue
        holds.delete(jobId)
        for (const key of hold.keys) states.set(key, { _tag: "Unmet", finishTime: at, dependencies: unmet })
      }
    })

  /** Whether every process of a job this executor runs has already ended on its own. */
  const alreadyEnded = (record: JobRecord): boolean =>
    processesOf(record).every(({ key }) => {
      const s = states.get(key)
      return s !== undefined && hasEnded(s)
    })

  /**
   * Cancels a job this executor does not run (its program died and nobody took it over, or another
   * live program runs it): the processes still running are found through their pid files and their
   * process groups terminated, and the job is recorded as cancelled. The record is written first,
   * so the other program cannot record the kill as a failure. A job whose processes have all ended
   * or vanished is left to be polled.
   */
  const cancelElsewhere = (record: JobRecord, done: boolean) =>
    Effect.gen(function*() {
      const script = record.scriptPath
      const live: Array<number> = []
      let unstarted = 0
      for (const { index } of processesOf(record)) {
        if (script === undefined) {
          unstarted += 1
          continue
        }
        const found = yield* inspect(statusFiles(script, record.jobId, index), script)
        if (found.exit !== undefined) continue
        if (found.pid === undefined) unstarted += 1
        else if (found.pid.alive) live.push(found.pid.pid)
      }
      if (live.length === 0 && unstarted === 0) return record
      const at = yield* now
      const changes = yield* store.modify([record], (r) => cancelled(r, at, done))
      if (script !== undefined) {
        yield* Effect.forEach(live, (pid) => stopProcess(pid, script), { concurrency: "unbounded", discard: true })
      }
      return changes[0]?.after ?? record
    })

  const cancel = Effect.fn("LocalExecutor.cancel")(function*(jobId: string, cancelOptions?: CancelOptions) {
    const found = yield* store.get(keyOf(jobId))
    if (Option.isNone(found)) return yield* new JobNotFound({ jobId })
    const record = found.value
    const done = cancelOptions?.done === true
    if (isTerminal(record)) return record
    if (!tracked.has(jobId)) return yield* cancelElsewhere(record, done)
    // A job that ended on its own keeps its true end; the next poll records it.
    if (alreadyEnded(record)) return record
    const at = yield* now
    // With what this executor knows of it: its processes' starts and host, its elements.
    const changes = yield* store.modify([keyOf(jobId)], (r) => {
      const seen = observeJob(r)
      return cancelled(seen === undefined ? r : applyObservation(r, seen, at), at, done)
    })
    // A job held for its dependencies is never started now.
    const hold = holds.get(jobId)
    if (hold !== undefined) {
      holds.delete(jobId)
      for (const key of hold.keys) states.set(key, { _tag: "Withdrawn", finishTime: at })
    }
    yield* FiberMap.remove(fibers, jobId)
    yield* markTerminated(record)
    return changes[0]?.after ?? record
  })

  /**
   * Once a cancel has terminated a job's processes: each one not ended is recorded ended now (or
   * withdrawn, when it never started), so the next poll gives the cancelled record their ends.
   */
  const markTerminated = (record: JobRecord) =>
    Effect.map(now, (at) => {
      for (const { key } of processesOf(record)) {
        const state = states.get(key)
        if (state !== undefined && hasEnded(state)) continue
        const running = state?._tag === "Running" || state?._tag === "Watching" ? state : undefined
        states.set(
          key,
          running === undefined
            ? { _tag: "Withdrawn", finishTime: at }
            : { _tag: "Exited", pid: running.pid, startTime: running.startTime, finishTime: at, host: running.host, timedOut: false }
        )
      }
    })

  /**
   * Run when the scope closes, after every process of this executor was terminated: its jobs get
   * what was last seen of them, and those not ended are recorded Killed by the program's end.
   */
  const recordProgramEnd = Effect.gen(function*() {
    if (tracked.size === 0) return
    const at = yield* now
    yield* store.modify(Array.from(tracked, keyOf), (r) => {
      const seen = observeJob(r)
      return cancelled(seen === undefined ? r : applyObservation(r, seen, at), at, false, programEnded)
    })
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning(`could not record the end of this program's local jobs: ${error.message}`)
    )
  )

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
    // Jobs are this program's child processes: they end with it, are watched from this host
    // only, a poll reads memory and a few files, and a job waits here for its dependencies.
    capabilities: { outlivesProgram: false, hostBound: true, cheapPoll: true, nativeDependencies: false },
    submit,
    submitArray: (spec: JobSpec, array: ArraySpec) => submit({ ...spec, array }),
    poll,
    // No scheduler judges a local job's dependencies: every one is the gate's, and may name a job
    // of any executor.
    gatedDependencies: (job) => job.dependsOn ?? [],
    dependencyLookup: "any",
    release,
    withdraw,
    cancel,
    cancelByName: (pattern, cancelOptions) =>
      store.list({ active: true, executor: "local" }).pipe(
        Effect.flatMap((active) => {
          const matches = JobName.matcher(options.job_name_prefix, pattern)
          return cancelMany(active.filter((r) => r.executor === "local" && matches(r.name)), cancelOptions)
        })
      ),
    cancelAll: (cancelOptions) =>
      store.active.pipe(
        Effect.flatMap((active) => cancelMany(active.filter((r) => r.executor === "local"), cancelOptions))
      ),
    // A local job exists only in the job store that recorded it: there is no scheduler to ask.
    track: (jobId) =>
      store.get(keyOf(jobId)).pipe(
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () =>
            Effect.fail(
              new JobNotFound({
                jobId,
                hint: "local jobs are known only from the job store that recorded them; point state_path at it"
              })
            )
        }))
      ),
    // There is no scheduler to ask: jobs of other programs come from the store, through `resume`.
    reconnect: Effect.succeed([]),
    resume
  }
  return shape
})

/** The local executor; needs the config, a CommandRunner, a JobStore, and FileSystem/Path. */
export const layer: Layer.Layer<
  Executor,
  never,
  ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path
> = Layer.scoped(Executor, make)
