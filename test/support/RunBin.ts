/**
 * Runs the built `cluster-api` bin as a child process and collects what it printed.
 */
import { spawn } from "node:child_process"

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
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** The environment a bin run in `cwd` gets: this one, with HOME there and no CLUSTER_API_CONFIG. */
export const isolatedEnv = (cwd: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: cwd }
  delete env.CLUSTER_API_CONFIG
  return env
}

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
