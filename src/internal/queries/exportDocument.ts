/**
 * The jobs export document (what `cluster-api export` writes and `import` reads): its Schema,
 * and reading one from text with every problem said where it is.
 */
import { Either, ParseResult, Schema } from "effect"
import { FailureReason, JobRecord, JobStatus } from "../../Domain.js"
import { InvalidImport } from "../../Errors.js"

/** What `format` says in every jobs export. */
export const exportFormat = "cluster-api-jobs"

/** The version of the export document this cluster-api writes and reads. */
export const exportVersion = 1

/** One status change as exported (`at` as an ISO string). */
export const TransitionEntry = Schema.Struct({
  at: Schema.Date,
  from: Schema.optional(JobStatus),
  to: JobStatus,
  reason: Schema.optional(FailureReason)
})

/** A job with its whole history, as exported. */
export const ExportedJob = Schema.Struct({
  record: JobRecord,
  transitions: Schema.Array(TransitionEntry)
})

/**
 * A jobs export: `{ format: "cluster-api-jobs", version: 1, exportedAt, jobs: [{ record,
 * transitions }] }`, every date an ISO string. What `cluster-api export` writes and `import` reads.
 */
export const ExportDocument = Schema.Struct({
  format: Schema.Literal(exportFormat),
  version: Schema.Literal(exportVersion),
  exportedAt: Schema.Date,
  jobs: Schema.Array(ExportedJob)
})
export type ExportDocument = typeof ExportDocument.Type

/** The document as JSON-ready data (dates as ISO strings). */
export const encodeExport: (document: ExportDocument) => typeof ExportDocument.Encoded = Schema.encodeSync(
  ExportDocument
)

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const show = (u: unknown): string => {
  const text = Array.isArray(u) ? "a list" : isRecord(u) ? "an object" : JSON.stringify(u) ?? String(u)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** `jobs[2].record.status` for a parse issue's path ("the document" for the top). */
const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "the document"
    : path.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`)).join("")

/**
 * Checks an export document (parsed JSON): the decoded document, or every problem found, each
 * saying where (`jobs[2].record.status: Expected "Pending" | …, actual "Bogus"`).
 */
export const decodeExport = (document: unknown): Either.Either<ExportDocument, ReadonlyArray<string>> => {
  if (!isRecord(document)) {
    return Either.left([`the document: expected an object with format "${exportFormat}", got ${show(document)}`])
  }
  if (document.format !== exportFormat) {
    return Either.left([
      `format: expected "${exportFormat}", got ${show(document.format)} (this is not a cluster-api jobs export)`
    ])
  }
  if (typeof document.version === "number" && document.version > exportVersion) {
    return Either.left([
      `version: the file is version ${document.version}, written by a newer cluster-api; this one reads version ${exportVersion}`
    ])
  }
  return Schema.decodeUnknownEither(ExportDocument)(document, { errors: "all" }).pipe(
    Either.mapLeft((error) => mergeAlternatives(ParseResult.ArrayFormatter.formatErrorSync(error)))
  )
}

const EXPECTED = /^Expected (.*), actual (.*)$/s

/**
 * Problem lines from parse issues; the issues a union of literals reports one alternative at a
 * time become one line: `status: Expected "Pending" | "Running" | …, actual "Bogus"`.
 */
const mergeAlternatives = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): ReadonlyArray<string> => {
  const lines: Array<{ where: string; expected: Array<string>; actual: string } | string> = []
  for (const issue of issues) {
    const where = pathText(issue.path)
    const m = EXPECTED.exec(issue.message)
    const last = lines[lines.length - 1]
    if (m !== null && typeof last === "object" && last.where === where && last.actual === m[2]) {
      last.expected.push(m[1]!)
    } else if (m !== null) lines.push({ where, expected: [m[1]!], actual: m[2]! })
    else lines.push(`${where}: ${issue.message}`)
  }
  return lines.map((l) =>
    typeof l === "string" ? l : `${l.where}: Expected ${l.expected.join(" | ")}, actual ${l.actual}`
  )
}

/** Parses the text of an export file as JSON (not yet checked); `source` names the file in the error. */
export const parseJson = (text: string, source: string): Either.Either<unknown, InvalidImport> => {
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch (e) {
    return Either.left(
      new InvalidImport({ source, problems: [`not JSON: ${e instanceof Error ? e.message : String(e)}`] })
    )
  }
}

/** Parses and checks the text of an export file ({@link parseJson}, then {@link decodeExport}). */
export const parseExport = (text: string, source: string): Either.Either<ExportDocument, InvalidImport> =>
  Either.flatMap(
    parseJson(text, source),
    (json) => Either.mapLeft(decodeExport(json), (problems) => new InvalidImport({ source, problems }))
  )

