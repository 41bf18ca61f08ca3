/**
 * Where a job's logs are (each element's, for an array job), as read and as shown, and every file
 * a job may have left, as its scheduler says.
 */
import type { Path } from "@effect/platform"
import { Either } from "effect"
import type { JobRecord as JobRecordType, JobStatus as JobStatusType } from "../../Domain.js"
import { arrayIndices } from "../../Domain.js"
import type { LogPathRule, Registry } from "../../Scheduler.js"
import { indexPlaceholder, schedulerNamed } from "../../Scheduler.js"

/** The log path rule of a job's scheduler, if it has one. */
const ruleOf = (schedulers: Registry, record: JobRecordType): LogPathRule | undefined =>
  schedulerNamed(schedulers, record.executor)?.logPath

/** A log path template with an element's index filled in (`{index}`, then the scheduler's own patterns). */
const fillPath = (rule: LogPathRule | undefined, template: string, index: number | undefined): string => {
  const filled = index === undefined ? template : template.split(indexPlaceholder).join(String(index))
  return rule === undefined ? filled : rule.fill(filled, index)
}

/**
 * Where a job's stdout or stderr goes; for an array job, where element `index`'s goes (an array
 * job needs an index, a single job takes none). `schedulers` say how their own patterns in a path
 * read (Slurm's `%a`). Left: why there is no such path.
 */
export const logPath = (
  schedulers: Registry,
  record: JobRecordType,
  stream: "stdout" | "stderr",
  index?: number
): Either.Either<string, string> => {
  const template = stream === "stdout" ? record.stdoutPath : record.stderrPath
  if (template === undefined) return Either.left(`job ${record.jobId} has no ${stream} log recorded`)
  if (record.array === undefined) {
    return index === undefined
      ? Either.right(fillPath(ruleOf(schedulers, record), template, undefined))
      : Either.left(`job ${record.jobId} is not an array job: it has no element ${index}`)
  }
  const first = record.array.start
  const range = `${first}-${record.array.end}${(record.array.step ?? 1) === 1 ? "" : `:${record.array.step}`}`
  if (index === undefined) {
    return Either.left(`job ${record.jobId} is an array job (elements ${range}): say which element's log`)
  }
  const step = record.array.step ?? 1
  if (index < first || index > record.array.end || (index - first) % step !== 0) {
    return Either.left(`job ${record.jobId} has no element ${index} (its elements are ${range})`)
  }
  return Either.right(fillPath(ruleOf(schedulers, record), template, index))
}

/**
 * Where a job's stdout or stderr goes, as shown to a person: a single job's real path; for an
 * array job, the path with `{index}` where each element's index goes, whatever the scheduler's
 * own pattern for it (Slurm's `%a`). Undefined when no such log is recorded.
 */
export const shownLogPath = (
  schedulers: Registry,
  record: JobRecordType,
  stream: "stdout" | "stderr"
): string | undefined => {
  const template = stream === "stdout" ? record.stdoutPath : record.stderrPath
  if (template === undefined) return undefined
  const rule = ruleOf(schedulers, record)
  return record.array === undefined || rule === undefined ? fillPath(rule, template, undefined) : rule.shown(template)
}

/** The status of a job, or of one of its array elements (undefined: the element was never seen). */
export const statusOf = (record: JobRecordType, index?: number): JobStatusType | undefined =>
  index === undefined ? record.status : record.elements?.find((e) => e.index === index)?.status

// ---------------------------------------------------------------------------------------------
// Cleaning up
// ---------------------------------------------------------------------------------------------

/** Which element indices a job's files may exist for: none for a single job. */
const elementIndices = (record: JobRecordType): ReadonlyArray<number> | undefined => {
  if (record.array === undefined) return undefined
  const seen = (record.elements ?? []).map((e) => e.index)
  return Array.from(new Set([...arrayIndices(record.array), ...seen]))
}

/**
 * Every file a job may have left: its script, its stdout and stderr logs (each element's, for an
 * array), and the files its scheduler says its jobs leave (the local wrapper's pid and exit files).
 */
export const jobFiles = (
  schedulers: Registry,
  record: JobRecordType,
  path: Pick<Path.Path, "dirname" | "join">
): ReadonlyArray<string> => {
  const files: Array<string> = []
  if (record.scriptPath !== undefined) files.push(record.scriptPath)
  const indices = elementIndices(record)
  const add = (found: Either.Either<string, string>) => {
    if (Either.isRight(found)) files.push(found.right)
  }
  for (const stream of ["stdout", "stderr"] as const) {
    if (indices === undefined) add(logPath(schedulers, record, stream))
    else for (const i of indices) add(logPath(schedulers, record, stream, i))
  }
  files.push(...(schedulerNamed(schedulers, record.executor)?.jobFiles?.(record, path) ?? []))
  return Array.from(new Set(files))
}
