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
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either, Option, Stream } from "effect"
import type { ConfigOptions } from "./Config.js"
import type { ArrayElement, FailureReason, JobRecord, JobStatus, LogCheck, Observation, StaleOutput } from "./Domain.js"
import {
  arrayIndices,
  attemptOf,
  describeReason,
  failedElementIndices,
  hasDoneChecks,
  isTerminal,
  isTerminalStatus,
  LogErrors,
  MissingOutput
} from "./Domain.js"
import { OutputNotFound } from "./Errors.js"
import { globToRegExp } from "./Glob.js"
import { regexProblem } from "./JobOptions.js"
import { indexPlaceholder, logPath, statusOf } from "./JobQueries.js"
import type { Registry } from "./Scheduler.js"
import { Schedulers } from "./Scheduler.js"
import { applyObservation } from "./Transition.js"

// ---------------------------------------------------------------------------------------------
// Error lines (pure)
// ---------------------------------------------------------------------------------------------

/** How many lines from the end of each log are scanned for error lines. */
export const scannedLines = 10_000

/** How many error lines are kept (all are counted). */
export const defaultMaxKept = 50

/** Kept error lines longer than this are cut to it and end in "...". */
export const defaultMaxLength = 500

/** How many error lines a LogErrors failure carries. */
export const verdictLines = 5

/** The words of a text: split on anything but letters, digits and `_`, lower-cased. */
const wordsOf = (text: string): ReadonlyArray<string> =>
  text.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter((w) => w.length > 0)

/**
 * Whether a log line is whitelisted (so not an error line even if an error pattern matches it).
 *
 * An entry matches a line when either
 * - (a) the line contains the entry as written, ignoring case ("WARN" matches "warning: …"), or
 * - (b) the line's words include at least `min(threshold, n)` of the entry's `n` distinct words,
 *   in any order ("Leap second table TAI_UTC seems out-of-date" with threshold 3 matches
 *   "TAI_UTC table: leap data may be stale" through `tai_utc`, `table` and `leap`).
 *
 * Words are the runs of letters, digits and `_`, lower-cased (so "out-of-date" is three words).
 * Taking the minimum fixes housekeeper's rule (shared words ≥ threshold, always), under which an
 * entry of fewer words than the threshold, like "WARN", could never match anything. Blank entries
 * match nothing.
 */
export const isWhitelisted = (line: string, whitelist: ReadonlyArray<string>, threshold: number): boolean => {
  if (whitelist.length === 0) return false
  const lower = line.toLowerCase()
  let lineWords: ReadonlySet<string> | undefined
  for (const entry of whitelist) {
    if (entry.trim().length === 0) continue
    if (lower.includes(entry.toLowerCase())) return true
    const entryWords = new Set(wordsOf(entry))
    if (entryWords.size === 0) continue
    lineWords ??= new Set(wordsOf(line))
    const needed = Math.min(Math.max(1, threshold), entryWords.size)
    let shared = 0
    for (const w of entryWords) {
      if (lineWords.has(w) && ++shared >= needed) return true
    }
  }
  return false
}

/**
 * Error patterns as case-insensitive regular expressions (JavaScript syntax; housekeeper's Python
 * defaults read the same). Left: every pattern that is not a valid regular expression, and why.
 */
export const compilePatterns = (patterns: ReadonlyArray<string>): Either.Either<ReadonlyArray<RegExp>, string> => {
  const problems = patterns.flatMap((pattern) => {
    const problem = regexProblem(pattern)
    return problem === undefined ? [] : [`${JSON.stringify(pattern)} (${problem})`]
  })
  return problems.length === 0
    ? Either.right(patterns.map((pattern) => new RegExp(pattern, "i")))
    : Either.left(
      `error pattern${problems.length === 1 ? "" : "s"} ${problems.join(", ")} ${
        problems.length === 1 ? "is not a valid regular expression" : "are not valid regular expressions"
      }: fix ${problems.length === 1 ? "it" : "them"} (escape literal characters like ( [ + * ? with \\) or remove ${
        problems.length === 1 ? "it" : "them"
      } from error_patterns or the job's logCheck.patterns`
    )
}

