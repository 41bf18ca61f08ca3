/**
 * No user value runs as shell or opens a directive line, on any scheduler: job specs and config
 * values made of hostile pieces (line breaks, quotes, `$()`, backticks, `;`, `%`, `#`, control
 * characters, unicode) in every field a user controls give either a typed error naming one of
 * the fields they were put in, or a script that `sh -n` accepts and that, run by /bin/sh in an
 * empty directory with `true` as the command, prints nothing and creates nothing.
 *
 * The scripts are written by the real executors (batch schedulers answered by their scripted
 * fakes); the directory cluster-api runs in is a temporary one, and every path is relative to it.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig, loadConfig } from "../src/Config.js"
import type { JobSpec } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { NodeContext } from "@effect/platform-node"
import { configFor, fakeFor } from "./support/EveryScheduler.js"
import type { Scheduler } from "./support/EveryScheduler.js"
import { removeDir } from "./support/TempDirs.js"

/** Characters that end a line or have no business in a name or a path. */
const controls = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f"]
/** What a shell, a scheduler's directive reader or its path patterns would act on. */
const pieces = [
  "\u2028", "'", "\"", "\\", "$(touch PWNED)", "`touch PWNED`", "; touch PWNED;", "&& touch PWNED", "| touch PWNED",
  "> PWNED", "%x", "%j", "%%", "%", "#", "$HOME", "$USER", "${X}", "$", ":", ",", "^array_index^", " ", "é", "日本",
  "🙂", "-", "--x", "=", "a", "/", "*", "~"
]

/** A string of hostile pieces and printable characters. */
const clean = fc.array(
  fc.oneof(
    { arbitrary: fc.constantFrom(...pieces), weight: 4 },
    { arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), weight: 1 }
  ),
  { minLength: 1, maxLength: 6 }
).map((xs) => xs.join(""))

const hostile = clean

/**
 * A hostile path, always below the directory it is resolved against (no `..`, not absolute), or
 * (two times in three) none: schedulers refuse many of these characters in paths, and a run with
 * fewer paths gets as far as a script more often.
 */
const hostilePath = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  { arbitrary: hostile.map((s) => `sub/${s.replaceAll("..", "__")}`), weight: 1 }
)

/** Which fields a value given in one place may be refused as. */
const fieldsOf: Readonly<Record<string, ReadonlyArray<string>>> = {
  workDir: ["resources.workDir"],
  stdoutPath: ["resources.stdoutPath"],
  stderrPath: ["resources.stderrPath"],
  queue: ["resources.queue"],
  account: ["resources.account"],
  extraDirective: ["resources.extraDirectives"],
  dependency: ["dependsOn"],
  log_directory: ["log_directory"],
  config_queue: ["resources.queue"],
  config_account: ["resources.account"],
  extra_directive: ["extra_directives"]
}

const jobFields = fc.record({
  name: hostile,
  env: hostile,
  workDir: hostilePath,
  stdoutPath: hostilePath,
  stderrPath: hostilePath,
  queue: hostile,
  account: hostile,
  extraDirective: hostile,
  dependency: fc.oneof({ arbitrary: fc.constantFrom("1234", "1234_5", "77.server"), weight: 3 }, { arbitrary: hostile, weight: 1 }),
  array: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: -1, max: 4 })).map(([start, more]) => ({ start, end: start + more }))
}, { requiredKeys: ["name", "env"] })

const configFields = fc.record({
  log_directory: hostilePath,
  job_name_prefix: hostile,
  config_queue: hostile,
  config_account: hostile,
  extra_directive: hostile.map((s) => `#X ${s}`)
}, { requiredKeys: [] })

const jobKeys = [
  "name", "env", "workDir", "stdoutPath", "stderrPath", "queue", "account", "extraDirective", "dependency"
] as const
const configKeys = ["log_directory", "job_name_prefix", "config_queue", "config_account", "extra_directive"] as const
const stringKeys = [...jobKeys, ...configKeys]

/** Where a control character is quoted harmlessly (an environment value) or replaced (a job name). */
const mayHoldControls: ReadonlySet<string> = new Set(["name", "env"])

/**
 * A job and a config of hostile values; in about half the runs, one of them (`dirty`) also holds a
 * control character.
 */
