/**
 * The `cluster-api` command line: submit jobs, watch them, cancel them, look through and tidy the
 * job store (list, show, logs, export, import, cleanup), show the config, and a demo on the local
 * executor. Built with @effect/cli; `run(argv)` returns the process exit code:
 *
 *   0  every job waited for ended Done (or nothing was waited for)
 *   1  a job waited for (or followed by `logs --follow`) ended Failed or Killed; an operation on
 *      the scheduler or the store failed; a log is missing; `cleanup` left a named job or a file
 *   2  bad usage, bad config, bad job input, an unknown job id, or a file `import` cannot read
 *   3  a wait timed out
 *
 * Each subcommand attaches the services it needs itself (`Command.provide`), so `--help` works
 * even when the config file is broken. Commands that only read or tidy the store (list, show,
 * logs, export, import, cleanup) get the config and the store alone: they never start a Monitor,
 * so they neither poll the scheduler nor take over jobs another program left behind.
 */
import { Command, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Logger, Ref } from "effect"
import { inspect } from "node:util"
import { Schedulers } from "../Scheduler.js"
import { builtin } from "../schedulers/builtin.js"
import { withColorChoice } from "./Color.js"
import { ExitStatus, report, setExitCode } from "./Exit.js"
import { rootCommand } from "./Globals.js"
import { cancelCommand } from "./commands/cancel.js"
import { cleanupCommand } from "./commands/cleanup.js"
import { configCommand } from "./commands/config.js"
import { demoCommand } from "./commands/demo.js"
import { exportCommand } from "./commands/export.js"
import { importCommand } from "./commands/import.js"
import { listCommand } from "./commands/list.js"
import { logsCommand } from "./commands/logs.js"
import { retryCommand } from "./commands/retry.js"
import { runCommand } from "./commands/run.js"
import { showCommand } from "./commands/show.js"
import { statusCommand } from "./commands/status.js"
import { submitArgv, submitCommand } from "./commands/submit.js"
import { trackCommand } from "./commands/track.js"
import { waitCommand } from "./commands/wait.js"

const command = rootCommand.pipe(
  Command.withHandler(() =>
    Effect.zipRight(
      Console.error(
        "cluster-api: give a command: submit, run, retry, status, wait, cancel, track, list, show, logs, export, import, cleanup, config show or demo (see cluster-api --help)"
      ),
      setExitCode(2)
    )
  ),
  Command.withDescription(
    "Submit jobs to a batch scheduler or to local processes, watch them and act when they end. Exit codes: 0 all jobs waited for ended Done, 1 a job failed or was killed (or an operation failed), 2 bad usage, config or job input, or an unknown job, 3 a wait timed out. Jobs are kept in the job store (state_path or $CLUSTER_API_STATE, default ~/.local/state/cluster-api/jobs.db or under $XDG_STATE_HOME, the same from every directory)."
  ),
  Command.withSubcommands([
    submitCommand,
    statusCommand,
    waitCommand,
    cancelCommand,
    trackCommand,
    listCommand,
    showCommand,
    logsCommand,
    exportCommand,
    importCommand,
    cleanupCommand,
    configCommand,
    retryCommand,
    runCommand,
    demoCommand
  ])
)

const cli = Command.run(command, { name: "cluster-api", version: "0.1.0" })

const levelWord: Record<string, string> = { WARN: "warning", ERROR: "error", FATAL: "fatal", INFO: "info" }

/**
 * Logs go to the Console's error output (stderr), so that stdout holds only what a command prints
 * (JSON with --json).
 */
const stderrLogger = Logger.withConsoleError(Logger.make(({ cause, logLevel, message }) => {
  const parts = (Array.isArray(message) ? message : [message]).map((m) =>
    typeof m === "string" ? m : inspect(m, { depth: 4 })
  )
  const label = levelWord[logLevel.label] ?? logLevel.label.toLowerCase()
  const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  return `cluster-api: ${label}: ${parts.join(" ")}${detail}`
}))

/**
 * Runs the command line (`process.argv`: the first two entries are node and the script) and
 * returns the exit code. Needs FileSystem, Path, Terminal and CommandExecutor (NodeContext.layer).
 * It prints only through the Console (lines) and the Terminal (progress, logs, export), without
 * ANSI escapes unless stdout is a terminal and NO_COLOR is not set (Color.ts); it reads
 * HOME and CLUSTER_API_CONFIG from the ConfigProvider; relative paths start from the
 * WorkingDirectory (the process's current directory unless provided).
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const status = yield* Ref.make(0)
    yield* Effect.flatMap(submitArgv(argv), cli).pipe(
      Effect.provideService(ExitStatus, status),
      Effect.provideService(Schedulers, builtin),
      Effect.catchAll((error) =>
        // @effect/cli has already printed its own validation errors (with help where it helps).
        ValidationError.isValidationError(error)
          ? Ref.set(status, 2)
          : report(error, false).pipe(Effect.provideService(ExitStatus, status))
      ),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.zipRight(
            Console.error(`cluster-api: internal error (a bug; please report it):\n${Cause.pretty(cause)}`),
            Ref.set(status, 1)
          )
      ),
      Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger)),
      withColorChoice
    )
    return yield* Ref.get(status)
  })
