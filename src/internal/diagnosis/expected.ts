/**
 * The files a job was expected to leave: which patterns match a file this run wrote, which match
 * nothing, and which only files older than the job.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option } from "effect"
import type { JobRecord, StaleOutput } from "../../Domain.js"
import { arrayIndices } from "../../Domain.js"
import { globToRegExp } from "../glob.js"
import { indexPlaceholder } from "../../Scheduler.js"

/** Whether a path segment holds glob syntax (`*`, `?`, or a `[...]` set as globToRegExp reads it). */
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
