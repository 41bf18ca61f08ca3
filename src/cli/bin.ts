#!/usr/bin/env node
/**
 * The `cluster-api` executable. Ctrl-C (SIGINT) or SIGTERM interrupts the program: local jobs are
 * terminated as the services shut down, and the exit code is 130.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { run } from "./Cli.js"

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
      onExit(Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
  })
)
