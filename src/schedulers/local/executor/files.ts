/**
 * The pid and exit files the wrapper leaves beside a job script, and the processes they name:
 * where they are, what they say (the pid checked against the job's script), and how to end a
 * process this program did not start.
 */
import { Effect, Option } from "effect"
import { terminateGroup } from "../../../internal/processGroup.js"
import { parseStatusFile, statusFileName } from "../files.js"
import { spawnerName } from "../spawner.js"
import type { Findings } from "../status.js"
import type { LocalContext, StatusFiles } from "./context.js"
import { killGrace, now } from "./context.js"

export const statusFiles = (ctx: LocalContext, script: string, jobId: string, index: number | undefined): StatusFiles => {
  const dir = ctx.path.dirname(script)
  return {
    pid: ctx.path.join(dir, statusFileName("pid", jobId, index)),
    exit: ctx.path.join(dir, statusFileName("exit", jobId, index))
  }
}

/** The number a pid or exit file holds and the file's mtime; undefined when there is none. */
const readStatusFile = (ctx: LocalContext, file: string) =>
  Effect.gen(function*() {
    const info = yield* ctx.fs.stat(file)
    const value = parseStatusFile(yield* ctx.fs.readFileString(file))
    if (value === undefined) return undefined
    return { value, at: Option.getOrUndefined(info.mtime) ?? (yield* now) }
  }).pipe(Effect.orElseSucceed(() => undefined))

/**
 * Whether `pid`, a wrapper the spawner forked (its arguments are the spawner's), runs the job
 * whose script is `script`: the script is its child. A wrapper with no child yet (about to start
 * the script, or about to write its exit file) counts as the job's: its pid is a group leader's
 * that the spawner gave a job.
 */
const isSpawnerWrapperOf = (ctx: LocalContext, pid: number, script: string): Effect.Effect<boolean> =>
  ctx.fs.readFileString(`/proc/${pid}/task/${pid}/children`).pipe(
    Effect.flatMap((text) => {
      const children = text.split(" ").filter((c) => c.length > 0)
      if (children.length === 0) return Effect.succeed(true)
      return Effect.exists(children, (child) =>
        ctx.fs.readFileString(`/proc/${child}/cmdline`).pipe(
          Effect.map((cmdline) => cmdline.split("\0").includes(script)),
          Effect.orElseSucceed(() => false)
        ))
    }),
    Effect.orElseSucceed(() => true)
  )

/**
 * Whether `pid` is a running process of the job whose script is `script`: on Linux one of its
 * arguments is the script, or it is a wrapper the spawner forked that runs it (not so for a pid
 * reused by an unrelated process, nor for a zombie);
 * where there is no /proc, only that a process with this pid exists.
 */
const isJobProcess = (ctx: LocalContext, pid: number, script: string): Effect.Effect<boolean> =>
  ctx.hasProc
    ? ctx.fs.readFileString(`/proc/${pid}/cmdline`).pipe(
      Effect.flatMap((cmdline) => {
        const args = cmdline.split("\0")
        if (args.includes(script)) return Effect.succeed(true)
        return args.includes(spawnerName) ? isSpawnerWrapperOf(ctx, pid, script) : Effect.succeed(false)
      }),
      Effect.orElseSucceed(() => false)
    )
    : Effect.sync(() => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    })

/** What the pid and exit files of one process say, its pid checked. */
export const inspect = (ctx: LocalContext, files: StatusFiles, script: string) =>
  Effect.gen(function*() {
    const exit = yield* readStatusFile(ctx, files.exit)
    const pidFile = yield* readStatusFile(ctx, files.pid)
    if (exit !== undefined) {
      const found: Findings = {
        exit: { status: exit.value, at: exit.at },
        pid: pidFile === undefined ? undefined : { pid: pidFile.value, at: pidFile.at, alive: false }
      }
      return found
    }
    if (pidFile === undefined) return {}
    const alive = pidFile.value > 0 && (yield* isJobProcess(ctx, pidFile.value, script))
    const pid = { pid: pidFile.value, at: pidFile.at, alive }
    if (alive) return { pid }
    // The wrapper writes the exit file before it exits: look again now that it is gone.
    const late = yield* readStatusFile(ctx, files.exit)
    return late === undefined ? { pid } : { exit: { status: late.value, at: late.at }, pid }
  })

/**
 * Ends a job process this program did not start (so cannot wait for as a child): SIGTERM to its
 * process group, SIGKILL after `killGrace` if anything of it is left, then waits until the group
 * is gone. A pid that is no longer the job's is left alone.
 */
export const stopProcess = (ctx: LocalContext, pid: number, script: string) =>
  Effect.gen(function*() {
    if (!(yield* isJobProcess(ctx, pid, script))) return
    yield* terminateGroup(pid, killGrace)
  })
