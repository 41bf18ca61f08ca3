/**
 * Example: an array job.
 *
 * Submits elements 1 to 6, at most 2 running at once. Each element prints its index (the local
 * executor sets `$ARRAY_INDEX`) and one of them fails on purpose. The program follows the
 * elements' progress on the Monitor's event stream, waits for the array and prints how each
 * element ended and which ones failed.
 *
 *   npm run build && node dist/examples/array-job.js
 *
 * Scripts and logs go to a temporary directory that is removed when the program ends.
 */
import { Console, Effect, Stream } from "effect"
import { Executor, Job, Monitor } from "cluster-api"
import { ExampleLayer, runIfMain } from "./support.js"

export interface ArrayOutcome {
  /** The array's final record; `elements` holds one entry per element. */
  readonly record: Job.JobRecord
  /** The indices of the elements that failed (or were killed). */
  readonly failed: ReadonlyArray<number>
}

/** One line per element, then the failed indices. */
export const renderArray = ({ failed, record }: ArrayOutcome): string =>
  [
    `array job ${record.jobId} (${record.name}) ${record.array === undefined ? "" : Job.formatArraySpec(record.array)}: ${record.status}`,
    ...(record.elements ?? []).map((e) =>
      `  element ${e.index}: ${e.status}${
        e.reason === undefined ? `, exit code ${e.exitCode ?? "none"}` : ` (${Job.describeReason(e.reason)})`
      }`
    ),
    `failed elements: ${failed.length === 0 ? "none" : failed.join(", ")}`
  ].join("\n")

/** The array job, with the element that fails as a parameter. */
export const arrayJob = (failingIndex = 4) =>
  Effect.gen(function*() {
    const executor = yield* Executor.Executor
    const monitor = yield* Monitor.Monitor

    // Subscribe before submitting, so no event is missed; the subscription lives as long as the
    // enclosing scope (Effect.scoped below).
    const events = yield* monitor.subscribe
    yield* events.pipe(
      Stream.runForEach((event) =>
        event._tag === "ArrayElementChanged"
          ? Effect.log(`element ${event.index}: ${event.from ?? "new"} -> ${event.to}`)
          : Effect.void
      ),
      Effect.forkScoped
    )

    const job = yield* executor.submitArray(
      {
        name: "array",
        // Each element takes a moment (so the progress events show elements queueing, running
        // and ending); the one whose index is `failingIndex` writes to stderr and exits with 3.
        command: `echo "element $ARRAY_INDEX"; sleep 0.3; if [ "$ARRAY_INDEX" = ${failingIndex} ]; then ` +
          `echo "element $ARRAY_INDEX fails on purpose" >&2; exit 3; fi`
      },
      { start: 1, end: 6, maxConcurrent: 2 }
    )
    // An array's stdout path holds a literal `{index}`: element i writes to that path with i in it.
    yield* Effect.log(`submitted array job ${job.jobId}; element logs: ${job.stdoutPath}`)

    // The array ends once every element has: Failed if any element failed.
    const record = yield* monitor.await(job, { timeout: "1 minute" })

    const outcome: ArrayOutcome = { record, failed: Job.failedElementIndices(record) }
    yield* Console.log(renderArray(outcome))
    return outcome
  }).pipe(Effect.scoped)

/** The example as run: element 4 fails. */
export const program = arrayJob(4)


runIfMain(import.meta.url, program.pipe(Effect.provide(ExampleLayer)))
