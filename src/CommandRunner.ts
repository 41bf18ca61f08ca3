/**
 * CommandRunner: runs one argv (never a shell string) and reports what happened.
 *
 * - `run` waits for the command to end, draining stdout and stderr concurrently, and fails with
 *   `CommandFailed` on a non-zero exit (stdout and stderr kept), `CommandTimeout` (the process group
 *   is sent SIGTERM, then SIGKILL after a grace period, and reaped), or `CommandNotFound`.
 * - `spawn` starts a long-running process in its own process group with stdout and stderr written
 *   straight to files (used by the local executor for jobs).
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Context, Deferred, Duration, Effect, Either, Exit, Layer, Ref, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { CommandFailed, CommandNotFound, CommandSpawnFailed, CommandTimeout } from "./Errors.js"
import { markNodeRunner } from "./internal/nodeRunner.js"
import { defaultKillGrace, errnoCode, groupExists, signalGroup, stopGroup } from "./internal/processGroup.js"

export interface CommandSpec {
  /** The program and its arguments. Nothing is interpreted by a shell. */
  readonly argv: ReadonlyArray<string>
  /** Text written to the command's stdin (then closed). Default: stdin is empty. */
  readonly stdin?: string | undefined
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** When false the command sees only `env`. Default: true (env is added to this process's). */
  readonly extendEnv?: boolean | undefined
  readonly cwd?: string | undefined
  /** Default: 100 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long after SIGTERM a timed-out command gets before SIGKILL. Default: 5 seconds. */
  readonly killGrace?: Duration.DurationInput | undefined
}

export interface CommandResult {
  readonly argv: ReadonlyArray<string>
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface SpawnSpec {
  readonly argv: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly extendEnv?: boolean | undefined
  readonly cwd?: string | undefined
  /** File that receives the process's stdout (created or truncated). */
  readonly stdoutFile: string
  /** File that receives the process's stderr (created or truncated; may equal stdoutFile). */
  readonly stderrFile: string
}

/** How a spawned process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  readonly exitCode?: number | undefined
  readonly signal?: string | undefined
}

export interface SpawnedProcess {
  readonly pid: number
  /** Completes when the process has ended; may be awaited any number of times. */
  readonly exit: Effect.Effect<ProcessExit>
  /** Sends a signal to the process's whole process group (default SIGTERM). */
  readonly kill: (signal?: NodeJS.Signals) => Effect.Effect<void>
  /** SIGTERM to the group, SIGKILL after `grace` if it is still running, then waits for the end. */
  readonly terminate: (grace: Duration.DurationInput) => Effect.Effect<ProcessExit>
}

export interface CommandRunnerShape {
  readonly run: (
    spec: CommandSpec
  ) => Effect.Effect<CommandResult, CommandFailed | CommandTimeout | CommandNotFound | CommandSpawnFailed>
  /**
   * Starts a process and returns once it is running. The process is not tied to the caller's scope:
   * whoever spawns it decides when to terminate it.
   */
  readonly spawn: (spec: SpawnSpec) => Effect.Effect<SpawnedProcess, CommandNotFound | CommandSpawnFailed>
}

export class CommandRunner extends Context.Tag("cluster-api/CommandRunner")<CommandRunner, CommandRunnerShape>() {
  /** The Node implementation with everything it needs (same as the module's `layerNode`). */
  static get layerNode(): Layer.Layer<CommandRunner> {
    return layerNode
  }
}


// ---------------------------------------------------------------------------------------------
// Node implementation
// ---------------------------------------------------------------------------------------------

/** Default `CommandSpec.timeout`. */
export const defaultTimeout: Duration.Duration = Duration.seconds(100)
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** What is wrong with `cwd`, in words a user can act on; undefined when it is usable. */
const cwdProblem = (cwd: string): Effect.Effect<string | undefined> =>
  Effect.promise(async () => {
    try {
      const stat = await NodeFs.promises.stat(cwd)
      if (!stat.isDirectory()) return `working directory ${cwd} is not a directory`
      await NodeFs.promises.access(cwd, NodeFs.constants.X_OK)
      return undefined
    } catch (error) {
      switch (errnoCode(error)) {
        case "ENOENT":
          return `working directory ${cwd} does not exist; create it or pass an existing directory as cwd`
        case "ENOTDIR":
          return `working directory ${cwd} does not exist (a component of the path is not a directory)`
        case "EACCES":
          return `working directory ${cwd} is not accessible (permission denied); check its permissions`
        default:
          return `working directory ${cwd} cannot be used: ${errorText(error)}`
      }
    }
  })

