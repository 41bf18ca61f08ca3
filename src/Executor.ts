/**
 * The Executor contract: one scheduler's way of submitting, watching and cancelling jobs.
 *
 * An executor writes what it does to the JobStore (a submitted record, a cancellation) and
 * reports what the scheduler says (`poll`) without changing anything: the Monitor turns
 * observations into transitions.
 */
import { Context, Effect } from "effect"
import type { ArraySpec, Dependency, JobRecord, JobSpec, Observation } from "./Domain.js"
import type {
  CancelError,
  HoldError,
  InvalidJobSpec,
  JobNotFound,
  PollError,
  StoreError,
  SubmitError,
  SubmittedNotRecorded
} from "./Errors.js"
import type { InvalidMemory, InvalidWalltime } from "./Errors.js"

export type SubmitFailure =
  | SubmitError
  | InvalidJobSpec
  | InvalidMemory
  | InvalidWalltime
  | StoreError
  | SubmittedNotRecorded

export interface TrackOptions {
  /** The job's name, when the scheduler's may not be the one to keep. */
  readonly name?: string | undefined
  /** Kept with the record, as a submitted job's metadata is. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

export interface CancelOptions {
  /** Record the job as Done rather than Killed (LSF's `bkill -d`). */
  readonly done?: boolean | undefined
}

/**
 * What an executor's jobs are like, for the code outside the executor that acts on it (the
 * Monitor, the command line): it asks these, never the executor's name.
 */
export interface Capabilities {
  /**
   * Its jobs keep running when the program that submitted them ends: batch schedulers' do; the
   * local executor's are child processes of the program and end with it.
   */
  readonly outlivesProgram: boolean
  /**
   * A job can be watched only from the host that ran it (local jobs: their processes and status
   * files are on that host), so a program on another host leaves them alone.
   */
  readonly hostBound: boolean
  /**
   * A poll costs next to nothing (the local executor reads this process's memory and a few
   * files), so whoever watches may poll faster than `poll_interval`.
   */
  readonly cheapPoll: boolean
  /**
   * The scheduler itself holds a job until its dependencies are met (batch schedulers); without
   * it, the executor starts a job only once its dependencies have ended as they must (local).
   */
  readonly nativeDependencies: boolean
}

