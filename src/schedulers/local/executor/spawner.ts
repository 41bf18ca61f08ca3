/**
 * The executor's side of the spawner (see schedulers/local/spawner.ts): started once, when the
 * first process is, it starts every process it can take, so that this program forks once rather
 * than once per job. It answers with pids and exit statuses; what it cannot take (see
 * `spawnRequest`), or everything once it is gone, the executor starts through its CommandRunner.
 *
 * It is this program's child while the program runs; it ends when its input is closed (this
 * executor's scope, or this program, ending), and the job processes it started run on: they are
 * not its group, and each writes its own exit file, as a job process started directly does.
 */
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Exit, FiberId, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import { createInterface } from "node:readline"
import type { Readable, Writable } from "node:stream"
import type { ProcessExit, SpawnedProcess } from "../../../CommandRunner.js"
import { CommandSpawnFailed } from "../../../Errors.js"
import { groupExists, signalGroup, stopGroup } from "../../../internal/processGroup.js"
import { signalOfStatus } from "../../../internal/signals.js"
import { parseStatusFile } from "../files.js"
import type { SpawnAnswer } from "../spawner.js"
import { parseSpawnAnswer, spawnerName, spawnerScript, spawnerUnsetVariables, spawnRequest } from "../spawner.js"

/** What a process to start needs (a `SpawnSpec` with its status files). */
export interface SpawnerLaunch {
  readonly script: string
  readonly cwd: string
  readonly stdoutFile: string
  readonly stderrFile: string
  readonly pidFile: string
  readonly exitFile: string
  /** The variables the process gets over this program's environment, or instead of it. */
  readonly env: Readonly<Record<string, string>>
  readonly inheritEnv: boolean
}

export interface Spawner {
  /**
   * Starts a process through the spawner: None when the spawner cannot take it (or is gone),
   * and the caller starts it itself.
   */
  readonly spawn: (launch: SpawnerLaunch) => Effect.Effect<Option.Option<SpawnedProcess>, CommandSpawnFailed>
}

type SpawnerChild = ChildProcess.ChildProcessByStdio<Writable, Readable, null>

interface Pending {
  readonly started: Deferred.Deferred<number, string>
  readonly ended: Deferred.Deferred<ProcessExit>
  readonly exitFile: string
  /** Its start was abandoned (interrupted): kill it should it start. */
  abandoned: boolean
  pid?: number | undefined
  /** The last signal this program sent its group: its end is watched for closely from then on. */
  signal?: NodeJS.Signals | undefined
}

/** Whether a process has ended: gone, or a zombie its parent has not reaped yet. */
const hasExited = (pid: number): boolean => {
  try {
    const stat = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state === "Z" || state === "X"
  } catch {
    return true
  }
}

/** The status in an exit file, if it holds one. */
const exitFileStatus = (file: string): number | undefined => {
  try {
    return parseStatusFile(NodeFs.readFileSync(file, "utf8"))
  } catch {
    return undefined
  }
}

/** How a wrapper's status as `wait` gives it reads: 128+N for a wrapper killed by signal N. */
const processExit = (status: number): ProcessExit => {
  const signal = status > 128 ? signalOfStatus(status) : undefined
  return signal === undefined ? { exitCode: status } : { signal }
}

/** What the spawner's refusal means, for the job's NotStarted message. */
const refusal = (launch: SpawnerLaunch, what: string): string => {
  switch (what) {
    case "cwd":
      return `working directory ${launch.cwd} cannot be used (it does not exist, is not a directory, or is not accessible)`
    case "stdout":
      return `cannot open stdout file ${launch.stdoutFile} for writing`
    case "stderr":
      return `cannot open stderr file ${launch.stderrFile} for writing`
    default:
      return `the process could not be started (${what})`
  }
}

const gone = "gone"

