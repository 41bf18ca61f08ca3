/**
 * The `cluster-api cancel` command.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import type { JobRecord } from "../../Domain.js"
import { Executor } from "../../Executor.js"
import { UsageError } from "../Exit.js"
import { globalOptions, reported, resolveGlobals, services } from "../Globals.js"
import { lookupOwn } from "../Lookup.js"
import { optionalText } from "../Options.js"
import { printRecords } from "../Output.js"

export const cancelCommand = Command.make(
  "cancel",
  {
    globals: globalOptions,
    name: optionalText("name", "PATTERN", `Cancel unfinished jobs whose name matches a glob ("train-*"), prefix optional`),
    all: Options.boolean("all").pipe(Options.withDescription("Cancel every unfinished job in the job store")),
    done: Options.boolean("done").pipe(Options.withDescription("Record the cancelled jobs as Done rather than Killed")),
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to cancel"), Args.repeated)
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      if (o.ids.length === 0 && Option.isNone(o.name) && !o.all) {
        return yield* new UsageError({
          message: "cancel: say which jobs: give job ids, --name PATTERN, or --all (see cluster-api cancel --help)"
        })
      }
      const executor = yield* Executor
      const options = { done: o.done }
      const cancelled: Array<JobRecord> = []
      for (const id of o.ids) cancelled.push(yield* executor.cancel((yield* lookupOwn(id)).jobId, options))
      if (Option.isSome(o.name)) cancelled.push(...(yield* executor.cancelByName(o.name.value, options)))
      if (o.all) cancelled.push(...(yield* executor.cancelAll(options)))
      const unique = Array.from(new Map(cancelled.map((r) => [r.jobId, r])).values())
      yield* printRecords(unique, g.json, Effect.succeed("No unfinished job matched; nothing was cancelled."))
    })
).pipe(
  Command.withDescription("Cancel jobs by id, by name pattern (--name) or all of them (--all)"),
  Command.provide((o) => services(o.globals)),
  reported
)