/** Checks what Node would otherwise reject with an exception or a misleading error. */
const checkSpec = (spec: {
  readonly argv: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}): Effect.Effect<string, CommandSpawnFailed> =>
  Effect.gen(function*() {
    const argv = spec.argv
    const program = argv[0]
    if (program === undefined || program.length === 0) {
      return yield* new CommandSpawnFailed({ argv, detail: "empty argv: give at least the program to run" })
    }
    if (argv.some((a) => a.includes("\0"))) {
      return yield* new CommandSpawnFailed({ argv, detail: "an argument contains a NUL character" })
    }
    for (const [key, value] of Object.entries(spec.env ?? {})) {
      if (key.length === 0 || key.includes("=") || key.includes("\0") || value.includes("\0")) {
        return yield* new CommandSpawnFailed({
          argv,
          detail: `invalid environment variable ${JSON.stringify(key)}: names must be non-empty without '=' and no NUL in values`
        })
      }
    }
    if (spec.cwd !== undefined) {
      const problem = yield* cwdProblem(spec.cwd)
      if (problem !== undefined) return yield* new CommandSpawnFailed({ argv, detail: problem })
    }
    return program
  })

const permissionDetail = (program: string): string =>
  `permission denied running ${program}: it is not executable by this user (check it with ls -l; chmod +x if it is a script)`

/** Maps an error from spawning (node's errno code) to ours. */
const spawnError = (
  argv: ReadonlyArray<string>,
  code: string | undefined,
  description: string
): CommandNotFound | CommandSpawnFailed => {
  const program = argv[0] ?? ""
  switch (code) {
    case "ENOENT":
      return new CommandNotFound({ argv })
    case "EACCES":
    case "EPERM":
      return new CommandSpawnFailed({ argv, detail: permissionDetail(program) })
    case "ENOEXEC":
      return new CommandSpawnFailed({ argv, detail: `${program} is not a valid executable (missing #! line?)` })
    case "E2BIG":
      return new CommandSpawnFailed({ argv, detail: "the argument list or environment is too long" })
    default:
      return new CommandSpawnFailed({ argv, detail: description })
  }
}

const fromStartError = (argv: ReadonlyArray<string>, error: PlatformError): CommandNotFound | CommandSpawnFailed => {
  if (error._tag === "SystemError") {
    if (error.module === "FileSystem") {
      // The executor checks cwd with `access` before spawning (we checked it too; it may have vanished since).
      return new CommandSpawnFailed({ argv, detail: `working directory is not usable: ${error.message}` })
    }
    return spawnError(argv, errnoCode(error.cause), error.description ?? error.message)
  }
  return new CommandSpawnFailed({ argv, detail: error.message })
}

const toCommand = (program: string, spec: CommandSpec): Command.Command => {
  let command = Command.make(program, ...spec.argv.slice(1))
  if (spec.env !== undefined || spec.extendEnv === false) {
    command = Command.env(command, { ...spec.env }, { extendEnv: spec.extendEnv !== false })
  }
  if (spec.cwd !== undefined) command = Command.workingDirectory(command, spec.cwd)
  // Always feed stdin, even an empty one: the executor otherwise leaves the pipe open and a child
  // that reads stdin (cat, sbatch without a script argument) waits forever.
  return Command.feed(command, spec.stdin ?? "")
}

const drainInto = <E>(
  argv: ReadonlyArray<string>,
  name: string,
  stream: Stream.Stream<Uint8Array, E>,
  into: Ref.Ref<string>
): Effect.Effect<void, CommandSpawnFailed> =>
  stream.pipe(
    Stream.decodeText(),
    Stream.runForEach((text) => Ref.update(into, (acc) => acc + text)),
    Effect.mapError((error) =>
      new CommandSpawnFailed({ argv, detail: `reading the command's ${name} failed: ${errorText(error)}` })
    )
  )

