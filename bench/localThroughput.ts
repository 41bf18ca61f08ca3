/**
 * Local throughput against its floor: N trivial jobs (`true`) at the default concurrency
 * (`max_local_jobs`, the machine's parallelism), through the library and optionally through the
 * CLI as one array, beside `seq N | xargs -P{parallelism} sh -c true` in the same run. Rounds are
 * interleaved (library, CLI, xargs, then again) so the machine's load hits every side alike; each
 * figure is the median of the rounds, and the ratios are jobs/s against xargs.
 *
 * `localThroughput` is what `npm run bench` calls; run alone after a build:
 *   node dist/bench/localThroughput.js [jobs=1000] [rounds=3] [--cli] [--direct] [--json]
 * (`--direct`: the library also with every process forked from this program, as before the spawner.)
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { FileSystem } from "@effect/platform"
import { Console, Duration, Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { dirname, join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { CommandRunner, layerNode as nodeRunner } from "../src/CommandRunner.js"
import { ClusterConfig } from "../src/Config.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"

/** One timed run of N jobs. */
export interface Run {
  readonly jobs: number
  readonly ms: number
  readonly jobsPerSecond: number
}

export interface LocalThroughput {
  readonly jobs: number
  readonly rounds: number
  /** The concurrency both sides ran at: `max_local_jobs` (its default) and xargs' `-P`. */
  readonly parallelism: number
  /** Medians of the rounds. */
  readonly library: Run
  readonly cli: Run | undefined
  /** The library with every process forked from this program (no spawner), when asked for. */
  readonly direct: Run | undefined
  readonly xargs: Run
  /** library jobs/s ÷ xargs jobs/s (the goal is ≥ 0.8). */
  readonly libraryRatio: number
  readonly cliRatio: number | undefined
  /** This process's resident set after the library rounds (a fork costs more the larger it is). */
  readonly rssBytes: number
}

const run = (jobs: number, ms: number): Run => ({ jobs, ms, jobsPerSecond: jobs / (ms / 1000) })

const median = (runs: ReadonlyArray<Run>): Run => {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms)
  return sorted[Math.floor(sorted.length / 2)]!
}

/**
 * N `true` jobs through `ClusterApi.compose` with the node runner, the in-memory store and the
 * default config (log directory aside): from the first submit to the last end `awaitAll` sees.
 * Fails if any job did not end Done or they did not all end within `limit`.
 */
export const libraryRun = (
  jobs: number,
  dir: string,
  limit: Duration.DurationInput = "5 minutes",
  /** Start every process from this program (a runner that is not the Node runner itself gets no spawner). */
  direct = false
) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const monitor = yield* Monitor
    const start = performance.now()
    const submitted = yield* Effect.forEach(
      Array.from({ length: jobs }, (_, i) => i),
      (i) => executor.submit({ name: `true-${i}`, command: "true" })
    )
    const ended = yield* monitor.awaitAll(submitted, { timeout: limit })
    const ms = performance.now() - start
    const notDone = ended.filter((r) => r.status !== "Done")
    if (notDone.length > 0) {
      return yield* Effect.fail(new Error(`${notDone.length} of ${jobs} jobs did not end Done, e.g. ${JSON.stringify(notDone[0])}`))
    }
    return run(jobs, ms)
  }).pipe(
    Effect.provide(ClusterApi.compose({
      config: ClusterConfig.layerTest({ log_directory: dir }),
      runner: direct
        ? Layer.effect(CommandRunner, Effect.map(CommandRunner, (real) => ({ ...real }))).pipe(Layer.provide(nodeRunner))
        : nodeRunner
    }))
  )

/** `seq N | xargs -P{parallelism} sh -c true`, timed from here. */
export const xargsRun = (jobs: number, parallelism: number): Effect.Effect<Run, Error> =>
  Effect.try({
    try: () => {
      const start = performance.now()
      const result = spawnSync("sh", ["-c", `seq ${jobs} | xargs -P${parallelism} -I{} sh -c true`], { stdio: "inherit" })
      const ms = performance.now() - start
      if (result.status !== 0) throw new Error(`xargs exited with ${result.status ?? result.signal}`)
      return run(jobs, ms)
    },
    catch: (e) => e instanceof Error ? e : new Error(String(e))
  })

/**
 * `cluster-api submit --array 1-N --wait true` with the built CLI (`bin`), in `dir` with a config
 * naming the local executor (its default store), timed from here to the command's exit.
 */
