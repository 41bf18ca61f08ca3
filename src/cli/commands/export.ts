/**
 * The `cluster-api export` command.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, Effect, Option } from "effect"
import { ClusterConfig } from "../../Config.js"
import * as WorkingDirectory from "../../internal/workingDirectory.js"
import * as JobQueries from "../../JobQueries.js"
import type { JobFilter } from "../../JobStore.js"
import { globalOptions, resolveGlobals, storeCommand } from "../Globals.js"
import { atLeast, filterOptions, jobFilter, optionalText } from "../Options.js"
import { display, printJson } from "../Output.js"
import { encodeExport } from "../../internal/queries/exportDocument.js"

export const exportCommand = Command.make(
  "export",
  {
    globals: globalOptions,
    filters: filterOptions,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Only the newest N matching jobs (default: all)"),
      Options.mapEffect(atLeast("limit", 1)),
      Options.optional
    ),
    output: optionalText("output", "FILE", "Write the export to FILE instead of stdout")
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const { options } = yield* ClusterConfig
      const filter: JobFilter = {
        ...jobFilter(o.filters, options.job_name_prefix),
        ...(Option.isSome(o.limit) ? { limit: o.limit.value } : {})
      }
      const document = yield* JobQueries.exportJobs(filter)
      const text = JSON.stringify(encodeExport(document), null, 2)
      if (Option.isNone(o.output)) {
        return yield* display(`${text}\n`)
      }
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const file = path.resolve(yield* WorkingDirectory.current, o.output.value)
      // The export keeps the jobs' environment values (it moves them between stores): owner only.
      if (yield* fs.exists(file)) yield* fs.chmod(file, 0o600)
      yield* fs.writeFileString(file, `${text}\n`, { mode: 0o600 })
      const n = document.jobs.length
      yield* g.json
        ? printJson({ exported: n, path: file })
        : Console.log(`Exported ${n} job${n === 1 ? "" : "s"} to ${file}`)
    })
).pipe(
  Command.withDescription(
    "Write the jobs of the job store (all, or those the filters select) with their status changes as JSON, to stdout or --output FILE; import reads it back"
  ),
  storeCommand
)
