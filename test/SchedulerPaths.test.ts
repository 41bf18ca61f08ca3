/**
 * Paths and values that reach a job's script and directives: a control character anywhere (the
 * job's own fields, the config's `log_directory`, the directory cluster-api runs in) is refused
 * naming the field, for every executor; each scheduler's own expansions in paths (Slurm's `%x`,
 * LSF's `%J`, SGE's `$USER`, PBS's `host:`) are escaped or refused by its own rules; and a Slurm
 * job whose output slurmd could not open is described as such.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect, Either } from "effect"
import { mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import type { ConfigOptions } from "../src/Config.js"
import type { JobSpec } from "../src/Domain.js"
import { describeReason } from "../src/Domain.js"
import { Executor } from "../src/Executor.js"
import { builtin } from "../src/schedulers/builtin.js"
import { parseAccounting } from "./support/parts/slurm.js"
import { signalName } from "../src/internal/signals.js"
import { TestCommandRunner } from "../src/TestCommandRunner.js"
import { tempDirs } from "./support/TempDirs.js"
import { configFor, fakeFor, schedulers } from "./support/EveryScheduler.js"
import type { Scheduler } from "./support/EveryScheduler.js"
import { logPath } from "../src/internal/queries/files.js"

const tempDir = tempDirs("capi-paths-")




/** Runs `body` on `scheduler` (a scripted one, or local processes) with a fresh log directory. */
const on = <A, E>(
  scheduler: Scheduler,
  body: Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>,
  config: Partial<ConfigOptions> = {}
) =>
  Effect.gen(function*() {
    const fake = yield* fakeFor(scheduler)
    return yield* body.pipe(
      Effect.scoped,
      Effect.provide(ClusterApi.layerTest({
        config: { poll_interval: 10, log_directory: tempDir(), ...configFor(scheduler), ...config },
        rules: fake.rules
      }))
    )
  })

/** Submits and returns the error, failing the test when the submit succeeds. */
const refused = (spec: JobSpec) => Effect.flatMap(Executor, (e) => Effect.flip(e.submit(spec)))

/** Every command the executor ran (none when a submit is refused before the scheduler is asked). */
const commands = Effect.flatMap(TestCommandRunner, (t) => t.callsMatching(""))

const injected = "x\ntouch PWNED\n#"

describe("control characters in paths, for every executor", () => {
  for (const scheduler of schedulers) {
    it.effect(`${scheduler}: a log_directory with a line break is refused naming log_directory; nothing is run`, () => {
      const dir = join(tempDir(), injected)
      return on(
        scheduler,
        Effect.gen(function*() {
          const error = yield* refused({ name: "j", command: "true" })
          expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: "log_directory" })
          expect(error.message).toContain("control character (\\x0a")
          expect(yield* commands).toEqual([])
        }),
        { log_directory: dir }
      )
    })

    it.effect(`${scheduler}: running in a directory whose name holds a line break is refused naming it`, () =>
      Effect.gen(function*() {
        const root = tempDir()
        const cwd = join(root, injected)
        mkdirSync(cwd)
        const back = process.cwd()
        process.chdir(cwd)
        const error = yield* on(scheduler, refused({ name: "j", command: "true" }), { log_directory: root }).pipe(
          Effect.ensuring(Effect.sync(() => process.chdir(back)))
        )
        expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: expect.stringMatching(/^working directory/) })
      }))

    it.effect(`${scheduler}: a tab, an escape or DEL in a workDir or log path is refused too`, () =>
      on(
        scheduler,
        Effect.gen(function*() {
          const root = tempDir()
          for (
            const [resources, field] of [
              [{ workDir: join(root, "a\tb") }, "resources.workDir"],
              [{ stdoutPath: "out\x1b[2J.log" }, "resources.stdoutPath"],
              [{ stderrPath: "err\x7f.log" }, "resources.stderrPath"],
              [{ queue: "q\x00" }, "resources.queue"],
              [{ extraDirectives: ["--x\rtouch PWNED"] }, "resources.extraDirectives"]
            ] as const
          ) {
            const error = yield* refused({ name: "j", command: "true", resources })
            expect(error).toMatchObject({ _tag: "InvalidJobSpec", field })
          }
          expect(yield* commands).toEqual([])
        })
      ))
  }

  it.effect("a config extra_directives line that is no comment is refused: it would run as a command", () =>
    on(
      "slurm",
      Effect.gen(function*() {
        const error = yield* refused({ name: "j", command: "true" })
        expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: "extra_directives" })
        expect(error.message).toContain("put commands in script_prologue")
      }),
      { extra_directives: ["touch PWNED"] }
    ))
})