export interface ScanOptions {
  /** Case-insensitive patterns (see {@link compilePatterns}); a line matching one is an error line… */
  readonly patterns: ReadonlyArray<RegExp>
  /** …unless a whitelist entry matches it (see {@link isWhitelisted}). */
  readonly whitelist: ReadonlyArray<string>
  readonly threshold: number
  /** How many error lines to keep (default 50); all are counted. */
  readonly maxKept?: number | undefined
  /** Kept lines longer than this are cut to it and end in "..." (default 500). */
  readonly maxLength?: number | undefined
}

/** Error lines found: how many in all, and the first few (trimmed at the end, long ones cut). */
export interface ScanResult {
  readonly count: number
  readonly lines: ReadonlyArray<string>
}

/** A scan fed one line at a time, so that several logs can be scanned as one. */
const lineScanner = (options: ScanOptions) => {
  const maxKept = options.maxKept ?? defaultMaxKept
  const maxLength = options.maxLength ?? defaultMaxLength
  const kept: Array<string> = []
  let count = 0
  return {
    push: (raw: string): void => {
      const line = raw.trimEnd()
      if (!options.patterns.some((p) => p.test(line))) return
      if (isWhitelisted(line, options.whitelist, options.threshold)) return
      count += 1
      if (kept.length < maxKept) kept.push(line.length > maxLength ? `${line.slice(0, maxLength)}...` : line)
    },
    result: (): ScanResult => ({ count, lines: kept.slice() })
  }
}

/** The error lines among `lines`: all counted, the first `maxKept` kept (see {@link ScanOptions}). */
export const scanLines = (lines: Iterable<string>, options: ScanOptions): ScanResult => {
  const scanner = lineScanner(options)
  for (const line of lines) scanner.push(line)
  return scanner.result()
}

/** A text's lines; a final newline ends the last line rather than starting an empty one. */
export const splitLines = (text: string): ReadonlyArray<string> => {
  if (text.length === 0) return []
  const lines = text.split(/\r?\n/)
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

// ---------------------------------------------------------------------------------------------
// Reading files from their end
// ---------------------------------------------------------------------------------------------

const isNotFound = (e: PlatformError) => e._tag === "SystemError" && e.reason === "NotFound"

/** A file's size in bytes, or none when it does not exist. */
export const fileSize = (file: string): Effect.Effect<Option.Option<number>, PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.stat(file).pipe(
      Effect.map((info) => Option.some(Number(info.size))),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<number>()))
    ))

/** Bytes `from` to `to` of a file, chunk by chunk, to `emit`. */
export const copyRange = <E = never, R = never>(
  file: string,
  from: number,
  to: number,
  emit: (chunk: Uint8Array) => Effect.Effect<void, E, R>
): Effect.Effect<void, PlatformError | E, FileSystem.FileSystem | R> =>
  to <= from
    ? Effect.void
    : Effect.flatMap(FileSystem.FileSystem, (fs) =>
      fs.stream(file, { offset: from, bytesToRead: to - from }).pipe(Stream.runForEach(emit)))

const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * Where the last `lines` lines of a file of `size` bytes start (a final newline ends the last
 * line). Reads backwards from the end in 64 KiB chunks, so a big log costs only its tail.
 */
export const tailStart = (
  file: string,
  size: number,
  lines: number
): Effect.Effect<number, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (lines <= 0) return size
    const chunkSize = 64 * 1024
    let found = 0
    let end = size
    while (end > 0) {
      const from = Math.max(0, end - chunkSize)
      const parts: Array<Uint8Array> = []
      yield* copyRange(file, from, end, (chunk) => Effect.sync(() => void parts.push(chunk)))
      const bytes = concatBytes(parts)
      for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] !== 10 || from + i === size - 1) continue
        found += 1
        if (found === lines) return from + i + 1
      }
      end = from
    }
    return 0
  })

/** A whole byte range of a file as text (UTF-8). */
const readRange = (file: string, from: number, to: number) =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    return copyRange(file, from, to, (chunk) => Effect.sync(() => void parts.push(chunk))).pipe(
      Effect.map(() => new TextDecoder().decode(concatBytes(parts)))
    )
  })

