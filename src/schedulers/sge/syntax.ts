/**
 * What cluster-api says to Grid Engine when it submits: `#$` lines, log paths, arrays, memory,
 * the hold that gates a dependency, the qsub command and its answer. Pure.
 */
import { Either } from "effect"
import type { Invocation, JobPaths, SubmitRequest } from "../../Scheduler.js"
import { submitScript } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { Dependency } from "../../Domain.js"
import type { PreparedJob } from "../../Executor.js"
import { indexPlaceholder } from "../../Scheduler.js"
import { directiveValue, scriptShell, skipDirectives } from "../../internal/script.js"
import { formatHMS } from "../../Units.js"

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/**
 * A path on a `#$` line: SGE expands `$JOB_ID`, `$TASK_ID`, `$JOB_NAME` (and `$HOME`, `$USER`,
 * `$HOSTNAME`) in log paths itself, so a `$` is left alone (a user's path holding one is refused,
 * see `pathProblem`); a path with spaces or quotes is double-quoted.
 */
export const directivePath = (path: string): string =>
  /^[\w@%+=:,./$-]+$/.test(path) ? path : `"${path.replace(/(["\\])/g, "\\$1")}"`

/**
 * What qsub cannot be given in a path: it expands `$JOB_ID`, `$TASK_ID`, `$JOB_NAME`, `$HOME`,
 * `$USER`, `$HOSTNAME` in `-o`, `-e` and `-wd` (a prefix is enough: `$USERx` is the user then
 * `x`) with no escape for a literal `$`; its `#$` lines drop quotes of both kinds, keep
 * backslashes and end at a `#` (recorded on Son of Grid Engine 8.1.9: `-wd "/a 'q' \"d\" #"` is
 * read as `/a q \d\`), so no quote, backslash or `#` can be said; in `-o`/`-e` a `:` names a
 * host and a `,` starts another path.
 */
