/**
 * What cluster-api says to PBS when it submits: `#PBS` lines, dependencies, arrays, log paths,
 * the qsub command and its answer, and the token a submission carries. Pure.
 */
import { Either } from "effect"
import type { Invocation, JobPaths, SubmitRequest } from "../../Scheduler.js"
import { scriptStemPlaceholder, submitScript } from "../../Scheduler.js"
import type { ConfigOptions } from "../../Config.js"
import type { Dependency } from "../../Domain.js"
import type { PreparedJob } from "../../Executor.js"
import { indexPlaceholder } from "../../Scheduler.js"
import { directiveValue as quotedValue, scriptShell, shellQuote, skipDirectives } from "../../internal/script.js"
import { bytesIn, formatHMS } from "../../Units.js"
import { tokenMarker } from "../Token.js"


/** Which PBS: PBS Professional / OpenPBS, or TORQUE. */
export type Flavor = ConfigOptions["pbs_flavor"]

/**
 * A value on a `#PBS` line: as it is when it is one plain word (PBS Pro's `^array_index^`
 * included), else double-quoted, which qsub reads as one value.
 */
export const directiveValue = (value: string): string =>
  /^[\w@%+=:,./^-]+$/.test(value) ? value : quotedValue(value)


// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/** The dependency types in the order they are written. */
const dependencyTypes: ReadonlyArray<Dependency["type"]> = ["afterok", "afternotok", "afterany"]

/** Whether a job id names an array (`1000[].server`). */
const isArrayId = (jobId: string): boolean => /^\d+\[\]/.test(jobId)

/**
 * The value of `-W depend=`: one group per type, each type once, its ids joined by `:`, the
 * groups joined by `,` (`afterok:1.s:2.s,afterany:3.s`). One `-W depend` line per type would be
 * wrong: PBS keeps only the last `depend` it reads. TORQUE needs the `…array` types for a
 * dependency on a whole array (`afterokarray:1000[].s`); PBS Pro takes the plain types.
 */
export const formatDependencies = (deps: ReadonlyArray<Dependency>, flavor: Flavor): string => {
  const groups = new Map<string, Array<string>>()
  for (const type of dependencyTypes) {
    for (const d of deps) {
      if (d.type !== type) continue
      const key = flavor === "torque" && isArrayId(d.jobId) ? `${type}array` : type
      const ids = groups.get(key) ?? []
      if (!ids.includes(d.jobId)) ids.push(d.jobId)
      groups.set(key, ids)
    }
  }
  return Array.from(groups, ([type, ids]) => [type, ...ids].join(":")).join(",")
}

/**
 * The array option: pro `-J start-end[:step][%max]` (subjob index in `PBS_ARRAY_INDEX`), torque
 * `-t start-end[%max]` (in `PBS_ARRAYID`; TORQUE has no step, see `validate`).
 */
export const formatArray = (array: NonNullable<PreparedJob["array"]>, flavor: Flavor): string => {
  const limit = array.maxConcurrent !== undefined ? `%${array.maxConcurrent}` : ""
  if (flavor === "torque") return `-t ${array.start}-${array.end}${limit}`
  const step = array.step !== undefined && array.step !== 1 ? `:${array.step}` : ""
  return `-J ${array.start}-${array.end}${step}${limit}`
}

/**
 * Default log names, holding the script file stem (PBS cannot put the job id in them):
 * `stdout.{script}.log`; a pro array's subjobs `stdout.{script}.^array_index^.log` (PBS Pro puts
 * each subjob's index in place of `^array_index^`). TORQUE appends `-<index>` to an array
 * subjob's log path itself, so its arrays take the plain name (see `resolveLogPath`).
 */
export const logFileName = (flavor: Flavor) => (stream: "stdout" | "stderr", isArray: boolean): string =>
  isArray && flavor === "pro"
    ? `${stream}.${scriptStemPlaceholder}.^array_index^.log`
    : `${stream}.${scriptStemPlaceholder}.log`

/**
 * A log path as it will be on disk, the element's index left as `{index}`: pro's `^array_index^`
 * becomes `{index}`; TORQUE writes subjob N's log to the given path with `-N` appended.
 */
export const resolveLogPath = (flavor: Flavor) =>
(template: string, _jobId: string, _name: string, isArray: boolean): string => {
  if (!isArray) return template
  return flavor === "pro" ? template.replaceAll("^array_index^", indexPlaceholder) : `${template}-${indexPlaceholder}`
}

