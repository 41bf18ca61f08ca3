/**
 * Submitting a local job: its script written, its id chosen, its record stored, then its
 * processes queued for a slot, or held for its dependencies.
 */
import { Effect, FiberMap, Option } from "effect"
import type { JobRecord, JobSpec } from "../../../Domain.js"
import { arrayIndices } from "../../../Domain.js"
import { InvalidJobSpec } from "../../../Errors.js"
import { jobDirectories, prepareJob, requirePlainPaths } from "../../../internal/prepare.js"
import { jobEnvironment, logFileName, renderLocalScript } from "../script.js"
import type { LocalContext } from "./context.js"
import { elementKey, keyOf, now } from "./context.js"
import { checkHolds } from "./holds.js"
import type { Launch } from "./processes.js"
import { runProcess } from "./processes.js"
import { scriptNotWritten } from "../../../internal/executorServices.js"

/**
 * The last n given to a local job id `{pid}-{n}` by any local executor of this process. One count
 * per process, not per executor: two executors in one program (two layers, or command lines run
 * in-process) on one store would otherwise both pick `{pid}-1`. Ids are unique among the processes
 * alive on this machine, and each is checked against the store, which may hold the jobs of an
 * earlier program that had this pid.
 */
let lastLocalNumber = 0

export const submit = Effect.fn("LocalExecutor.submit")(function*(ctx: LocalContext, spec: JobSpec) {
  const { options, path, store } = ctx
  const job = yield* prepareJob(spec, options)
  const { outDir, runDir, sources } = jobDirectories(job, options, ctx.baseDir, path.resolve)
  yield* requirePlainPaths(job.name, sources)
  const dependsOn = job.spec.dependsOn ?? []
  if (job.resources.workDir !== undefined) {
    const exists = yield* ctx.fs.exists(runDir).pipe(Effect.orElseSucceed(() => false))
    if (!exists) {
      return yield* new InvalidJobSpec({
        name: job.name,
        field: "resources.workDir",
        problem: `does not exist: ${runDir}; create it first or fix the path`
      })
    }
  }
  const script = yield* ctx.writeNextScript(outDir, job.name, renderLocalScript(job, options)).pipe(
    Effect.provide(ctx.platform),
    Effect.mapError(scriptNotWritten(job.name, outDir))
  )
  let jobId: string
  do {
    lastLocalNumber += 1
    jobId = `${ctx.idPrefix}${lastLocalNumber}`
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
  ctx.tracked.add(jobId)

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
    ? runProcess(ctx, launch(jobId, undefined))
    : Effect.forEach(arrayIndices(array), (i) => runProcess(ctx, launch(elementKey(jobId, i), i)), {
      concurrency: array.maxConcurrent ?? "unbounded",
      discard: true
    })
  if (dependsOn.length === 0) {
    for (const key of keys) ctx.states.set(key, { _tag: "Queued", queuedAt: submitTime })
    yield* FiberMap.run(ctx.fibers, jobId, run)
  } else {
    for (const key of keys) ctx.states.set(key, { _tag: "Held", heldAt: submitTime })
    ctx.holds.set(jobId, { dependsOn, keys, run })
    // Dependencies that have already ended are judged at once: a met one starts the job now.
    yield* checkHolds(ctx, [jobId])
  }
  return record
})
