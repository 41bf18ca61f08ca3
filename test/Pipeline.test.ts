/**
 * Pipelines on the toy scheduler under TestClock: checks before anything is submitted, native
 * dependencies on the jobs' ids, steps whose end is decided here (retries) waited for before
 * their dependents are submitted, results per step, and re-runs that submit only what did not
 * end Done.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect, Either, Fiber, Ref, TestClock } from "effect"
import * as ClusterApi from "../src/ClusterApi.js"
import type { ConfigOptions } from "../src/Config.js"
import type { PipelineSpec } from "../src/Pipeline.js"
import * as Pipeline from "../src/Pipeline.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { eventually, toyAccountingScheduler, toyExecutorLayer } from "./support/ToyDialect.js"
import { tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-pipeline-")

const toyScheduler = toyAccountingScheduler

type Toy = Effect.Effect.Success<typeof toyScheduler>

const withToy = <A, E>(
  body: (toy: Toy) => Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>,
  config: Partial<ConfigOptions> = {}
) =>
  Effect.gen(function*() {
    const toy = yield* toyScheduler
    return yield* body(toy).pipe(
      Effect.scoped,
      Effect.provide(ClusterApi.layerTest({
        config: { poll_interval: 10, log_directory: tempDir(), ...config },
        rules: toy.rules,
        executor: toyExecutorLayer
      }))
    )
  })

const submitted = Effect.flatMap(TestCommandRunner, (t) => t.callsMatching("toysub")).pipe(
  Effect.map((calls) => calls.map((c) => /capi-ml_(\w+)\./.exec(c.argv.at(-1) ?? "")?.[1]))
)

const until = eventually

const ml: PipelineSpec = {
  name: "ml",
  steps: [
    { name: "preprocess", command: "python preprocess.py", resources: { cpus: 8, memory: "32 GB" } },
    { name: "train", command: "python train.py", dependsOn: ["preprocess"], resources: { queue: "gpu" } },
    { name: "evaluate", command: "python evaluate.py", dependsOn: ["train"] }
  ]
}

describe("checking a pipeline before anything is submitted", () => {
  it("orders steps after their dependencies, or names a cycle", () => {
    const order = Pipeline.topologicalOrder([
      { name: "c", dependsOn: [{ step: "b" }] },
      { name: "a", dependsOn: [] },
      { name: "b", dependsOn: [{ step: "a" }] }
    ])
    expect(order).toEqual(Either.right(["a", "b", "c"]))
    const cycle = Pipeline.topologicalOrder([
      { name: "a", dependsOn: [] },
      { name: "b", dependsOn: [{ step: "d" }] },
      { name: "c", dependsOn: [{ step: "b" }] },
      { name: "d", dependsOn: [{ step: "c" }] }
    ])
    expect(Either.isLeft(cycle) && cycle.left).toEqual(["b", "d", "c", "b"])
  })

  it.effect("lists every problem in one PipelineInvalid and submits nothing", () =>
    withToy(() =>
      Effect.gen(function*() {
        const bad: PipelineSpec = {
          name: "ml",
          steps: [
            { name: "a", command: "x", dependsOn: ["b"] },
            { name: "b", command: "x", dependsOn: ["a"] },
            { name: "c", command: "x", dependsOn: ["missing"] },
            { name: "c", command: "x" },
            { name: "d", command: "x", resources: { memory: "lots" } },
            { name: "e", command: "x", dependsOn: ["e"] }
          ]
        }
        const result = yield* Effect.either(Pipeline.run(bad))
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isRight(result) || result.left._tag !== "PipelineInvalid") return
        const text = result.left.message
        expect(text).toContain("nothing was submitted")
        expect(text).toContain("a step named 'c' comes twice")
        expect(text).toContain("step 'c' depends on 'missing', which is not a step of this pipeline")
        expect(text).toContain("step 'd':")
        expect(text).toContain("lots")
        expect(text).toContain("step 'e' depends on itself")
        expect(text).toContain("steps 'a' → 'b' → 'a' depend on each other in a cycle")
        expect(yield* submitted).toEqual([])
        const cycle = yield* Effect.either(Pipeline.run({
          name: "ml",
          steps: [{ name: "a", command: "x", dependsOn: ["b"] }, { name: "b", command: "x", dependsOn: ["a"] }]
        }))
        expect(Either.isLeft(cycle) && cycle.left.message).toContain("depend on each other in a cycle")
        const empty = yield* Effect.either(Pipeline.run({ name: "ml", steps: [] }))
        expect(Either.isLeft(empty) && empty.left.message).toContain("it has no steps")
        expect(yield* submitted).toEqual([])
      })
    ))
})

describe("running a pipeline", () => {
  it.effect("submits every step at once with the scheduler's dependencies, and reports each step", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const updates = yield* Ref.make<Array<string>>([])
        const running = yield* Effect.fork(Pipeline.run(ml, {
          onUpdate: (u) => Ref.update(updates, (xs) => [...xs, `${u.step}:${u.status}`])
        }))
        yield* until(Effect.map(submitted, (s) => s.length === 3))
        expect(yield* submitted).toEqual(["preprocess", "train", "evaluate"])
        const [pre, train, evaluate] = ["preprocess", "train", "evaluate"].map((n) => toy.idOf(n)!)
        for (const id of [pre!, train!, evaluate!]) yield* toy.end(id, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const result = yield* Fiber.join(running)
        expect(result.ok).toBe(true)
        expect(result.steps.map((s) => [s.step, s.status, s.reused])).toEqual([
          ["preprocess", "Done", false],
          ["train", "Done", false],
          ["evaluate", "Done", false]
        ])
        const trainRecord = result.steps[1]!.record!
        expect(trainRecord.dependsOn).toEqual([{ type: "afterok", jobId: pre }])
        expect(trainRecord.name).toBe("capi-ml_train")
        expect(trainRecord.metadata).toEqual({ pipeline: "ml", step: "train" })
        expect(result.steps[2]!.record!.dependsOn).toEqual([{ type: "afterok", jobId: train }])
        expect(yield* Ref.get(updates)).toContain("train:Done")
      })
    ))

  it.effect("waits for a retried step's last attempt before submitting its dependent, then drops the met dependency", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const spec: PipelineSpec = {
          name: "ml",
          steps: [
            { name: "fetch", command: "x", retry: { maxRetries: 2 } },
            { name: "use", command: "y", dependsOn: ["fetch"] }
          ]
        }
        const running = yield* Effect.fork(Pipeline.run(spec))
        yield* until(Effect.map(submitted, (s) => s.length === 1))
        yield* toy.end(toy.idOf("fetch")!, "NF|")
        yield* TestClock.adjust("10 seconds")
        yield* until(Effect.map(submitted, (s) => s.length === 2))
        expect(yield* submitted).toEqual(["fetch", "fetch"])
        yield* toy.end(toy.idOf("fetch")!, "CD|0")
        yield* TestClock.adjust("10 seconds")
        yield* until(Effect.map(submitted, (s) => s.length === 3))
        expect(yield* submitted).toEqual(["fetch", "fetch", "use"])
        yield* toy.end(toy.idOf("use")!, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const result = yield* Fiber.join(running)
        expect(result.ok).toBe(true)
        expect(result.steps[0]!.record!.attempt).toBe(2)
        expect(result.steps[1]!.record!.dependsOn).toBeUndefined()
      })
    ))

  it.effect("a step whose dependency can never be met ends Failed naming it; running again submits only what did not end Done", () =>
    withToy((toy) =>
      Effect.gen(function*() {
        const spec: PipelineSpec = {
          name: "ml",
          steps: [
            { name: "prep", command: "x" },
            { name: "train", command: "y", dependsOn: ["prep"], retry: { maxRetries: 0 }, expectedOutputs: ["model.pt"] },
            { name: "report", command: "z", dependsOn: ["train"] },
            { name: "cleanup", command: "w", dependsOn: [{ step: "train", type: "afternotok" }] }
          ]
        }
        const first = yield* Effect.fork(Pipeline.run(spec))
        yield* until(Effect.map(submitted, (s) => s.length === 2))
        yield* toy.end(toy.idOf("prep")!, "CD|0")
        yield* toy.end(toy.idOf("train")!, "CD|0") // Done by the scheduler, but model.pt is missing
        yield* TestClock.adjust("10 seconds")
        yield* until(Effect.map(submitted, (s) => s.length === 3))
        expect(yield* submitted).toEqual(["prep", "train", "cleanup"])
        yield* toy.end(toy.idOf("cleanup")!, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const result = yield* Fiber.join(first)
        expect(result.ok).toBe(false)
        const byStep = Object.fromEntries(result.steps.map((s) => [s.step, s]))
        expect(byStep["train"]!.reason).toEqual({ _tag: "MissingOutput", missing: ["model.pt"] })
        expect(byStep["report"]!.record).toBeUndefined()
        expect(byStep["report"]!.summary).toBe(`Failed: dependency failed: train (job ${toy.idOf("train")})`)
        expect(byStep["cleanup"]!.status).toBe("Done")

        // Again (train no longer checked for model.pt): prep and cleanup ended Done and are kept;
        // train and report are submitted again, report depending on the new train job.
        const second = yield* Effect.fork(Pipeline.run({
          ...spec,
          steps: spec.steps.map((s) => s.name === "train" ? { ...s, expectedOutputs: [] } : s)
        }))
        yield* until(Effect.map(submitted, (s) => s.length === 5))
        yield* toy.end(toy.idOf("train")!, "CD|0")
        yield* toy.end(toy.idOf("report")!, "CD|0")
        yield* TestClock.adjust("10 seconds")
        const rerun = yield* Fiber.join(second)
        expect(yield* submitted).toEqual(["prep", "train", "cleanup", "train", "report"])
        expect(rerun.steps[2]!.record!.dependsOn).toEqual([{ type: "afterok", jobId: toy.idOf("train") }])
        expect(rerun.steps.map((s) => [s.step, s.status, s.reused])).toEqual([
          ["prep", "Done", true],
          ["train", "Done", false],
          ["report", "Done", false],
          ["cleanup", "Done", true]
        ])
      })
    ))
})