/**
 * The last `lines` lines of a file (with their newlines, as in the file), or none when the file
 * does not exist. 0 lines gives "", more lines than the file has gives the whole file.
 */
export const readTail = (
  file: string,
  lines: number
): Effect.Effect<Option.Option<string>, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const size = yield* fileSize(file)
    if (Option.isNone(size)) return Option.none()
    const start = yield* tailStart(file, size.value, lines)
    return Option.some(yield* readRange(file, start, size.value))
  })

/** A file's last `lines` lines as lines; a missing or unreadable file has none. */
const tailLines = (file: string, lines: number) =>
  readTail(file, lines).pipe(
    Effect.map(Option.match({ onNone: (): ReadonlyArray<string> => [], onSome: splitLines })),
    Effect.orElseSucceed((): ReadonlyArray<string> => [])
  )

// ---------------------------------------------------------------------------------------------
// A job's output
// ---------------------------------------------------------------------------------------------

export interface ReadOutputOptions {
  /** Only the last N lines (default: the whole file). */
  readonly tail?: number | undefined
  /** The array element whose output to read (array jobs need one, single jobs take none). */
  readonly index?: number | undefined
}

/** Whether a job, or the element `index` of it, has ended (so its logs will not grow). */
export const endedAt = (record: JobRecord, index: number | undefined): boolean => {
  const status = statusOf(record, index)
  return isTerminal(record) || (status !== undefined && isTerminalStatus(status))
}

const missingProblem = (record: JobRecord, index: number | undefined): string => {
  const status: JobStatus = statusOf(record, index) ?? record.status
  const who = index === undefined ? "the job" : `element ${index}`
  return endedAt(record, index)
    ? `${who} ended ${isTerminalStatus(status) ? status : record.status} and the file is not there: it was never written, or was deleted`
    : `not written yet: ${who} has not ended (it is ${status}); try again once it runs`
}

/**
 * A job's stdout or stderr (of array element `index` for an array job), the last `tail` lines
 * when asked: hpc-runner's `read_stdout(tail=20)` / `read_stderr`. Fails with OutputNotFound when
 * the job has no such log recorded, the index is missing or not one of its elements, or the file
 * is not there (not written yet, or deleted once the job ended).
 */
export const readOutput: (
  record: JobRecord,
  stream: "stdout" | "stderr",
  options?: ReadOutputOptions
) => Effect.Effect<string, OutputNotFound | PlatformError, FileSystem.FileSystem | Schedulers> = Effect.fn(
  "Diagnosis.readOutput"
)(function*(record: JobRecord, stream: "stdout" | "stderr", options: ReadOutputOptions = {}) {
  const { index, tail } = options
  const found = logPath(yield* Schedulers, record, stream, index)
  if (Either.isLeft(found)) return yield* new OutputNotFound({ jobId: record.jobId, stream, problem: found.left })
  const file = found.right
  const size = yield* fileSize(file)
  if (Option.isNone(size)) {
    return yield* new OutputNotFound({ jobId: record.jobId, stream, path: file, problem: missingProblem(record, index) })
  }
  const start = tail === undefined ? 0 : yield* tailStart(file, size.value, Math.max(0, Math.floor(tail)))
  return yield* readRange(file, start, size.value)
})

// ---------------------------------------------------------------------------------------------
// Expected outputs
// ---------------------------------------------------------------------------------------------

/** Whether a path segment holds glob syntax (`*`, `?`, or a `[...]` set as Glob.ts reads it). */
const hasGlob = (segment: string): boolean => /[*?]|\[.+\]/.test(segment)

/**
 * The files and directories that match an absolute glob. Each path segment may be a glob (`*`,
 * `?`, `[abc]`, `[!a-z]`; `**` is a `*` within one segment, not a recursive walk); directories are
 * listed only where a segment is a glob, and as in a shell a wildcard does not match a name
 * starting with "." unless the segment does. A directory that cannot be read matches nothing.
 */