const signalOf = (error: PlatformError): string | undefined => {
  const text = error._tag === "SystemError" ? (error.description ?? error.message) : error.message
  return /receipt of signal: (\w+)/.exec(text)?.[1]
}

/**
 * Opens the output files (created or truncated) in this process. One descriptor when both name
 * the same file, so that stdout and stderr interleave instead of overwriting each other.
 */
const openOutputs = (spec: SpawnSpec): Effect.Effect<readonly [number, number], CommandSpawnFailed> =>
  Effect.suspend((): Either.Either<readonly [number, number], CommandSpawnFailed> => {
    const open = (file: string, name: string): Either.Either<number, CommandSpawnFailed> => {
      try {
        return Either.right(NodeFs.openSync(file, "w", 0o644))
      } catch (error) {
        return Either.left(
          new CommandSpawnFailed({
            argv: spec.argv,
            detail: `cannot open ${name} file ${file} for writing: ${errorText(error)}`
          })
        )
      }
    }
    const out = open(spec.stdoutFile, "stdout")
    if (Either.isLeft(out)) return Either.left(out.left)
    if (NodePath.resolve(spec.stdoutFile) === NodePath.resolve(spec.stderrFile)) {
      return Either.right([out.right, out.right] as const)
    }
    const err = open(spec.stderrFile, "stderr")
    if (Either.isLeft(err)) {
      NodeFs.closeSync(out.right)
      return Either.left(err.left)
    }
    // Different names for one file (a link): share the descriptor as well.
    const a = NodeFs.fstatSync(out.right)
    const b = NodeFs.fstatSync(err.right)
    if (a.dev === b.dev && a.ino === b.ino) {
      NodeFs.closeSync(err.right)
      return Either.right([out.right, out.right] as const)
    }
    return Either.right([out.right, err.right] as const)
  })

/**
 * `spawn` bypasses @effect/platform's Command on purpose: Command can only pipe or inherit a
 * child's output, and a job's output must go straight to its log file (a pipe would need this
 * process to stay alive and copy every byte; the job must keep writing its log even if we exit).
 * The child leads its own process group (`detached`) so that kill/terminate reach its whole tree.
 */
const spawn = Effect.fn("CommandRunner.spawn")(function*(spec: SpawnSpec) {
  const argv = spec.argv
  const program = yield* checkSpec(spec)
  const env = spec.extendEnv === false ? { ...spec.env } : { ...process.env, ...spec.env }
  const exitDeferred = yield* Deferred.make<ProcessExit>()
  const [outFd, errFd] = yield* openOutputs(spec)

  // Set once the group is known to be empty: from then on its pid may be reused by an unrelated
  // process group, which must never receive our signals.
  let groupGone = false

  const child = yield* Effect.async<ChildProcess.ChildProcess, CommandNotFound | CommandSpawnFailed>((resume) => {
    let settled = false
    let handle: ChildProcess.ChildProcess
    try {
      handle = ChildProcess.spawn(program, argv.slice(1), {
        detached: true,
        cwd: spec.cwd,
        env,
        stdio: ["ignore", outFd, errFd]
      })
    } catch (error) {
      resume(Effect.fail(spawnError(argv, errnoCode(error), errorText(error))))
      return
    } finally {
      // The child has its own copies once spawn() returns (libuv forks synchronously).
      NodeFs.closeSync(outFd)
      if (errFd !== outFd) NodeFs.closeSync(errFd)
    }
    handle.on("error", (error) => {
      // Also keeps a late 'error' from being thrown as an uncaught exception.
      if (settled) return
      settled = true
      resume(Effect.fail(spawnError(argv, errnoCode(error), errorText(error))))
    })
    handle.once("spawn", () => {
      if (settled) return
      settled = true
      resume(Effect.succeed(handle))
    })
    handle.once("exit", (code, signal) => {
      if (handle.pid !== undefined && !groupExists(handle.pid)) groupGone = true
      const exit: ProcessExit = code !== null ? { exitCode: code } : { signal: signal ?? "UNKNOWN" }
      Deferred.unsafeDone(exitDeferred, Exit.succeed(exit))
    })
    // Interrupted before the 'spawn' event: nobody will ever get a handle, so end it.
    return Effect.sync(() => {
      if (handle.pid !== undefined) signalGroup(handle.pid, "SIGKILL")
    })
  })

  const pid = child.pid!
  const exit = Deferred.await(exitDeferred)
  const sendToGroup = (signal: NodeJS.Signals): void => {
    if (groupGone) return
    // ESRCH: nothing left in the group (the leader has been reaped too).
    if (!signalGroup(pid, signal)) groupGone = true
  }
  const kill = (signal: NodeJS.Signals = "SIGTERM"): Effect.Effect<void> => Effect.sync(() => sendToGroup(signal))
  const terminate = (grace: Duration.DurationInput): Effect.Effect<ProcessExit> =>
    Effect.gen(function*() {
      if (!groupGone) yield* stopGroup(pid, exit, Duration.decode(grace))
      return yield* exit
    })
  const spawned: SpawnedProcess = { pid, exit, kill, terminate }
  return spawned
})

