/**
 * The crash-and-restart scenario the restart tests run, for local jobs and for real Slurm: a
 * program watching jobs (WatchProgram) is killed with SIGKILL mid-run, a new one finishes the
 * watch on the same store, and what a user would check is checked.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { arrayIndices, isTerminal } from "../../src/Domain.js"
import type { JobRecord } from "../../src/Domain.js"
import { JobStore } from "../../src/JobStore.js"
import * as SqliteJobStore from "../../src/SqliteJobStore.js"
import type { WatchConfig } from "./WatchProgram.js"
import { exitCodeOf } from "./WatchProgram.js"
import { removeDir } from "./TempDirs.js"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const program = path.join(repoRoot, "dist", "test", "support", "WatchProgram.js")

/** How many jobs the first program submits. */
export const jobs = 6

/** A WatchProgram started in the background: its process, its exit code, what it printed. */
export interface Started {
  readonly child: ReturnType<typeof spawn>
  readonly exited: Promise<number | null>
  readonly output: () => string
}

/** Starts WatchProgram with `config` and `args` (`submit N`, `resume`), in `env` (default: this one). */
export const startWatch = (config: WatchConfig, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): Started => {
  const child = spawn(process.execPath, [program, JSON.stringify(config), ...args], {
    cwd: path.dirname(config.deliveries),
    ...(env === undefined ? {} : { env }),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return { child, exited, output: () => output }
}

/** A file's non-empty lines (none when it does not exist). */
export const lines = (file: string): Array<string> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []

/** Resolves when `check` holds, polling every 50 ms; rejects after `timeoutMs` naming `what`. */
export const until = async (what: string, check: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const readStore = (file: string) =>
  Effect.runPromise(Effect.flatMap(JobStore, (s) => s.list()).pipe(Effect.scoped, Effect.provide(SqliteJobStore.layer(file))))

/**
 * Runs the crash and restart, then checks what a user would check. `meanwhile` runs between the
 * two programs and returns the jobs whose end it was told of (so the second program is not).
 */
export const crashAndRestart = async (
  options: Partial<WatchConfig> & { readonly scale: number },
  meanwhile?: (config: WatchConfig, dir: string) => Promise<ReadonlyArray<string>>
) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capi-restart-"))
  const config: WatchConfig = {
    state_path: path.join(dir, "state.db"),
    log_directory: path.join(dir, "logs"),
    deliveries: path.join(dir, "deliveries.txt"),
    runs: path.join(dir, "runs.txt"),
    submitted: path.join(dir, "submitted"),
    release: path.join(dir, "release"),
    poll_interval: 0.2,
    ...options
  }
  const first = startWatch(config, ["submit", String(jobs)])
  // Every job submitted and two ends delivered: the program is mid-run (the last job runs until
  // released, however slow the machine). Kill it between two polls.
  await until(
    "every job submitted and two deliveries from the first program",
    () => fs.existsSync(config.submitted) && lines(config.deliveries).length >= 2,
    120_000
  )
    .catch((e) => {
      first.child.kill("SIGKILL")
      throw new Error(`${e.message}; it printed:\n${first.output()}`)
    })
  await new Promise((r) => setTimeout(r, 100))
  first.child.kill("SIGKILL")
  expect(await first.exited).toBe(null)
  const deliveredBefore = lines(config.deliveries).length
  expect(deliveredBefore).toBeLessThan(jobs)
  // Let something end while no program watches: the last job, once released (if it has started;
  // one that has not is started by the next program).
  fs.writeFileSync(config.release, "")
  await until(
    "the last job to end once released",
    () => fs.existsSync(`${config.release}.ended`) || !lines(config.runs).some((l) => l.startsWith(`${jobs - 1}.`)),
    120_000
  )
  const deliveredMeanwhile = meanwhile === undefined ? [] : await meanwhile(config, dir)

  const second = startWatch(config, ["resume"])
  const code = await Promise.race([
    second.exited,
    new Promise<"hung">((r) => setTimeout(() => r("hung"), 120_000))
  ])
  if (code !== 0) second.child.kill("SIGKILL")
  expect(code, second.output()).toBe(0)

  const records = await readStore(config.state_path!)
  expect(records).toHaveLength(jobs)
  const byName = new Map(records.map((r) => [r.name.replace(/^.*restart-/, ""), r] as const))
  for (let i = 0; i < jobs; i++) {
    const r: JobRecord | undefined = byName.get(String(i))
    expect(r, `job ${i}`).toBeDefined()
    expect(isTerminal(r!), `job ${i}: ${r!.status}`).toBe(true)
    expect([r!.status, r!.exitCode], `job ${i}`).toEqual(exitCodeOf(i) === 0 ? ["Done", 0] : ["Failed", exitCodeOf(i)])
  }
  // Each end delivered once, across both programs.
  const delivered = [...lines(config.deliveries).map((l) => l.split(" ")[0]), ...deliveredMeanwhile]
  expect([...delivered].sort()).toEqual(records.map((r) => r.jobId).sort())
  // Each job (each array element) ran once: nothing lost, nothing started twice.
  const array = byName.get("0")!.array!
  const expectedRuns = [
    ...arrayIndices(array).map((i) => `0.${i}`),
    ...Array.from({ length: jobs - 1 }, (_, i) => `${i + 1}.x`)
  ]
  expect(lines(config.runs).sort()).toEqual(expectedRuns.sort())
  removeDir(dir)
  return { deliveredBefore }
}

