/**
 * Pipelines: named steps that depend on each other by name, submitted and watched as one.
 *
 * ```ts
 * const result = yield* Pipeline.run({
 *   name: "ml",
 *   steps: [
 *     { name: "preprocess", command: "python preprocess.py", resources: { cpus: 8, memory: "32 GB" } },
 *     { name: "train", command: "python train.py", dependsOn: ["preprocess"], resources: { queue: "gpu" } },
 *     { name: "evaluate", command: "python evaluate.py", dependsOn: ["train"] }
 *   ]
 * })
 * ```
 *
 * Before anything is submitted, the pipeline is checked as a whole: step names, dependencies on
 * steps that do not exist, cycles, and every step's spec (resources, template) — all problems in
 * one PipelineInvalid. Then each step is submitted as soon as it can be, with its dependencies
 * handed to the scheduler (`afterok`, `afternotok`, `afterany` on the jobs' ids; the local
 * executor holds the job itself). A dependency on a step that may still turn out differently
 * than its scheduler says — one that is retried, or checked for output files or log errors once
 * it ends — is instead waited for here, and the dependent submitted once that step has ended for
 * good. A step whose dependency can never be met ends Failed(DependencyFailed), and its result
 * names the step it waited for.
 *
 * Every step's job carries `{ pipeline, step }` in its metadata and is named
 * `{pipeline}_{step}`. Running a pipeline again looks each step up in the job store: a step whose
 * last run ended Done is kept as it is (not submitted again), one still queued or running is
 * waited for, and the others are submitted again.
 */
import type { Scope } from "effect"
import { Deferred, Effect, Either, Option, Stream } from "effect"
import { ClusterConfig } from "./Config.js"
import type { Dependency, FailureReason, JobRecord, JobSpec, JobStatus } from "./Domain.js"
import { describeReason, isTerminal } from "./Domain.js"
import type { StoreError } from "./Errors.js"
import { PipelineInvalid } from "./Errors.js"
import { Executor } from "./Executor.js"
import { prepareJob } from "./internal/prepare.js"
import { JobStore } from "./JobStore.js"
import { Monitor } from "./Monitor.js"
import { lastAttemptOf, planRetry } from "./Retry.js"
import * as JobName from "./JobName.js"
import { dependencyVerdict, hasDoneChecks } from "./internal/jobRules.js"

/** A dependency on another step of the same pipeline. */
export interface StepDependency {
  readonly step: string
  /** Default `afterok`: the step must have ended Done. */
  readonly type?: Dependency["type"] | undefined
}

/** One step: a job spec named within its pipeline, with dependencies on other steps by name. */
export interface PipelineStep extends Omit<JobSpec, "name" | "dependsOn"> {
  readonly name: string
  /** Steps that must end first: a name (afterok), or `{ step, type }`. */
  readonly dependsOn?: ReadonlyArray<string | StepDependency> | undefined
}

export interface PipelineSpec {
  readonly name: string
  readonly steps: ReadonlyArray<PipelineStep>
}

/** A dependency with its type filled in. */
export interface ResolvedDependency {
  readonly step: string
  readonly type: Dependency["type"]
}

/** A step checked and ready to submit: its job spec (template merged in) and its dependencies. */
export interface PlannedStep {
  readonly name: string
  readonly spec: JobSpec
  readonly dependsOn: ReadonlyArray<ResolvedDependency>
}

/** How one step ended. */
export interface StepResult {
  readonly step: string
  readonly status: JobStatus
  /** The step's job (its last attempt); absent for a step that was never submitted. */
  readonly record?: JobRecord | undefined
  readonly reason?: FailureReason | undefined
  /** true: it had ended Done in an earlier run and was not submitted again. */
  readonly reused: boolean
  /** For people: "Done", "Failed: exit code 3", "Failed: dependency failed: train (job 12)". */
  readonly summary: string
}

export interface PipelineResult {
  readonly pipeline: string
  /** In the order the pipeline lists its steps. */
  readonly steps: ReadonlyArray<StepResult>
  /** Every step ended Done. */
  readonly ok: boolean
}

/** What happened to a step, as it happens (for progress displays). */
export interface StepUpdate {
  readonly step: string
  readonly status: JobStatus
  readonly record?: JobRecord | undefined
  /** "submitted", "kept from an earlier run", "retrying in 30s (attempt 2)", a failure's summary… */
  readonly note?: string | undefined
}

export interface RunOptions {
  /** Called for every change of a step (submitted, started, ended, retried). */
  readonly onUpdate?: ((update: StepUpdate) => Effect.Effect<void>) | undefined
}

const stepName = /^[\w.-]+$/

