/**
 * The `cluster-api track` command.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import type { JobRecord } from "../../Domain.js"
import { Executor } from "../../Executor.js"
import { UsageError } from "../Exit.js"
import { globalOptions, reported, resolveGlobals, services } from "../Globals.js"
import { schedulerId } from "../Lookup.js"
import { optionalText } from "../Options.js"
import { printRecords } from "../Output.js"

export const trackCommand = Command.make(
  "track",
  {
    globals: globalOptions,
    name: optionalText("name", "NAME", "Name to record for the job (default: the name the scheduler shows)"),
    reconnect: Options.boolean("reconnect").pipe(
      Options.withDescription("Find this user's queued and running jobs named {job_name_prefix}-* and track the ones not tracked yet")
    ),
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Scheduler job ids to track"), Args.repeated)
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      if (o.ids.length === 0 && !o.reconnect) {
        return yield* new UsageError({
          message: "track: say which jobs: give scheduler job ids, or --reconnect (see cluster-api track --help)"
        })
      }
      if (Option.isSome(o.name) && o.ids.length !== 1) {
        return yield* new UsageError({ message: "track: --name names one job; give exactly one job id with it" })
      }
      const executor = yield* Executor
      const tracked: Array<JobRecord> = []
      for (const id of o.ids) {
        tracked.push(yield* executor.track(yield* schedulerId(id), Option.isSome(o.name) ? { name: o.name.value } : undefined))
      }
      if (o.reconnect) tracked.push(...(yield* executor.reconnect))
      yield* printRecords(tracked, g.json, Effect.succeed("No job found to track."))
    })
).pipe(
  Command.withDescription(
    "Record jobs submitted elsewhere (by id, or by name prefix with --reconnect) in the job store, so status, wait and cancel cover them"
  ),
  Command.provide((o) => services(o.globals)),
  reported
)
