/**
 * A job's options as written in YAML: snake_case keys, like the rest of the config. They are the
 * body of a config template (`templates: { gpu: { queue: gpu, gpus: 1 } }`) and of a pipeline
 * step. Decoding checks them key by key and lists every problem with its key path; `toSpec` turns
 * them into the (partial) JobSpec they give; `mergeUnder` and `applyTemplate` put a template's
 * options under a job's own.
 *
 * Pure functions only.
 */
export { parseArraySpec } from "./jobOptions/arraySpec.js"
export { decodeJobOptions, patternProblems, unitProblems } from "./jobOptions/decode.js"
export type { DecodeJobOptions, JobOptionsDecoded } from "./jobOptions/decode.js"
export { applyTemplate, mergeUnder } from "./jobOptions/merge.js"
export { isRecord, kindOf, regexProblem, showValue, suggest } from "./jobOptions/problems.js"
export {
  ArrayOption,
  CheckLogsOption,
  dependencyKeys,
  JobOptions,
  jobOptionKeys,
  resourceExpected,
  TemplateName,
  templateNamePattern
} from "./jobOptions/schema.js"
export { toSpec } from "./jobOptions/spec.js"
