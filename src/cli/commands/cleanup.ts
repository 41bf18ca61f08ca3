/**
 * The `cluster-api cleanup` command.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import type { JobRecord } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import * as JobQueries from "../../JobQueries.js"
import type { JobFilter } from "../../JobStore.js"
import { JobStore, keyString } from "../../JobStore.js"
import { matchesFilter } from "../../internal/store.js"
import { UsageError, setExitCode } from "../Exit.js"
import { globalOptions, resolveGlobals, storeCommand } from "../Globals.js"
import { lookupAll } from "../Lookup.js"
import { statusOption, whenOption } from "../Options.js"
import { printJson } from "../Output.js"

/** When a job counts as old for `cleanup --older-than`: when it ended, or (not ended) was submitted. */
export const ageTime = (r: JobRecord): Date =>
  isTerminal(r) ? r.finishTime ?? r.lastSeen : r.submitTime ?? r.lastSeen

export const cleanupCommand = Command.make(
  "cleanup",
  {
    globals: globalOptions,
    olderThan: whenOption(
      "older-than",
      "Only jobs that ended before WHEN (with --force, unfinished ones submitted before WHEN too)"
    ),
    status: statusOption("Only jobs in this state"),
    all: Options.boolean("all").pipe(Options.withDescription("Every job that has ended")),
    force: Options.boolean("force").pipe(
      Options.withDescription("Remove jobs that have not ended too (their processes are not stopped: cancel them first)")
    ),
    ids: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("Jobs to remove"), Args.repeated)
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      if (o.ids.length === 0 && Option.isNone(o.olderThan) && o.status.length === 0 && !o.all) {
        return yield* new UsageError({
          message:
            "cleanup: say which jobs: give job ids, --older-than WHEN, --status STATUS, or --all (see cluster-api cleanup --help)"
        })
      }
      const store = yield* JobStore
      const cutoff = Option.getOrUndefined(o.olderThan)
      const filter: JobFilter = {
        ...(o.status.length > 0 ? { status: o.status } : {}),
        ...(cutoff === undefined ? {} : { submittedBefore: cutoff })
      }
      // Jobs named by id must all be known (each may be `executor:id`); the other options narrow them.
      const listed = o.ids.length > 0
        ? (yield* lookupAll(o.ids)).filter(matchesFilter(filter))
        : yield* store.list(filter)
      const selected = cutoff === undefined ? listed : listed.filter((r) => ageTime(r) < cutoff)
      const report = yield* JobQueries.cleanupJobs(selected, { force: o.force })
      const named = new Set(o.ids.length > 0 ? listed.map(keyString) : [])
      yield* setExitCode(report.failed.length > 0 || report.refused.some((r) => named.has(keyString(r))) ? 1 : 0)
      if (g.json) return yield* printJson(report)
      if (selected.length === 0) return yield* Console.log("No job matched; nothing was removed.")
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`
      const files = report.removed.reduce((n, r) => n + r.files.length, 0)
      const lines: Array<string> = []
      if (report.removed.length > 0) {
        lines.push(`Removed ${plural(report.removed.length, "job")} and ${plural(files, "file")}:`)
        for (const r of report.removed) {
          lines.push(`  ${r.jobId}  ${r.name}  ${r.status}`, ...r.files.map((f) => `    ${f}`))
        }
      }
      if (report.refused.length > 0) {
        const one = report.refused.length === 1
        lines.push(
          `Left ${plural(report.refused.length, "job")} that ${one ? "has" : "have"} not ended (--force removes ${
            one ? "it" : "them"
          } anyway):`
        )
        for (const r of report.refused) lines.push(`  ${r.jobId}  ${r.name}  ${r.status}`)
      }
      if (report.failed.length > 0) {
        lines.push(`Could not remove ${plural(report.failed.length, "job")} (kept in the store; try again):`)
        for (const r of report.failed) lines.push(`  ${r.jobId}  ${r.name}: ${r.reason}`)
      }
      yield* Console.log(lines.join("\n"))
    })
).pipe(
  Command.withDescription(
    "Remove ended jobs from the job store with their scripts and logs: by id, --older-than, --status or --all; jobs that have not ended are left unless --force"
  ),
  storeCommand
)
