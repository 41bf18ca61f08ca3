/**
 * The `cluster-api status` command.
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { globalOptions, reported, resolveGlobals, statePath, storeServices } from "../Globals.js"
import { lookupAll } from "../Lookup.js"
import { defaultListLimit, listNewest, printRecords } from "../Output.js"
import { refreshed } from "../Refresh.js"

export const statusCommand = Command.make(
  "status",
  {
    globals: globalOptions,
    ids: Args.text({ name: "JOB_ID" }).pipe(
      Args.withDescription(`Jobs to show (default: the newest ${defaultListLimit} in the job store)`),
      Args.repeated
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const { records: stored, more } = o.ids.length === 0
        ? yield* listNewest({}, defaultListLimit)
        : { records: yield* lookupAll(o.ids), more: false }
      const records = yield* refreshed(stored)
      const table = yield* printRecords(records, g.json, Effect.map(statePath, (p) => `No jobs in the job store ${p}.`))
      if (table && more) yield* Console.log(`(the newest ${defaultListLimit} shown; cluster-api list filters and shows more)`)
    })
).pipe(
  Command.withDescription(
    `Show jobs: id, name, status, exit code, reason, host, peak memory and times (default: the newest ${defaultListLimit} in the job store); unfinished ones are asked about first (one poll of the scheduler)`
  ),
  Command.provide((o) => storeServices(o.globals, false)),
  reported
)
