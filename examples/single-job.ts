/**
 * Example: one job, start to end.
 *
 * Submits one job with resources and environment variables, registers callbacks for its success
 * and its failure, waits for it and prints its final record.
 *
 *   npm run build && node dist/examples/single-job.js
 *
 * Jobs run on the local executor (the default): each job is a process on this machine. Its script
 * and logs go to a temporary directory that is removed when the program ends.
 */
import { FileSystem } from "@effect/platform"
import { Console, Effect } from "effect"
import { Executor, Job, Monitor } from "cluster-api"
import { ExampleLayer, runIfMain } from "./support.js"

/** A record as a few lines for people (a pure function: no effect needed to render). */
export const renderRecord = (record: Job.JobRecord): string =>
  [
    `job ${record.jobId} (${record.name})`,
    `  status:    ${record.status}${record.reason === undefined ? "" : ` (${Job.describeReason(record.reason)})`}`,
    `  exit code: ${record.exitCode ?? "none"}`,
    `  host:      ${record.execHost ?? "unknown"}`,
    `  script:    ${record.scriptPath ?? "none"}`,
    `  stdout:    ${record.stdoutPath ?? "none"}`,
    `  stderr:    ${record.stderrPath ?? "none"}`
  ].join("\n")

/**
 * The program: needs only the services `ClusterApi.layer` provides, and returns the job's final
 * record (so a test can check it, and a caller can act on it).
 */
export const program = Effect.gen(function*() {
  const executor = yield* Executor.Executor
  const monitor = yield* Monitor.Monitor

  // Resources a job leaves out come from the config. On the local executor `cpus` and `memory`
  // are recorded but not enforced; `walltime` is: "00:10" is hours:minutes, ten minutes, after
  // which the job is ended and reported as Failed(Timeout).
  const job = yield* executor.submit({
    name: "single",
    command: `echo "hello, $GREETING_TARGET"; echo "job $CLUSTER_API_JOB_ID ran on $(hostname)"`,
    env: { GREETING_TARGET: "cluster-api" },
    resources: { cpus: 1, memory: "1 GB", walltime: "00:10" }
  })
  yield* Effect.log(`submitted job ${job.jobId} as ${job.name}`)

  // Callbacks fire exactly once, when the job ends the way they ask for. A callback may be a
  // plain function, return a Promise, or (as here) return an Effect; its failure is logged and
  // never stops the Monitor.
  yield* monitor.onSuccess(job, (record) => Effect.log(`job ${record.jobId} succeeded on ${record.execHost}`))
  yield* monitor.onFailure(job, (record) =>
    Effect.logWarning(
      `job ${record.jobId} failed: ${record.reason === undefined ? record.status : Job.describeReason(record.reason)}`
    ))

  // `await` returns the job's final record (`awaitAll` the records of several, in order); with a
  // timeout it fails with AwaitTimeout and leaves the job running.
  const final = yield* monitor.await(job, { timeout: "1 minute" })

  yield* Console.log(renderRecord(final))
  return final
})


const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const record = yield* program
  if (record.stdoutPath !== undefined) {
    yield* Console.log(`--- the job's stdout ---\n${(yield* fs.readFileString(record.stdoutPath)).trimEnd()}`)
  }
}).pipe(Effect.provide(ExampleLayer))

runIfMain(import.meta.url, main)
