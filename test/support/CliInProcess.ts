/**
 * Runs the `cluster-api` command line in this process: `run(argv)` of src/cli/Cli.ts with a
 * Console and a Terminal that collect what it prints, a working directory and an environment of
 * the test's choosing (HOME is the working directory unless given, CLUSTER_API_CONFIG is unset
 * unless given), and the real file system and subprocesses (NodeContext). Nothing of the process
 * (its directory, environment, stdout) is changed, so runs can go side by side. `runCli` waits
 * for the run's end; `startCli` starts it in the background, for a test that acts once it has
 * printed something (a `submit` that waits for its job, a `logs --follow`).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Terminal from "@effect/platform/Terminal"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { Console as NodeConsole } from "node:console"
import { Writable } from "node:stream"
import { run } from "../../src/cli/Cli.js"
import * as WorkingDirectory from "../../src/internal/workingDirectory.js"
import { whenPrinted } from "./Until.js"

export interface CliResult {
  readonly code: number
  /** Console lines and Terminal text, in the order they were printed. */
  readonly stdout: string
  readonly stderr: string
}

export interface CliRunOptions {
  /** The working directory: config search, relative paths, the default job store. */
  readonly cwd: string
  /** The environment the command line reads (HOME defaults to `cwd`). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Whether stdout is a terminal (default false: a pipe, as when a test spawns the bin). */
  readonly isTTY?: boolean | undefined
  /** The terminal's width (default 100). */
  readonly columns?: number | undefined
}

/** An Effect Console over a Node console (every method, as Effect's default Console does). */
const effectConsole = (unsafe: Console.UnsafeConsole): Console.Console => ({
  [Console.TypeId]: Console.TypeId,
  assert: (condition, ...args) => Effect.sync(() => unsafe.assert(condition, ...args)),
  clear: Effect.sync(() => unsafe.clear()),
  count: (label) => Effect.sync(() => unsafe.count(label)),
  countReset: (label) => Effect.sync(() => unsafe.countReset(label)),
  debug: (...args) => Effect.sync(() => unsafe.debug(...args)),
  dir: (item, options) => Effect.sync(() => unsafe.dir(item, options)),
  dirxml: (...args) => Effect.sync(() => unsafe.dirxml(...args)),
  error: (...args) => Effect.sync(() => unsafe.error(...args)),
  group: (options) =>
    Effect.sync(() => options?.collapsed === true ? unsafe.groupCollapsed(options.label) : unsafe.group(options?.label)),
  groupEnd: Effect.sync(() => unsafe.groupEnd()),
  info: (...args) => Effect.sync(() => unsafe.info(...args)),
  log: (...args) => Effect.sync(() => unsafe.log(...args)),
  table: (data, properties) => Effect.sync(() => unsafe.table(data, properties)),
  time: (label) => Effect.sync(() => unsafe.time(label)),
  timeEnd: (label) => Effect.sync(() => unsafe.timeEnd(label)),
  timeLog: (label, ...args) => Effect.sync(() => unsafe.timeLog(label, ...args)),
  trace: (...args) => Effect.sync(() => unsafe.trace(...args)),
  warn: (...args) => Effect.sync(() => unsafe.warn(...args)),
  unsafe
})

/** One run of the command line, not yet started: its effect, and what it has printed so far. */
const prepare = (args: ReadonlyArray<string>, options: CliRunOptions) => {
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  const changed = () => listeners.forEach((f) => f())
  // Written synchronously: each write calls back at once, so nothing is buffered.
  const collect = (append: (text: string) => void) =>
    new Writable({
      decodeStrings: false,
      write: (chunk: string | Buffer, _encoding, done) => {
        append(chunk.toString())
        changed()
        done()
      }
    })
  const console = effectConsole(
    new NodeConsole({
      stdout: collect((t) => void (stdout += t)),
      stderr: collect((t) => void (stderr += t)),
      colorMode: false
    })
  )
  const terminal = Terminal.Terminal.of({
    columns: Effect.succeed(options.columns ?? 100),
    rows: Effect.succeed(24),
    isTTY: Effect.succeed(options.isTTY ?? false),
    readInput: Effect.dieMessage("the command line read keys from the terminal"),
    readLine: Effect.dieMessage("the command line read a line from the terminal"),
    display: (text) =>
      Effect.sync(() => {
        stdout += text
        changed()
      })
  })
  const env = new Map(Object.entries({ HOME: options.cwd, ...options.env }))
  const effect: Effect.Effect<CliResult> = run(["node", "cluster-api", ...args]).pipe(
    Effect.map((code): CliResult => ({ code, stdout, stderr })),
    Effect.provideService(WorkingDirectory.WorkingDirectory, { path: options.cwd }),
    Effect.withConfigProvider(ConfigProvider.fromMap(env)),
    Console.withConsole(console),
    Effect.provideService(Terminal.Terminal, terminal),
    Effect.provide(NodeContext.layer),
    Effect.orDie
  )
  return { effect, printed: () => ({ stdout, stderr }), listeners }
}

/** Runs `cluster-api ...args` in-process; never fails (a defect or interruption is the test's failure). */
export const runCliEffect = (args: ReadonlyArray<string>, options: CliRunOptions): Effect.Effect<CliResult> =>
  Effect.suspend(() => prepare(args, options).effect)

export const runCli = (args: ReadonlyArray<string>, options: CliRunOptions): Promise<CliResult> =>
  Effect.runPromise(runCliEffect(args, options))

/** A run started in the background (a `submit` that waits, a `logs --follow`), to act on once it has printed something. */
export interface StartedCli {
  /** What it printed so far on stdout and stderr, and its exit code once it has ended. */
  readonly printed: () => { readonly code: number | undefined; readonly stdout: string; readonly stderr: string }
  /**
   * Resolves once its stdout or stderr matches `pattern`; rejects if the run ends first, or when
   * `timeoutMs` passes.
   */
  readonly printedMatch: (pattern: RegExp, timeoutMs?: number) => Promise<void>
  /** Its end: the exit code and everything it printed. Rejects if the run was interrupted or died. */
  readonly exited: Promise<CliResult>
  /**
   * Interrupts the run (as Ctrl-C would: its finalizers run, local jobs it started are ended) and
   * resolves once it has ended. Nothing happens to a run that has already ended.
   */
  readonly interrupt: () => Promise<void>
}

/** Starts `cluster-api ...args` in-process, in a fiber of its own. */
export const startCli = (args: ReadonlyArray<string>, options: CliRunOptions): StartedCli => {
  const { effect, listeners, printed: output } = prepare(args, options)
  const fiber = Effect.runFork(effect)
  let ended: Exit.Exit<CliResult> | undefined
  const exited = new Promise<CliResult>((resolve, reject) => {
    fiber.addObserver((exit) => {
      ended = exit
      listeners.forEach((f) => f())
      if (Exit.isSuccess(exit)) resolve(exit.value)
      else {
        const { stderr, stdout } = output()
        reject(new Error(`cluster-api ${args.join(" ")} did not end on its own:\n${Cause.pretty(exit.cause)}\n${stdout}\n${stderr}`))
      }
    })
  })
  // A run the test interrupts on purpose need not be awaited.
  exited.catch(() => undefined)
  const printed = () => ({ code: ended !== undefined && Exit.isSuccess(ended) ? ended.value.code : undefined, ...output() })
  const printedMatch = (pattern: RegExp, timeoutMs = 60_000) =>
    whenPrinted(listeners, output, () => ended !== undefined, pattern, timeoutMs)
  const interrupt = () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined)
  return { printed, printedMatch, exited, interrupt }
}
