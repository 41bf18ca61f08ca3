/**
 * Error lines in a log (pure): which lines an error pattern matches and no whitelist entry does,
 * counted in full and the first few kept.
 */
import { Either } from "effect"
import { regexProblem } from "../jobOptions.js"

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
export const lineScanner = (options: ScanOptions) => {
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
