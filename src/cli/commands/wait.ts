/**
 * The `cluster-api wait` command.
 */
import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import * as Interrupt from "../Interrupt.js"
import { globalOptions, reported, resolveGlobals, services } from "../Globals.js"
import { bareId, lookupOwn } from "../Lookup.js"
import { timeoutOption } from "../Options.js"
import { printFinals } from "../Output.js"
import { keepAsking } from "../Refresh.js"
import { awaitJobs, interruptOptions, withProgress } from "../Watch.js"

export const waitCommand = Command.make(
  "wait",
  {
    globals: globalOptions,
    timeout: timeoutOption,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to wait for"), Args.atLeast(1))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const records = yield* Effect.forEach(o.ids, lookupOwn)
      // Jobs whose program is gone, and that nobody took over, are asked about here (ends with this fiber).
      yield* Effect.fork(keepAsking(records))
      const finals = yield* withProgress(g.json, records, (progress) =>
        awaitJobs(progress, records, o.timeout).pipe(
          Interrupt.whenInterrupted(Effect.succeed(records.map((r) => r.jobId)), interruptOptions(g, o.cancelOnInterrupt, progress))
        ))
      yield* printFinals(finals, g.json, "array")
    })
).pipe(
  Command.withDescription("Wait for jobs to end, showing progress; exit code 0 if all ended Done, 1 if any did not"),
  // Jobs a program that ended or died left behind are taken over: this command watches them now.
  Command.provide((o) => services(o.globals, undefined, { adopt: o.ids.map(bareId) })),
  reported
)