export interface ExecutorShape {
  /** The executor's name, as written in `JobRecord.executor`. */
  readonly kind: string
  /** What its jobs are like (see `Capabilities`): what code outside the executor decides by. */
  readonly capabilities: Capabilities
  /** Submits a job (an array job when `spec.array` is set). The record is in the JobStore on return. */
  readonly submit: (spec: JobSpec) => Effect.Effect<JobRecord, SubmitFailure>
  /** Submits an array job over `array`'s indices. */
  readonly submitArray: (spec: JobSpec, array: ArraySpec) => Effect.Effect<JobRecord, SubmitFailure>
  /**
   * Asks the scheduler about all the given jobs at once (one status command for all of them, plus
   * at most one accounting command for those that left the live queue). Changes nothing (no
   * job is started, released or cancelled: that is the Monitor's gate): a job the scheduler did
   * not report gets no observation.
   */
  readonly poll: (jobs: ReadonlyArray<JobRecord>) => Effect.Effect<ReadonlyArray<Observation>, PollError>
  /**
   * Completes once one of this executor's jobs may have ended since it last completed (a local
   * process exited), so that the Monitor ticks at once rather than after `poll_interval`. Absent
   * where only a poll can tell (batch schedulers).
   */
  readonly ended?: Effect.Effect<void> | undefined
  /**
   * The dependencies of a job that this executor leaves to the Monitor's gate, because the
   * scheduler does not judge them itself (every dependency of a local job; SGE's `-hold_jid` on a
   * job that must end Done): such a job is submitted held, and after each tick the Monitor judges
   * them from the job store, then calls `release` or `withdraw`. Empty for a job the scheduler
   * orders by itself. Pure: it reads the record only.
   */
  readonly gatedDependencies: (job: JobRecord) => ReadonlyArray<Dependency>
  /**
   * Where the gate looks the jobs named by gated dependencies up: `"own"`, among this executor's
   * jobs only (a scheduler's job ids); `"any"`, among every executor's, this one's first.
   */
  readonly dependencyLookup: "own" | "any"
  /**
   * Lets held jobs whose gated dependencies are all met start (`qrls -h u`; a local job's processes
   * are started). Jobs it does not hold are left alone.
   */
  readonly release: (jobIds: ReadonlyArray<string>) => Effect.Effect<void, HoldError>
  /**
   * Gives up held jobs one of whose gated dependencies can never be met (named in `unmet`): the
   * scheduler's copy is cancelled, a local job is never started. Records nothing: the Monitor
   * records them Failed(DependencyFailed).
   */
  readonly withdraw: (
    jobs: ReadonlyArray<{ readonly jobId: string; readonly unmet: ReadonlyArray<string> }>
  ) => Effect.Effect<void, HoldError>
  /** Cancels one job; a job that already ended is left as it is. */
  readonly cancel: (
    jobId: string,
    options?: CancelOptions
  ) => Effect.Effect<JobRecord, CancelError | JobNotFound | StoreError>
  /** Cancels the tracked, unfinished jobs whose name matches a glob (`*`, `?`, `[...]`). */
  readonly cancelByName: (
    pattern: string,
    options?: CancelOptions
  ) => Effect.Effect<ReadonlyArray<JobRecord>, CancelError | StoreError>
  /** Cancels every tracked, unfinished job; failures are logged, never raised. */
  readonly cancelAll: (options?: CancelOptions) => Effect.Effect<ReadonlyArray<JobRecord>, StoreError>
  /**
   * Finds this user's queued and running jobs whose names carry the configured
   * `job_name_prefix` and tracks the ones not tracked yet (arrays rebuilt from the elements the
   * scheduler still shows). Returns the jobs it added. For jobs a program left in the JobStore,
   * the Monitor's adoption does better (commands and whole arrays are known); this is for jobs
   * submitted elsewhere. The local executor has no scheduler to list jobs, so it finds none.
   */
  readonly reconnect: Effect.Effect<ReadonlyArray<JobRecord>, PollError | StoreError>
  /**
   * Tracks one job known by its id from elsewhere (another tool, a database): the scheduler is
   * asked about it once and it is recorded as it stands (name from the scheduler unless given,
   * command unknown, an array rebuilt from the elements shown), then polled like any other.
   * A job already in the JobStore is returned as it is. JobNotFound when the scheduler does not
   * know the id.
   */
  readonly track: (
    jobId: string,
    options?: TrackOptions
  ) => Effect.Effect<JobRecord, JobNotFound | PollError | StoreError>
  /**
   * Takes over jobs an earlier program submitted and left unfinished (the Monitor adopts them
   * from the JobStore when it starts), so that `poll` and `cancel` cover them from now on. A
   * batch scheduler needs nothing (it is asked by job id); the local executor watches the
   * processes still running and starts the jobs that never got to.
   */
  readonly resume: (jobs: ReadonlyArray<JobRecord>) => Effect.Effect<void, StoreError>
  /**
   * Settles the submissions a program died in the middle of (`JobStore.adoptIntents`): asks the
   * scheduler once which jobs carry their tokens, records each job found (the Monitor then
   * watches it) and each one not found as Failed(SubmitFailed). Returns the records written.
   * Absent for executors whose submissions cannot outlive the program.
   */
  readonly recoverSubmits?: Effect.Effect<ReadonlyArray<JobRecord>, PollError | StoreError> | undefined
}

export class Executor extends Context.Tag("cluster-api/Executor")<Executor, ExecutorShape>() {}

export type { PreparedJob, ResolvedResources } from "./internal/prepare.js"
