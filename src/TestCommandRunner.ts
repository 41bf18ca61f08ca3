/**
 * A scripted CommandRunner for tests. Rules say how each command answers; every call is recorded.
 * Time is virtual: delays are `Effect.sleep`s, so under `it.effect` the TestClock drives them
 * (fork the call, `TestClock.adjust`, then look).
 *
 * ```ts
 * const TestLayer = TestCommandRunner.layer({
 *   rules: [
 *     { match: "sbatch", reply: { stdout: "12345\n" } },
 *     { match: /^squeue .*-j 12345/, reply: { stdout: "RUNNING\n", delay: "2 seconds" } }
 *   ]
 * })
 * ```
 *
 * - A string matcher matches when `argv.join(" ")` starts with it ("squeue" matches every squeue
 *   call, "scancel 12" matches `scancel 12` but also `scancel 123`); a RegExp is searched in
 *   `argv.join(" ")`; a function gets the argv.
 * - The first matching rule answers: rules added later with `addRules` first (the most recent batch
 *   first, each batch in its own order), then the layer's rules in order. A rule with `times: n`
 *   answers at most n calls and is skipped after that.
 * - No matching rule: `CommandNotFound`, like a machine without that program.
 * - `run`: waits `delay`; if `spec.timeout` is set and `delay` exceeds it, fails with
 *   `CommandTimeout` once the timeout has passed. `fail: "timeout"` fails with `CommandTimeout`
 *   right after `delay` (no need to advance the clock by the whole timeout).
 * - `spawn`: a fake process (pids count up from 10000) that exits after `delay` (default: at once)
 *   with `exitCode` (default 0) or `signal`. `kill(sig)` is recorded and ends a running fake process
 *   with that signal at once; `terminate` is kill SIGTERM, then wait for the end. No file is
 *   written.
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Ref } from "effect"
import type { CommandResult, CommandSpec, ProcessExit, SpawnedProcess, SpawnSpec } from "./CommandRunner.js"
import { CommandRunner, defaultTimeout } from "./CommandRunner.js"
import { CommandFailed, CommandNotFound, CommandSpawnFailed, CommandTimeout } from "./Errors.js"

export type Matcher = string | RegExp | ((argv: ReadonlyArray<string>) => boolean)

export interface Reply {
  readonly stdout?: string
  readonly stderr?: string
  /** Default 0. Non-zero fails with CommandFailed. */
  readonly exitCode?: number
  /** The command was killed by this signal: fails with CommandFailed carrying it. */
  readonly signal?: string
  /** How long the command takes (virtual time). */
  readonly delay?: Duration.DurationInput
  readonly fail?: "timeout" | "notFound" | "spawnFailed"
}

export interface SpawnReply {
  readonly exitCode?: number
  readonly signal?: string
  /** Time until the fake process exits; default: it exits at once. */
  readonly delay?: Duration.DurationInput
  readonly fail?: "notFound" | "spawnFailed"
}

export interface RecordedCall {
  readonly kind: "run" | "spawn"
  readonly argv: ReadonlyArray<string>
  readonly stdin?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly stdoutFile?: string | undefined
  readonly stderrFile?: string | undefined
  /** Clock.currentTimeMillis when called. */
  readonly atMillis: number
}

export interface Rule {
  readonly match: Matcher
  readonly reply: Reply | ((call: RecordedCall) => Reply)
  /** Used at most this many times, then skipped. Default: no limit. */
  readonly times?: number
}

export interface SpawnRule {
  readonly match: Matcher
  readonly reply: SpawnReply | ((call: RecordedCall) => SpawnReply)
  readonly times?: number
}

export interface SentSignal {
  readonly pid: number
  readonly signal: string
}

