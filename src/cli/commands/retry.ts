/**
 * The `cluster-api retry` command.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Ref } from "effect"
import type { JobRecord } from "../../Domain.js"
import { Executor } from "../../Executor.js"
import * as Retry from "../../Retry.js"
import * as Interrupt from "../Interrupt.js"
import { globalOptions, reported, resolveGlobals, services } from "../Globals.js"
import { lookupJob } from "../Lookup.js"
import { timeoutOption } from "../Options.js"
import { encodeRecord, printFinals, printJson } from "../Output.js"
import { awaitJobs, interruptOptions, localNote, withProgress } from "../Watch.js"

export const retryCommand = Command.make(
  "retry",
  {
    globals: globalOptions,
    wait: Options.boolean("wait").pipe(
      Options.withDescription("Wait for the new attempt to end, showing progress; the exit code tells how it ended")
    ),
    timeout: timeoutOption,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    id: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("The ended job to submit again"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const executor = yield* Executor
      const submitted = (r: JobRecord) => `Submitted job ${r.jobId} (${r.name}), attempt ${r.attempt ?? 1} of job ${o.id}`
      // Jobs that end with this program are always waited for (leaving would end them).
      const endsWithProgram = !executor.capabilities.outlivesProgram
      if (!o.wait && !endsWithProgram) {
        const record = yield* Retry.retry(yield* lookupJob(o.id))
        yield* g.json ? printJson(encodeRecord(record)) : Console.log(submitted(record))
        return
      }
      const attempt = yield* Ref.make<ReadonlyArray<string>>([])
      const finals = yield* withProgress(g.json, [], (progress) =>
        Effect.gen(function*() {
          const record = yield* Retry.retry(yield* lookupJob(o.id))
          yield* Ref.set(attempt, [record.jobId])
          if (!g.json) yield* progress.log(submitted(record))
          if (!o.wait) yield* Console.error(`${localNote}: waiting for the job to end (Ctrl-C cancels it).`)
          return yield* awaitJobs(progress, [record], o.timeout)
        }).pipe(Interrupt.whenInterrupted(Ref.get(attempt), interruptOptions(g, o.cancelOnInterrupt, progress))))
      yield* printFinals(finals, g.json, "object")
    })
).pipe(
  Command.withDescription(
    "Submit an ended job again, as its next attempt: the spec it was submitted with (with more memory or time if its retry policy escalates them for how it failed), linked to it in the job store (show lists every attempt). Refused for a job that has not ended or was retried already (retry its last attempt)"
  ),
  Command.provide((o) => services(o.globals, undefined, { adopt: [o.id] })),
  reported
)
