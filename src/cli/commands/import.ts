/**
 * The `cluster-api import` command.
 */
import { Args, Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, Effect, Either } from "effect"
import { InvalidImport } from "../../Errors.js"
import * as JobQueries from "../../JobQueries.js"
import * as WorkingDirectory from "../../internal/workingDirectory.js"
import { StoreLocation, globalOptions, resolveGlobals, storeCommand } from "../Globals.js"
import { printJson } from "../Output.js"
import * as Stdin from "../Stdin.js"
import { parseJson } from "../../internal/queries/exportDocument.js"

export const importCommand = Command.make(
  "import",
  {
    globals: globalOptions,
    file: Args.text({ name: "FILE" }).pipe(Args.withDescription("A file written by cluster-api export (- reads stdin)"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const source = o.file === "-" ? "stdin" : path.resolve(yield* WorkingDirectory.current, o.file)
      const text = o.file === "-"
        ? yield* Stdin.readAll
        : yield* fs.readFileString(source).pipe(
          Effect.mapError((e) => new InvalidImport({ source, problems: [`cannot read the file: ${e.message}`] }))
        )
      const json = yield* Either.match(parseJson(text, source), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const report = yield* JobQueries.importJobs(json, source)
      if (g.json) return yield* printJson(report)
      const n = report.imported.length
      yield* Console.log(`Imported ${n} job${n === 1 ? "" : "s"} into the job store ${(yield* StoreLocation).path}.`)
      if (report.skipped.length > 0) {
        yield* Console.log(
          `Left ${report.skipped.length} job${report.skipped.length === 1 ? "" : "s"} the store already had as ${
            report.skipped.length === 1 ? "it was" : "they were"
          }: ${report.skipped.join(", ")}`
        )
      }
    })
).pipe(
  Command.withDescription(
    "Add the jobs of an export (cluster-api export) to the job store, with their status changes; jobs it already has are left as they are"
  ),
  (self) => storeCommand(self, true)
)
