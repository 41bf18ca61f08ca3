/**
 * Example: a chain of jobs driven by callbacks.
 *
 * Job A writes a line. When A succeeds, its onSuccess callback (an Effect) submits job B, which
 * reads A's output file; when B succeeds, its callback submits C, which reads B's. Nothing waits
 * in between: the Monitor runs each callback when the job before ends. The program itself only
 * waits on a Deferred that the last callback completes (or that any failure completes first),
 * with a timeout, then prints the three final records or says which step failed.
 *
 *   npm run build && node dist/examples/callback-chain.js          # A, B, C all succeed
 *   npm run build && node dist/examples/callback-chain.js --fail-at B   # B fails: C never runs
 *
 * Scripts and logs go to a temporary directory that is removed when the program ends.
 */
import { Console, Data, Deferred, Duration, Effect, Option, Ref } from "effect"
import { Executor, Job, Monitor } from "cluster-api"
import { ExampleLayer, runIfMain } from "./support.js"

export type Step = "A" | "B" | "C"

/** A step of the chain could not be submitted, or its job ended other than Done. */
export class ChainStepFailed extends Data.TaggedError("ChainStepFailed")<{
  readonly step: Step
  readonly detail: string
  /** The step's final record, when its job ran. */
  readonly record?: Job.JobRecord | undefined
}> {
  override get message(): string {
    return `step ${this.step} failed: ${this.detail}`
  }
}

/** The chain did not end in time; `step` is the one it was waiting on. */
export class ChainTimeout extends Data.TaggedError("ChainTimeout")<{
  readonly step: Step
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `the chain did not end within ${Duration.format(Duration.millis(this.timeoutMillis))}; ` +
      `it was waiting on step ${this.step}`
  }
}

export interface ChainOptions {
  /** Make this step's job exit with code 7, to see how a failure is reported. */
  readonly failAt?: Step | undefined
  /** How long the whole chain may take. Default: 2 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** The three final records, A first. */
export type ChainResult = readonly [a: Job.JobRecord, b: Job.JobRecord, c: Job.JobRecord]

const endFor = (step: Step, failAt: Step | undefined): string => step === failAt ? "; exit 7" : ""

/** The job of each step. B and C get the previous step's output file in `$INPUT`. */
const specs = {
  A: (failAt: Step | undefined): Job.JobSpec => ({
    name: "chain-a",
    command: `echo "A says: $MESSAGE"${endFor("A", failAt)}`,
    env: { MESSAGE: "the answer is 42" }
  }),
  B: (input: string, failAt: Step | undefined): Job.JobSpec => ({
    name: "chain-b",
    // The path goes through the environment, not into the command line: no quoting to get wrong.
    command: `sed 's/^/B read: /' "$INPUT"${endFor("B", failAt)}`,
    env: { INPUT: input }
  }),
  C: (input: string, failAt: Step | undefined): Job.JobSpec => ({
    name: "chain-c",
    command: `sed 's/^/C read: /' "$INPUT"${endFor("C", failAt)}`,
    env: { INPUT: input }
  })
}

export const renderChain = (records: ChainResult): string =>
  records.map((r, i) =>
    `step ${"ABC"[i]}: job ${r.jobId} (${r.name}) ${r.status}, exit code ${r.exitCode ?? "none"}, stdout ${r.stdoutPath}`
  ).join("\n")

/** The chain; fails with the step that failed, or with a timeout naming the step it waited on. */
export const chain = (options: ChainOptions = {}) =>
  Effect.gen(function*() {
    const executor = yield* Executor.Executor
    const monitor = yield* Monitor.Monitor
    const failAt = options.failAt
    const timeout = Duration.decode(options.timeout ?? "2 minutes")

    // Completed once: with the three records by C's success callback, or with the first failure.
    const finished = yield* Deferred.make<ChainResult, ChainStepFailed>()
    const current = yield* Ref.make<Step>("A")

    const submitStep = (step: Step, spec: Job.JobSpec) =>
      Ref.set(current, step).pipe(
        Effect.zipRight(executor.submit(spec)),
        Effect.tap((job) => Effect.log(`step ${step}: submitted job ${job.jobId}`)),
        Effect.mapError((e) => new ChainStepFailed({ step, detail: `not submitted: ${e.message}` }))
      )

    const outputOf = (step: Step, record: Job.JobRecord) =>
      record.stdoutPath === undefined
        ? Effect.fail(new ChainStepFailed({ step, detail: "its record names no stdout file", record }))
        : Effect.succeed(record.stdoutPath)

    /**
     * Registers what happens when `job` (the job of `step`) ends: on success `next` runs (inside
     * the callback; its failure ends the chain), on failure or cancellation the chain ends there.
     */
    const whenEnded = (
      step: Step,
      job: Job.JobRecord,
      next: (done: Job.JobRecord) => Effect.Effect<void, ChainStepFailed>
    ): Effect.Effect<void, ChainStepFailed> => {
      const stop = (record: Job.JobRecord) =>
        Effect.logWarning(`step ${step}: job ${record.jobId} ended ${record.status}`).pipe(
          Effect.zipRight(Deferred.fail(
            finished,
            new ChainStepFailed({
              step,
              detail: record.reason === undefined ? record.status : Job.describeReason(record.reason),
              record
            })
          ))
        )
      return Effect.all([
        monitor.onSuccess(job, (done) =>
          Effect.log(`step ${step}: job ${done.jobId} done`).pipe(
            Effect.zipRight(next(done)),
            // A callback's own failure would only be logged by the Monitor: end the chain with it.
            Effect.catchAll((error) => Deferred.fail(finished, error))
          )),
        monitor.onFailure(job, stop),
        monitor.onExit(job, stop, "killed")
      ], { discard: true }).pipe(
        Effect.mapError((e) => new ChainStepFailed({ step, detail: `could not watch job ${job.jobId}: ${e.message}` }))
      )
    }

    const a = yield* submitStep("A", specs.A(failAt))
    yield* whenEnded("A", a, (doneA) =>
      Effect.gen(function*() {
        const b = yield* submitStep("B", specs.B(yield* outputOf("A", doneA), failAt))
        yield* whenEnded("B", b, (doneB) =>
          Effect.gen(function*() {
            const c = yield* submitStep("C", specs.C(yield* outputOf("B", doneB), failAt))
            yield* whenEnded("C", c, (doneC) => Deferred.succeed(finished, [doneA, doneB, doneC]))
          }))
      }))

    const records = yield* Deferred.await(finished).pipe(
      Effect.timeoutOption(timeout),
      Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () =>
          Ref.get(current).pipe(
            Effect.flatMap((step) => Effect.fail(new ChainTimeout({ step, timeoutMillis: Duration.toMillis(timeout) })))
          )
      }))
    )
    yield* Console.log(renderChain(records))
    return records
  })

/** The example as run: every step succeeds. */
export const program = chain()


const parseFailAt = (args: ReadonlyArray<string>): Step | undefined => {
  const i = args.indexOf("--fail-at")
  const value = i === -1 ? undefined : args[i + 1]
  return value === "A" || value === "B" || value === "C" ? value : undefined
}

/** A failed chain is an expected outcome here: say which step failed and exit with code 1. */
const reportFailure = (error: ChainStepFailed | ChainTimeout) =>
  Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => {
    process.exitCode = 1
  })))

const main = chain({ failAt: parseFailAt(process.argv.slice(2)) }).pipe(
  Effect.asVoid,
  Effect.catchTags({ ChainStepFailed: reportFailure, ChainTimeout: reportFailure }),
  Effect.provide(ExampleLayer)
)

runIfMain(import.meta.url, main)