describe("each scheduler's expansions in paths", () => {
  it.effect("Slurm: % in the log directory is written %% in --output/--error; --chdir takes it as it is; the record reads back", () => {
    const dir = join(tempDir(), "run %x %j 100%")
    return on(
      "slurm",
      Effect.gen(function*() {
        const record = yield* Effect.flatMap(Executor, (e) => e.submit({ name: "pct", command: "true" }))
        const script = readFileSync(record.scriptPath!, "utf8")
        const escaped = dir.replaceAll("%", "%%")
        expect(script).toContain(`#SBATCH --output="${escaped}/stdout.%j.log"\n`)
        expect(script).toContain(`#SBATCH --error="${escaped}/stderr.%j.log"\n`)
        expect(logPath(builtin, record, "stdout")).toEqual(Either.right(join(dir, `stdout.${record.jobId}.log`)))
        expect(record.scriptPath!.startsWith(dir)).toBe(true)
      }),
      { log_directory: dir }
    )
  })

  it.effect("Slurm: a workDir and a stdout path with % run and log where they say", () => {
    const work = join(tempDir(), "w%a")
    mkdirSync(work)
    return on(
      "slurm",
      Effect.gen(function*() {
        const record = yield* Effect.flatMap(Executor, (e) =>
          e.submit({ name: "pct", command: "true", resources: { workDir: work, stdoutPath: "out%j.log" } }))
        const script = readFileSync(record.scriptPath!, "utf8")
        expect(script).toContain(`#SBATCH --chdir=${work}\n`)
        expect(script).toContain(`#SBATCH --output=${work.replace("%", "%%")}/out%%j.log\n`)
        expect(logPath(builtin, record, "stdout")).toEqual(Either.right(join(work, "out%j.log")))
        expect(logPath(builtin, record, "stderr")).toEqual(Either.right(join(work, `stderr.${record.jobId}.log`)))
      })
    )
  })

  it.effect("Slurm: a backslash in a log path is refused (sbatch drops it); in --chdir it is fine", () =>
    on(
      "slurm",
      Effect.gen(function*() {
        const work = join(tempDir(), "b\\c")
        const error = yield* refused({ name: "j", command: "true", resources: { workDir: work } })
        expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.workDir" })
        expect(error.message).toContain("backslash")
        const record = yield* Effect.flatMap(Executor, (e) =>
          e.submit({ name: "j", command: "true", resources: { workDir: work, stdoutPath: "/tmp/o.log", stderrPath: "/tmp/e.log" } }))
        expect(readFileSync(record.scriptPath!, "utf8")).toContain(`#SBATCH --chdir="${work.replace("\\", "\\\\")}"\n`)
      })
    ))

  it.effect("LSF: % anywhere in -o, -e or -cwd is refused naming the field (bsub has no escape)", () =>
    on(
      "lsf",
      Effect.gen(function*() {
        const root = tempDir()
        for (
          const [spec, field] of [
            [{ workDir: join(root, "w%J") }, "resources.workDir"],
            [{ stdoutPath: "out.%I.log" }, "resources.stdoutPath"],
            [{ stderrPath: "err%.log" }, "resources.stderrPath"]
          ] as const
        ) {
          const error = yield* refused({ name: "j", command: "true", resources: spec })
          expect(error).toMatchObject({ _tag: "InvalidJobSpec", field })
          expect(error.message).toContain("LSF reads as a pattern")
        }
        expect(yield* commands).toEqual([])
      })
    ))

  it.effect("LSF: % in log_directory is refused naming log_directory", () =>
    on(
      "lsf",
      Effect.gen(function*() {
        const error = yield* refused({ name: "j", command: "true" })
        expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: "log_directory" })
      }),
      { log_directory: join(tempDir(), "logs%U") }
    ))

  it.effect("SGE: $ in -wd, -o or -e is refused (qsub expands $USER, $HOME, …), so are quotes and # (its #$ lines drop them), and : and , in log paths", () =>
    on(
      "sge",
      Effect.gen(function*() {
        const root = tempDir()
        for (
          const [spec, field, says] of [
            [{ workDir: join(root, "a$USERb") }, "resources.workDir", "SGE expands in -wd"],
            [{ stdoutPath: "out.$HOME.log" }, "resources.stdoutPath", "SGE expands in -o and -e"],
            [{ stdoutPath: "o.log", stderrPath: "e:f.log" }, "resources.stderrPath", "host:path"],
            [{ stdoutPath: "c,d.log" }, "resources.stdoutPath", "list of paths"],
            [{ workDir: join(root, "w 'q'") }, "resources.workDir", "cannot carry"],
            [{ stdoutPath: "a#b.log" }, "resources.stdoutPath", "cannot carry"]
          ] as const
        ) {
          const error = yield* refused({ name: "j", command: "true", resources: spec })
          expect(error).toMatchObject({ _tag: "InvalidJobSpec", field })
          expect(error.message).toContain(says)
        }
        expect(yield* commands).toEqual([])
      })
    ))

  it.effect("PBS: a colon in the directory cluster-api runs in is refused when logs go there", () =>
    Effect.gen(function*() {
      const cwd = join(tempDir(), "a:b")
      mkdirSync(cwd)
      const back = process.cwd()
      process.chdir(cwd)
      const error = yield* on(
        "pbs-pro",
        refused({ name: "j", command: "true", resources: { stdoutPath: "o.log", stderrPath: "e.log" } })
      ).pipe(Effect.ensuring(Effect.sync(() => process.chdir(back))))
      expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.stdoutPath" })
    }))

  it.effect("PBS Pro: ^array_index^ in a log path is refused (qsub replaces it)", () =>
    on(
      "pbs-pro",
      Effect.gen(function*() {
        const error = yield* refused({ name: "j", command: "true", resources: { stdoutPath: "o.^array_index^.log" } })
        expect(error).toMatchObject({ _tag: "InvalidJobSpec", field: "resources.stdoutPath" })
      })
    ))

  it.effect("a % or $ is fine where the scheduler reads the path as written (local, PBS)", () =>
    Effect.forEach(["local", "pbs-pro", "pbs-torque"] as const, (scheduler) => {
      const dir = join(tempDir(), "l%x$HOME")
      return on(
        scheduler,
        Effect.gen(function*() {
          const record = yield* Effect.flatMap(Executor, (e) => e.submit({ name: "j", command: "true" }))
          expect(record.scriptPath!.startsWith(dir)).toBe(true)
        }),
        { log_directory: dir }
      )
    }, { discard: true }))
})