const cases = fc.record({
  job: jobFields,
  config: configFields,
  dirty: fc.option(fc.tuple(fc.constantFrom(...stringKeys), fc.constantFrom(...controls), fc.nat()), { freq: 2 })
}).map(({ config, dirty, job }) => {
  if (dirty === null) return { job, config, dirty: undefined }
  const [key, control, at] = dirty
  const put = (value: string | undefined) => {
    const v = value ?? "v"
    const i = at % (v.length + 1)
    return `${v.slice(0, i)}${control}${v.slice(i)}`
  }
  return (jobKeys as ReadonlyArray<string>).includes(key)
    ? { job: { ...job, [key]: put((job as unknown as Record<string, string | undefined>)[key]) }, config, dirty: key }
    : { job, config: { ...config, [key]: put((config as unknown as Record<string, string | undefined>)[key]) }, dirty: key }
})

type Job = (typeof cases extends fc.Arbitrary<infer T> ? T : never)["job"]
type Config = (typeof cases extends fc.Arbitrary<infer T> ? T : never)["config"]




let root = ""
let back = ""
beforeAll(() => {
  back = process.cwd()
  root = mkdtempSync(join(tmpdir(), "capi-inject-"))
  process.chdir(root)
  writeFileSync(join(root, "empty.yaml"), "# every option comes from the overrides\n")
})
afterAll(() => {
  process.chdir(back)
  removeDir(root)
})

/** Every file and directory name below `dir`. */
const namesBelow = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [e.name, ...namesBelow(join(dir, e.name))] : [e.name]
  )

/** Runs a written script as the scheduler would run the command `true`, and says what it did. */
const runScript = (script: string) => {
  const syntax = spawnSync("/bin/sh", ["-n", script], { encoding: "utf8" })
  const empty = mkdtempSync(join(root, "run-"))
  const run = spawnSync("/bin/sh", [script], {
    cwd: empty,
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", HOME: empty },
    timeout: 10_000
  })
  const left = readdirSync(empty)
  removeDir(empty)
  return { syntax: syntax.status, syntaxError: syntax.stderr, status: run.status, stdout: run.stdout, stderr: run.stderr, left }
}

const submitted = (scheduler: Scheduler, job: Job, config: Config) =>
  Effect.gen(function*() {
    const overrides: Record<string, unknown> = {
      ...configFor(scheduler),
      poll_interval: 10,
      log_directory: config.log_directory ?? "logs",
      ...(config.job_name_prefix === undefined ? {} : { job_name_prefix: config.job_name_prefix }),
      ...(config.config_queue === undefined ? {} : { queue: config.config_queue }),
      ...(config.config_account === undefined ? {} : { account: config.config_account }),
      ...(config.extra_directive === undefined ? {} : { extra_directives: [config.extra_directive] })
    }
    const loaded = yield* loadConfig({ configPath: join(root, "empty.yaml"), overrides }).pipe(
      Effect.provide(NodeContext.layer),
      Effect.either
    )
    if (Either.isLeft(loaded)) return { _tag: "ConfigRefused" as const, error: loaded.left }
    const spec: JobSpec = {
      name: job.name,
      command: "true",
      env: { HOSTILE: job.env },
      resources: {
        ...(job.workDir === undefined ? {} : { workDir: job.workDir }),
        ...(job.stdoutPath === undefined ? {} : { stdoutPath: job.stdoutPath }),
        ...(job.stderrPath === undefined ? {} : { stderrPath: job.stderrPath }),
        ...(job.queue === undefined ? {} : { queue: job.queue }),
        ...(job.account === undefined ? {} : { account: job.account }),
        ...(job.extraDirective === undefined ? {} : { extraDirectives: [job.extraDirective] })
      },
      ...(job.dependency === undefined ? {} : { dependsOn: [{ jobId: job.dependency, type: "afterok" as const }] }),
      ...(job.array === undefined ? {} : { array: job.array })
    }
    if (scheduler === "local" && job.workDir !== undefined) {
      // The local executor runs only in a directory that exists.
      try {
        mkdirSync(join(root, job.workDir), { recursive: true })
      } catch {
        // A name the file system refuses (a NUL): the executor must refuse it too.
      }
    }
    const fake = yield* fakeFor(scheduler)
    const result = yield* Effect.flatMap(Executor, (e) => e.submit(spec)).pipe(
      Effect.either,
      Effect.scoped,
      Effect.provide(ClusterApi.compose({
        config: Layer.succeed(ClusterConfig, loaded.right),
        runner: TestCommandRunner.layer({ rules: fake.rules }),
        monitor: { adopt: "none" }
      }))
    )
    return { _tag: "Submitted" as const, result }
  })

