/** Job options (snake_case, as written) to the partial JobSpec (camelCase) they give. */
import { Either } from "effect"
import type { ArraySpec, JobSpec, LogCheck, ResourceSpec, RetryPolicy } from "../../Domain.js"
import { parseArraySpec } from "./arraySpec.js"
import type { ArrayOption, CheckLogsOption, JobOptions } from "./schema.js"

type Compact<T> = { [K in keyof T]?: Exclude<T[K], undefined> }

/** The object without its undefined fields. */
export const compact = <T extends Record<string, unknown>>(o: T): Compact<T> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as Compact<T>
}

const nonEmpty = <T extends object>(o: T): T | undefined => (Object.keys(o).length === 0 ? undefined : o)

/** An `array` option as an ArraySpec. */
const toArraySpec = (array: ArrayOption): ArraySpec => {
  if (typeof array !== "string") {
    return compact({ start: array.start, end: array.end, step: array.step, maxConcurrent: array.max_concurrent }) as ArraySpec
  }
  const parsed = parseArraySpec(array)
  if (Either.isLeft(parsed)) throw new Error(`toSpec: array ${parsed.left}; decode options with decodeJobOptions first`)
  return parsed.right
}

/** `check_logs` as a LogCheck: true is `{}` (the config's patterns), false is `{ patterns: [] }` (nothing matches). */
const toLogCheck = (check: CheckLogsOption): LogCheck =>
  typeof check === "boolean"
    ? (check ? {} : { patterns: [] })
    : compact({ patterns: check.patterns, whitelist: check.whitelist, threshold: check.threshold, fail: check.fail })

/**
 * The partial JobSpec (camelCase) that options give: `command`, `name` and `template` only when
 * present, resources under `resources`, the retry keys as `retry` (only with `max_retries`, which
 * {@link decodeJobOptions} requires beside the others), `check_logs` as `logCheck`. Expects options
 * from `decodeJobOptions` (an `array` string that does not parse is a defect).
 */
export const toSpec = (options: JobOptions): Partial<JobSpec> => {
  const o = options
  const resources: ResourceSpec = compact({
    cpus: o.cpus,
    gpus: o.gpus,
    nodes: o.nodes,
    memory: o.memory,
    walltime: o.walltime,
    queue: o.queue,
    account: o.account,
    workDir: o.work_dir,
    stdoutPath: o.stdout,
    stderrPath: o.stderr,
    extraDirectives: o.extra_directives,
    extraArgs: o.extra_args
  })
  const retry: RetryPolicy | undefined = o.max_retries === undefined ? undefined : {
    maxRetries: o.max_retries,
    ...compact({
      on: o.retry_on,
      backoffSeconds: o.retry_backoff,
      backoffFactor: o.retry_backoff_factor,
      maxBackoffSeconds: o.max_retry_backoff,
      memoryFactor: o.escalate_memory,
      walltimeFactor: o.escalate_walltime
    })
  }
  return compact({
    command: o.command,
    name: o.name,
    template: o.template,
    resources: nonEmpty(resources),
    env: o.env,
    prologue: o.prologue,
    epilogue: o.epilogue,
    metadata: o.metadata,
    array: o.array === undefined ? undefined : toArraySpec(o.array),
    inheritEnv: o.inherit_env,
    loginShell: o.login_shell,
    retry,
    expectedOutputs: o.expected_outputs,
    logCheck: o.check_logs === undefined ? undefined : toLogCheck(o.check_logs)
  })
}
