/**
 * The `cluster-api` program, which the executable (bin.ts) starts, bundled. Ctrl-C (SIGINT) or
 * SIGTERM interrupts the program: a command that waits for jobs says which are left queued or
 * running (or cancels them), local jobs are terminated as the services shut down, and the exit code
 * is a shell's for that signal: 130 for SIGINT, 143 for SIGTERM. A second signal ends the program
 * at once. When whatever reads the output goes away (`cluster-api logs ID | head`), the command
 * stops quietly with 141, as a program killed by SIGPIPE.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constants } from "node:os"
import { run } from "./Cli.js"

/** The exit code of a program a signal interrupted: 128 + its number, as a shell reports it. */
const interruptedExitCode = (signal: NodeJS.Signals | undefined): number =>
  128 + constants.signals[signal ?? "SIGINT"]

// Registered before NodeRuntime.runMain's own listeners, so it runs first and knows which signal
// the interruption comes from. Both listeners go on the first signal, like runMain's, so that a
// second one gets the default action and ends the program.
let received: NodeJS.Signals | undefined
const onSignal = (signal: NodeJS.Signals) => {
  received = signal
  process.removeListener("SIGINT", onSignal)
  process.removeListener("SIGTERM", onSignal)
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

// A write to a closed pipe fails with EPIPE (Node ignores SIGPIPE): the write that failed reports
// it to the command (OutputClosed, exit 141), and the stream's 'error' event, which would
// otherwise crash the program, is heard here.
process.stdout.on("error", () => {})

run(process.argv).pipe(
  Effect.flatMap((code) => Effect.sync(() => {
    process.exitCode = code
  })),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // On success the process ends on its own with process.exitCode (0 means no process.exit call).
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? interruptedExitCode(received) : 1)
  })
)
