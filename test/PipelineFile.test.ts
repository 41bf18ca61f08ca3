/**
 * Pipeline files as `cluster-api run` reads them: YAML text to a PipelineSpec, or every problem
 * with its place in the file. Pure: no services, no processes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import type { PipelineSpec } from "../src/Pipeline.js"
import { decodePipeline, parsePipeline } from "../src/PipelineFile.js"

const spec = (text: string, source = "pipelines/ml.yaml"): PipelineSpec => {
  const parsed = parsePipeline(text, source)
  if (Either.isLeft(parsed)) throw new Error(`expected a pipeline, got:\n${parsed.left.problems.join("\n")}`)
  return parsed.right
}

const problemsOf = (text: string, source = "pipelines/ml.yaml"): { pipeline: string; problems: ReadonlyArray<string> } => {
  const parsed = parsePipeline(text, source)
  if (Either.isRight(parsed)) throw new Error(`expected problems, got ${JSON.stringify(parsed.right)}`)
  expect(parsed.left._tag).toBe("PipelineInvalid")
  return { pipeline: parsed.left.pipeline, problems: parsed.left.problems }
}

const fullFile = `
name: ml
defaults:
  template: cpu
  walltime: "01:00"
  memory: 4 GB
  env: { STAGE: all, SEED: 1 }
  expected_outputs: [done.flag]
steps:
  - name: preprocess
    command: python preprocess.py
    cpus: 8
    memory: 32 GB
  - name: train
    command: python train.py
    depends_on: [preprocess]
    max_retries: 2
    retry_on: [NodeFailure, Preempted]
    retry_backoff: 30
    env: { STAGE: train }
    expected_outputs: [model.pt]
  - name: evaluate
    command: python evaluate.py
    template: gpu
    depends_on:
      - train
      - { step: preprocess, type: afterany }
  - name: report
    command: python report.py
    dependency_type: afternotok
    depends_on: [train, { step: evaluate }]
`

describe("parsePipeline", () => {
  it("reads a full file (steps as a list) into the exact PipelineSpec, defaults under each step", () => {
    expect(spec(fullFile)).toEqual({
      name: "ml",
      steps: [
        {
          name: "preprocess",
          command: "python preprocess.py",
          template: "cpu",
          resources: { walltime: "01:00", memory: "32 GB", cpus: 8 },
          env: { STAGE: "all", SEED: "1" },
          expectedOutputs: ["done.flag"],
          dependsOn: []
        },
        {
          name: "train",
          command: "python train.py",
          template: "cpu",
          resources: { walltime: "01:00", memory: "4 GB" },
          env: { STAGE: "train", SEED: "1" },
          retry: { maxRetries: 2, on: ["NodeFailure", "Preempted"], backoffSeconds: 30 },
          expectedOutputs: ["done.flag", "model.pt"],
          dependsOn: [{ step: "preprocess", type: "afterok" }]
        },
        {
          name: "evaluate",
          command: "python evaluate.py",
          template: "gpu",
          resources: { walltime: "01:00", memory: "4 GB" },
          env: { STAGE: "all", SEED: "1" },
          expectedOutputs: ["done.flag"],
          dependsOn: [{ step: "train", type: "afterok" }, { step: "preprocess", type: "afterany" }]
        },
        {
          name: "report",
          command: "python report.py",
          template: "cpu",
          resources: { walltime: "01:00", memory: "4 GB" },
          env: { STAGE: "all", SEED: "1" },
          expectedOutputs: ["done.flag"],
          // dependency_type applies to plain names and to { step } without a type.
          dependsOn: [{ step: "train", type: "afternotok" }, { step: "evaluate", type: "afternotok" }]
        }
      ]
    })
  })

  it("reads steps written as a mapping of names to options, in the file's order", () => {
    const pipeline = spec(`
name: etl
steps:
  extract:
    command: ./extract.sh
  load:
    command: ./load.sh
    depends_on: extract
    cpus: 2
`)
    expect(pipeline).toEqual({
      name: "etl",
      steps: [
        { name: "extract", command: "./extract.sh", dependsOn: [] },
        { name: "load", command: "./load.sh", resources: { cpus: 2 }, dependsOn: [{ step: "extract", type: "afterok" }] }
      ]
    })
  })

  it("names a pipeline without a name after its file's stem", () => {
    expect(spec("steps: [{ name: a, command: 'true' }]", "/data/pipelines/nightly-build.yml").name).toBe("nightly-build")
    expect(spec("steps: [{ name: a, command: 'true' }]", "ml.pipeline.YAML").name).toBe("ml.pipeline")
    // The stem also names the pipeline in the problems of a file that cannot be read.
    expect(problemsOf("steps: [", "dir/broken.yaml").pipeline).toBe("broken")
  })

  it("reports every problem at once, each with its place in the file", () => {
    const { pipeline, problems } = problemsOf(`
name: ml
stages: 3
steps:
  - name: prep
    cpus: 2
  - command: echo no name
  - name: train
    command: python train.py
    cpu: 4
  - name: big
    command: python big.py
    memory: 12 XB
  - name: eval
    command: python eval.py
    depends_on: [train, 7]
  - name: report
    command: python report.py
    depends_on: [eval]
    dependency_type: afterwards
`)
    expect(pipeline).toBe("ml")
    expect(problems).toHaveLength(7)
    expect(problems[0]).toBe("stages: unknown key; a pipeline file has name, defaults and steps")
    expect(problems[1]).toBe("steps[0]: give the step a command (command: ...)")
    expect(problems[2]).toBe("steps[1]: give the step a name (name: NAME)")
    expect(problems[3]).toBe("steps[2].cpu: unknown option; did you mean cpus?")
    expect(problems[4]).toMatch(/^steps\[3\]\.memory: .*12 XB/)
    expect(problems[5]).toBe(
      "steps[4].depends_on[1]: expected a step name or { step: NAME, type: afterok|afternotok|afterany }, got 7"
    )
    expect(problems[6]).toBe(`steps[5].dependency_type: expected one of afterok, afternotok, afterany, got "afterwards"`)
  })

  it("reports a bad type inside a { step, type } dependency and an unknown key beside it", () => {
    const { problems } = problemsOf(`
steps:
  a: { command: "true" }
  b:
    command: "true"
    depends_on: [{ step: a, type: afterall, when: now }]
`)
    expect(problems).toEqual([
      "steps.b.depends_on[0]: unknown key when; a dependency has only step and type",
      `steps.b.depends_on[0].type: expected one of afterok, afternotok, afterany, got "afterall"`
    ])
  })

  it("reports a problem in defaults under defaults, and steps that are neither list nor mapping", () => {
    const { problems } = problemsOf(`
defaults:
  walltime: 90
  depends_on: [x]
steps: 3
`)
    expect(problems).toEqual([
      `defaults.walltime: expected a walltime string such as "04:00" (hours:minutes) or "90m", got 90 (quote it)`,
      "defaults.depends_on: only a pipeline step can depend on other jobs; remove it here",
      "steps: expected a list of steps (or a mapping of step names to their options), got 3"
    ])
  })

  it("reports a YAML syntax error with its line and column", () => {
    const { problems } = problemsOf("name: ml\nsteps:\n  - name: a\n    command: [unclosed\n")
    expect(problems.length).toBeGreaterThan(0)
    expect(problems[0]).toMatch(/^YAML syntax error at line \d+, column \d+: /)
    const { problems: tabbed } = problemsOf("name: ml\nsteps:\n  - name: a\n   command: x\n")
    expect(tabbed[0]).toMatch(/^YAML syntax error at line 4, column \d+: /)
  })

  it("refuses a document that is not a mapping", () => {
    expect(Either.isLeft(decodePipeline(["a", "b"], "p"))).toBe(true)
    const decoded = decodePipeline("just text", "fallback")
    if (Either.isRight(decoded)) throw new Error("expected problems")
    expect(decoded.left.pipeline).toBe("fallback")
    expect(decoded.left.problems).toEqual([`the file must be a mapping with name and steps, got "just text"`])
  })
})

describe("decodePipeline", () => {
  it("takes a document parsed elsewhere, its name from the fallback when it has none", () => {
    expect(decodePipeline({ steps: { only: { command: "echo hi", gpus: 1 } } }, "from-code")).toEqual(
      Either.right({
        name: "from-code",
        steps: [{ name: "only", command: "echo hi", resources: { gpus: 1 }, dependsOn: [] }]
      })
    )
  })

  it("lets a step's own name win over its key in the mapping form", () => {
    const decoded = decodePipeline({ steps: { key: { name: "own", command: "true" } } }, "p")
    expect(Either.map(decoded, (p) => p.steps.map((s) => s.name))).toEqual(Either.right(["own"]))
  })
})

describe("examples/pipeline.yaml", () => {
  it("parses, with its 3 steps in order and train retried once", () => {
    const file = fileURLToPath(new URL("../examples/pipeline.yaml", import.meta.url))
    const pipeline = spec(fs.readFileSync(file, "utf8"), file)
    expect(pipeline.name).toBe("ml")
    expect(pipeline.steps.map((s) => s.name)).toEqual(["preprocess", "train", "evaluate"])
    const [preprocess, train, evaluate] = pipeline.steps
    expect(preprocess?.resources).toEqual({ walltime: "10m", cpus: 1, memory: "1 GB" })
    expect(preprocess?.expectedOutputs).toEqual(["features.txt"])
    expect(train?.retry).toEqual({ maxRetries: 1 })
    expect(train?.dependsOn).toEqual([{ step: "preprocess", type: "afterok" }])
    expect(evaluate?.dependsOn).toEqual([{ step: "train", type: "afterok" }])
    expect(evaluate?.resources).toEqual({ walltime: "10m" })
  })
})
