/**
 * Example: a three-step pipeline — preprocess, train, evaluate — where each step depends on the
 * one before by name, as hpc-runner's `Pipeline("ml")` example does:
 *
 *   with Pipeline("ml") as p:
 *       p.add("python preprocess.py", name="preprocess", cpu=8, mem="32G")
 *       p.add("python train.py", name="train", depends_on=["preprocess"], queue="gpu.q")
 *       p.add("python evaluate.py", name="evaluate", depends_on=["train"])
 *   results = p.submit(); p.wait()
 *   for step, res in results.items(): print(step, res.status, res.returncode)
 *
 * Here `Pipeline.run` checks the whole pipeline first (unknown steps, cycles, bad resources: one
 * error, nothing submitted), submits the steps with their dependencies, waits, and returns a
 * result per step. The training step is flaky on purpose: its first attempt fails (it finds no
 * checkpoint and exits 1), its retry policy submits it again, and the second attempt succeeds.
 * Evaluation reads what training wrote, and its output is read back with a tail, as hpc-runner's
 * `read_stdout(tail=20)` does.
 *
 *   npm run build && node dist/examples/ml-pipeline.js                  # all Done, train on attempt 2
 *   npm run build && node dist/examples/ml-pipeline.js --fail evaluate  # evaluate fails: exit code 3
 *
 * The steps are shell commands standing in for the Python scripts, so the example runs anywhere.
 */
import { FileSystem } from "@effect/platform"
import { Console, Effect } from "effect"
import { Diagnosis, Pipeline } from "cluster-api"
import { ExampleLayer, runIfMain } from "./support.js"

export type StepName = "preprocess" | "train" | "evaluate"

/**
 * The pipeline, its files in `dir`. `fail` makes that step exit 3. Training fails on its first
 * attempt (no checkpoint yet) and is retried once.
 */
export const mlPipeline = (dir: string, fail?: StepName): Pipeline.PipelineSpec => {
  const end = (step: StepName) => (step === fail ? "; exit 3" : "")
  return {
    name: "ml",
    steps: [
      {
        name: "preprocess",
        command: `seq 1 100 > features.txt && echo "preprocessed $(wc -l < features.txt) rows"${end("preprocess")}`,
        resources: { workDir: dir, cpus: 1, memory: "1 GB" },
        expectedOutputs: ["features.txt"]
      },
      {
        name: "train",
        // The first attempt leaves a checkpoint and fails; the retry finds it and writes the model.
        command: `if [ ! -f checkpoint ]; then touch checkpoint; echo "no checkpoint yet: node lost" >&2; exit 1; fi; ` +
          `awk '{ s += $1 } END { print s }' features.txt > model.txt && echo "trained: weight $(cat model.txt)"${end("train")}`,
        resources: { workDir: dir, walltime: "10m" },
        dependsOn: ["preprocess"],
        retry: { maxRetries: 1, backoffSeconds: 0 },
        expectedOutputs: ["model.txt"]
      },
      {
        name: "evaluate",
        command: `echo "evaluating"; echo "score: $(( $(cat model.txt) / 100 ))"${end("evaluate")}`,
        resources: { workDir: dir },
        dependsOn: ["train"]
      }
    ]
  }
}

/** One line per step: its status, its job and attempt, and its exit code. */
export const renderResult = (result: Pipeline.PipelineResult): string =>
  result.steps.map((s) =>
    `${s.step.padEnd(11)} ${s.summary.padEnd(40)} job ${s.record?.jobId ?? "-"}` +
    ` attempt ${s.record?.attempt ?? 1} exit code ${s.record?.exitCode ?? "none"}`
  ).join("\n")

/** Runs the pipeline in `dir`; returns the result and the evaluation's last lines of output. */
export const mlProgram = (dir: string, fail?: StepName) =>
  Effect.gen(function*() {
    const result = yield* Pipeline.run(mlPipeline(dir, fail), {
      onUpdate: (u) => Effect.log(`${u.step}: ${u.status}${u.note === undefined ? "" : ` (${u.note})`}`)
    })
    yield* Console.log(renderResult(result))
    const evaluate = result.steps.find((s) => s.step === "evaluate")?.record
    const output = evaluate === undefined
      ? ""
      : yield* Diagnosis.readOutput(evaluate, "stdout", { tail: 20 }).pipe(Effect.orElseSucceed(() => ""))
    if (output !== "") yield* Console.log(`--- evaluate's stdout ---\n${output.trimEnd()}`)
    return { result, output }
  })

const main = Effect.gen(function*() {
  const args = process.argv.slice(2)
  const i = args.indexOf("--fail")
  const fail = i === -1 ? undefined : args[i + 1] as StepName
  const fs = yield* FileSystem.FileSystem
  const work = yield* fs.makeTempDirectoryScoped({ prefix: "ml-pipeline-" })
  const { result } = yield* mlProgram(work, fail)
  if (!result.ok) process.exitCode = 3
}).pipe(Effect.scoped, Effect.provide(ExampleLayer))

runIfMain(import.meta.url, main)
