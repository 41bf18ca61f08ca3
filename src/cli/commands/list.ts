/**
 * The `cluster-api list` command.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { ClusterConfig } from "../../Config.js"
import { StoreLocation, globalOptions, resolveGlobals, storeCommand } from "../Globals.js"
import { atLeast, filterOptions, isFiltered, jobFilter } from "../Options.js"
import { defaultListLimit, listNewest, moreNote, noJobsLine, printRecords, showEnvOption } from "../Output.js"
import { refreshed } from "../Refresh.js"

export const listCommand = Command.make(
  "list",
  {
    globals: globalOptions,
    filters: filterOptions,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription(`Show the newest N matching jobs (default ${defaultListLimit}; 0 shows all)`),
      Options.mapEffect(atLeast("limit", 0)),
      Options.withDefault(defaultListLimit)
    ),
    showEnv: showEnvOption
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const { options } = yield* ClusterConfig
      const { records: stored, more } = yield* listNewest(jobFilter(o.filters, options.job_name_prefix), o.limit)
      // A job the scheduler says changed status no longer matches a --status it matched when stored.
      const records = (yield* refreshed(stored)).filter((r) => o.filters.status.length === 0 || o.filters.status.includes(r.status))
      const none = Effect.map(StoreLocation, (location) => noJobsLine(location, isFiltered(o.filters)))
      const table = yield* printRecords(records, g.json, none, o.showEnv)
      if (table && more) yield* Console.log(moreNote(o.limit))
    })
).pipe(
  Command.withDescription(
    `List the jobs in the job store, oldest first: the newest ${defaultListLimit} unless --limit says otherwise. The unfinished jobs shown are asked about first (one poll of the scheduler)`
  ),
  storeCommand
)