const globMatches = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  absolute: string,
  listings: Map<string, ReadonlyArray<string>>
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const root = path.parse(absolute).root
    const segments = absolute.slice(root.length).split(path.sep).filter((s) => s.length > 0 && s !== ".")
    const existing = (paths: ReadonlyArray<string>) =>
      Effect.filter(paths, (p) => fs.exists(p).pipe(Effect.orElseSucceed(() => false)))
    if (!segments.some(hasGlob)) return yield* existing([absolute])
    const list = (dir: string) =>
      Effect.gen(function*() {
        const cached = listings.get(dir)
        if (cached !== undefined) return cached
        const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
        listings.set(dir, names)
        return names
      })
    let candidates: ReadonlyArray<string> = [root]
    let listed = false // whether every candidate is known to exist (it came from a listing)
    for (const segment of segments) {
      if (!hasGlob(segment)) {
        candidates = candidates.map((c) => path.join(c, segment))
        listed = false
        continue
      }
      const re = globToRegExp(segment)
      const next: Array<string> = []
      for (const dir of candidates) {
        for (const name of yield* list(dir)) {
          if (name.startsWith(".") && !segment.startsWith(".")) continue
          if (re.test(name)) next.push(path.join(dir, name))
        }
      }
      candidates = next
      listed = true
      if (candidates.length === 0) return []
    }
    return listed ? candidates : yield* existing(candidates)
  })

/** How one expected-output pattern stands: nothing matches it, this run wrote it, or only older files match. */
type OutputCheck =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Written" }
  | { readonly _tag: "Stale"; readonly file: string; readonly lastWritten: Date }

/**
 * Whether the files matching a pattern were written by this run: one file last written at or after
 * `since` (milliseconds), or a matching directory, is enough; when all are older the newest is
 * named. Without `since` any match is enough. A file whose modification time cannot be read counts
 * as written, one that is gone by the time it is looked at as not there.
 */
const judgeMatches = (
  fs: FileSystem.FileSystem,
  matches: ReadonlyArray<string>,
  since: number | undefined
): Effect.Effect<OutputCheck> =>
  Effect.gen(function*() {
    if (matches.length > 0 && since === undefined) return { _tag: "Written" }
    let newest: { readonly file: string; readonly lastWritten: Date } | undefined
    for (const file of matches) {
      const info = yield* Effect.option(fs.stat(file))
      if (Option.isNone(info)) continue
      const lastWritten = Option.getOrUndefined(info.value.mtime)
      // A directory's time changes only when entries are added or removed, not when a file in it
      // is rewritten: it counts by being there.
      if (info.value.type === "Directory" || lastWritten === undefined) return { _tag: "Written" }
      if (since === undefined || lastWritten.getTime() >= since) return { _tag: "Written" }
      if (newest === undefined || lastWritten.getTime() > newest.lastWritten.getTime()) newest = { file, lastWritten }
    }
    return newest === undefined ? { _tag: "Missing" } : { _tag: "Stale", ...newest }
  })

/**
 * The time a job's (or its array element `index`'s) expected outputs must be written at or after:
 * the element's start, else the job's start, else the element's or the job's submit time; none
 * when the record knows neither.
 */
export const outputsSince = (
  record: JobRecord,
  index: number | undefined
): { readonly at: Date; readonly from: "start" | "submit" } | undefined => {
  const element = index === undefined ? undefined : record.elements?.find((e) => e.index === index)
  const started = element?.startTime ?? record.startTime
  if (started !== undefined) return { at: started, from: "start" }
  const submitted = element?.submitTime ?? record.submitTime
  return submitted === undefined ? undefined : { at: submitted, from: "submit" }
}

/** What the files a job left say about its expected outputs. */
export interface ExpectedOutputs {
  /** The patterns this run did not produce, as written (a `{index}` pattern filled in per element). */
  readonly missing: ReadonlyArray<string>
  /** Those of `missing` that only files older than the job (or its element) match. */
  readonly stale: ReadonlyArray<StaleOutput>
}