/**
 * `-l` resource lines. Memory is the job's per node (as Slurm's `--mem`), in whole MiB rounded
 * up (`8192mb`: PBS's `mb` is 1024² bytes).
 * - pro: one `select` chunk per node, `select=K:ncpus=N[:mem=Xmb][:ngpus=G]`, ncpus 1 unless
 *   more are asked, and with K > 1 `place=scatter` so that each chunk gets a host of its own
 *   (PBS Pro's default `free` may pack chunks onto one host);
 * - torque: `nodes=K:ppn=N[:gpus=G]` and `mem` for the whole job (K × the per-node memory).
 */
const resourceLines = (job: PreparedJob, flavor: Flavor): Array<string> => {
  const r = job.resources
  const nodes = r.nodes ?? 1
  const cpus = r.cpus ?? 1
  const mb = r.memoryBytes === undefined ? undefined : bytesIn(r.memoryBytes, "MB")
  const gpus = r.gpus !== undefined && r.gpus > 0 ? r.gpus : undefined
  if (flavor === "pro") {
    const chunk = [
      `${nodes}`,
      `ncpus=${cpus}`,
      ...(mb === undefined ? [] : [`mem=${mb}mb`]),
      ...(gpus === undefined ? [] : [`ngpus=${gpus}`])
    ].join(":")
    return [`-l select=${chunk}`, ...(nodes > 1 ? ["-l place=scatter"] : [])]
  }
  return [
    `-l nodes=${nodes}:ppn=${cpus}${gpus === undefined ? "" : `:gpus=${gpus}`}`,
    ...(mb === undefined ? [] : [`-l mem=${mb * nodes}mb`])
  ]
}

/**
 * `#PBS` lines, in this order:
 * - `-N name`;
 * - logs: `-o path` and `-e path`, or `-j oe` and `-o path` when both streams go to one file;
 * - pro `-k oed`: PBS Pro otherwise spools the logs on the execution host and copies them at the
 *   end, so nothing could be read while the job runs (`d`, direct write, is in PBS Pro 19.4 and
 *   OpenPBS; drop it with `directives_skip: ["-k oed"]` on an older server);
 * - `-m n` with `suppress_job_email` (PBS mails on abort by default);
 * - `-q queue`, `-A account`, `-l walltime=HH:MM:SS`, the resources (see `resourceLines`);
 * - `-V` when the job inherits this process's environment (PBS passes only `PBS_O_*` otherwise);
 * - `-S shell`, the shebang's: PBS ignores the shebang and runs the user's login shell;
 * - torque `-d runDir`. PBS starts a job in $HOME; PBS Pro has no working-directory option, so
 *   the script itself `cd`s there first (`preamble`), with both flavours;
 * - the array (`formatArray`), ONE `-W depend=…` (`formatDependencies`): PBS deletes a job whose
 *   dependency can never be met, so no gate is needed;
 * - the job's own extra directives.
 * Lines holding any of `directives_skip` are left out.
 */
export const directives = (flavor: Flavor) =>
(job: PreparedJob, paths: JobPaths, options: ConfigOptions): ReadonlyArray<string> => {
  const r = job.resources
  const lines = [`-N ${directiveValue(job.name)}`]
  if (paths.stdout === paths.stderr) lines.push("-j oe", `-o ${directiveValue(paths.stdout)}`)
  else lines.push(`-o ${directiveValue(paths.stdout)}`, `-e ${directiveValue(paths.stderr)}`)
  if (flavor === "pro") lines.push("-k oed")
  if (options.suppress_job_email) lines.push("-m n")
  if (r.queue !== undefined) lines.push(`-q ${directiveValue(r.queue)}`)
  if (r.account !== undefined) lines.push(`-A ${directiveValue(r.account)}`)
  if (r.walltime !== undefined) lines.push(`-l walltime=${formatHMS(r.walltime)}`)
  lines.push(...resourceLines(job, flavor))
  if (job.inheritEnv) lines.push("-V")
  const shell = scriptShell(options.shebang, job.loginShell)
  if (shell !== undefined) lines.push(`-S ${directiveValue(shell)}`)
  if (flavor === "torque") lines.push(`-d ${directiveValue(paths.runDir)}`)
  if (job.array !== undefined) lines.push(formatArray(job.array, flavor))
  const deps = job.spec.dependsOn ?? []
  if (deps.length > 0) lines.push(`-W depend=${formatDependencies(deps, flavor)}`)
  return skipDirectives([...lines, ...r.extraDirectives].map((line) => `#PBS ${line}`), options.directives_skip)
}

