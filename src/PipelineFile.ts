/**
 * A pipeline written in YAML, as `cluster-api run pipeline.yaml` reads it:
 *
 * ```yaml
 * name: ml
 * defaults:                  # job options every step starts from (optional)
 *   template: cpu
 *   walltime: "01:00"
 * steps:
 *   - name: preprocess
 *     command: python preprocess.py
 *     cpus: 8
 *     memory: 32 GB
 *   - name: train
 *     command: python train.py
 *     depends_on: [preprocess]          # afterok
 *     max_retries: 2
 *     retry_on: [NodeFailure, Preempted]
 *   - name: evaluate
 *     command: python evaluate.py
 *     depends_on:
 *       - train                          # afterok
 *       - { step: preprocess, type: afterany }
 * ```
 *
 * `steps` may also be a mapping of step names to their options. A step's options are the job
 * options of a template (internal/jobOptions.ts), plus `depends_on` (step names, or `{ step, type }`) and
 * `dependency_type` (the type of the names listed plainly; default afterok). Every problem is
 * reported at once, with its place in the file.
 */
import { Either } from "effect"
import { parseYaml } from "./internal/config/yaml.js"
import type { Dependency } from "./Domain.js"
import { PipelineInvalid } from "./Errors.js"
import { decodeJobOptions, isRecord, mergeUnder, showValue, toSpec } from "./internal/jobOptions.js"
import type { PipelineSpec, PipelineStep, StepDependency } from "./Pipeline.js"

const dependencyTypes: ReadonlyArray<Dependency["type"]> = ["afterok", "afternotok", "afterany"]


const isDependencyType = (u: unknown): u is Dependency["type"] =>
  typeof u === "string" && (dependencyTypes as ReadonlyArray<string>).includes(u)

/** A step's `depends_on` and `dependency_type` as written: the dependencies, or problems. */
const dependenciesOf = (
  path: string,
  dependsOn: unknown,
  dependencyType: unknown
): Either.Either<ReadonlyArray<StepDependency>, ReadonlyArray<string>> => {
  const problems: Array<string> = []
  let type: Dependency["type"] = "afterok"
  if (dependencyType !== undefined) {
    if (isDependencyType(dependencyType)) type = dependencyType
    else problems.push(`${path}.dependency_type: expected one of ${dependencyTypes.join(", ")}, got ${showValue(dependencyType)}`)
  }
  if (dependsOn === undefined || dependsOn === null) return problems.length > 0 ? Either.left(problems) : Either.right([])
  const items = typeof dependsOn === "string" ? [dependsOn] : dependsOn
  if (!Array.isArray(items)) {
    return Either.left([...problems, `${path}.depends_on: expected a list of step names, got ${showValue(dependsOn)}`])
  }
  const out: Array<StepDependency> = []
  for (const [i, item] of items.entries()) {
    const at = `${path}.depends_on[${i}]`
    if (typeof item === "string") out.push({ step: item, type })
    else if (isRecord(item) && typeof item["step"] === "string") {
      const extra = Object.keys(item).filter((k) => k !== "step" && k !== "type")
      if (extra.length > 0) problems.push(`${at}: unknown key ${extra.join(", ")}; a dependency has only step and type`)
      if (item["type"] !== undefined && !isDependencyType(item["type"])) {
        problems.push(`${at}.type: expected one of ${dependencyTypes.join(", ")}, got ${showValue(item["type"])}`)
      } else out.push({ step: item["step"], type: (item["type"] as Dependency["type"] | undefined) ?? type })
    } else problems.push(`${at}: expected a step name or { step: NAME, type: afterok|afternotok|afterany }, got ${showValue(item)}`)
  }
  return problems.length > 0 ? Either.left(problems) : Either.right(out)
}

/** The pipeline a document describes (already parsed from YAML), or every problem with it. */
export const decodePipeline = (
  document: unknown,
  fallbackName: string
): Either.Either<PipelineSpec, PipelineInvalid> => {
  const fail = (problems: ReadonlyArray<string>, name = fallbackName) =>
    Either.left(new PipelineInvalid({ pipeline: name, problems }))
  if (!isRecord(document)) return fail([`the file must be a mapping with name and steps, got ${showValue(document)}`])
  const problems: Array<string> = []
  const name = document["name"] === undefined ? fallbackName : document["name"]
  if (typeof name !== "string") problems.push(`name: expected a string, got ${showValue(name)}`)
  const pipelineName = typeof name === "string" ? name : fallbackName
  for (const key of Object.keys(document)) {
    if (!["name", "defaults", "steps"].includes(key)) problems.push(`${key}: unknown key; a pipeline file has name, defaults and steps`)
  }
  let defaults = {}
  if (document["defaults"] !== undefined && document["defaults"] !== null) {
    const decoded = decodeJobOptions(document["defaults"], "defaults")
    if (Either.isLeft(decoded)) problems.push(...decoded.left)
    else defaults = toSpec(decoded.right.options)
  }
  const raw = document["steps"]
  const entries: Array<readonly [string, unknown, string | undefined]> = Array.isArray(raw)
    ? raw.map((body, i) => [`steps[${i}]`, body, undefined] as const)
    : isRecord(raw)
    ? Object.entries(raw).map(([key, body]) => [`steps.${key}`, body, key] as const)
    : []
  if (!Array.isArray(raw) && !isRecord(raw)) {
    problems.push(`steps: expected a list of steps (or a mapping of step names to their options), got ${showValue(raw)}`)
  }
  const steps: Array<PipelineStep> = []
  for (const [path, body, key] of entries) {
    const decoded = decodeJobOptions(body, path, { allowDependsOn: true })
    if (Either.isLeft(decoded)) {
      problems.push(...decoded.left)
      continue
    }
    const own = toSpec(decoded.right.options)
    const stepName = own.name ?? key
    if (stepName === undefined) {
      problems.push(`${path}: give the step a name (name: NAME)`)
      continue
    }
    if (own.command === undefined) {
      problems.push(`${path}: give the step a command (command: ...)`)
      continue
    }
    const dependsOn = dependenciesOf(path, decoded.right.dependsOn, decoded.right.dependencyType)
    if (Either.isLeft(dependsOn)) {
      problems.push(...dependsOn.left)
      continue
    }
    const { name: _, dependsOn: __, ...spec } = mergeUnder(defaults, { ...own, name: stepName, command: own.command })
    steps.push({ ...spec, name: stepName, dependsOn: dependsOn.right })
  }
  return problems.length > 0 ? fail(problems, pipelineName) : Either.right({ name: pipelineName, steps })
}

/** The pipeline in a YAML text (from `source`, a file name: its stem names an unnamed pipeline). */
export const parsePipeline = (text: string, source: string): Either.Either<PipelineSpec, PipelineInvalid> => {
  const stem = source.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/i, "").replace(/[^\w.-]/g, "-") || "pipeline"
  const parsed = parseYaml(text)
  if (Either.isLeft(parsed)) return Either.left(new PipelineInvalid({ pipeline: stem, problems: parsed.left }))
  return decodePipeline(parsed.right, stem)
}
