/**
 * The wrapper every local job process is started through, and the pid and exit files it leaves
 * beside the job script.
 */
import type { JobRecord } from "../../Domain.js"
import { arrayIndices } from "../../Domain.js"

/**
 * The files the wrapper leaves beside a job script (in the script's directory, where the default
 * logs go): `job.{id}.pid` and `job.{id}.exit`, or `job.{id}.{index}.pid` / `.exit` for an array
 * element.
 */
export const statusFileName = (kind: "pid" | "exit", jobId: string, index?: number): string =>
  index === undefined ? `job.${jobId}.${kind}` : `job.${jobId}.${index}.${kind}`

/**
 * The shell text of the wrapper every local job process is started through. It takes its paths as
 * positional parameters (`$1` the pid file, `$2` the exit file, `$3` the job script), so no path
 * is ever parsed as shell. It writes its own pid (it leads the job's process group) to the pid
 * file, runs the script, writes the script's exit status to the exit file, and exits with that
 * status. Each file is written by one `printf` of a few bytes ending in a newline, one write with
 * no other process to start: a reader takes a file without its final newline as not written yet
 * (see `parseStatusFile`). A wrapper killed with its group (a cancel, a walltime) writes no exit file.
 */
export const wrapperScript = `printf '%d\\n' $$ > "$1"; "$3"; s=$?; printf '%d\\n' $s > "$2"; exit $s`

/** The argv that starts a job script through the wrapper (`$0` names it in the shell's own messages). */
export const wrapperArgv = (script: string, pidFile: string, exitFile: string): ReadonlyArray<string> => [
  "/bin/sh",
  "-c",
  wrapperScript,
  "cluster-api-job",
  pidFile,
  exitFile,
  script
]

/**
 * Reads the number a pid or exit file holds: undefined unless it is one non-negative integer
 * followed by its final newline. The wrapper writes the number and its newline in one write, so a
 * file read while it is being written (empty, or a number without its newline) reads as not
 * written yet.
 */
export const parseStatusFile = (text: string): number | undefined => {
  if (!text.endsWith("\n")) return undefined
  const t = text.trim()
  return /^\d{1,10}$/.test(t) ? Number(t) : undefined
}


/** Which element indices a job's status files may exist for: none for a single job. */
const fileIndices = (record: JobRecord): ReadonlyArray<number | undefined> => {
  if (record.array === undefined) return [undefined]
  const seen = (record.elements ?? []).map((e) => e.index)
  return Array.from(new Set([...arrayIndices(record.array), ...seen]))
}

/**
 * The pid and exit files a job's wrapper leaves beside its script (each element's, for an array
 * job); none for a job without a script.
 */
export const statusFiles = (
  record: JobRecord,
  path: { readonly dirname: (path: string) => string; readonly join: (...parts: Array<string>) => string }
): ReadonlyArray<string> => {
  if (record.scriptPath === undefined) return []
  const dir = path.dirname(record.scriptPath)
  return fileIndices(record).flatMap((index) => [
    path.join(dir, statusFileName("pid", record.jobId, index)),
    path.join(dir, statusFileName("exit", record.jobId, index))
  ])
}
