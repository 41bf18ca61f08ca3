/**
 * What cluster-api says to LSF when it submits: `#BSUB` lines, job names, dependencies, log
 * paths, the bsub command and its answer. Pure.
 */
import { Either } from "effect"
import type { Invocation, JobPaths, SubmitRequest } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { Dependency } from "../../Domain.js"
import type { PreparedJob } from "../../Executor.js"
import { indexPlaceholder } from "../../Scheduler.js"
import { directiveQuote, directiveValue, skipDirectives } from "../../internal/script.js"
import { bytesIn, formatHM } from "../../Units.js"

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/**
 * `-J` for a job or an array: `name`, or `"name[1-50:2]%15"`. LSF's slot limit (at most that
 * many elements run at once) follows the closing bracket.
 */
export const formatJobName = (name: string, array: PreparedJob["array"]): string => {
  if (array === undefined) return directiveValue(name)
  const step = array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""
  const limit = array.maxConcurrent !== undefined ? `%${array.maxConcurrent}` : ""
  return directiveQuote(`${name}[${array.start}-${array.end}${step}]${limit}`)
}

const conditions: Readonly<Record<Dependency["type"], string>> = {
  afterok: "done",
  afternotok: "exit",
  afterany: "ended"
}

/** `done(1) && exit(2) && ended(3)`: every condition must be met. */
export const formatDependencies = (deps: ReadonlyArray<Dependency>): string => {
  const seen = new Set<string>()
  const parts: Array<string> = []
  for (const d of deps) {
    const part = `${conditions[d.type]}(${d.jobId})`
    if (seen.has(part)) continue
    seen.add(part)
    parts.push(part)
  }
  return parts.join(" && ")
}

/** Default log names: `stdout.%J.log`, or `stdout.%J.%I.log` for an array's elements. */
export const logFileName = (stream: "stdout" | "stderr", isArray: boolean): string =>
  `${stream}.${isArray ? "%J.%I" : "%J"}.log`

/**
 * `#BSUB` lines in LSF's order: name, logs, queue, slots, GPUs, memory (`-M` and an rusage
 * reservation, in `lsf_units` rounded up), walltime (`[HH:]MM`, rounded up to the minute),
 * directory, project, dependencies, then the job's own extra directives. Lines holding any of
 * `directives_skip` are left out.
 */
export const directives = (job: PreparedJob, paths: JobPaths, options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [
    `-J ${formatJobName(job.name, job.array)}`,
    `-o ${directiveQuote(paths.stdout)}`,
    `-e ${directiveQuote(paths.stderr)}`
  ]
  if (r.queue !== undefined) lines.push(`-q ${directiveValue(r.queue)}`)
  if (r.cpus !== undefined) {
    lines.push(`-n ${r.cpus}`)
    // Several slots of one job on one host, as a multi-threaded program needs.
    if (r.cpus > 1) lines.push(`-R "span[hosts=1]"`)
  }
  if (r.gpus !== undefined && r.gpus > 0) lines.push(`-gpu "num=${r.gpus}"`)
  if (r.memoryBytes !== undefined) {
    const amount = bytesIn(r.memoryBytes, options.lsf_units)
    lines.push(`-M ${amount}`, `-R "rusage[mem=${amount}]"`)
  }
  if (r.walltime !== undefined) lines.push(`-W ${formatHM(r.walltime)}`)
  lines.push(`-cwd ${directiveQuote(paths.runDir)}`)
  if (r.account !== undefined) lines.push(`-P ${directiveValue(r.account)}`)
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) {
    lines.push(`-w ${directiveQuote(formatDependencies(deps))}`)
    // A dependency that can never be met ends the job (EXIT) instead of leaving it pending forever.
    lines.push("-ti")
  }
  return skipDirectives([...lines, ...r.extraDirectives].map((line) => `#BSUB ${line}`), options.directives_skip)
}

/**
 * What bsub cannot be given in a path: it expands `%J`, `%I` in `-o`/`-e` and `%J`, `%I`, `%U`,
 * `%G`, `%P`, `%H`, … in `-cwd`, and has no escape for a literal `%`.
 */
export const pathProblem = (path: string, use: "dir" | "log"): string | undefined =>
  path.includes("%")
    ? `holds a % (${JSON.stringify(path)}), which LSF reads as a pattern (%J, %I, %U, …) in ${
      use === "dir" ? "-cwd" : "-o and -e"
    } and cannot escape; use a path without %`
    : undefined

/**
 * bsub's filename patterns known at submit time: `%J` (the job id). `%I` (the element's index)
 * becomes the `{index}` placeholder each element fills in.
 */
export const resolveLogPath = (template: string, jobId: string, _name: string): string =>
  template.replace(/%([JI])/g, (_, c: string) => c === "J" ? jobId : indexPlaceholder)

/**
 * `bsub [-env none] [-L shell] [extra args] < script`: `-env none` when the job must not inherit
 * this process's environment (its own env is in the script as `export` lines), `-L` with the
 * shebang's shell for a login shell, the config's extra args, then the job's; the script always
 * on stdin, never as a path, even with `use_stdin: false`: LSF reads the `#BSUB` lines (name,
 * logs, resources, dependencies, array) of a script given as a path only when lsf.conf sets
 * `LSB_BSUB_PARSE_SCRIPT=Y`, which is off by default. The script file stays on disk all the same.
 * `LSB_JOB_REPORT_MAIL=N` stops LSF mailing a report per job.
 */
export const submit = (request: Omit<SubmitRequest, "paths">): Invocation => {
  const { job } = request

  const args = [
    "bsub",
    ...(job.inheritEnv ? [] : ["-env", "none"]),
    ...(job.loginShell === undefined ? [] : ["-L", job.loginShell.shell]),
    ...job.resources.extraArgs
  ]
  const env = request.options.suppress_job_email ? { LSB_JOB_REPORT_MAIL: "N" } : undefined
  return { argv: args, stdin: request.script, ...(env === undefined ? {} : { env }) }
}

/** The job id from `Job <ID> is submitted to queue <Q>.` (or `… to default queue <Q>.`). */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const m = /Job <(\d+)> is submitted to (?:default )?queue\b/.exec(stdout)
  return m?.[1] !== undefined
    ? Either.right(m[1])
    : Either.left(
      `bsub printed no job id (expected "Job <ID> is submitted to queue <QUEUE>."): ${JSON.stringify(stdout.trim())}`
    )
}
