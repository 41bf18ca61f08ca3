/**
 * Why a job failed, and whether a job that ended Done really succeeded: scanning its logs for
 * error lines, checking the files it was expected to leave, and reading its stdout and stderr.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const text = yield* Diagnosis.readOutput(record, "stderr", { tail: 20 })
 *   const verdict = yield* Diagnosis.doneVerdict(record, options) // MissingOutput, LogErrors or undefined
 *   const info = yield* Diagnosis.failureInfo(record, options)    // JSON-friendly, for people and tools
 * })
 * ```
 *
 * Everything that touches files goes through `@effect/platform`'s FileSystem (and Path), so it
 * runs on any platform layer (NodeContext.layer in programs and tests).
 */
export { checkExpectedOutputs, expectedOutputs } from "./internal/diagnosis/expected.js"
export type { ExpectedOutputs } from "./internal/diagnosis/expected.js"
export { failureInfo } from "./internal/diagnosis/failureInfo.js"
export type { FailureInfo, FailureInfoOptions } from "./internal/diagnosis/failureInfo.js"
export { checkLogs } from "./internal/diagnosis/logs.js"
export { readOutput } from "./internal/diagnosis/output.js"
export type { ReadOutputOptions } from "./internal/diagnosis/output.js"
export type { ScanResult } from "./internal/diagnosis/scan.js"
export { doneVerdict } from "./internal/diagnosis/verdict.js"
