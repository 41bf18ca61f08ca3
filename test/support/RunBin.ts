/**
 * Runs the built `cluster-api` bin as a child process and collects what it printed.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { join } from "node:path"
import { whenPrinted } from "./Until.js"

export interface BinResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const runBin = (
  bin: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv; readonly killAfterMs: number }
): Promise<BinResult> =>
  startBin(bin, args, options).exited.then(({ code, stderr, stdout }) => ({ code, stdout, stderr }))

/**
 * The environment a bin run in `cwd` gets: this one, with HOME there (so the job store is
 * `cwd/.local/state/cluster-api/jobs.db`), and no CLUSTER_API_CONFIG, CLUSTER_API_STATE or
 * XDG_STATE_HOME.
 */
export const isolatedEnv = (cwd: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: cwd }
  delete env.CLUSTER_API_CONFIG
  delete env.CLUSTER_API_STATE
  delete env.XDG_STATE_HOME
  return env
}

/** The job store of a bin run with {@link isolatedEnv}`(home)`. */
export const isolatedStore = (home: string): string => join(home, ".local", "state", "cluster-api", "jobs.db")

/**
 * Runs `bin` in a directory with an isolated environment, at most `maxInFlight` at once: starting
 * node costs a second or two of CPU, so a busy machine slows the tests down rather than failing them.
 */
export const throttledBin = (bin: string, maxInFlight = 3) => {
  let inFlight = 0
  const queued: Array<() => void> = []
  return async (args: ReadonlyArray<string>, cwd: string): Promise<BinResult> => {
    if (inFlight >= maxInFlight) await new Promise<void>((resolve) => queued.push(resolve))
    inFlight += 1
    try {
      return await runBin(bin, args, { cwd, env: isolatedEnv(cwd), killAfterMs: 60_000 })
    } finally {
      inFlight -= 1
      queued.shift()?.()
    }
  }
}

/** A bin started in the background, to signal it once it has printed something. */
export interface StartedBin {
  readonly child: ChildProcess
  /** What it printed so far on stdout and stderr. */
  readonly printed: () => BinResult
  /** Resolves once its stdout or stderr matches `pattern` (rejects if it ends or `timeoutMs` passes first). */
  readonly printedMatch: (pattern: RegExp, timeoutMs?: number) => Promise<void>
  /** Its exit: the code, or the signal that ended it, with everything it printed. */
  readonly exited: Promise<BinResult & { readonly signal: NodeJS.Signals | null }>
}

export const startBin = (
  bin: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv; readonly killAfterMs: number }
): StartedBin => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  const changed = () => listeners.forEach((f) => f())
  child.stdout.on("data", (d: Buffer) => ((stdout += d.toString()), changed()))
  child.stderr.on("data", (d: Buffer) => ((stderr += d.toString()), changed()))
  const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs)
  const printed = () => ({ code: child.exitCode, stdout, stderr })
  const exited = new Promise<BinResult & { readonly signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      changed()
      resolve({ code, signal, stdout, stderr })
    })
  })
  const printedMatch = (pattern: RegExp, timeoutMs = 60_000) =>
    whenPrinted(listeners, () => ({ stdout, stderr }), () => child.exitCode !== null || child.signalCode !== null, pattern, timeoutMs)
  return { child, printed, printedMatch, exited }
}