/**
 * What PBS cannot run as asked: TORQUE's `-t` has no step; PBS Pro's `-J` needs a start below
 * its end (it refuses a one-index array); PBS reads `host:path` in `-o`/`-e`, so a log path with
 * a colon would name a host.
 */
export const validate = (flavor: Flavor) =>
(job: PreparedJob, options: ConfigOptions): { readonly field: string; readonly problem: string } | undefined => {
  const array = job.array
  if (array !== undefined && flavor === "torque" && array.step !== undefined && array.step !== 1) {
    return {
      field: "array",
      problem:
        `TORQUE's qsub -t has no step (asked ${array.start}-${array.end}:${array.step}); submit the range with step 1 and skip the other indices in the script, or use PBS Pro`
    }
  }
  if (array !== undefined && flavor === "pro" && array.start >= array.end) {
    return {
      field: "array",
      problem:
        `PBS Pro's qsub -J needs a start below the end (asked ${array.start}-${array.end}); submit a single job, or widen the range`
    }
  }
  for (
    const [field, value] of [
      ["resources.stdoutPath", job.resources.stdoutPath],
      ["resources.stderrPath", job.resources.stderrPath],
      ["log_directory", job.resources.workDir === undefined ? options.log_directory : undefined],
      ["resources.workDir", job.resources.workDir]
    ] as const
  ) {
    if (value !== undefined && value.includes(":")) {
      return {
        field,
        problem: `${JSON.stringify(value)} holds a colon, which PBS reads as host:path in -o and -e; use a path without one`
      }
    }
  }
  return undefined
}

/**
 * What qsub cannot be given in a path: in `-o`/`-e` a colon names a host (`host:path`), and PBS
 * Pro puts each subjob's index in place of `^array_index^`. (Both flavours take `-d` and the
 * script's `cd` as written.)
 */
export const pathProblem = (flavor: Flavor) => (path: string, use: "dir" | "log"): string | undefined => {
  if (use !== "log") return undefined
  if (path.includes(":")) {
    return `holds a colon (${JSON.stringify(path)}), which PBS reads as host:path in -o and -e; use a path without one`
  }
  return flavor === "pro" && path.includes("^array_index^")
    ? `holds ^array_index^ (${JSON.stringify(path)}), which PBS Pro replaces in -o and -e; use a path without it`
    : undefined
}

/**
 * `qsub [extra args] script`, or `qsub [extra args]` with the script on stdin (qsub reads its
 * `#PBS` lines either way). Everything else is in the script's directives.
 */
export const submit = (request: Omit<SubmitRequest, "paths">): Invocation => {
  return submitScript(["qsub", ...request.job.resources.extraArgs], request)
}

/** A PBS job id: `1000.server`, `1000[].server` (an array), the server part possibly dotted. */
const submittedId = /^(\d+(?:\[\])?(?:\.[\w.-]+)?)$/

/** The job id qsub printed (`1000.server`, `1000[].server`): its last line that is one. */
export const parseSubmit = (stdout: string): Either.Either<string, string> => {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  for (let i = lines.length - 1; i >= 0; i--) {
    const id = submittedId.exec(lines[i]!)?.[1]
    if (id !== undefined) return Either.right(id)
  }
  return Either.left(`qsub printed no job id (expected "1234.server" or "1234[].server"): ${JSON.stringify(stdout.trim())}`)
}

// ---------------------------------------------------------------------------------------------
// The dialects
// ---------------------------------------------------------------------------------------------

/** The script's first line: PBS starts a job in $HOME, so it goes to its directory (or fails). */
export const preamble = (_job: PreparedJob, paths: JobPaths): ReadonlyArray<string> => [
  `cd ${shellQuote(paths.runDir)} || exit 1`
]

/** A submission's token, as a variable of the job's environment (`-v`; qstat -f shows Variable_List). */
export const tokenArgs = (token: string): ReadonlyArray<string> => ["-v", `CLUSTER_API_TOKEN=${tokenMarker(token)}`]