/**
 * Which expected-output patterns a job produced. Patterns are globs or plain paths, relative to
 * the job's work directory (the current directory when it has none) unless absolute; see
 * `globMatches` for the glob syntax. A `{index}` pattern of an array job is filled in for each
 * element; one of a job that is not an array is checked as written.
 *
 * A pattern is produced when a matching file was last written at or after the job's start (an
 * array element's own start for a `{index}` pattern, when known), or its submit time when the
 * start is not known (see {@link outputsSince}). That time is first floored to the whole second:
 * Slurm, LSF and SGE report start times in whole seconds, and some filesystems keep modification
 * times only to the second, so a file written in the same second the job started counts as new.
 * A pattern matched only by older files (left by an earlier run) is missing, and named in `stale`.
 * A matching directory counts by being there. With neither time known any match counts.
 */
export const expectedOutputs: (
  record: JobRecord,
  patterns: ReadonlyArray<string>
) => Effect.Effect<ExpectedOutputs, never, FileSystem.FileSystem | Path.Path> = Effect.fn(
  "Diagnosis.expectedOutputs"
)(function*(record: JobRecord, patterns: ReadonlyArray<string>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const listings = new Map<string, ReadonlyArray<string>>()
  const missing: Array<string> = []
  const stale: Array<StaleOutput> = []
  const seen = new Set<string>()
  const base = path.resolve(record.workDir ?? ".")
  for (const pattern of patterns) {
    const filled: ReadonlyArray<readonly [string, number | undefined]> =
      pattern.includes(indexPlaceholder) && record.array !== undefined
        ? arrayIndices(record.array).map((i) => [pattern.split(indexPlaceholder).join(String(i)), i] as const)
        : [[pattern, undefined]]
    for (const [p, index] of filled) {
      if (seen.has(p)) continue
      seen.add(p)
      const absolute = path.isAbsolute(p) ? path.normalize(p) : path.resolve(base, p)
      const since = outputsSince(record, index)
      const sinceMillis = since === undefined ? undefined : Math.floor(since.at.getTime() / 1000) * 1000
      const check = yield* judgeMatches(fs, yield* globMatches(fs, path, absolute, listings), sinceMillis)
      if (check._tag === "Written") continue
      missing.push(p)
      if (check._tag === "Stale" && since !== undefined) {
        const file = path.isAbsolute(p) ? check.file : path.relative(base, check.file)
        stale.push({ pattern: p, file, lastWritten: check.lastWritten, since: since.at, from: since.from })
      }
    }
  }
  return { missing, stale }
})

/**
 * The expected-output patterns a job did not produce, as written: those matching no file and those
 * matched only by files older than the job (see {@link expectedOutputs}, which also says which
 * files those are).
 */
