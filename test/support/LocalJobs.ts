/**
 * Local job processes started the way another program would have left them: job scripts and
 * records like the local executor writes, wrappers started detached (in their own process group,
 * output to the log files) by the test process, and pid/exit files written by hand.
 */
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { JobRecord } from "../../src/Domain.js"
import { logFileName, statusFileName, wrapperArgv } from "./parts/local.js"

/** Writes an executable job script `{dir}/{name}.sh` running `command`; returns its path. */
export const writeJobScript = (dir: string, name: string, command: string): string => {
  const file = join(dir, `${name}.sh`)
  writeFileSync(file, `#!/bin/bash\n${command}\n`)
  chmodSync(file, 0o700)
  return file
}

/** The pid or exit file of a job (or element) whose script is in `dir`. */
export const statusFile = (dir: string, kind: "pid" | "exit", jobId: string, index?: number): string =>
  join(dir, statusFileName(kind, jobId, index))

/** A local job's record as the local executor writes it, its script and default logs in `dir`. */
export const localRecord = (dir: string, jobId: string, script: string, over: Partial<JobRecord> = {}): JobRecord => {
  const at = new Date(Date.now() - 60_000)
  const index = over.array === undefined ? undefined : "{index}" as const
  return {
    jobId,
    name: `test-${jobId}`,
    command: readFileSync(script, "utf8"),
    executor: "local",
    status: "Running",
    submitTime: at,
    lastSeen: at,
    workDir: dir,
    scriptPath: script,
    stdoutPath: join(dir, logFileName("stdout", jobId, index)),
    stderrPath: join(dir, logFileName("stderr", jobId, index)),
    metadata: {},
    ...over
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Starts a job process through the wrapper, detached, as an earlier program would have; resolves
 * with the wrapper's pid once it has written its pid file whole (waited for up to a minute, however slow
 * the machine: a test that went on without it would see a job with no file, one that vanished).
 */
export const startWrapped = async (
  dir: string,
  jobId: string,
  script: string,
  index?: number
): Promise<number> => {
  const pidFile = statusFile(dir, "pid", jobId, index)
  const out = openSync(join(dir, logFileName("stdout", jobId, index)), "w")
  const [program, ...args] = wrapperArgv(script, pidFile, statusFile(dir, "exit", jobId, index))
  const child = spawn(program!, args, {
    detached: true,
    cwd: dir,
    env: {
      ...process.env,
      CLUSTER_API_JOB_ID: jobId,
      ...(index === undefined ? {} : { ARRAY_INDEX: String(index) })
    },
    stdio: ["ignore", out, out]
  })
  closeSync(out)
  child.unref()
  const deadline = Date.now() + 60_000
  // Whole once it ends with its newline (the wrapper writes it in place).
  while (!(existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n"))) {
    if (Date.now() > deadline) throw new Error(`the job process ${jobId} wrote no pid file ${pidFile} within a minute`)
    await sleep(10)
  }
  return child.pid!
}

/** The pid of a process that has ended (and been reaped). */
export const deadPid = (): number => spawnSync("true").pid

/** Whether a process with this pid exists. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