export interface TestCommandRunnerShape {
  /** Every call so far (run and spawn), oldest first, matched or not. */
  readonly calls: Effect.Effect<ReadonlyArray<RecordedCall>>
  readonly callsMatching: (m: Matcher) => Effect.Effect<ReadonlyArray<RecordedCall>>
  /** Added rules are checked before all earlier ones. */
  readonly addRules: (rules: ReadonlyArray<Rule>) => Effect.Effect<void>
  readonly addSpawnRules: (rules: ReadonlyArray<SpawnRule>) => Effect.Effect<void>
  /** Signals sent to fake processes (kill and terminate), oldest first. */
  readonly signals: Effect.Effect<ReadonlyArray<SentSignal>>
  /** Forgets the recorded calls (not the rules, not the signals). */
  readonly clearCalls: Effect.Effect<void>
}

export interface TestCommandRunnerOptions {
  readonly rules?: ReadonlyArray<Rule>
  readonly spawnRules?: ReadonlyArray<SpawnRule>
}

export class TestCommandRunner extends Context.Tag("cluster-api/TestCommandRunner")<
  TestCommandRunner,
  TestCommandRunnerShape
>() {
  /** Fresh state (rules, calls, pids) each time the layer is built: provide it per test. */
  static readonly layer = (options?: TestCommandRunnerOptions): Layer.Layer<CommandRunner | TestCommandRunner> =>
    Layer.scopedContext(make(options ?? {}))
}

export const matches = (m: Matcher, argv: ReadonlyArray<string>): boolean => {
  if (typeof m === "function") return m(argv)
  const line = argv.join(" ")
  // `search` ignores `lastIndex`, so a /g or /y RegExp behaves the same on every call.
  return typeof m === "string" ? line.startsWith(m) : line.search(m) !== -1
}

interface Entry<R> {
  readonly rule: R
  readonly remaining: number
}

const entries = <R extends { readonly times?: number }>(rules: ReadonlyArray<R>): ReadonlyArray<Entry<R>> =>
  rules.map((rule) => ({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY }))

/** Takes the first usable matching rule, counting one use. */
const take = <R extends { readonly match: Matcher }>(
  ref: Ref.Ref<ReadonlyArray<Entry<R>>>,
  argv: ReadonlyArray<string>
): Effect.Effect<R | undefined> =>
  Ref.modify(ref, (list) => {
    const index = list.findIndex((e) => e.remaining > 0 && matches(e.rule.match, argv))
    const found = list[index]
    if (found === undefined) return [undefined, list] as const
    const next = list.slice()
    next[index] = { rule: found.rule, remaining: found.remaining - 1 }
    return [found.rule, next] as const
  })

