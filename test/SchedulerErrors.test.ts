/**
 * A status read or a cancel that fails says what kind of failure it was (`reason`) and keeps the
 * error under it (`cause`): the command's CommandFailed, CommandTimeout or CommandNotFound, as it
 * was. Slurm's commands are scripted with TestCommandRunner rules.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import type { ConfigOptions } from "../src/Config.js"
import type { JobRecord } from "../src/Domain.js"
import { CancelError, PollError } from "../src/Errors.js"
import { Executor } from "../src/Executor.js"
import type { Reply, Rule } from "../src/TestCommandRunner.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { exitCodeFor, exitCodeOf } from "../src/cli/Exit.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-errors-")

const sbatch: Rule = { match: "sbatch", reply: { stdout: "1000\n" } }

/** The slurm executor, with a job 1000 submitted, given to `body`; the commands answer as `rules` say. */
const withJob = <A, E>(
  body: (job: JobRecord) => Effect.Effect<A, E, Executor | TestCommandRunner>,
  config: Partial<ConfigOptions> = {}
) =>
  Effect.gen(function*() {
    const job = yield* Effect.flatMap(Executor, (executor) => executor.submit({ name: "align", command: "align" }))
    return yield* body(job)
  }).pipe(
    Effect.scoped,
    Effect.provide(ClusterApi.layerTest({
      config: { executor: "slurm", log_directory: tempDir(), command_timeout: 5, ...config },
      rules: [sbatch]
    }))
  )

/** What `executor.poll([job])` fails with when squeue answers as `reply` says. */
const pollFailure = (reply: Reply) =>
  withJob((job) =>
    Effect.gen(function*() {
      yield* (yield* TestCommandRunner).addRules([{ match: "squeue", reply }])
      return yield* Effect.flip(Effect.flatMap(Executor, (executor) => executor.poll([job])))
    })
  )

/** What `executor.cancel(job)` fails with when scancel answers as `reply` says. */
const cancelFailure = (reply: Reply) =>
  withJob((job) =>
    Effect.gen(function*() {
      yield* (yield* TestCommandRunner).addRules([{ match: "scancel", reply }])
      return yield* Effect.flip(Effect.flatMap(Executor, (executor) => executor.cancel(job.jobId)))
    })
  )

describe("a failed status read", () => {
  it.effect("of a status command that failed is Failed and keeps its CommandFailed", () =>
    Effect.gen(function*() {
      const error = yield* pollFailure({ exitCode: 1, stderr: "slurm_load_jobs error: Unable to contact slurm controller\n" })
      expect(error).toBeInstanceOf(PollError)
      expect(error).toMatchObject({ _tag: "PollError", executor: "slurm", reason: "Failed" })
      expect((error as PollError).cause).toMatchObject({ _tag: "CommandFailed", exitCode: 1 })
      expect((error as PollError).cause).toMatchObject({ argv: expect.arrayContaining(["squeue"]) })
      expect(error.message).toContain("Unable to contact slurm controller")
      expect(error.message).toContain("No job was changed; the next poll tries again.")
      expect(exitCodeOf(error)).toBe(1)
    }))

  it.effect("of a status command that timed out is Timeout; of one not installed, Unavailable; each keeps its error", () =>
    Effect.gen(function*() {
      const timedOut = yield* pollFailure({ fail: "timeout" })
      expect(timedOut).toMatchObject({ _tag: "PollError", reason: "Timeout" })
      expect((timedOut as PollError).cause).toMatchObject({ _tag: "CommandTimeout", timeoutMillis: 5000 })
      const missing = yield* pollFailure({ fail: "notFound" })
      expect(missing).toMatchObject({ _tag: "PollError", reason: "Unavailable" })
      expect((missing as PollError).cause).toMatchObject({ _tag: "CommandNotFound" })
      expect(missing.message).toContain("Command not found: squeue")
      expect(exitCodeOf(timedOut)).toBe(1)
      expect(exitCodeOf(missing)).toBe(1)
    }))

  it.effect("of an answer that cannot be read is Unreadable", () =>
    Effect.gen(function*() {
      const error = yield* pollFailure({ stdout: "this is not squeue's format\n" })
      expect(error).toMatchObject({ _tag: "PollError", reason: "Unreadable" })
      expect(error.message).toContain("unreadable output from squeue")
    }))

  it.effect("of an accounting command that failed is Failed and keeps its CommandFailed", () =>
    withJob((job) =>
      Effect.gen(function*() {
        // The job left the live queue, so sacct is asked about it.
        yield* (yield* TestCommandRunner).addRules([
          { match: "squeue", reply: { stdout: "" } },
          { match: "sacct", reply: { exitCode: 1, stderr: "sacct: error: Problem talking to the database\n" } }
        ])
        const error = yield* Effect.flip(Effect.flatMap(Executor, (executor) => executor.poll([job])))
        expect(error).toMatchObject({ _tag: "PollError", reason: "Failed" })
        expect((error as PollError).cause).toMatchObject({ _tag: "CommandFailed", argv: expect.arrayContaining(["sacct"]) })
        expect(error.message).toContain("Problem talking to the database")
      })
    ))

  it.effect("a reconnect the config does not allow (no job name prefix) is Config: bad config, exit code 2", () =>
    withJob(() =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Effect.flatMap(Executor, (executor) => executor.reconnect))
        expect(error).toMatchObject({ _tag: "PollError", reason: "Config" })
        expect(error.message).toContain("set job_name_prefix")
        // Polling again does not help: the message does not promise it.
        expect(error.message).not.toContain("next poll")
        expect(exitCodeOf(error as PollError)).toBe(2)
        expect(exitCodeFor("PollError")).toBe(1)
      }), { job_name_prefix: "" }))
})

describe("a failed cancel", () => {
  it.effect("whose command failed without naming a job is Failed and keeps its CommandFailed", () =>
    Effect.gen(function*() {
      const error = yield* cancelFailure({ exitCode: 1, stderr: "scancel: error: Unable to contact slurm controller\n" })
      expect(error).toBeInstanceOf(CancelError)
      expect(error).toMatchObject({ _tag: "CancelError", jobId: "1000", reason: "Failed" })
      expect((error as CancelError).cause).toMatchObject({ _tag: "CommandFailed", exitCode: 1 })
      expect(error.message).toContain("Unable to contact slurm controller")
      expect(exitCodeOf(error as CancelError)).toBe(1)
    }))

  it.effect("that the scheduler refused for the job is Refused", () =>
    Effect.gen(function*() {
      const error = yield* cancelFailure({
        exitCode: 1,
        stderr: "scancel: error: Kill job error on job id 1000: Access/permission denied\n"
      })
      expect(error).toMatchObject({ _tag: "CancelError", jobId: "1000", reason: "Refused" })
      expect(error.message).toContain("job 1000: Access/permission denied")
      expect(exitCodeOf(error as CancelError)).toBe(1)
    }))

  it.effect("whose command timed out is Timeout; not installed, Unavailable; each keeps its error", () =>
    Effect.gen(function*() {
      const timedOut = yield* cancelFailure({ fail: "timeout" })
      expect(timedOut).toMatchObject({ _tag: "CancelError", reason: "Timeout" })
      expect((timedOut as CancelError).cause).toMatchObject({ _tag: "CommandTimeout" })
      const missing = yield* cancelFailure({ fail: "notFound" })
      expect(missing).toMatchObject({ _tag: "CancelError", reason: "Unavailable" })
      expect((missing as CancelError).cause).toMatchObject({ _tag: "CommandNotFound" })
    }))
})
