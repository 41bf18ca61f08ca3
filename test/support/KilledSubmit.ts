/**
 * A program killed with SIGKILL while its submit command runs: the submit command (sbatch, bsub)
 * is a shim first on PATH that copies its stdin, says it started (a file), waits for the test's go
 * (another file) and only then runs the real command, its output going to a file (the killed
 * program's pipe is gone). The test kills the program once the shim has started, lets the real
 * submit run, then starts the next program on the same store (WatchProgram resume) and checks that
 * it adopted the job and saw it end. Waits are on files, never on timers raced against processes.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect } from "vitest"
import type { JobRecord } from "../../src/Domain.js"
import type { SubmitIntent } from "../../src/JobStore.js"
import { JobStore } from "../../src/JobStore.js"
import * as SqliteJobStore from "../../src/SqliteJobStore.js"
import { lines, startWatch, until } from "./Restart.js"
import type { WatchConfig } from "./WatchProgram.js"
import { removeDir } from "./TempDirs.js"


/** The job store's records and submissions in flight. */
export const readStore = (file: string) =>
  Effect.runPromise(
    Effect.flatMap(JobStore, (s) => Effect.all({ records: s.list(), intents: s.intents })).pipe(
      Effect.scoped,
      Effect.provide(SqliteJobStore.layer(file))
    )
  ) as Promise<{ readonly records: ReadonlyArray<JobRecord>; readonly intents: ReadonlyArray<SubmitIntent> }>

/**
 * Puts a shim named `command` in `dir/shim` that waits for `dir/go` before running `real` (with
 * the arguments and stdin it was given) and then runs `after` (a shell line, may be empty).
 * Returns the PATH to use and the files it writes: `started`, `out` (the real command's stdout
 * and stderr), `done` (its exit status).
 */
export const submitShim = (dir: string, command: string, real: string, after = "", basePath = process.env.PATH ?? "") => {
  const shimDir = path.join(dir, "shim")
  fs.mkdirSync(shimDir, { recursive: true })
  const file = (name: string) => path.join(dir, name)
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  fs.writeFileSync(
    path.join(shimDir, command),
    [
      "#!/bin/sh",
      `cat > ${q(file("stdin"))}`,
      `touch ${q(file("started"))}`,
      `while [ ! -e ${q(file("go"))} ]; do sleep 0.05; done`,
      `${q(real)} "$@" < ${q(file("stdin"))} > ${q(file("out"))} 2>&1`,
      "code=$?",
      after,
      `echo "$code" > ${q(file("done.tmp"))} && mv ${q(file("done.tmp"))} ${q(file("done"))}`,
      // For a program still there to read it (a killed one's pipe is gone: this may end the shim).
      `cat ${q(file("out"))}`,
      "exit $code"
    ].join("\n") + "\n",
    { mode: 0o755 }
  )
  return {
    path: `${shimDir}${path.delimiter}${basePath}`,
    started: file("started"),
    go: file("go"),
    out: file("out"),
    done: file("done")
  }
}

/** Where `command` is on `PATH` (before any shim). */
export const which = (command: string, PATH = process.env.PATH ?? ""): string => {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8", env: { ...process.env, PATH } })
    .stdout.trim()
  if (found === "") throw new Error(`${command} is not on PATH`)
  return found
}

/**
 * Kills a program (WatchProgram submitting one array job of three elements) with SIGKILL while
 * `command` runs, lets the real command submit the job, and checks that the next program on the
 * store adopts the job, sees each element end and records it Done. `parseId` reads the job id
 * from the real command's output. Returns the job's record.
 */
export const killedDuringSubmit = async (options: {
  readonly command: string
  readonly config: Partial<WatchConfig>
  readonly env?: NodeJS.ProcessEnv | undefined
  readonly parseId: (out: string) => string | undefined
  readonly timeoutMs: number
}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capi-killed-submit-"))
  const basePath = options.env?.PATH ?? process.env.PATH ?? ""
  const shim = submitShim(dir, options.command, which(options.command, basePath), "", basePath)
  const config: WatchConfig = {
    state_path: path.join(dir, "state.db"),
    log_directory: path.join(dir, "logs"),
    deliveries: path.join(dir, "deliveries.txt"),
    runs: path.join(dir, "runs.txt"),
    submitted: path.join(dir, "submitted"),
    // The job (the program's last) runs until this file exists: here it may end at once.
    release: path.join(dir, "release"),
    poll_interval: 0.5,
    scale: 1,
    ...options.config
  }
  fs.writeFileSync(config.release, "")
  const env = { ...process.env, ...options.env, PATH: shim.path }
  const first = startWatch(config, ["submit", "1"], env)
  await until(`${options.command} to start`, () => fs.existsSync(shim.started), options.timeoutMs).catch((e) => {
    first.child.kill("SIGKILL")
    throw new Error(`${e.message}; the program printed:\n${first.output()}`)
  })
  first.child.kill("SIGKILL")
  expect(await first.exited).toBe(null)
  // The program died with the submission in flight: written down, no job recorded.
  const before = await readStore(config.state_path!)
  expect(before.records).toEqual([])
  expect(before.intents.map((i) => i.name)).toEqual([expect.stringMatching(/restart-0$/)])

  fs.writeFileSync(shim.go, "")
  await until(`the real ${options.command} to end`, () => fs.existsSync(shim.done), options.timeoutMs)
  const out = fs.readFileSync(shim.out, "utf8")
  expect(fs.readFileSync(shim.done, "utf8").trim(), out).toBe("0")
  const jobId = options.parseId(out)
  expect(jobId, out).toBeDefined()

  const second = startWatch(config, ["resume"], env)
  const code = await Promise.race([
    second.exited,
    new Promise<"hung">((r) => setTimeout(() => r("hung"), options.timeoutMs))
  ])
  if (code !== 0) second.child.kill("SIGKILL")
  expect(code, second.output()).toBe(0)

  const after = await readStore(config.state_path!)
  expect(after.intents).toEqual([])
  expect(after.records.map((r) => [r.jobId, r.status, r.array])).toEqual([[jobId, "Done", { start: 1, end: 3 }]])
  // The next program was told of the end, and each element ran once.
  expect(lines(config.deliveries)).toEqual([`${jobId} Done`])
  expect(lines(config.runs).sort()).toEqual(["0.1", "0.2", "0.3"])
  removeDir(dir)
  return after.records[0]!
}