const runs = 40

/**
 * A case every scheduler must accept (hostile, but with nothing any of them refuses in a path: no
 * control character, `$`, `%`, quote, backslash or `#`): always run first.
 */
const accepted = {
  job: {
    name: "x$(touch PWNED)`touch PWNED`'\"; touch PWNED #",
    env: "a'b\n$(touch PWNED) `touch PWNED` \"; touch PWNED",
    queue: "q; touch PWNED",
    account: "`touch PWNED`'\"",
    extraDirective: "--x=$(touch PWNED) # `touch PWNED`",
    workDir: "sub/w ; `touch PWNED` | & > < () é 日本"
  },
  config: { job_name_prefix: "p$(touch PWNED)", extra_directive: "#X $(touch PWNED)" },
  dirty: undefined
}
/** How many runs of each scheduler's property got as far as running a script. */
const scriptsRun = new Map<string, number>()

describe("hostile values in every field a user controls", () => {
  for (const scheduler of ["slurm", "lsf", "sge", "pbs-pro", "pbs-torque", "local"] as const) {
    it.live.prop(
      `${scheduler}: a typed error naming a field they were put in, or a script that runs nothing but the command`,
      [cases],
      ([{ config, dirty, job }]) =>
        Effect.gen(function*() {
          const given = [...Object.keys(job), ...Object.keys(config)].flatMap((k) => fieldsOf[k] ?? [])
          const outcome = yield* submitted(scheduler, job, config)
          if (JSON.stringify({ job, config }) === JSON.stringify({ job: accepted.job, config: accepted.config })) {
            expect(outcome._tag === "Submitted" && Either.isRight(outcome.result)).toBe(true)
          }
          if (dirty !== undefined && !mayHoldControls.has(dirty)) {
            expect(outcome._tag === "ConfigRefused" || Either.isLeft(outcome.result)).toBe(true)
          }
          if (outcome._tag === "ConfigRefused") {
            expect(outcome.error._tag).toBe("ConfigInvalid")
            if (outcome.error._tag !== "ConfigInvalid") return
            for (const problem of outcome.error.problems) {
              expect(["log_directory", "job_name_prefix", "queue", "account", "extra_directives"]).toContain(
                problem.replace(/^overrides\./, "").replace(/[:[].*$/s, "")
              )
            }
            return
          }
          const result = outcome.result
          if (Either.isLeft(result)) {
            expect(result.left._tag).toBe("InvalidJobSpec")
            if (result.left._tag !== "InvalidJobSpec") return
            expect([...given, "array"]).toContain(result.left.field)
            return
          }
          const script = result.right.scriptPath!
          const ran = runScript(script)
          expect({ syntax: ran.syntax, error: ran.syntaxError }).toEqual({ syntax: 0, error: "" })
          expect(ran).toMatchObject({ status: 0, stdout: "", stderr: "", left: [] })
          expect(namesBelow(root).filter((n) => n === "PWNED")).toEqual([])
          scriptsRun.set(scheduler, (scriptsRun.get(scheduler) ?? 0) + 1)
          // No value ended the directive block early: the first command is the job's first export.
          const lines = readFileSync(script, "utf8").split("\n")
          const firstCommand = lines.findIndex((l, i) => i > 0 && !l.startsWith("#"))
          expect(lines[firstCommand]).toMatch(/^export HOSTILE=/)
        }),
      { timeout: 120_000, fastCheck: { numRuns: runs, examples: [[accepted]] } }
    )

    it(`${scheduler}: the case every scheduler must accept, at least, wrote and ran a script`, () => {
      expect(scriptsRun.get(scheduler) ?? 0).toBeGreaterThanOrEqual(1)
    })
  }
})