/**
 * The Node implementation. `run` goes through @effect/platform's CommandExecutor; `spawn` uses
 * node:child_process directly (see below).
 */
export const make: Effect.Effect<CommandRunnerShape, never, CommandExecutor.CommandExecutor> = Effect.gen(
  function*() {
    const executor = yield* CommandExecutor.CommandExecutor

    const run = Effect.fn("CommandRunner.run")(function*(spec: CommandSpec) {
      const argv = spec.argv
      const program = yield* checkSpec(spec)
      const timeout = Duration.decode(spec.timeout ?? defaultTimeout)
      const grace = Duration.decode(spec.killGrace ?? defaultKillGrace)
      const stdout = yield* Ref.make("")
      const stderr = yield* Ref.make("")

      const outcome = yield* Effect.scoped(
        Effect.gen(function*() {
          const proc = yield* executor.start(toCommand(program, spec)).pipe(
            Effect.mapError((error) => fromStartError(argv, error))
          )
          // Runs before the executor's own release (finalizers run in reverse order). The executor
          // only SIGTERMs the group and then waits, forever if the child ignores SIGTERM.
          yield* Effect.addFinalizer((exit) =>
            Exit.isSuccess(exit) ? Effect.void : stopGroup(proc.pid, Effect.ignore(proc.exitCode), grace)
          )
          // Concurrently: a child blocked writing a full stderr pipe never exits otherwise.
          const [status] = yield* Effect.all(
            [
              Effect.either(proc.exitCode),
              drainInto(argv, "stdout", proc.stdout, stdout),
              drainInto(argv, "stderr", proc.stderr, stderr)
            ],
            { concurrency: "unbounded" }
          )
          return status
        })
      ).pipe(Effect.timeoutTo({ duration: timeout, onSuccess: Either.right, onTimeout: () => Either.left("timeout") }))

      const out = yield* Ref.get(stdout)
      const err = yield* Ref.get(stderr)
      if (Either.isLeft(outcome)) {
        return yield* new CommandTimeout({ argv, timeoutMillis: Duration.toMillis(timeout), stdout: out, stderr: err })
      }
      const status = outcome.right
      if (Either.isLeft(status)) {
        const signal = signalOf(status.left)
        if (signal !== undefined) return yield* new CommandFailed({ argv, signal, stdout: out, stderr: err })
        return yield* new CommandSpawnFailed({ argv, detail: `could not read the exit status: ${status.left.message}` })
      }
      const exitCode: number = status.right
      if (exitCode !== 0) return yield* new CommandFailed({ argv, exitCode, stdout: out, stderr: err })
      const result: CommandResult = { argv, exitCode, stdout: out, stderr: err }
      return result
    })

    return markNodeRunner(CommandRunner.of({ run, spawn }))
  }
)

/** The CommandRunner on Node: real processes, with the executor and file system it needs. */
export const layerNode: Layer.Layer<CommandRunner> = Layer.effect(CommandRunner, make).pipe(
  Layer.provide(NodeCommandExecutor.layer),
  Layer.provide(NodeFileSystem.layer)
)