export const checkExpectedOutputs = (
  record: JobRecord,
  patterns: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.map(expectedOutputs(record, patterns), (found) => found.missing)

// ---------------------------------------------------------------------------------------------
// Log checks
// ---------------------------------------------------------------------------------------------

interface ScanSettings {
  readonly patterns: ReadonlyArray<RegExp>
  readonly whitelist: ReadonlyArray<string>
  readonly threshold: number
}

/**
 * The log check's settings, the config's where it says nothing. Patterns that are not valid
 * regular expressions are left out with a warning (validate them up front with compilePatterns).
 */
const scanSettings = (check: LogCheck | undefined, options: ConfigOptions) =>
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
const scanFiles = (files: ReadonlyArray<string>, settings: ScanSettings) =>
  Effect.gen(function*() {
    const scanner = lineScanner(settings)
    for (const file of new Set(files)) {
      for (const line of yield* tailLines(file, scannedLines)) scanner.push(line)
    }
    return scanner.result()
  })

/** A job's (or element's) stderr then stdout log paths, those it has. */
const logFiles = (schedulers: Registry, record: JobRecord, index: number | undefined): ReadonlyArray<string> =>
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

/**
 * Whether a job that just ended Done really succeeded, judged from the spec it was submitted
 * with: MissingOutput when `expectedOutputs` has patterns matching no file, or only files older
 * than the job (see {@link expectedOutputs}; those are named in its `stale`); else LogErrors (the
 * count and the first 5 lines) when it has a `logCheck` that may fail it (`fail` not false) and
 * its logs hold error lines; else undefined. A record without spec, or a spec asking for neither,
 * is undefined without touching any file.
 */
export const doneVerdict: (
  record: JobRecord,
  options: ConfigOptions
) => Effect.Effect<FailureReason | undefined, never, FileSystem.FileSystem | Path.Path | Schedulers> = Effect.fn(
  "Diagnosis.doneVerdict"
)(function*(record: JobRecord, options: ConfigOptions) {
  const spec = record.spec
  if (spec === undefined) return undefined
  if (spec.expectedOutputs !== undefined && spec.expectedOutputs.length > 0) {
    const { missing, stale } = yield* expectedOutputs(record, spec.expectedOutputs)
    if (missing.length > 0) return MissingOutput.make(stale.length === 0 ? { missing } : { missing, stale })
  }
  if (spec.logCheck !== undefined && spec.logCheck.fail !== false) {
    const found = yield* checkLogs(record, spec.logCheck, options)
    if (found.count > 0) return LogErrors.make({ count: found.count, lines: found.lines.slice(0, verdictLines) })
  }
  return undefined
})

/**
 * What a poll's observations (`seen`, by job id) make of `records`, with the Done checks: each job
 * an observation ends Done whose spec asks for checks (expected outputs, log errors) is checked
 * now, once. Returns the step to apply inside the store's `modify`: the record an observation
 * makes of the current one, Failed by its verdict where its checks fail.
 */
export const observedWithChecks = (
  records: ReadonlyArray<JobRecord>,
  seen: ReadonlyMap<string, Observation>,
  at: Date,
  options: ConfigOptions
) =>
  Effect.gen(function*() {
    const verdicts = new Map<string, FailureReason>()
    for (const record of records) {
      const o = seen.get(record.jobId)
      if (o === undefined || !hasDoneChecks(record.spec)) continue
      const next = applyObservation(record, o, at)
      if (next.status !== "Done") continue
      const verdict = yield* doneVerdict(next, options)
      if (verdict !== undefined) verdicts.set(record.jobId, verdict)
    }
    return (current: JobRecord, o: Observation): JobRecord => {
      const next = applyObservation(current, o, at)
      const verdict = verdicts.get(current.jobId)
      return verdict !== undefined && next.status === "Done" && current.status !== "Done"
        ? { ...next, status: "Failed", reason: verdict }
        : next
    }
  })

// ---------------------------------------------------------------------------------------------
// Failure info
// ---------------------------------------------------------------------------------------------

/**
 * Everything known about how a job ended, for people and tools (housekeeper's `failure_info`).
 * Plain data: `JSON.stringify` gives a complete document (its dates, a Vanished reason's `lastSeen`
 * and a stale output's times, as ISO strings); fields that do not apply are left out.
 */
export interface FailureInfo {
  readonly jobId: string
  readonly name: string
  readonly status: JobStatus
  readonly attempt: number
  readonly reason?: FailureReason | undefined
  /** The reason in words ("exit code 3", "out of memory"). */
  readonly summary?: string | undefined
  readonly exitCode?: number | undefined
  /** The signal that ended it ("SIGKILL"), from a Signalled reason. */
  readonly signal?: string | undefined
  /**
   * When the scheduler (not the command) ended it: "timeout", "out_of_memory", "node_failure",
   * "preempted", "cancelled" (or "cancelled by {who}"), "vanished" or "scheduler_failure".
   */
  readonly schedulerReason?: string | undefined
  /** An array job's elements that ended Failed or Killed. */
  readonly failedElements?: ReadonlyArray<number> | undefined
  /** For an array job: the element whose logs are shown (the first failed one, else the first). */
  readonly element?: number | undefined
  readonly stdoutPath?: string | undefined
  readonly stderrPath?: string | undefined
  /** The last lines of the log (undefined when the file is not there). */
  readonly stdoutTail?: string | undefined
  readonly stderrTail?: string | undefined
  /** Error lines of the logs (the job's logCheck settings, else the config's): the first 50. */
  readonly errorLines: ReadonlyArray<string>
  /** How many error lines in all. */
  readonly errorCount: number
  /**
   * The spec's expectedOutputs that the job did not produce: matching no file, or only files older
   * than the job (only when it has some).
   */
  readonly missingOutputs?: ReadonlyArray<string> | undefined
  /** Those of `missingOutputs` that only older files match: which files, and when they were written. */
  readonly staleOutputs?: ReadonlyArray<StaleOutput> | undefined
}

export interface FailureInfoOptions {
  /** How many lines of each log to show (default 20). */
  readonly tail?: number | undefined
}

/** A plain word for a failure the scheduler (not the job's command) decided, undefined otherwise. */
export const schedulerReasonOf = (reason: FailureReason | undefined): string | undefined => {
  switch (reason?._tag) {
    case "Timeout":
      return "timeout"
    case "OutOfMemory":
      return "out_of_memory"
    case "NodeFailure":
      return "node_failure"
    case "Preempted":
      return "preempted"
    case "Cancelled":
      return reason.by === undefined ? "cancelled" : `cancelled by ${reason.by}`
    case "Vanished":
      return "vanished"
    case "SchedulerFailure":
      return "scheduler_failure"
    case "NoArrayElements":
      return "no_array_elements"
    default:
      return undefined
  }
}

/** Drops the keys whose value is undefined (so the object prints as it reads). */
const defined = <A extends object>(a: A): A =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as A

/**
 * How a job ended, with the evidence: its reason in words, exit code or signal, what the
 * scheduler said, the last `tail` lines (default 20) of its logs, the error lines in them and the
 * expected outputs that are missing (or stale: only files older than the job match). For an array job the logs are the first failed element's
 * (named in `element`), and `failedElements` lists every failed one. Never fails: what cannot be
 * read is left out.
 */
export const failureInfo: (
  record: JobRecord,
  options: ConfigOptions,
  infoOptions?: FailureInfoOptions
) => Effect.Effect<FailureInfo, never, FileSystem.FileSystem | Path.Path | Schedulers> = Effect.fn("Diagnosis.failureInfo")(
  function*(record: JobRecord, options: ConfigOptions, infoOptions: FailureInfoOptions = {}) {
    const tail = Math.max(0, Math.floor(infoOptions.tail ?? 20))
    const failed = record.array === undefined ? undefined : failedElementIndices(record)
    const element = record.array === undefined ? undefined : failed?.[0] ?? arrayIndices(record.array)[0]
    const elementRecord: ArrayElement | undefined = element === undefined
      ? undefined
      : record.elements?.find((e) => e.index === element)
    // The job's own reason; for an array, its element's where the job's says less.
    const reason = record.reason
    const detail = reason === undefined || reason._tag === "ElementsFailed" ? elementRecord?.reason ?? reason : reason
    const schedulers = yield* Schedulers
    const path = (stream: "stdout" | "stderr") => Either.getOrUndefined(logPath(schedulers, record, stream, element))
    const stdoutPath = path("stdout")
    const stderrPath = path("stderr")
    const tailOf = (file: string | undefined) =>
      file === undefined
        ? Effect.succeed(undefined)
        : readTail(file, tail).pipe(Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
    const settings = yield* scanSettings(record.spec?.logCheck, options)
    const scanned = yield* scanFiles(logFiles(schedulers, record, element), settings)
    const expected = record.spec?.expectedOutputs
    const outputs = expected === undefined ? undefined : yield* expectedOutputs(record, expected)
    const exitCode = record.exitCode ?? (detail?._tag === "NonZeroExit" ? detail.exitCode : elementRecord?.exitCode)
    return defined<FailureInfo>({
      jobId: record.jobId,
      name: record.name,
      status: record.status,
      attempt: attemptOf(record),
      reason,
      summary: reason === undefined ? undefined : describeReason(reason),
      exitCode,
      signal: detail?._tag === "Signalled" ? detail.signal : undefined,
      schedulerReason: schedulerReasonOf(detail),
      failedElements: failed,
      element,
      stdoutPath,
      stderrPath,
      stdoutTail: yield* tailOf(stdoutPath),
      stderrTail: yield* tailOf(stderrPath),
      errorLines: scanned.lines,
      errorCount: scanned.count,
      missingOutputs: outputs?.missing,
      staleOutputs: outputs === undefined || outputs.stale.length === 0 ? undefined : outputs.stale
    })
  }
)
