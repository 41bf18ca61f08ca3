/**
 * What the tests against a real scheduler (SlurmReal, SgeReal) share: submit a job in a scratch
 * directory and await its end; wait until the store says a job reached a status.
 */
import type { Duration } from "effect"
import { Effect, Option, Schedule } from "effect"
import type { JobRecord, JobSpec } from "../../src/Domain.js"
import { Executor } from "../../src/Executor.js"
import { JobStore } from "../../src/JobStore.js"
import type { JobKey } from "../../src/JobStore.js"
import { Monitor } from "../../src/Monitor.js"

/** Submits `spec` to run in `workDir` (unless it names its own) and awaits its end. */
export const submitAndWait = (workDir: string, spec: JobSpec, timeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const monitor = yield* Monitor
    const submitted = yield* executor.submit({ ...spec, resources: { workDir, ...spec.resources } })
    return yield* monitor.await(submitted, { timeout })
  })

/** Waits until the store records `job` with `status`, or fails after `timeout`. */
export const waitForStatus = (job: JobKey, status: JobRecord["status"], timeout: Duration.DurationInput) =>
  Effect.flatMap(JobStore, (store) =>
    store.get(job).pipe(
      Effect.map(Option.map((r) => r.status)),
      Effect.repeat({ until: (s) => Option.contains(s, status), schedule: Schedule.spaced("200 millis") }),
      Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`job ${job.jobId} never became ${status}`) })
    ))