/** The variables a process gets over the spawner's own environment (`base`, fixed at its start). */
const environmentChanges = (
  base: Readonly<Record<string, string | undefined>>,
  launch: SpawnerLaunch,
  clean: Record<string, string> | undefined
): ReadonlyArray<readonly [string, string | undefined]> => {
  if (clean !== undefined) return Object.entries({ ...clean, ...launch.env })
  // A plain loop: this runs for every process, over every variable of this program.
  const changes: Array<readonly [string, string | undefined]> = []
  const now = process.env
  for (const name in now) {
    const value = now[name]
    if (value !== base[name] && !(name in launch.env)) changes.push([name, value])
  }
  for (const name in base) if (!(name in now) && !(name in launch.env)) changes.push([name, undefined])
  for (const name in launch.env) changes.push([name, launch.env[name]])
  return changes
}

/**
 * A process the spawner started, as the executor handles it: its end is the spawner's answer (or
 * the watcher's, once `watching` is told it was signalled); it is signalled and terminated as a
 * group, as a process the runner started is.
 */
const spawnerProcess = (entry: Pending, pid: number, watching: () => void): SpawnedProcess => {
  let groupGone = false
  const exit = Deferred.await(entry.ended).pipe(
    Effect.tap(() => Effect.sync(() => (groupGone = !groupExists(pid))))
  )
  const signalled = (signal: NodeJS.Signals) => {
    entry.signal = signal
    watching()
  }
  const kill = (signal: NodeJS.Signals = "SIGTERM") =>
    Effect.sync(() => {
      if (groupGone) return
      signalled(signal)
      if (!signalGroup(pid, signal)) groupGone = true
    })
  const terminate = (grace: Duration.DurationInput) =>
    Effect.gen(function*() {
      // stopGroup sends SIGTERM, then SIGKILL after the grace: watched from the first.
      if (!groupGone) {
        signalled("SIGTERM")
        yield* stopGroup(pid, exit, Duration.decode(grace))
      }
      return yield* exit
    })
  return { pid, exit, kill, terminate }
}

/**
 * Starts the spawner with `env`, its answers going to `answer`; `lost` is called once it is gone
 * (or could not start). Undefined when it could not be started at all.
 */
const startChild = (
  env: Record<string, string | undefined>,
  answer: (a: SpawnAnswer) => void,
  lost: () => void
): SpawnerChild | undefined => {
  try {
    const child = ChildProcess.spawn("/bin/bash", ["-c", spawnerScript, spawnerName], {
      detached: true,
      env,
      stdio: ["pipe", "pipe", "ignore"]
    })
    child.on("error", lost)
    child.stdin.on("error", () => {})
    child.stdout.on("close", lost)
    createInterface({ input: child.stdout }).on("line", (line) => {
      const a = parseSpawnAnswer(line)
      if (a !== undefined) answer(a)
    })
    return child
  } catch {
    return undefined
  }
}

/**
 * The spawner of one executor, started at its first use and closed with `scope`.
 * `cleanEnvironment` gives the environment of a process that inherits none.
 */
