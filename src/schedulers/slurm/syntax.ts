/**
 * What cluster-api says to Slurm when it submits: `#SBATCH` lines, dependencies, arrays, log
 * paths, the sbatch command and its answer. Pure.
 */
import { Either } from "effect"
import type { Invocation, JobPaths, SubmitRequest } from "../../Scheduler.js"
import { submitScript } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { Dependency } from "../../Domain.js"
import { formatArraySpec } from "../../Domain.js"
import type { PreparedJob } from "../../Executor.js"
import { directiveValue } from "../../internal/script.js"
import { memoryInMegabytes } from "../../Units.js"
import { formatSlurmTime } from "../../internal/slurmTime.js"

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------


/** `afterok:1:2,afterany:3`: ids grouped by type in first-seen order; every group must be met. */
export const formatDependencies = (deps: ReadonlyArray<Dependency>): string => {
  const groups = new Map<string, Array<string>>()
  for (const d of deps) {
    const ids = groups.get(d.type) ?? []
    if (!ids.includes(d.jobId)) ids.push(d.jobId)
    groups.set(d.type, ids)
  }
  return Array.from(groups, ([type, ids]) => `${type}:${ids.join(":")}`).join(",")
}

export const logFileName = (stream: "stdout" | "stderr", isArray: boolean): string =>
  `${stream}.${isArray ? "%A_%a" : "%j"}.log`

export const directives = (job: PreparedJob, paths: JobPaths, _options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [
    `--job-name=${directiveValue(job.name)}`,
    `--output=${directiveValue(paths.stdout)}`,
    `--error=${directiveValue(paths.stderr)}`,
    `--chdir=${directiveValue(paths.runDir)}`
  ]
  if (r.nodes !== undefined) lines.push(`--nodes=${r.nodes}`)
  if (r.cpus !== undefined) lines.push(`--cpus-per-task=${r.cpus}`)
  if (r.memoryBytes !== undefined) lines.push(`--mem=${memoryInMegabytes(r.memoryBytes)}M`)
  if (r.walltime !== undefined) lines.push(`--time=${formatSlurmTime(r.walltime)}`)
  if (r.queue !== undefined) lines.push(`--partition=${directiveValue(r.queue)}`)
  if (r.account !== undefined) lines.push(`--account=${directiveValue(r.account)}`)
  if (r.gpus !== undefined && r.gpus > 0) lines.push(`--gres=gpu:${r.gpus}`)
  if (job.array !== undefined) lines.push(`--array=${formatArraySpec(job.array)}`)
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) {
    lines.push(`--dependency=${formatDependencies(deps)}`)
    // A dependency that can never be met cancels the job instead of leaving it pending forever.
    lines.push("--kill-on-invalid-dep=yes")
  }
  return [...lines, ...r.extraDirectives].map((line) => `#SBATCH ${line}`)
}

/**
 * A literal path as `--output`/`--error` must say it: sbatch expands `%j`, `%x`, `%a`, `%u`, … in
 * them, and `%%` is its literal `%`. (`--chdir` takes its path as written.)
 */
export const escapeLogPath = (path: string): string => path.replaceAll("%", "%%")

/**
 * What sbatch cannot be given in a path: in `--output`/`--error` a backslash turns its filename
 * patterns off and is dropped, so no literal backslash can be said there (the job's own `%j`
 * would stay unexpanded too).
 */
export const pathProblem = (path: string, use: "dir" | "log"): string | undefined =>
  use === "log" && path.includes("\\")
    ? `holds a backslash (${JSON.stringify(path)}), which Slurm drops from log paths (and then expands none of their %j patterns); use a path without one`
    : undefined

/**
 * The "signal" of a job whose script slurmd could not start because it could not set up the job's
 * output (it could not open the stdout or stderr file): FAILED with ExitCode `0:53`, its batch
 * step CANCELLED `0:53`, and `Reason=JobLaunchFailure` in scontrol (recorded on Slurm 22.05).
 */
export const launchFailureSignal = 53

/** What a job that ended with `launchFailureSignal` is told. */
export const launchFailureDetail =
  "Slurm could not start the job's script: slurmd could not set up its output (exit code 0:53), as when the stdout or stderr file cannot be opened; check that the log paths' directories exist and are writable"

/**
 * sbatch's filename patterns known at submit time: `%j`/`%J` and `%A` (the job id), `%x` (the
 * name), `%%`. `%a` (the element's index) stays for each element to fill in.
 */
export const resolveLogPath = (template: string, jobId: string, name: string): string =>
  template.replace(/%(%|[jJAx])/g, (_, c: string) => c === "%" ? "%%" : c === "x" ? name : jobId)

/**
 * A recorded log path with sbatch's remaining patterns read: `%a` is element `index`'s index
 * (kept as `%a` without one), `%%` a percent sign.
 */
export const fillLogPath = (path: string, index: number | undefined): string =>
  path.replace(/%(%|a)/g, (_, c: string) => (c === "%" ? "%" : index === undefined ? "%a" : String(index)))

/** An array job's recorded log path as shown to a person: `%a` as `{index}`, `%%` as a percent sign. */
export const showLogPath = (path: string): string =>
  path.replace(/%(%|a)/g, (_, c: string) => (c === "%" ? "%" : "{index}"))

export const submit = (
  request: Omit<SubmitRequest, "paths">
): Invocation => {
  const args = [
    "sbatch",
    "--parsable",
    ...(request.job.inheritEnv ? [] : ["--export=NONE"]),
    ...request.job.resources.extraArgs
  ]
  return submitScript(args, request)
}

/** The job id from `sbatch --parsable`: `ID` or `ID;CLUSTER` on the last line. */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  const last = lines[lines.length - 1]
  const m = last === undefined ? null : /^(\d+)(?:;\S+)?$/.exec(last)
  return m?.[1] !== undefined
    ? Either.right(m[1])
    : Either.left(`sbatch printed no job id (expected "ID" or "ID;CLUSTER"): ${JSON.stringify(stdout.trim())}`)
}