const make = (options: TestCommandRunnerOptions) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const calls = yield* Ref.make<ReadonlyArray<RecordedCall>>([])
    const runRules = yield* Ref.make(entries(options.rules ?? []))
    const spawnRules = yield* Ref.make(entries(options.spawnRules ?? []))
    const signals = yield* Ref.make<ReadonlyArray<SentSignal>>([])
    const nextPid = yield* Ref.make(10000)

    const record = (call: Omit<RecordedCall, "atMillis">) =>
      Effect.gen(function*() {
        const recorded: RecordedCall = { ...call, atMillis: yield* Clock.currentTimeMillis }
        yield* Ref.update(calls, (list) => [...list, recorded])
        return recorded
      })

    const run = Effect.fn("TestCommandRunner.run")(function*(spec: CommandSpec) {
      const argv = spec.argv
      const call = yield* record({ kind: "run", argv, stdin: spec.stdin, env: spec.env, cwd: spec.cwd })
      const rule = yield* take(runRules, argv)
      if (rule === undefined) return yield* new CommandNotFound({ argv })
      const reply = typeof rule.reply === "function" ? rule.reply(call) : rule.reply
      const delay = Duration.decode(reply.delay ?? Duration.zero)
      const stdout = reply.stdout ?? ""
      const stderr = reply.stderr ?? ""
      if (spec.timeout !== undefined) {
        const timeout = Duration.decode(spec.timeout)
        if (Duration.greaterThan(delay, timeout)) {
          yield* Effect.sleep(timeout)
          return yield* new CommandTimeout({ argv, timeoutMillis: Duration.toMillis(timeout), stdout: "", stderr: "" })
        }
      }
      if (Duration.greaterThan(delay, Duration.zero)) yield* Effect.sleep(delay)
      switch (reply.fail) {
        case "timeout":
          return yield* new CommandTimeout({
            argv,
            timeoutMillis: Duration.toMillis(Duration.decode(spec.timeout ?? defaultTimeout)),
            stdout: "",
            stderr: ""
          })
        case "notFound":
          return yield* new CommandNotFound({ argv })
        case "spawnFailed":
          return yield* new CommandSpawnFailed({ argv, detail: "scripted spawn failure (TestCommandRunner)" })
      }
      if (reply.signal !== undefined) {
        return yield* new CommandFailed({ argv, signal: reply.signal, stdout, stderr })
      }
      const exitCode = reply.exitCode ?? 0
      if (exitCode !== 0) return yield* new CommandFailed({ argv, exitCode, stdout, stderr })
      const result: CommandResult = { argv, exitCode, stdout, stderr }
      return result
    })

    const spawn = Effect.fn("TestCommandRunner.spawn")(function*(spec: SpawnSpec) {
      const argv = spec.argv
      const call = yield* record({
        kind: "spawn",
        argv,
        env: spec.env,
        cwd: spec.cwd,
        stdoutFile: spec.stdoutFile,
        stderrFile: spec.stderrFile
      })
      const rule = yield* take(spawnRules, argv)
      if (rule === undefined) return yield* new CommandNotFound({ argv })
      const reply = typeof rule.reply === "function" ? rule.reply(call) : rule.reply
      switch (reply.fail) {
        case "notFound":
          return yield* new CommandNotFound({ argv })
        case "spawnFailed":
          return yield* new CommandSpawnFailed({ argv, detail: "scripted spawn failure (TestCommandRunner)" })
      }
      const pid = yield* Ref.getAndUpdate(nextPid, (n) => n + 1)
      const ended = yield* Deferred.make<ProcessExit>()
      const natural: ProcessExit = reply.signal !== undefined
        ? { signal: reply.signal }
        : { exitCode: reply.exitCode ?? 0 }
      const delay = Duration.decode(reply.delay ?? Duration.zero)
      if (Duration.greaterThan(delay, Duration.zero)) {
        // In the layer's scope: the fake process outlives the caller, like a real spawned one.
        yield* Effect.sleep(delay).pipe(Effect.zipRight(Deferred.succeed(ended, natural)), Effect.forkIn(scope))
      } else {
        yield* Deferred.succeed(ended, natural)
      }
      const exit = Deferred.await(ended)
      const kill = (signal: NodeJS.Signals = "SIGTERM"): Effect.Effect<void> =>
        Ref.update(signals, (list) => [...list, { pid, signal }]).pipe(
          Effect.zipRight(Deferred.succeed(ended, { signal })), // no-op once it has ended
          Effect.asVoid
        )
      const process: SpawnedProcess = {
        pid,
        exit,
        kill,
        terminate: (_grace) => Effect.zipRight(kill("SIGTERM"), exit)
      }
      return process
    })

    const runner = CommandRunner.of({ run, spawn })
    const test = TestCommandRunner.of({
      calls: Ref.get(calls),
      callsMatching: (m) => Effect.map(Ref.get(calls), (list) => list.filter((c) => matches(m, c.argv))),
      addRules: (rules) => Ref.update(runRules, (list) => [...entries(rules), ...list]),
      addSpawnRules: (rules) => Ref.update(spawnRules, (list) => [...entries(rules), ...list]),
      signals: Ref.get(signals),
      clearCalls: Ref.set(calls, [])
    })
    return Context.make(CommandRunner, runner).pipe(Context.add(TestCommandRunner, test))
  })