/** The job name of a step: `{pipeline}_{step}` (the config's prefix goes in front when submitted). */
export const jobName = (pipeline: string, step: string): string => `${pipeline}_${step}`

const dependenciesOf = (step: PipelineStep): Array<ResolvedDependency> =>
  (step.dependsOn ?? []).map((d) => typeof d === "string" ? { step: d, type: "afterok" } : { step: d.step, type: d.type ?? "afterok" })

/**
 * Steps in an order where every step comes after those it depends on, or the steps that form a
 * cycle (Kahn's algorithm; what is left over holds the cycle).
 */
export const topologicalOrder = (
  steps: ReadonlyArray<{ readonly name: string; readonly dependsOn: ReadonlyArray<{ readonly step: string }> }>
): Either.Either<ReadonlyArray<string>, ReadonlyArray<string>> => {
  const pending = new Map(steps.map((s) => [s.name, new Set(s.dependsOn.map((d) => d.step))] as const))
  const order: Array<string> = []
  let progressed = true
  while (pending.size > 0 && progressed) {
    progressed = false
    for (const [name, deps] of pending) {
      if ([...deps].every((d) => !pending.has(d))) {
        order.push(name)
        pending.delete(name)
        progressed = true
      }
    }
  }
  return pending.size === 0 ? Either.right(order) : Either.left(cycleIn(pending))
}

/** One cycle among steps that all wait on each other: a → b → … → a. */
const cycleIn = (pending: ReadonlyMap<string, ReadonlySet<string>>): ReadonlyArray<string> => {
  const start = pending.keys().next().value as string
  const path: Array<string> = []
  const at = new Map<string, number>()
  let current = start
  while (!at.has(current)) {
    at.set(current, path.length)
    path.push(current)
    const next = [...(pending.get(current) ?? [])].find((d) => pending.has(d))
    if (next === undefined) return path
    current = next
  }
  return [...path.slice(at.get(current)), current]
}

/**
 * Checks a pipeline without submitting anything: names, dependencies, cycles, and every step's
 * spec as the executor would (resources, template). Returns the steps in submission order.
 */
export const plan = (
  pipeline: PipelineSpec
): Effect.Effect<ReadonlyArray<PlannedStep>, PipelineInvalid, ClusterConfig> =>
  Effect.gen(function*() {
    const { options } = yield* ClusterConfig
    const problems: Array<string> = []
    if (!stepName.test(pipeline.name)) {
      problems.push(`the pipeline's name ${JSON.stringify(pipeline.name)} must be letters, digits, '_', '.' or '-'`)
    }
    if (pipeline.steps.length === 0) problems.push("it has no steps; add at least one")
    const names = new Set<string>()
    for (const [i, step] of pipeline.steps.entries()) {
      if (!stepName.test(step.name)) {
        problems.push(`steps[${i}]: the name ${JSON.stringify(step.name)} must be letters, digits, '_', '.' or '-'`)
      } else if (names.has(step.name)) problems.push(`steps[${i}]: a step named '${step.name}' comes twice; rename one`)
      names.add(step.name)
    }
    const listed = [...names].join(", ")
    const planned: Array<PlannedStep> = []
    for (const step of pipeline.steps) {
      const dependsOn = dependenciesOf(step)
      for (const d of dependsOn) {
        if (d.step === step.name) problems.push(`step '${step.name}' depends on itself`)
        else if (!names.has(d.step)) {
          problems.push(`step '${step.name}' depends on '${d.step}', which is not a step of this pipeline (its steps: ${listed})`)
        }
      }
      const { dependsOn: _, name: __, ...rest } = step
      const spec: JobSpec = {
        ...rest,
        name: jobName(pipeline.name, step.name),
        metadata: { ...step.metadata, pipeline: pipeline.name, step: step.name }
      }
      const prepared = yield* Effect.either(prepareJob(spec, options))
      if (Either.isLeft(prepared)) problems.push(`step '${step.name}': ${prepared.left.message}`)
      else planned.push({ name: step.name, spec: prepared.right.spec, dependsOn })
    }
    // Cycles among the steps as named, whatever else is wrong (unknown steps left out).
    const order = topologicalOrder(pipeline.steps.map((step) => ({
      name: step.name,
      dependsOn: dependenciesOf(step).filter((d) => names.has(d.step) && d.step !== step.name)
    })))
    if (Either.isLeft(order)) {
      problems.push(`steps ${order.left.map((s) => `'${s}'`).join(" → ")} depend on each other in a cycle; break it`)
    }
    if (problems.length > 0 || Either.isLeft(order)) return yield* new PipelineInvalid({ pipeline: pipeline.name, problems })
    const byName = new Map(planned.map((p) => [p.name, p] as const))
    return order.right.map((n) => byName.get(n)!)
  })

