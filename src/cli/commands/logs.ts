/**
 * The `cluster-api logs` command.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Either, Option } from "effect"
import { ClusterConfig } from "../../Config.js"
import type { JobRecord, JobStatus } from "../../Domain.js"
import { isTerminalStatus } from "../../Domain.js"
import * as JobQueries from "../../JobQueries.js"
import { JobStore } from "../../JobStore.js"
import { schedulerNamed, Schedulers } from "../../Scheduler.js"
import { endedAt } from "../../internal/diagnosis/output.js"
import { copyRange, fileSize, tailStart } from "../../internal/diagnosis/tail.js"
import { LogNotFound, UsageError, setExitCode } from "../Exit.js"
import { globalOptions, resolveGlobals, storeCommand } from "../Globals.js"
import { lookupAll } from "../Lookup.js"
import { atLeast } from "../Options.js"
import { display, printJson } from "../Output.js"
import { refreshed } from "../Refresh.js"
import { logPath } from "../../internal/queries/files.js"

export const missingLog = (record: JobRecord, stream: string, file: string, status: JobStatus | undefined) =>
  new LogNotFound({
    message: status !== undefined && isTerminalStatus(status)
      ? `Job ${record.jobId} ended ${status} and its ${stream} log ${file} is not there (it was never written, or was deleted).`
      : `Job ${record.jobId} has no ${stream} log at ${file} yet: it may not have started (it is ${
        status ?? "not started"
      }). --follow waits for it.`
  })

export const logsCommand = Command.make(
  "logs",
  {
    globals: globalOptions,
    stderr: Options.boolean("stderr").pipe(Options.withDescription("Show the job's stderr log instead of its stdout")),
    tail: Options.integer("tail").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Only the last N lines (then follow from there with --follow)"),
      Options.mapEffect(atLeast("tail", 0)),
      Options.optional
    ),
    follow: Options.boolean("follow").pipe(
      Options.withAlias("f"),
      Options.withDescription(
        "Keep printing what the job appends until it ends (exit code 0 if it ended Done, 1 otherwise); waits for a log not written yet"
      )
    ),
    index: Options.integer("index").pipe(
      Options.withPseudoName("I"),
      Options.withDescription("The array element whose log to show (array jobs need it)"),
      Options.optional
    ),
    id: Args.text({ name: "JOB_ID" }).pipe(Args.withDescription("The job whose log to show"))
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const store = yield* JobStore
      const { options } = yield* ClusterConfig
      const schedulers = yield* Schedulers
      const stream = o.stderr ? "stderr" : "stdout"
      const index = Option.getOrUndefined(o.index)
      // One id in, one record out (or JobNotFound).
      const record = (yield* lookupAll([o.id]))[0]!
      if ((o.stderr ? record.stderrPath : record.stdoutPath) === undefined) {
        return yield* new LogNotFound({ message: `Job ${record.jobId} has no ${stream} log recorded.` })
      }
      const file = yield* Either.match(logPath(schedulers, record, stream, index), {
        onLeft: (m) =>
          Effect.fail(
            new UsageError({ message: `logs: ${m}${record.array !== undefined && index === undefined ? " with --index I" : ""}` })
          ),
        onRight: Effect.succeed
      })

      // Text as written on the Terminal; with --json, text (as one object, or a line per chunk when following)
      const decoder = new TextDecoder()
      let collected = ""
      const emit = (chunk: Uint8Array) => {
        const text = decoder.decode(chunk, { stream: true })
        return !g.json
          ? display(text)
          : !o.follow
          ? Effect.sync(() => void (collected += text))
          : Console.log(JSON.stringify({ text }))
      }
      // What the decoder holds back at the end (an incomplete character) is shown as U+FFFD.
      const flush = Effect.suspend(() => {
        const rest = decoder.decode()
        return g.json || rest === "" ? Effect.void : display(rest)
      })
      const size = yield* fileSize(file)
      let offset = Option.isSome(size) && Option.isSome(o.tail) ? yield* tailStart(file, size.value, o.tail.value) : 0

      if (!o.follow) {
        if (Option.isNone(size)) return yield* missingLog(record, stream, file, JobQueries.statusOf(record, index))
        yield* copyRange(file, offset, size.value, emit)
        yield* flush
        if (g.json) {
          yield* printJson({
            jobId: record.jobId,
            stream,
            ...(index === undefined ? {} : { index }),
            path: file,
            text: collected + decoder.decode()
          })
        }
        return
      }

      // Follow: read the store, then the file to its end, so that a job seen ended is also drained.
      const interval = Duration.millis(Math.min(options.poll_interval, 1) * 1000)
      let announced = false
      let seenFile = false
      // The scheduler is asked every poll_interval (one whose poll is cheap, local files: every
      // round) unless the job ended.
      const cheapPoll = schedulerNamed(schedulers, options.executor)?.capabilities.cheapPoll === true
      const askEvery = cheapPoll ? 1 : Math.ceil(options.poll_interval / Duration.toSeconds(interval))
      for (let round = 0;; round++) {
        const stored = yield* store.get(record)
        const current = Option.isSome(stored) && round % askEvery === 0 && stored.value.executor === options.executor
          ? Option.some((yield* refreshed([stored.value]))[0]!)
          : stored
        if (Option.isNone(current)) {
          yield* Console.error(`Job ${record.jobId} was removed from the job store while its log was followed.`)
          return yield* setExitCode(1)
        }
        const status = JobQueries.statusOf(current.value, index)
        const ended = endedAt(current.value, index)
        const length = yield* fileSize(file)
        if (Option.isSome(length)) {
          seenFile = true
          if (length.value < offset) {
            yield* Console.error(`cluster-api: ${file} got shorter; following it from its start`)
            offset = 0
          }
          yield* copyRange(file, offset, length.value, emit)
          offset = Math.max(offset, length.value)
        } else if (!announced && !ended) {
          yield* Console.error(`Waiting for ${file}: job ${record.jobId} has not written it yet (it is ${status ?? "Pending"}).`)
          announced = true
        }
        if (ended) {
          const final = status !== undefined && isTerminalStatus(status) ? status : current.value.status
          if (!seenFile) return yield* missingLog(current.value, stream, file, final)
          yield* flush
          return yield* setExitCode(final === "Done" ? 0 : 1)
        }
        yield* Effect.sleep(interval)
      }
    })
).pipe(
  Command.withDescription(
    "Print a job's stdout log (--stderr: its stderr), the last N lines with --tail; --follow keeps printing until the job ends. Array jobs need --index. With --json: one object holding the text, or with --follow one {\"text\"} line per piece read"
  ),
  storeCommand
)
