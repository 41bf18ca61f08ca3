/**
 * The `cluster-api run` command.
 */
import { Args, Command } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, Effect } from "effect"
import { Executor } from "../../Executor.js"
import * as Pipeline from "../../Pipeline.js"
import { parsePipeline } from "../../PipelineFile.js"
import * as Interrupt from "../Interrupt.js"
import * as Progress from "../Progress.js"
import { UsageError, setExitCode } from "../Exit.js"
import { globalOptions, now, reported, resolveGlobals, services } from "../Globals.js"
import { encodeRecord, printJson } from "../Output.js"
import { interruptOptions, pollLocalOften } from "../Watch.js"

/** One line of `run`'s progress: time, step, status, and what happened. */
export const stepLine = (update: Pipeline.StepUpdate, at: Date): string =>
  `${Progress.formatClock(at)} ${update.step.padEnd(16)} ${update.status}${
    update.note === undefined ? "" : `${" ".repeat(Math.max(1, 9 - update.status.length))}${update.note}`
  }`

export const runCommand = Command.make(
  "run",
  {
    globals: globalOptions,
    cancelOnInterrupt: Interrupt.cancelOnInterruptOption,
    file: Args.file({ name: "PIPELINE", exists: "yes" }).pipe(
      Args.withDescription("The pipeline file (YAML: name, defaults, steps with depends_on)")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const g = yield* resolveGlobals(o.globals)
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(o.file).pipe(
        Effect.mapError((e) => new UsageError({ message: `run: cannot read ${o.file}: ${e.message}` }))
      )
      const pipeline = yield* parsePipeline(text, o.file)
      const executor = yield* Executor
      // Every job a step was given, for what an interrupt says about them.
      const jobs = new Set<string>()
      const onUpdate = (update: Pipeline.StepUpdate) =>
        Effect.zipRight(
          Effect.sync(() => update.record === undefined || jobs.add(update.record.jobId)),
          g.json ? Effect.void : Effect.flatMap(now, (at) => Console.log(stepLine(update, at)))
        )
      yield* Pipeline.plan(pipeline) // every problem before the first line of progress
      if (!g.json) yield* Console.log(`Pipeline ${pipeline.name}: ${pipeline.steps.length} step(s) on ${executor.kind}`)
      const result = yield* Effect.scoped(Effect.zipRight(pollLocalOften, Pipeline.run(pipeline, { onUpdate }))).pipe(
        Interrupt.whenInterrupted(Effect.sync(() => Array.from(jobs)), interruptOptions(g, o.cancelOnInterrupt))
      )
      if (g.json) {
        yield* printJson({
          pipeline: result.pipeline,
          ok: result.ok,
          steps: result.steps.map((s) => ({
            step: s.step,
            status: s.status,
            reused: s.reused,
            summary: s.summary,
            ...(s.record === undefined ? {} : { record: encodeRecord(s.record) })
          }))
        })
      } else {
        yield* Console.log("")
        const width = Math.max(...result.steps.map((s) => s.step.length), 4) + 2
        for (const s of result.steps) {
          const job = s.record === undefined ? "-" : `${s.record.jobId}${(s.record.attempt ?? 1) > 1 ? ` (attempt ${s.record.attempt})` : ""}`
          yield* Console.log(`${s.step.padEnd(width)}${job.padEnd(22)}${s.summary}${s.reused ? " (kept from an earlier run)" : ""}`)
        }
      }
      yield* setExitCode(result.ok ? 0 : 1)
    })
).pipe(
  Command.withDescription(
    "Run a pipeline file: submit its steps (each as soon as its depends_on allow, with the scheduler's own dependencies where it has them), print each step's progress, and wait for all of them; exit code 0 when every step ended Done. Run it again and only the steps that did not end Done are submitted again"
  ),
  Command.provide((o) => services(o.globals, undefined, { adopt: "all" })),
  reported
)
