/**
 * The `cluster-api list` command.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { ClusterConfig } from "../../Config.js"
import { StoreLocation, globalOptions, resolveGlobals, storeCommand } from "../Globals.js"
import { atLeast, filterOptions, isFiltered, jobFilter } from "../Options.js"
import { defaultListLimit, listNewest, moreNote, noJobsLine, printRecords, showEnvOption } from "../Output.js"

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
      const { records, more } = yield* listNewest(jobFilter(o.filters, options.job_name_prefix), o.limit)
      const none = Effect.map(StoreLocation, (location) => noJobsLine(location, isFiltered(o.filters)))
      const table = yield* printRecords(records, g.json, none, o.showEnv)
      if (table && more) yield* Console.log(moreNote(o.limit))
    })
).pipe(
  Command.withDescription(
    `List the jobs in the job store, oldest first: the newest ${defaultListLimit} unless --limit says otherwise. Reads the store only: nothing is polled`
  ),
  storeCommand
)
