/**
 * CommandRunner: runs one argv (never a shell string) and reports what happened.
 *
 * - `run` waits for the command to end, draining stdout and stderr concurrently, and fails with
 *   `CommandFailed` on a non-zero exit (stdout and stderr kept), `CommandTimeout` (the process group
 *   is sent SIGTERM, then SIGKILL after a grace period, and reaped), or `CommandNotFound`.
 * - `spawn` starts a long-running process in its own process group with stdout and stderr written
 *   straight to files (used by the local executor for jobs).
 */
import type { Duration, Effect } from "effect"
import { Context } from "effect"
import type { CommandFailed, CommandNotFound, CommandSpawnFailed, CommandTimeout } from "./Errors.js"

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

export class CommandRunner extends Context.Tag("cluster-api/CommandRunner")<CommandRunner, CommandRunnerShape>() {}

