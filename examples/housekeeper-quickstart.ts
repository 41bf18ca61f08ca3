/**
 * Example: housekeeper's quick start, written for cluster-api.
 *
 *   hk = housekeeper(jobs_dir="./my_pipeline_run")
 *   job1 = hk.submit(command="python process.py --input data.fits", name="process",
 *                    job_subdir="preprocessing", cpus=8, memory="32GB", walltime="02:00:00",
 *                    expected_files=["output.fits"])
 *   job2 = hk.submit(command="python analyze.py --input output.fits", name="analyze",
 *                    job_subdir="analysis", after_ok=[job1])
 *   hk.monitor([job1, job2])
 *   for job in hk.list_jobs(): print(f"{job['name']}: {job['status']}")
 *
 * One run directory holds the job store (cluster-api.db, where housekeeper keeps housekeeper.db)
 * and a sub-directory per job with its script and logs. `process` must leave `output.fits`
 * (expectedOutputs: a Done job without it is Failed(MissingOutput)), its logs are scanned for
 * error lines with a whitelist (logCheck), and it is retried once if it fails (retry). `analyze`
 * runs only after `process` succeeded (afterok). When something fails, `Diagnosis.failureInfo`
 * says why, as housekeeper's `failure_info` does.
 *
 *   npm run build && node dist/examples/housekeeper-quickstart.js           # both Done
 *   npm run build && node dist/examples/housekeeper-quickstart.js --no-output  # process leaves
 *                         # no output.fits: Failed (missing output), analyze never runs
 */
import { FileSystem, Path } from "@effect/platform"
import { Console, Effect } from "effect"
import { ClusterConfig, Diagnosis, Executor, Job, JobStore, Monitor } from "cluster-api"
import { ExampleLayer, runIfMain } from "./support.js"

/** The lines housekeeper's error whitelist example lets through (config: error_whitelist). */
export const errorWhitelist = [
  "WARN",
  "FutureWarning",
  "DeprecationWarning",
  "Leap second table TAI_UTC seems out-of-date"
]

export interface QuickStartResult {
  /** Every job in the store, oldest first (as `list_jobs` prints them). */
  readonly jobs: ReadonlyArray<Job.JobRecord>
  /** Why `process` failed, when it did. */
  readonly failure?: Diagnosis.FailureInfo | undefined
}

/**
 * Runs the quick start in `runDir`. With `noOutput`, `process` succeeds but writes no
 * output.fits, so it ends Failed(MissingOutput) (after its one retry) and `analyze` never runs.
 */
export const quickStart = (runDir: string, options: { readonly noOutput?: boolean } = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const executor = yield* Executor.Executor
    const monitor = yield* Monitor.Monitor
    const store = yield* JobStore.JobStore
    const { options: config } = yield* ClusterConfig.ClusterConfig
    const subdir = (name: string) =>
      fs.makeDirectory(path.join(runDir, name), { recursive: true }).pipe(Effect.as(path.join(runDir, name)))

    // Stands in for `python process.py --input data.fits`. Its warning holds "failed", an error
    // pattern, but the whitelist entry "WARN" lets it through.
    const processJob = yield* executor.submit({
      name: "process",
      command: [
        `echo "WARN: failed to read the optional flag table, using defaults" >&2`,
        `echo "processing data.fits"`,
        options.noOutput === true ? `echo "done (output skipped)"` : `echo "calibrated" > output.fits`
      ].join("; "),
      resources: { workDir: yield* subdir("preprocessing"), cpus: 1, memory: "1 GB", walltime: "02:00:00" },
      expectedOutputs: ["output.fits"],
      logCheck: { whitelist: errorWhitelist, threshold: 3 },
      retry: { maxRetries: 1 }
    })
    // Stands in for `python analyze.py --input output.fits`.
    const analyze = yield* executor.submit({
      name: "analyze",
      command: `wc -c < ../preprocessing/output.fits > analysis.txt && echo "analysed $(cat analysis.txt) bytes"`,
      resources: { workDir: yield* subdir("analysis") },
      dependsOn: [{ type: "afterok", jobId: processJob.jobId }]
    })

    // hk.monitor([job1, job2]): wait for both (process through its retries).
    const [processed] = yield* monitor.awaitAll([processJob, analyze])

    const jobs = yield* store.list()
    for (const job of jobs) yield* Console.log(`${job.name}: ${job.status}`)
    const failure = processed === undefined || processed.status === "Done"
      ? undefined
      : yield* Diagnosis.failureInfo(processed, config)
    if (failure !== undefined) yield* Console.log(`process failed: ${failure.summary ?? failure.status}`)
    return { jobs, failure } satisfies QuickStartResult
  })

const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const runDir = yield* fs.makeTempDirectoryScoped({ prefix: "my_pipeline_run-" })
  yield* quickStart(runDir, { noOutput: process.argv.includes("--no-output") })
}).pipe(Effect.scoped, Effect.provide(ExampleLayer))

runIfMain(import.meta.url, main)
