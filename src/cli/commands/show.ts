/**
 * The `cluster-api show` command.
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect, Schema } from "effect"
import { ClusterConfig } from "../../Config.js"
import { isTerminal } from "../../Domain.js"
import * as JobQueries from "../../JobQueries.js"
import * as Diagnosis from "../../Diagnosis.js"
import * as Retry from "../../Retry.js"
import * as Progress from "../Progress.js"
import { globalOptions, now, resolveGlobals, storeCommand } from "../Globals.js"
import { lookupJob } from "../Lookup.js"
import { hideEnv, printJson, showEnvOption } from "../Output.js"

export const encodeHistory = Schema.encodeSync(JobQueries.ExportedJob)

export const showCommand = Command.make(
  "show",
  {
    globals: globalOptions,
    showEnv: showEnvOption,
    id: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("The job to show"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const history = yield* JobQueries.jobDetails(yield* lookupJob(o.id))
      const { options } = yield* ClusterConfig
      const attempts = yield* Retry.attempts(history.record)
      const record = history.record
      const failure = isTerminal(record) && record.status !== "Done"
        ? yield* Diagnosis.failureInfo(record, options)
        : undefined
      if (g.json) {
        return yield* printJson({
          ...encodeHistory(o.showEnv ? history : { ...history, record: hideEnv(record) }),
          attempts: attempts.map((a) => a.jobId),
          ...(failure === undefined ? {} : { failure })
        })
      }
      yield* Console.log(Progress.jobDetailsText(record, history.transitions, yield* now, { attempts, failure }))
    })
).pipe(
  Command.withDescription(
    "Show one job in full: its command, executor, metadata, array and dependencies, how it ended, its times, script and logs, every attempt when it was retried, for a job that failed the evidence (the scheduler's reason, error lines in its logs, missing outputs, the last lines of stderr and stdout), and every status change"
  ),
  storeCommand
)
