/**
 * The local scheduler's job script: the environment each process gets, the script a job runs, and
 * its default log file names.
 */
import type { ConfigOptions } from "../../Config.js"
import type { PreparedJob } from "../../Executor.js"
import { arrayIndexVariable } from "../../Scheduler.js"
import { renderScript, skipDirectives } from "../../internal/script.js"

/** The environment variable that holds an array element's index in a local array job. */
export { arrayIndexVariable } from "../../Scheduler.js"

/** The variables cluster-api gives each local process: its job id, and an element's index. */
export const jobEnvironment = (jobId: string, index: number | undefined): Record<string, string> =>
  index === undefined
    ? { CLUSTER_API_JOB_ID: jobId }
    : { CLUSTER_API_JOB_ID: jobId, [arrayIndexVariable]: String(index) }

/**
 * The line a local script carries when its job must not inherit this process's environment, so a
 * program that takes the job over (and starts it) knows it too.
 */
export const cleanEnvMarker = "# cluster-api local job: inherit_env false"

/** Whether a local job script asks to start from a minimal environment (see `cleanEnvMarker`). */
export const wantsCleanEnv = (script: string): boolean => script.split("\n", 8).includes(cleanEnvMarker)

/** Identity variables a job that inherits no environment still gets, when this process has them. */
export const identityVariables = ["HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR"] as const

/** The PATH of a job that inherits no environment. */
export const cleanPath = "/usr/local/bin:/usr/bin:/bin"

/** The whole environment of a job that inherits none: identity variables from `from`, and a fixed PATH. */
export const cleanEnvironment = (from: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const name of identityVariables) {
    const value = from[name]
    if (value !== undefined) env[name] = value
  }
  env.PATH = cleanPath
  return env
}

/**
 * The script a local job runs: no directives, a comment naming the job (and one saying it inherits
 * no environment), the config's extra lines. Lines holding any of `directives_skip` are left out,
 * the config's extra lines included (never the no-environment line: it is not a directive). A login
 * shell is the shebang's `-l`.
 */
export const renderLocalScript = (job: PreparedJob, options: ConfigOptions): string =>
  renderScript({
    shebang: job.loginShell?.shebang ?? options.shebang,
    header: [
      ...skipDirectives([`# cluster-api local job: ${job.name}`], options.directives_skip),
      ...(job.inheritEnv ? [] : [cleanEnvMarker]),
      ...skipDirectives(options.extra_directives, options.directives_skip)
    ],
    env: job.spec.env,
    prologue: [...options.script_prologue, ...(job.spec.prologue ?? [])],
    command: job.spec.command,
    epilogue: [...options.script_epilogue, ...(job.spec.epilogue ?? [])]
  })

/**
 * Default log file names: `stdout.{id}.log`, or `stdout.{id}.{index}.log` for array elements (an
 * array's record shows the literal `{index}` in that place).
 */
export const logFileName = (stream: "stdout" | "stderr", jobId: string, index?: number | "{index}"): string =>
  index === undefined ? `${stream}.${jobId}.log` : `${stream}.${jobId}.${index}.log`

/**
 * The log file one process of a job writes, from the path its record shows. An array's default
 * log name carries the literal `{index}` (see `logFileName`), replaced here by the element's
 * index; a path the job named itself is used as given, as when the job was submitted.
 */
export const processLogPath = (
  recorded: string,
  stream: "stdout" | "stderr",
  jobId: string,
  index?: number
): string => {
  const template = logFileName(stream, jobId, "{index}")
  return index !== undefined && recorded.endsWith(`/${template}`)
    ? `${recorded.slice(0, -template.length)}${logFileName(stream, jobId, index)}`
    : recorded
}

