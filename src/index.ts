/**
 * cluster-api: submit executables to batch schedulers or local processes, watch them, and act
 * when they end, as Effect services.
 */
export * from "./Domain.js"
export * from "./Errors.js"

export * as ClusterApi from "./ClusterApi.js"
export type { Services } from "./ClusterApi.js"

export { availableExecutors, ClusterConfig, ConfigOptions, defaultOptions, loadConfig, renderConfig } from "./Config.js"
export type { ClusterConfigShape, ConfigSource, LoadOptions } from "./Config.js"
export * as Detect from "./Detect.js"

export { CommandRunner } from "./CommandRunner.js"
export type {
  CommandResult,
  CommandRunnerShape,
  CommandSpec,
  ProcessExit,
  SpawnedProcess,
  SpawnSpec
} from "./CommandRunner.js"
export { matches, TestCommandRunner } from "./TestCommandRunner.js"
export type {
  Matcher,
  RecordedCall,
  Reply,
  Rule,
  SentSignal,
  SpawnReply,
  SpawnRule,
  TestCommandRunnerOptions,
  TestCommandRunnerShape
} from "./TestCommandRunner.js"

export { Executor, globToRegExp, prepareJob } from "./Executor.js"
export type { Capabilities, CancelOptions, ExecutorShape, PreparedJob, ResolvedResources, SubmitFailure } from "./Executor.js"
export * as BatchExecutor from "./BatchExecutor.js"
export type { BatchListing, CommandAnswer, Dialect, Invocation, JobPaths, SubmitRequest } from "./BatchExecutor.js"
export * as LocalExecutor from "./LocalExecutor.js"
export * as SlurmExecutor from "./SlurmExecutor.js"
export * as Slurm from "./schedulers/slurm/index.js"
export * as LsfExecutor from "./LsfExecutor.js"
export * as Lsf from "./schedulers/lsf/index.js"
export * as SgeExecutor from "./SgeExecutor.js"
export * as PbsExecutor from "./PbsExecutor.js"
export * as Pbs from "./schedulers/pbs/index.js"
export * as Sge from "./schedulers/sge/index.js"
export { batchCapabilities, schedulerNamed, Schedulers } from "./Scheduler.js"
export type { ExecutorRequirements, LogPathRule, Registry, Scheduler, Sighting } from "./Scheduler.js"

export { JobStore, keyString } from "./JobStore.js"
export type { AdoptOptions, Adopted, JobChange, JobFilter, JobHistory, JobKey, JobStoreShape, SubmitIntent, TransitionEntry } from "./JobStore.js"
export * as SqliteJobStore from "./SqliteJobStore.js"
export * as JobQueries from "./JobQueries.js"
export type { CleanedJob, CleanupOptions, CleanupReport, ImportReport, KeptJob } from "./JobQueries.js"

export { Monitor } from "./Monitor.js"
export type { CallbackRequirements, ExitCondition, JobCallback, JobRef, MonitorOptions, MonitorShape, ResumeReport, TickReport } from "./Monitor.js"

export * as Diagnosis from "./Diagnosis.js"
export type { FailureInfo } from "./Diagnosis.js"
export * as JobName from "./JobName.js"
export * as JobOptions from "./internal/jobOptions.js"
export * as Pipeline from "./Pipeline.js"
export * as PipelineFile from "./PipelineFile.js"
export type { PipelineResult, PipelineSpec, PipelineStep, StepResult, StepUpdate } from "./Pipeline.js"
export * as Retry from "./Retry.js"
export type { RetryPlan } from "./Retry.js"
export * as Script from "./internal/script.js"
export * as Transition from "./internal/transition.js"
export * as Units from "./Units.js"