/** What became of a step once its turn came: its job, or why it was never submitted. */
type Handle =
  | { readonly _tag: "Job"; readonly record: JobRecord; readonly reused: boolean }
  | { readonly _tag: "NotSubmitted"; readonly reason: FailureReason }

const jobHandle = (record: JobRecord, reused: boolean): Handle => ({ _tag: "Job", record, reused })
const notSubmitted = (reason: FailureReason): Handle => ({ _tag: "NotSubmitted", reason })

/** Whether a step's end may differ from what its scheduler reports (so dependents wait here). */
const endDecidedHere = (spec: JobSpec): boolean => (spec.retry?.maxRetries ?? 0) > 0 || hasDoneChecks(spec)

/** The step's job from an earlier run: the last attempt of the last submission, on this executor. */
const previousRun = (pipeline: string, step: PlannedStep, executor: string, prefix: string | undefined) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const candidates = yield* store.list({ names: [JobName.full(prefix, step.spec.name)], executor })
    const mine = candidates.filter((r) => r.metadata["pipeline"] === pipeline && r.metadata["step"] === step.name)
    const last = mine.at(-1)
    return last === undefined ? Option.none() : Option.some(yield* lastAttemptOf(last))
  })

/**
 * Submits the pipeline's steps (those not Done in an earlier run) and waits for all of them to
 * end. A step that cannot be submitted (SubmitError) or whose dependency can never be met ends
 * Failed in the result; the other steps go on. Fails only when the pipeline is invalid (nothing
 * is submitted then) or the job store fails.
 */
