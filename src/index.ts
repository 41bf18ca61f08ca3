/**
 * cluster-api: submit executables to batch schedulers or local processes, watch them, and act
 * when they end, as Effect services.
 *
 * Namespaces only, as in `@effect/platform`: a service is its module, the Tag inside it.
 *
 * ```ts
 * import { ClusterApi, Executor, Monitor } from "cluster-api"
 *
 * const program = Effect.gen(function*() {
 *   const executor = yield* Executor.Executor
 *   const monitor = yield* Monitor.Monitor
 *   const job = yield* executor.submit({ name: "hello", command: "echo hello" })
 *   return yield* monitor.await(job)
 * })
 * program.pipe(Effect.provide(ClusterApi.layer()), NodeRuntime.runMain)
 * ```
 *
 * What each namespace is:
 * - ClusterApi: the one layer a program provides (`layer`, `layerTest`, `compose`).
 * - ClusterConfig: the resolved configuration (file + profile + overrides): the `ClusterConfig`
 *   Tag (with `layerTest`), `layer`, `layerConfig` (from `effect/Config`), `loadConfig`,
 *   `renderConfig`, the options' Schema and defaults.
 * - CommandRunner: runs one argv (never a shell string); `layerNode` runs real processes.
 * - TestCommandRunner: a CommandRunner answering from rules, recording every call.
 * - Executor: the Executor Tag: submit, poll, release, cancel, track, reconnect, resume.
 * - JobStore: the store of every record and transition; `layerMemory`, `keyString`.
 * - SqliteJobStore: the SQLite store (`layer`, `layerConfig`).
 * - Monitor: the Monitor Tag: polling, callbacks, `await`/`awaitAll`, the events stream.
 * - Job: the data: JobSpec, JobRecord, statuses, failure reasons, events (`describeReason`).
 * - Errors: every tagged error a program can meet.
 * - Diagnosis: why a job failed, from its record and logs.
 * - JobQueries: reading, exporting, importing and cleaning up the store's jobs.
 * - Pipeline, PipelineFile: steps with dependencies, in code or from a YAML file.
 * - Retry: retry plans and resubmission.
 * - Units: memory and walltime parsing.
 * - JobName: the one "{prefix}-{name}" rule.
 * - Detect: which scheduler this machine has.
 * - Scheduler: the contract a scheduler's dialect implements, and the descriptor and
 *   `Schedulers` registry that name it (for writing one).
 * - BatchExecutor: the executor shared by batch schedulers, built from a dialect (`layer`, `make`):
 *   what a scheduler a program writes itself plugs into.
 * - Local, Slurm, Lsf, Sge, Pbs: each scheduler's folder: its descriptor (`Slurm.slurm`, for a
 *   program's own list of schedulers), its executor (`make`, `layer`) and, for batch schedulers,
 *   its `dialect`; `ClusterApi.layer` picks the one the config names.
 */
export * as ClusterApi from "./ClusterApi.js"
export * as ClusterConfig from "./Config.js"
export * as CommandRunner from "./CommandRunner.js"
export * as TestCommandRunner from "./TestCommandRunner.js"
export * as Executor from "./Executor.js"
export * as JobStore from "./JobStore.js"
export * as SqliteJobStore from "./SqliteJobStore.js"
export * as Monitor from "./Monitor.js"
export * as Job from "./Domain.js"
export * as Errors from "./Errors.js"
export * as Diagnosis from "./Diagnosis.js"
export * as JobQueries from "./JobQueries.js"
export * as Pipeline from "./Pipeline.js"
export * as PipelineFile from "./PipelineFile.js"
export * as Retry from "./Retry.js"
export * as Units from "./Units.js"
export * as JobName from "./JobName.js"
export * as Detect from "./Detect.js"
export * as Scheduler from "./Scheduler.js"
export * as BatchExecutor from "./BatchExecutor.js"
export * as Local from "./schedulers/local/index.js"
export * as Slurm from "./schedulers/slurm/index.js"
export * as Lsf from "./schedulers/lsf/index.js"
export * as Sge from "./schedulers/sge/index.js"
export * as Pbs from "./schedulers/pbs/index.js"
