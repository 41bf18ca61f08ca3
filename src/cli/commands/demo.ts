/**
 * The `cluster-api demo` command.
 */
import { Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, Context, Deferred, Duration, Effect, Layer, Option } from "effect"
import type { JobRecord, JobSpec } from "../../Domain.js"
import { describeReason, failedElementIndices } from "../../Domain.js"
import * as WorkingDirectory from "../../internal/workingDirectory.js"
import { Executor } from "../../Executor.js"
import { Monitor } from "../../Monitor.js"
import * as Progress from "../Progress.js"
import { setExitCode } from "../Exit.js"
import { globalOptions, now, reported, resolveGlobals, services } from "../Globals.js"
import { optionalText } from "../Options.js"
import { encodeRecords, printJson } from "../Output.js"
import { awaitJobs, withProgress } from "../Watch.js"

/** Where the demo writes its scripts and logs: `--dir`, or a fresh temporary directory. */
export class DemoDirectory extends Context.Tag("cluster-api/cli/DemoDirectory")<DemoDirectory, string>() {}

export const demoDirectory = (dir: Option.Option<string>) =>
  Layer.effect(
    DemoDirectory,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      if (Option.isNone(dir)) return yield* fs.makeTempDirectory({ prefix: "cluster-api-demo-" })
      const full = path.resolve(yield* WorkingDirectory.current, dir.value)
      yield* fs.makeDirectory(full, { recursive: true })
      return full
    }).pipe(Effect.orDie)
  )

/** The demo's jobs: what each runs and how it is designed to end. */
export const demoJobs = {
  hello: {
    name: "hello",
    command: `echo "hello from $(hostname)"; sleep 1; echo "bye"`
  },
  fail: {
    name: "fail",
    command: `echo "this job fails on purpose" >&2; exit 3`
  },
  array: {
    name: "array",
    command: `echo "element $ARRAY_INDEX"; sleep 0.3; if [ "$ARRAY_INDEX" = 3 ]; then echo "element 3 fails on purpose" >&2; exit 1; fi`,
    array: { start: 1, end: 4, maxConcurrent: 2 }
  }
} satisfies Record<string, JobSpec>

/** What went differently from the design, one line each (none: the demo worked). */
export const demoProblems = (
  hello: JobRecord | undefined,
  fail: JobRecord | undefined,
  array: JobRecord | undefined
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const why = (r: JobRecord) => (r.reason === undefined ? "" : ` (${describeReason(r.reason)})`)
  if (hello?.status !== "Done") problems.push(`hello should end Done, ended ${hello?.status ?? "unknown"}${hello ? why(hello) : ""}`)
  if (fail?.status !== "Failed" || fail.exitCode !== 3) {
    problems.push(`fail should end Failed with exit code 3, ended ${fail?.status ?? "unknown"}${fail ? why(fail) : ""}`)
  }
  const failed = array === undefined ? [] : failedElementIndices(array)
  if (array?.status !== "Failed" || failed.length !== 1 || failed[0] !== 3) {
    problems.push(
      `array should end Failed with only element 3 failed, ended ${array?.status ?? "unknown"} with failed elements [${
        failed.join(", ")
      }]`
    )
  }
  return problems
}

export const demoCommand = Command.make(
  "demo",
  {
    globals: globalOptions,
    dir: optionalText("dir", "DIR", "Where the demo writes its job scripts and logs (default: a new temporary directory)")
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const dir = yield* DemoDirectory
      const executor = yield* Executor
      const monitor = yield* Monitor
      const say = (line: string) => (g.json ? Console.error(line) : Console.log(line))
      yield* say(
        "cluster-api demo: three jobs on the local executor: one succeeds, one fails with exit code 3, and an array of 4 (at most 2 at once) whose element 3 fails."
      )
      yield* say(`Scripts and logs: ${dir}`)

      const finals = yield* withProgress(g.json, [], (progress) =>
        Effect.gen(function*() {
          const print = (line: string) => (g.json ? Console.error(line) : progress.log(line))
          const hello = yield* executor.submit(demoJobs.hello)
          const fail = yield* executor.submit(demoJobs.fail)
          const array = yield* executor.submit(demoJobs.array)
          const jobs = [[demoJobs.hello.name, hello], [demoJobs.fail.name, fail], [demoJobs.array.name, array]] as const
          const fired: Array<Deferred.Deferred<void>> = []
          for (const [label, record] of jobs) {
            const done = yield* Deferred.make<void>()
            fired.push(done)
            yield* monitor.onSuccess(record, () => Effect.zipRight(print(`✔ ${label} finished`), Deferred.succeed(done, undefined)))
            yield* monitor.onFailure(record, (r) =>
              Effect.zipRight(
                print(`✘ ${label} failed: ${r.reason === undefined ? "no reason given" : describeReason(r.reason)}`),
                Deferred.succeed(done, undefined)
              ))
          }
          const finals = yield* awaitJobs(progress, [hello, fail, array], Option.none())
          // Callbacks run on their own fibers: let them print before the summary (a job that was
          // killed fires neither callback, hence the time limit).
          yield* Effect.forEach(fired, Deferred.await).pipe(Effect.timeoutOption(Duration.seconds(2)))
          return finals
        }))

      const [hello, fail, array] = finals
      const problems = demoProblems(hello, fail, array)
      if (g.json) {
        yield* printJson(encodeRecords(finals))
      } else {
        yield* Console.log("")
        yield* Console.log(Progress.resultTable(finals, yield* now))
        yield* Console.log("")
        yield* Console.log(`Scripts and logs: ${dir}`)
        yield* Console.log(
          problems.length === 0
            ? "Demo OK: every job ended as designed."
            : `Demo FAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}`
        )
      }
      if (g.json && problems.length > 0) yield* Console.error(`Demo FAILED: ${problems.join("; ")}`)
      yield* setExitCode(problems.length === 0 ? 0 : 1)
    })
).pipe(
  Command.withDescription(
    "Run a small real workload on the local executor (whatever the config says) and show what cluster-api does"
  ),
  Command.provide((o) =>
    Layer.unwrapEffect(
      Effect.map(DemoDirectory, (dir) =>
        services(o.globals, { executor: "local", poll_interval: 0.5, log_directory: dir }))
    ).pipe(Layer.provideMerge(demoDirectory(o.dir)))
  ),
  reported
)