export const pathProblem = (path: string, use: "dir" | "log"): string | undefined => {
  const option = use === "dir" ? "-wd" : "-o and -e"
  if (path.includes("$")) {
    return `holds a $ (${JSON.stringify(path)}), which SGE expands in ${option} ($JOB_ID, $USER, $HOME, …) and cannot escape; use a path without $`
  }
  const unsaid = /['"\\#]/.exec(path)?.[0]
  if (unsaid !== undefined) {
    return `holds ${JSON.stringify(unsaid)} (${JSON.stringify(path)}), which SGE's #$ lines cannot carry (quotes are dropped, # ends the line); use a path without quotes, backslashes or #`
  }
  const special = use === "log" ? /[:,]/.exec(path)?.[0] : undefined
  return special === undefined ? undefined : `holds ${special === ":" ? "a colon, which SGE reads as host:path" : "a comma, which SGE reads as a list of paths"} in -o and -e (${JSON.stringify(path)}); use a path without one`
}

/** Default log names: `stdout.$JOB_ID.log`, or `stdout.$JOB_ID.$TASK_ID.log` for an array's elements. */
export const logFileName = (stream: "stdout" | "stderr", isArray: boolean): string =>
  `${stream}.${isArray ? "$JOB_ID.$TASK_ID" : "$JOB_ID"}.log`

/** SGE's own expansions in log paths known at submit: `$JOB_ID`, `$JOB_NAME`; `$TASK_ID` stays for each element. */
export const resolveLogPath = (template: string, jobId: string, name: string): string =>
  template.replace(/\$(JOB_ID|JOB_NAME|TASK_ID)\b/g, (_, v: string) =>
    v === "JOB_ID" ? jobId : v === "JOB_NAME" ? name : indexPlaceholder)

/** `-t 1-10` or `-t 1-10:2`: SGE's array range. (Its throttle is a separate `-tc`, never `%N`.) */
export const formatRange = (array: NonNullable<PreparedJob["array"]>): string =>
  `${array.start}-${array.end}${array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""}`

/** Dependencies SGE's `-hold_jid` cannot say: it runs a dependent once the other job ended, however. */
export const gated = (dependency: Dependency): boolean => dependency.type !== "afterany"

/** Memory per slot, in whole megabytes rounded up: SGE's memory resources count per slot. */
export const memoryPerSlot = (bytes: number, slots: number): string =>
  `${Math.max(1, Math.ceil(bytes / slots / (1024 * 1024)))}M`

/**
 * `#$` lines: name, logs (`-j y` when both streams go to one file), directory, shell, array range
 * and throttle, parallel environment (`-pe <sge_parallel_environment> N` when cpus > 1), memory
 * as `-l <sge_memory_resource>=…` per slot, walltime `-l h_rt`, GPUs, queue, project, environment
 * (`-V`), dependencies (`-hold_jid`, and `-h` when the executor must gate them), then the job's
 * own extra directives. Lines holding any of `directives_skip` are left out.
 */
export const directives = (job: PreparedJob, paths: JobPaths, options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [`-N ${directiveValue(job.name)}`, `-o ${directivePath(paths.stdout)}`]
  if (paths.stderr === paths.stdout) lines.push("-j y")
  else lines.push(`-e ${directivePath(paths.stderr)}`)
  lines.push(`-wd ${directivePath(paths.runDir)}`)
  const shell = scriptShell(options.shebang, job.loginShell)
  if (shell !== undefined) lines.push(`-S ${shell}`)
  if (job.array !== undefined) {
    lines.push(`-t ${formatRange(job.array)}`)
    if (job.array.maxConcurrent !== undefined) lines.push(`-tc ${job.array.maxConcurrent}`)
  }
  const slots = r.cpus ?? 1
  if (slots > 1) lines.push(`-pe ${directiveValue(options.sge_parallel_environment)} ${slots}`)
  if (r.memoryBytes !== undefined) {
    lines.push(`-l ${options.sge_memory_resource}=${memoryPerSlot(r.memoryBytes, slots)}`)
  }
  if (r.walltime !== undefined) lines.push(`-l h_rt=${formatHMS(r.walltime)}`)
  if (r.gpus !== undefined && r.gpus > 0) lines.push(`-l ${options.sge_gpu_resource}=${r.gpus}`)
  if (r.queue !== undefined) lines.push(`-q ${directiveValue(r.queue)}`)
  if (r.account !== undefined) lines.push(`-P ${directiveValue(r.account)}`)
  if (job.inheritEnv) lines.push("-V")
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) {
    lines.push(`-hold_jid ${Array.from(new Set(deps.map((d) => d.jobId))).join(",")}`)
    if (deps.some(gated)) lines.push("-h")
  }
  return skipDirectives([...lines, ...r.extraDirectives].map((line) => `#$ ${line}`), options.directives_skip)
}

/** What SGE cannot run: array indices start at 1. */
export const validate = (job: PreparedJob, _options: ConfigOptions) =>
  job.array !== undefined && job.array.start < 1
    ? {
      field: "array",
      problem: `starts at ${job.array.start}, but SGE numbers array elements from 1; start the range at 1`
    }
    : undefined

/**
 * `qsub -terse [extra args] [script]`: the config's extra args, then the job's, then the script
 * path, or no path and the script on stdin (`use_stdin`).
 */
export const submit = (request: Omit<SubmitRequest, "paths">): Invocation => {
  return submitScript(["qsub", "-terse", ...request.job.resources.extraArgs], request)
}

/** The id from `qsub -terse`: `7`, or `9.1-3:1` for an array (its id is `9`). */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const m = /^\s*(\d+)(?:\.\d+-\d+:\d+)?\s*$/m.exec(stdout)
  return m?.[1] !== undefined
    ? Either.right(m[1])
    : Either.left(`qsub printed no job id (expected "ID" from qsub -terse): ${JSON.stringify(stdout.trim())}`)
}