export const run = (
  pipeline: PipelineSpec,
  runOptions: RunOptions = {}
): Effect.Effect<PipelineResult, PipelineInvalid | StoreError, ClusterConfig | Executor | JobStore | Monitor> =>
  Effect.scoped(Effect.gen(function*() {
    const steps = yield* plan(pipeline)
    const { options } = yield* ClusterConfig
    const executor = yield* Executor
    const store = yield* JobStore
    const monitor = yield* Monitor
    const update = runOptions.onUpdate ?? (() => Effect.void)
    const stepOfJob = new Map<string, string>()
    const byName = new Map(steps.map((s) => [s.name, s] as const))

    yield* followEvents(pipeline.name, update, stepOfJob)

    const handles = new Map<string, Deferred.Deferred<Handle, StoreError>>()
    for (const step of steps) handles.set(step.name, yield* Deferred.make<Handle, StoreError>())

    /** The current record of a job (its last attempt), once it has ended for good. */
    const finalRecord = (record: JobRecord) =>
      monitor.await(record.jobId).pipe(
        // Removed from the store meanwhile: what was last known of it.
        Effect.catchTags({ JobNotFound: () => Effect.succeed(record), AwaitTimeout: () => Effect.succeed(record) })
      )

    /** The job's last attempt as the store has it now. */
    const latest = (record: JobRecord) =>
      store.get(record).pipe(
        Effect.map(Option.getOrElse(() => record)),
        Effect.flatMap(lastAttemptOf),
        Effect.provideService(JobStore, store)
      )

    /** A dependency's verdict now, waiting here for steps whose end is decided here. */
    const judge = (dependency: ResolvedDependency) =>
      Effect.gen(function*() {
        const handle = yield* Deferred.await(handles.get(dependency.step)!)
        if (handle._tag === "NotSubmitted") {
          return { verdict: dependencyVerdict(dependency.type, "Failed"), jobId: undefined }
        }
        let record = yield* latest(handle.record)
        const pendingRetry = isTerminal(record) && Option.isSome(planRetry(record, options))
        if ((!isTerminal(record) || pendingRetry) && endDecidedHere(byName.get(dependency.step)!.spec)) {
          record = yield* finalRecord(record)
        }
        const verdict = isTerminal(record) ? dependencyVerdict(dependency.type, record.status) : "wait"
        return { verdict, jobId: record.jobId }
      })

    const submitStep = (step: PlannedStep) =>
      Effect.gen(function*() {
        const before = yield* previousRun(pipeline.name, step, executor.kind, options.job_name_prefix)
        if (Option.isSome(before) && (before.value.status === "Done" || !isTerminal(before.value))) {
          const kept = before.value
          stepOfJob.set(kept.jobId, step.name)
          const note = kept.status === "Done" ? "Done in an earlier run: kept" : "still running from an earlier run"
          yield* update({ step: step.name, status: kept.status, record: kept, note })
          return jobHandle(kept, kept.status === "Done")
        }
        const native: Array<Dependency> = []
        const never: Array<string> = []
        for (const dependency of step.dependsOn) {
          const { jobId, verdict } = yield* judge(dependency)
          if (verdict === "never") never.push(jobId ?? dependency.step)
          else if (verdict === "wait" && jobId !== undefined) native.push({ type: dependency.type, jobId })
        }
        if (never.length > 0) {
          const reason: FailureReason = { _tag: "DependencyFailed", dependencies: never }
          yield* update({ step: step.name, status: "Failed", note: "not submitted: a dependency can never be met" })
          return notSubmitted(reason)
        }
        const submitted = yield* Effect.either(executor.submit({
          ...step.spec,
          ...(native.length > 0 ? { dependsOn: native } : {})
        }))
        if (Either.isLeft(submitted)) {
          const reason: FailureReason = { _tag: "SubmitFailed", message: submitted.left.message }
          yield* update({ step: step.name, status: "Failed", note: submitted.left.message })
          return notSubmitted(reason)
        }
        stepOfJob.set(submitted.right.jobId, step.name)
        yield* update({ step: step.name, status: "Pending", record: submitted.right, note: `submitted as job ${submitted.right.jobId}` })
        return jobHandle(submitted.right, false)
      }).pipe(
        Effect.tap((handle) => Deferred.succeed(handles.get(step.name)!, handle)),
        // A store failure must not leave the dependents waiting forever.
        Effect.tapErrorCause((cause) => Deferred.failCause(handles.get(step.name)!, cause))
      )

    const outcomes = yield* Effect.forEach(steps, submitStep, { concurrency: "unbounded" })
    const ended = yield* Effect.forEach(
      outcomes,
      (handle): Effect.Effect<Handle, StoreError> =>
        handle._tag === "Job"
          ? Effect.map(finalRecord(handle.record), (record) => jobHandle(record, handle.reused))
          : Effect.succeed(handle),
      { concurrency: "unbounded" }
    )

    const stepOf = (jobId: string) => {
      const name = stepOfJob.get(jobId)
      return name === undefined ? jobId : `${name} (job ${jobId})`
    }
    const explain = (reason: FailureReason): string =>
      reason._tag === "DependencyFailed"
        ? `dependency failed: ${reason.dependencies.map(stepOf).join(", ")}`
        : describeReason(reason)
    const resultOf = new Map<string, StepResult>()
    for (const [i, step] of steps.entries()) {
      const handle = ended[i]!
      const result: StepResult = handle._tag === "NotSubmitted"
        ? { step: step.name, status: "Failed", reason: handle.reason, reused: false, summary: `Failed: ${explain(handle.reason)}` }
        : {
          step: step.name,
          status: handle.record.status,
          record: handle.record,
          reason: handle.record.reason,
          reused: handle.reused,
          summary: handle.record.reason === undefined || handle.record.status === "Done"
            ? handle.record.status
            : `${handle.record.status}: ${explain(handle.record.reason)}`
        }
      resultOf.set(step.name, result)
    }
    const inOrder = pipeline.steps.map((s) => resultOf.get(s.name)!)
    return { pipeline: pipeline.name, steps: inOrder, ok: inOrder.every((r) => r.status === "Done") }
  }))

/** Forwards the Monitor's events about this pipeline's jobs as step updates, for the scope's life. */
const followEvents = (
  pipeline: string,
  update: (u: StepUpdate) => Effect.Effect<void>,
  stepOfJob: Map<string, string>
): Effect.Effect<void, never, Monitor | Scope.Scope> =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const events = yield* monitor.subscribe
    const stepOf = (record: JobRecord): string | undefined => {
      if (record.metadata["pipeline"] !== pipeline) return undefined
      const step = record.metadata["step"]
      if (typeof step !== "string") return undefined
      stepOfJob.set(record.jobId, step)
      return step
    }
    yield* events.pipe(
      Stream.runForEach((event) => {
        switch (event._tag) {
          case "JobStatusChanged": {
            const step = stepOf(event.record)
            if (step === undefined) return Effect.void
            const r = event.record
            const note = r.reason === undefined || r.status === "Done" ? undefined : describeReason(r.reason)
            return update({ step, status: r.status, record: r, note })
          }
          case "JobRetrying": {
            const step = stepOf(event.record)
            if (step === undefined) return Effect.void
            const wait = event.delayMillis > 0 ? ` in ${Math.ceil(event.delayMillis / 1000)}s` : ""
            const more = event.escalated.length > 0 ? `, ${event.escalated.join(", ")}` : ""
            return update({
              step,
              status: "Failed",
              record: event.record,
              note: `retrying${wait} (attempt ${event.attempt}${more})`
            })
          }
          default:
            return Effect.void
        }
      }),
      Effect.forkScoped
    )
  })
