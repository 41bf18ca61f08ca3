/**
 * Log checks: the error lines of a job's logs (every element's, for an array job), with the job's
 * logCheck settings or else the config's.
 */
import type { FileSystem } from "@effect/platform"
import { Effect, Either } from "effect"
import type { ConfigOptions } from "../../Config.js"
import type { JobRecord, LogCheck } from "../../Domain.js"
import { arrayIndices } from "../../Domain.js"
import { regexProblem } from "../jobOptions.js"
import type { Registry } from "../../Scheduler.js"
import { Schedulers } from "../../Scheduler.js"
import type { ScanResult } from "./scan.js"
import { compilePatterns, lineScanner, scannedLines } from "./scan.js"
import { tailLines } from "./tail.js"
import { logPath } from "../queries/files.js"

interface ScanSettings {
  readonly patterns: ReadonlyArray<RegExp>
  readonly whitelist: ReadonlyArray<string>
  readonly threshold: number
}

/**
 * The log check's settings, the config's where it says nothing. Patterns that are not valid
 * regular expressions are left out with a warning (validate them up front with compilePatterns).
 */
export const scanSettings = (check: LogCheck | undefined, options: ConfigOptions) =>
  Effect.gen(function*() {
    const sources = check?.patterns ?? options.error_patterns
    const compiled = compilePatterns(sources)
    let patterns: ReadonlyArray<RegExp>
    if (Either.isRight(compiled)) patterns = compiled.right
    else {
      yield* Effect.logWarning(`${compiled.left}; scanning logs without ${sources.length === 1 ? "it" : "them"}`)
      patterns = sources.filter((p) => regexProblem(p) === undefined).map((p) => new RegExp(p, "i"))
    }
    return {
      patterns,
      whitelist: check?.whitelist ?? options.error_whitelist,
      threshold: check?.threshold ?? options.whitelist_threshold
    } satisfies ScanSettings
  })

/** The error lines of the last lines of some files (each once, in order); missing ones are empty. */
export const scanFiles = (files: ReadonlyArray<string>, settings: ScanSettings) =>
  Effect.gen(function*() {
    const scanner = lineScanner(settings)
    for (const file of new Set(files)) {
      for (const line of yield* tailLines(file, scannedLines)) scanner.push(line)
    }
    return scanner.result()
  })

/** A job's (or element's) stderr then stdout log paths, those it has. */
export const logFiles = (schedulers: Registry, record: JobRecord, index: number | undefined): ReadonlyArray<string> =>
  (["stderr", "stdout"] as const).flatMap((stream) => Either.match(logPath(schedulers, record, stream, index), {
    onLeft: () => [],
    onRight: (file) => [file]
  }))

/** Every log of a job: each element's, for an array job (stderr before stdout). */
const allLogFiles = (schedulers: Registry, record: JobRecord): ReadonlyArray<string> =>
  record.array === undefined
    ? logFiles(schedulers, record, undefined)
    : arrayIndices(record.array).flatMap((i) => logFiles(schedulers, record, i))

/**
 * Scans the last 10,000 lines of a job's stderr and then its stdout (every element's, for an
 * array job; a file shared by several is scanned once) for error lines, with the check's
 * patterns, whitelist and threshold or else the config's. Missing files scan as empty.
 */
export const checkLogs: (
  record: JobRecord,
  check: LogCheck,
  options: ConfigOptions
) => Effect.Effect<ScanResult, never, FileSystem.FileSystem | Schedulers> = Effect.fn("Diagnosis.checkLogs")(
  function*(record: JobRecord, check: LogCheck, options: ConfigOptions) {
    return yield* scanFiles(allLogFiles(yield* Schedulers, record), yield* scanSettings(check, options))
  }
)