export const cliRun = (jobs: number, dir: string, bin: string): Effect.Effect<Run, Error> =>
  Effect.async<Run, Error>((resume) => {
    writeFileSync(join(dir, "cluster-api.yaml"), "executor: local\n")
    const start = performance.now()
    const child = spawn(process.execPath, [bin, "submit", "--array", `1-${jobs}`, "--wait", "--name", "t", "true"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"]
    })
    child.once("error", (e) => resume(Effect.fail(e)))
    child.once("exit", (code, signal) => {
      const ms = performance.now() - start
      resume(code === 0 ? Effect.succeed(run(jobs, ms)) : Effect.fail(new Error(`the CLI exited with ${code ?? signal}`)))
    })
  })

/**
 * `rounds` interleaved rounds of the library, the CLI (when `cliBin` names the built bin) and
 * xargs, N jobs each, everything written under `dir`; medians and ratios.
 */
export const localThroughput = (options: {
  readonly dir: string
  readonly jobs?: number | undefined
  readonly rounds?: number | undefined
  readonly cliBin?: string | undefined
  /** Also run the library with every process forked from this program, for comparison. */
  readonly direct?: boolean | undefined
  readonly progress?: ((message: string) => Effect.Effect<void>) | undefined
}): Effect.Effect<LocalThroughput, Error, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const jobs = options.jobs ?? 1_000
    const rounds = options.rounds ?? 3
    const parallelism = availableParallelism()
    const progress = options.progress ?? (() => Effect.void)
    const library: Array<Run> = []
    const cli: Array<Run> = []
    const direct: Array<Run> = []
    const xargs: Array<Run> = []
    const tempDir = fs.makeTempDirectory({ directory: options.dir }).pipe(Effect.mapError((e) => new Error(e.message)))
    for (let round = 1; round <= rounds; round++) {
      yield* progress(`round ${round}/${rounds}: ${jobs} local jobs through the library`)
      library.push(yield* libraryRun(jobs, yield* tempDir))
      if (options.direct === true) {
        yield* progress(`round ${round}/${rounds}: ${jobs} local jobs through the library, each forked from this program`)
        direct.push(yield* libraryRun(jobs, yield* tempDir, "5 minutes", true))
      }
      if (options.cliBin !== undefined) {
        yield* progress(`round ${round}/${rounds}: a ${jobs}-element array through the CLI`)
        cli.push(yield* cliRun(jobs, yield* tempDir, options.cliBin))
      }
      yield* progress(`round ${round}/${rounds}: xargs -P${parallelism}`)
      xargs.push(yield* xargsRun(jobs, parallelism))
    }
    const x = median(xargs)
    const l = median(library)
    const c = cli.length === 0 ? undefined : median(cli)
    return {
      jobs,
      rounds,
      parallelism,
      library: l,
      cli: c,
      direct: direct.length === 0 ? undefined : median(direct),
      xargs: x,
      libraryRatio: l.jobsPerSecond / x.jobsPerSecond,
      cliRatio: c === undefined ? undefined : c.jobsPerSecond / x.jobsPerSecond,
      rssBytes: process.memoryUsage().rss
    }
  })

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]

if (isMain) {
  const args = process.argv.slice(2)
  const numbers = args.filter((a) => /^\d+$/.test(a)).map(Number)
  const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "bin.js")
  const main = Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-api-local-bench-" })
    const r = yield* localThroughput({
      dir,
      jobs: numbers[0],
      rounds: numbers[1],
      cliBin: args.includes("--cli") ? bin : undefined,
      direct: args.includes("--direct"),
      progress: (m) => Console.error(`[bench] ${m}`)
    })
    const line = (label: string, x: Run, ratio?: number) =>
      `${label.padEnd(10)} ${x.jobsPerSecond.toFixed(1).padStart(7)} jobs/s  ${(x.ms / 1000).toFixed(2).padStart(6)} s` +
      (ratio === undefined ? "" : `  ${ratio.toFixed(2)}× xargs`)
    yield* Console.log(
      [
        `${r.jobs} \`true\` jobs, concurrency ${r.parallelism}, median of ${r.rounds} (rss ${(r.rssBytes / 2 ** 20).toFixed(0)} MB)`,
        line("library", r.library, r.libraryRatio),
        ...(r.direct === undefined ? [] : [line("direct", r.direct, r.direct.jobsPerSecond / r.xargs.jobsPerSecond)]),
        ...(r.cli === undefined ? [] : [line("cli array", r.cli, r.cliRatio)]),
        line("xargs", r.xargs),
        ...(args.includes("--json") ? [JSON.stringify(r)] : [])
      ].join("\n")
    )
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
  NodeRuntime.runMain(main)
}
