/**
 * The CLI's exit code comes from the error a command ended with, by one table over every error
 * it may meet: a job the scheduler refused is bad input (2), a submit command that timed out or
 * could not run is not (1), and the submit's error says which it was.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig } from "../src/Config.js"
import { CancelError, CommandTimeout, InvalidMemory, JobNotFound, PollError, StoreError, SubmitError, SubmittedNotRecorded } from "../src/Errors.js"
import { Executor } from "../src/Executor.js"
import { JobStore } from "../src/JobStore.js"
import type { Reply } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { exitCodeOf, LogNotFound, UsageError } from "../src/cli/Exit.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-exit-")

/** What `executor.submit` fails with when sbatch answers as `reply` says. */
const submitFailure = (reply: Reply) =>
  Effect.flatMap(Executor, (executor) => Effect.flip(executor.submit({ name: "align", command: "align" }))).pipe(
    Effect.scoped,
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ executor: "slurm", log_directory: tempDir(), command_timeout: 5 }),
      runner: TestCommandRunner.layer({ rules: [{ match: "sbatch", reply }] }),
      store: JobStore.layerMemory
    }))
  )

describe("exit codes", () => {
  it("by error: 2 for bad input or config, 3 for a timed-out wait, 4 for a job submitted but not recorded, 1 for a failed operation", () => {
    const submit = (reason?: SubmitError["reason"]) =>
      new SubmitError({ name: "align", detail: "x", ...(reason === undefined ? {} : { reason }) })
    expect(exitCodeOf(new InvalidMemory({ input: "8X" }))).toBe(2)
    expect(exitCodeOf(new JobNotFound({ jobId: "52" }))).toBe(2)
    expect(exitCodeOf(new UsageError({ message: "say which jobs" }))).toBe(2)
    expect(exitCodeOf(submit("Rejected"))).toBe(2)
    for (const reason of ["Timeout", "Unavailable", "Unreadable", "Io", "Store"] as const) {
      expect(exitCodeOf(submit(reason)), reason).toBe(1)
    }
    expect(exitCodeOf(submit())).toBe(1)
    for (const reason of ["Failed", "Timeout", "Unavailable", "Unreadable", "Store"] as const) {
      expect(exitCodeOf(new PollError({ executor: "slurm", detail: "down", reason })), reason).toBe(1)
    }
    expect(exitCodeOf(new PollError({ executor: "slurm", detail: "set job_name_prefix", reason: "Config" }))).toBe(2)
    for (const reason of ["Refused", "Failed", "Timeout", "Unavailable"] as const) {
      expect(exitCodeOf(new CancelError({ jobId: "52", detail: "x", reason })), reason).toBe(1)
    }
    expect(exitCodeOf(new StoreError({ operation: "list", detail: "busy", reason: "Busy" }))).toBe(1)
    expect(exitCodeOf(new LogNotFound({ message: "no log yet" }))).toBe(1)
    expect(exitCodeOf(new CommandTimeout({ argv: ["sbatch"], timeoutMillis: 5000, stdout: "", stderr: "" }))).toBe(1)
    expect(exitCodeOf(new SubmittedNotRecorded({ executor: "slurm", jobId: "52", name: "align", cause: "disk full" })))
      .toBe(4)
  })

  it.effect("a submit command that timed out, could not run or printed no id is a failure (1); one the scheduler refused is bad input (2)", () =>
    Effect.gen(function*() {
      const refused = yield* submitFailure({ exitCode: 1, stderr: "sbatch: error: invalid partition specified: gpu\n" })
      expect(refused).toMatchObject({ _tag: "SubmitError", reason: "Rejected" })
      expect(exitCodeOf(refused)).toBe(2)
      const timedOut = yield* submitFailure({ fail: "timeout" })
      expect(timedOut).toMatchObject({ _tag: "SubmitError", reason: "Timeout" })
      expect((timedOut as SubmitError).cause).toMatchObject({ _tag: "CommandTimeout" })
      expect(exitCodeOf(timedOut)).toBe(1)
      const missing = yield* submitFailure({ fail: "notFound" })
      expect(missing).toMatchObject({ _tag: "SubmitError", reason: "Unavailable" })
      expect(exitCodeOf(missing)).toBe(1)
      const garbled = yield* submitFailure({ stdout: "Submitted nothing\n" })
      expect(garbled).toMatchObject({ _tag: "SubmitError", reason: "Unreadable" })
      expect(exitCodeOf(garbled)).toBe(1)
    }))
})
