/** A template's options merged under a job's own. */
import { Either } from "effect"
import type { JobSpec, ResourceSpec, RetryPolicy } from "../../Domain.js"
import { suggest } from "./problems.js"
import type { JobOptions } from "./schema.js"
import { compact, toSpec } from "./spec.js"

/** Both lists, `base`'s first, each value once; undefined when neither is given. */
const joinLists = (
  base: ReadonlyArray<string> | undefined,
  own: ReadonlyArray<string> | undefined
): ReadonlyArray<string> | undefined =>
  base === undefined && own === undefined ? undefined : [...new Set([...(base ?? []), ...(own ?? [])])]

/** Field by field, `own`'s defined fields over `base`'s; undefined when neither is given. */
const overlay = <T extends object>(base: T | undefined, own: T | undefined): T | undefined =>
  base === undefined && own === undefined
    ? undefined
    : ({ ...compact({ ...base }), ...compact({ ...own }) } as T)

/**
 * `base` (a template's spec) under `spec`: scalar fields and resources field by field (the spec's
 * value wins), env and metadata merged (the spec wins per key), the lists (prologue, epilogue,
 * extraDirectives, extraArgs, expectedOutputs) joined with base's first and duplicates dropped,
 * retry and logCheck merged field by field, `dependsOn` only from the spec. Merging the same base
 * again changes nothing.
 */
export const mergeUnder = (base: Partial<JobSpec>, spec: JobSpec): JobSpec => {
  const b = base.resources
  const s = spec.resources
  const resources: ResourceSpec | undefined = b === undefined && s === undefined ? undefined : {
    ...overlay(b, s),
    ...compact({
      extraDirectives: joinLists(b?.extraDirectives, s?.extraDirectives),
      extraArgs: joinLists(b?.extraArgs, s?.extraArgs)
    })
  }
  const retry: RetryPolicy | undefined = overlay(base.retry, spec.retry)
  return {
    command: spec.command,
    name: spec.name,
    ...compact({
      resources,
      env: overlay(base.env, spec.env),
      prologue: joinLists(base.prologue, spec.prologue),
      epilogue: joinLists(base.epilogue, spec.epilogue),
      metadata: overlay(base.metadata, spec.metadata),
      array: spec.array ?? base.array,
      dependsOn: spec.dependsOn,
      inheritEnv: spec.inheritEnv ?? base.inheritEnv,
      loginShell: spec.loginShell ?? base.loginShell,
      template: spec.template ?? base.template,
      retry,
      expectedOutputs: joinLists(base.expectedOutputs, spec.expectedOutputs),
      logCheck: overlay(base.logCheck, spec.logCheck)
    })
  }
}

/**
 * The spec with its template (`spec.template`, one of `templates`) merged under it, `template`
 * kept on the result; a spec naming no template is returned as it is. An unknown name is a
 * problem that lists the templates there are (or says there are none, and how to add one).
 */
export const applyTemplate = (
  spec: JobSpec,
  templates: Readonly<Record<string, JobOptions>>
): Either.Either<JobSpec, { readonly field: "template"; readonly problem: string }> => {
  const name = spec.template
  if (name === undefined) return Either.right(spec)
  const template = Object.hasOwn(templates, name) ? templates[name] : undefined
  if (template === undefined) {
    const names = Object.keys(templates)
    const problem = names.length === 0
      ? `${JSON.stringify(name)} is not a template: the config defines none; add one under \`templates:\` in cluster-api.yaml (e.g. \`templates: { ${name}: { queue: ${name} } }\`)`
      : `${JSON.stringify(name)} is not a template; ${
        ((guess) => (guess === undefined ? "" : `did you mean ${guess}? `))(suggest(name, names))
      }the config defines ${names.join(", ")}`
    return Either.left({ field: "template", problem })
  }
  return Either.right(mergeUnder(toSpec(template), spec))
}