export const make = (
  cleanEnvironment: (from: Readonly<Record<string, string | undefined>>) => Record<string, string>
): Effect.Effect<Spawner, never, Scope.Scope> =>
  Effect.gen(function*() {
    let child: SpawnerChild | undefined
    let broken = false
    let closing = false
    let base: Record<string, string | undefined> = {}
    let next = 0
    const pending = new Map<string, Pending>()

    // Keeps this program alive while it waits for a process (as a child process of its own would).
    const holdProgram = (on: boolean) => {
      if (child === undefined) return
      for (const handle of [child, child.stdin, child.stdout] as ReadonlyArray<unknown>) {
        const h = handle as { ref?: () => void; unref?: () => void }
        if (on) h.ref?.()
        else h.unref?.()
      }
    }

    const settle = (token: string) => {
      pending.delete(token)
      if (pending.size === 0) holdProgram(false)
    }

    const answer = (a: SpawnAnswer) => {
      const entry = pending.get(a.token)
      if (entry === undefined) return
      switch (a._tag) {
        case "Started":
          entry.pid = a.pid
          watching()
          if (entry.abandoned) {
            entry.signal = "SIGKILL"
            signalGroup(a.pid, "SIGKILL")
          }
          Deferred.unsafeDone(entry.started, Exit.succeed(a.pid))
          return
        case "Refused":
          Deferred.unsafeDone(entry.started, Exit.fail(a.what))
          return
        case "Ended":
          // Ended before it said it started: it was killed as it started; it is not started again.
          Deferred.unsafeDone(entry.started, Exit.fail("ended"))
          Deferred.unsafeDone(entry.ended, Exit.succeed(processExit(a.status)))
          settle(a.token)
      }
    }

    /**
     * Ends the spawner does not report at once: a process killed with its group (by this program,
     * checked every 50 ms once signalled, or by anyone, checked every second), or any process once
     * the spawner is gone. Its end is read from its exit file; without one, it was killed.
     */
    let ticks = 0
    let watcher: ReturnType<typeof setInterval> | undefined
    const watch = () => {
      ticks += 1
      for (const [token, entry] of pending) {
        const pid = entry.pid
        if (pid === undefined || !(entry.signal !== undefined || broken || ticks % 20 === 0)) continue
        if (!hasExited(pid)) continue
        const status = exitFileStatus(entry.exitFile)
        Deferred.unsafeDone(
          entry.ended,
          Exit.succeed(status !== undefined ? processExit(status) : { signal: entry.signal ?? "SIGKILL" })
        )
        settle(token)
      }
      if (pending.size === 0 && watcher !== undefined) {
        clearInterval(watcher)
        watcher = undefined
      }
    }
    const watching = () => {
      if (watcher !== undefined) return
      watcher = setInterval(watch, 50)
      watcher.unref()
    }

    /** The spawner is gone: what it had not started is started by the executor; the rest is watched. */
    const lost = () => {
      if (broken) return
      broken = true
      if (closing) return
      for (const [token, entry] of pending) {
        if (entry.pid !== undefined) continue
        Deferred.unsafeDone(entry.started, Exit.fail(gone))
        settle(token)
      }
      if (pending.size > 0) watching()
    }

    const start = (): SpawnerChild | undefined => {
      if (child !== undefined || broken || closing) return child
      const env: Record<string, string | undefined> = { ...process.env }
      for (const name of spawnerUnsetVariables) delete env[name]
      base = env
      child = startChild(env, answer, lost)
      if (child === undefined) broken = true
      else holdProgram(false)
      return child
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        // Its end of input: the spawner ends, the job processes it started run on.
        closing = true
        child?.stdin.end()
        holdProgram(false)
      })
    )

    const spawn = (launch: SpawnerLaunch): Effect.Effect<Option.Option<SpawnedProcess>, CommandSpawnFailed> =>
      Effect.suspend(() => {
        const proc = start()
        if (proc === undefined || broken || closing) return Effect.succeed(Option.none())
        const clean = launch.inheritEnv ? undefined : cleanEnvironment(process.env)
        next += 1
        const token = String(next)
        const request = spawnRequest({
          token,
          cwd: launch.cwd,
          stdoutFile: launch.stdoutFile,
          stderrFile: launch.stderrFile,
          pidFile: launch.pidFile,
          exitFile: launch.exitFile,
          script: launch.script,
          clean: clean !== undefined,
          env: environmentChanges(base, launch, clean)
        })
        if (request === undefined) return Effect.succeed(Option.none())
        const entry: Pending = {
          started: Deferred.unsafeMake(FiberId.none),
          ended: Deferred.unsafeMake(FiberId.none),
          exitFile: launch.exitFile,
          abandoned: false
        }
        pending.set(token, entry)
        holdProgram(true)
        proc.stdin.write(request)
        return Deferred.await(entry.started).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              entry.abandoned = true
              if (entry.pid !== undefined) signalGroup(entry.pid, "SIGKILL")
            })
          ),
          Effect.map((pid) => Option.some(spawnerProcess(entry, pid, watching))),
          Effect.catchAll((what) =>
            what === gone
              ? Effect.succeed(Option.none<SpawnedProcess>())
              : Effect.fail(new CommandSpawnFailed({ argv: [launch.script], detail: refusal(launch, what) }))
          )
        )
      })

    const spawner: Spawner = { spawn }
    return spawner
  })