describe("how a job ended, in words", () => {
  it("a signal this platform has no name for reads 'signal 53', not 'signal signal 53'", () => {
    expect(signalName(9)).toBe("SIGKILL")
    expect(signalName(53)).toBe("53")
    expect(describeReason({ _tag: "Signalled", signal: signalName(53) })).toBe("killed by signal 53")
  })

  // Recorded on Slurm 22.05 here: `--output` in a directory that does not exist. slurmd logged
  // "Could not open stdout file …: No such file or directory", "IO setup failed", and
  // "task 0 died by signal: 53"; scontrol said Reason=JobLaunchFailure.
  const launchFailure = [
    "2|2|FAILED|0:53|None||100M|vm|2026-12-07T12:46:50|2026-12-07T12:46:51|2026-12-07T12:46:51|pcttest2",
    "2.batch|2.batch|CANCELLED|0:53||||vm|2026-12-07T12:46:51|2026-12-07T12:46:51|2026-12-07T12:46:51|batch"
  ].join("\n")

  it("Slurm: a job whose output slurmd could not open (FAILED 0:53) says so, not 'killed by signal'", () => {
    const observations = parseAccounting(launchFailure, [], new Date("2026-12-07T13:00:00"))
    expect(Either.isRight(observations)).toBe(true)
    const [o] = Either.getOrThrow(observations)
    expect(o?.status).toBe("Failed")
    expect(o?.reason?._tag).toBe("SchedulerFailure")
    const words = describeReason(o!.reason!)
    expect(words).toContain("could not set up its output")
    expect(words).toContain("stdout or stderr file cannot be opened")
    expect(words).not.toContain("signal")
  })
})
