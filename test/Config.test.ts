import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Either, FastCheck, Logger, Scope } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as YAML from "yaml"
import {
  availableExecutors,
  ClusterConfig,
  type ClusterConfigShape,
  ConfigOptions,
  defaultOptions,
  loadConfig,
  type LoadOptions,
  renderConfig
} from "../src/Config.js"
import { defaultStatePath, resolveStatePath, statePathOf } from "../src/internal/config/statePath.js"
import * as ClusterApi from "../src/ClusterApi.js"
import { ConfigInvalid, ConfigNotFound, UnknownProfile } from "../src/Errors.js"

const exampleFile = fileURLToPath(new URL("../cluster-api.yaml", import.meta.url))
const repoRoot = fileURLToPath(new URL("..", import.meta.url))

type LoadError = ConfigNotFound | ConfigInvalid | UnknownProfile

/**
 * A temporary working directory and home directory. `load` runs loadConfig there, with only the
 * given environment variables (plus HOME), and returns the result with every warning logged.
 */
const sandbox = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-api-config-" })
  const cwd = path.join(root, "work")
  const home = path.join(root, "home")
  yield* fs.makeDirectory(cwd)
  yield* fs.makeDirectory(home)

  /** Writes `text` to `file` (relative to the sandbox root) and returns its absolute path. */
  const write = (file: string, text: string) => {
    const full = path.join(root, file)
    return fs.makeDirectory(path.dirname(full), { recursive: true }).pipe(
      Effect.zipRight(fs.writeFileString(full, text)),
      Effect.as(full)
    )
  }

  const load = (options: LoadOptions = {}, env: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") {
          warnings.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
        }
      })
      const result = yield* loadConfig({ cwd, ...options }).pipe(
        Effect.either,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ HOME: home, ...env })))),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      return { result, warnings }
    })

  /** Loads and expects success. */
  const loaded = (options: LoadOptions = {}, env: Record<string, string> = {}) =>
    load(options, env).pipe(
      Effect.flatMap(({ result }) =>
        Either.isRight(result) ? Effect.succeed(result.right) : Effect.dieMessage(`expected a config, got ${result.left.message}`)
      )
    )

  /** Loads and expects failure. */
  const failed = (options: LoadOptions = {}, env: Record<string, string> = {}) =>
    load(options, env).pipe(
      Effect.flatMap(({ result }) =>
        Either.isLeft(result) ? Effect.succeed<LoadError>(result.left) : Effect.dieMessage("expected loading to fail")
      )
    )

  return { root, cwd, home, path, fs, write, load, loaded, failed }
})

/** A scoped test with the Node file system and path services. */
const test = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path | Scope.Scope>
) => it.scoped(name, () => body().pipe(Effect.provide(NodeContext.layer)))

describe("loadConfig", () => {
  describe("defaults and values", () => {
    test("with no file anywhere, every option is its default", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const { options, source } = yield* box.loaded()
        expect(options.executor).toBe("local")
        expect(options.poll_interval).toBe(10)
        expect(options.job_name_prefix).toBe("capi")
        expect(options.zombie_timeout_minutes).toBe(30)
        expect(options.completed_retention_minutes).toBe(10)
        expect(options.command_timeout).toBe(100)
        expect(options.suppress_job_email).toBe(true)
        expect(options.log_directory).toBe("./logs")
        expect(options.shebang).toBe("#!/bin/bash")
        expect(options.lsf_units).toBe("MB")
        expect(options.use_stdin).toBe(false)
        expect(options.cpus).toBeUndefined()
        expect(options).toEqual(defaultOptions)
        expect(source).toEqual({ file: undefined, profile: undefined, profiles: [] })
      }))

    test("values come from the YAML file", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const file = yield* box.write(
          "work/cluster-api.yaml",
          [
            "executor: local",
            "poll_interval: 2.5",
            "log_directory: /scratch/logs",
            "job_name_prefix: nightly",
            "cpus: 4",
            "memory: 16 GB",
            "walltime: \"04:00\"",
            "queue: long",
            "account: proj42",
            "use_stdin: true",
            "lsf_units: GB",
            "poll_all_users: true",
            "max_local_jobs: 3",
            "shebang: \"#!/usr/bin/env bash\""
          ].join("\n")
        )
        const { options, source } = yield* box.loaded()
        expect(options).toEqual({
          ...defaultOptions,
          poll_interval: 2.5,
          log_directory: "/scratch/logs",
          job_name_prefix: "nightly",
          cpus: 4,
          memory: "16 GB",
          walltime: "04:00",
          queue: "long",
          account: "proj42",
          use_stdin: true,
          lsf_units: "GB",
          poll_all_users: true,
          max_local_jobs: 3,
          shebang: "#!/usr/bin/env bash"
        })
        expect(source.file).toBe(file)
      }))

    test("zombie_timeout_minutes, completed_retention_minutes and command_timeout are read", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write(
          "work/cluster-api.yaml",
          "zombie_timeout_minutes: 5\ncompleted_retention_minutes: 0\ncommand_timeout: 12.5\n"
        )
        const { options } = yield* box.loaded()
        expect(options.zombie_timeout_minutes).toBe(5)
        expect(options.completed_retention_minutes).toBe(0)
        expect(options.command_timeout).toBe(12.5)
      }))

    test("script_prologue, script_epilogue and the other lists are read as lists", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write(
          "work/cluster-api.yaml",
          [
            "script_prologue:",
            "  - module load java/11",
            "  - export NXF_OPTS=-Xmx2g",
            "script_epilogue: [\"echo done\"]",
            "extra_directives: [\"#SBATCH --qos=high\"]",
            "directives_skip: [\"--mem\"]",
            "extra_args: [\"--requeue\", \"-x\"]"
          ].join("\n")
        )
        const { options } = yield* box.loaded()
        expect(options.script_prologue).toEqual(["module load java/11", "export NXF_OPTS=-Xmx2g"])
        expect(options.script_epilogue).toEqual(["echo done"])
        expect(options.extra_directives).toEqual(["#SBATCH --qos=high"])
        expect(options.directives_skip).toEqual(["--mem"])
        expect(options.extra_args).toEqual(["--requeue", "-x"])
      }))

    test("gpus and nodes are read, and zero gpus is allowed", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "gpus: 2\nnodes: 3\nprofiles:\n  cpu_only:\n    gpus: 0\n")
        expect((yield* box.loaded()).options).toMatchObject({ gpus: 2, nodes: 3 })
        expect((yield* box.loaded({ profile: "cpu_only" })).options.gpus).toBe(0)
      }))

    test("an empty file, or a null document, is all defaults", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const empty = yield* box.write("empty.yaml", "")
        const nul = yield* box.write("null.yaml", "# only a comment\nnull\n")
        const fromEmpty = yield* box.loaded({ configPath: empty })
        expect(fromEmpty.options).toEqual(defaultOptions)
        expect(fromEmpty.source.file).toBe(empty)
        expect((yield* box.loaded({ configPath: nul })).options).toEqual(defaultOptions)
      }))
  })

  describe("profiles and overrides", () => {
    const file = [
      "executor: local",
      "poll_interval: 10",
      "log_directory: ./base-logs",
      "queue: normal",
      "cpus: 1",
      "profiles:",
      "  fast:",
      "    poll_interval: 1",
      "    queue: short",
      "  big:",
      "    cpus: 16",
      "    memory: 64 GB",
      "  empty:"
    ].join("\n")

    test("a profile replaces the keys it sets and keeps the others", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const path = yield* box.write("work/cluster-api.yaml", file)
        const { options, source } = yield* box.loaded({ profile: "fast" })
        expect(options.poll_interval).toBe(1)
        expect(options.queue).toBe("short")
        expect(options.log_directory).toBe("./base-logs")
        expect(options.cpus).toBe(1)
        expect(source).toEqual({ file: path, profile: "fast", profiles: ["fast", "big", "empty"] })
        // an empty profile changes nothing
        expect((yield* box.loaded({ profile: "empty" })).options).toEqual((yield* box.loaded()).options)
      }))

    test("overrides beat the file", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", file)
        const { options } = yield* box.loaded({ overrides: { poll_interval: 3, account: "acct" } })
        expect(options.poll_interval).toBe(3)
        expect(options.account).toBe("acct")
        expect(options.queue).toBe("normal")
      }))

    test("precedence is base < profile < overrides, key by key", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", file)
        const { options } = yield* box.loaded({ profile: "fast", overrides: { poll_interval: 7, cpus: undefined } })
        expect(options.poll_interval).toBe(7) // base, profile and overrides: overrides win
        expect(options.queue).toBe("short") // base and profile: profile wins
        expect(options.log_directory).toBe("./base-logs") // base only
        expect(options.cpus).toBe(1) // an undefined override is no override
      }))

    test("an unknown profile fails with UnknownProfile listing the profiles there are", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const path = yield* box.write("work/cluster-api.yaml", file)
        const error = yield* box.failed({ profile: "fats" })
        expect(error).toBeInstanceOf(UnknownProfile)
        expect(error.message).toContain("'fats'")
        expect(error.message).toContain("fast, big, empty")
        expect(error.message).toContain(path)
      }))

    test("a profile asked for when no file exists fails with UnknownProfile", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const error = yield* box.failed({ profile: "dev" })
        expect(error).toBeInstanceOf(UnknownProfile)
        expect(error.message).toContain("no config file was found")
      }))
  })

  describe("null values", () => {
    test("job_name_prefix null or \"\" means no prefix", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "job_name_prefix: null\nprofiles:\n  blank:\n    job_name_prefix: \"\"\n")
        expect((yield* box.loaded()).options.job_name_prefix).toBeUndefined()
        const other = yield* box.write("other.yaml", "job_name_prefix: x\nprofiles:\n  blank:\n    job_name_prefix: \"\"\n")
        expect((yield* box.loaded({ configPath: other })).options.job_name_prefix).toBe("x")
        expect((yield* box.loaded({ configPath: other, profile: "blank" })).options.job_name_prefix).toBeUndefined()
      }))

    test("null in a profile or in overrides puts an option back to its default or unset", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write(
          "work/cluster-api.yaml",
          "poll_interval: 3\ncpus: 8\nqueue: long\nprofiles:\n  reset:\n    poll_interval: null\n    cpus: ~\n"
        )
        const { options } = yield* box.loaded({ profile: "reset", overrides: { queue: null } })
        expect(options.poll_interval).toBe(10)
        expect(options.cpus).toBeUndefined()
        expect(options.queue).toBeUndefined()
        expect(Object.keys(options)).not.toContain("cpus")
      }))
  })

  describe("unknown keys", () => {
    test("are warned about with the file, the key path and a suggestion, then ignored", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const path = yield* box.write(
          "work/cluster-api.yaml",
          "pol_interval: 3\nfrobnicate: yes\nprofile:\n  x: 1\nprofiles:\n  dev:\n    wallltime: \"01:00\"\n    cpus: 2\n"
        )
        const { result, warnings } = yield* box.load({ profile: "dev", overrides: { jobname_prefix: "z" } })
        expect(Either.isRight(result)).toBe(true)
        if (Either.isRight(result)) {
          expect(result.right.options).toEqual({ ...defaultOptions, cpus: 2 })
        }
        expect(warnings).toHaveLength(5)
        const about = (key: string) => warnings.find((w) => w.includes(` ${key} `)) ?? ""
        expect(about("pol_interval")).toContain(path)
        expect(about("pol_interval")).toContain("did you mean poll_interval?")
        expect(about("profiles.dev.wallltime")).toContain("did you mean walltime?")
        expect(about("profiles.dev.wallltime")).toContain(path)
        expect(about("profile")).toContain("did you mean profiles?")
        expect(about("frobnicate")).not.toContain("did you mean")
        expect(about("jobname_prefix")).toContain("overrides")
        expect(about("jobname_prefix")).toContain("did you mean job_name_prefix?")
      }))

    test("are only reported for the profile in use", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "profiles:\n  dev:\n    cpu: 2\n")
        expect((yield* box.load()).warnings).toEqual([])
        const { warnings } = yield* box.load({ profile: "dev" })
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain("profiles.dev.cpu")
        expect(warnings[0]).toContain("did you mean cpus?")
      }))
  })

  describe("invalid values", () => {
    test("wrong types fail with every problem: file, key path and expected type", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const path = yield* box.write(
          "work/cluster-api.yaml",
          [
            "poll_interval: -1",
            "use_stdin: \"yes\"",
            "script_prologue: module load java",
            "lsf_units: XB",
            "profiles:",
            "  slurm:",
            "    executor: mainframe",
            "    poll_interval: fast",
            "    cpus: 2.5",
            "    extra_args: [\"-x\", 3]"
          ].join("\n")
        )
        const error = yield* box.failed({ profile: "slurm", overrides: { gpus: -1 } })
        expect(error).toBeInstanceOf(ConfigInvalid)
        if (!(error instanceof ConfigInvalid)) return
        expect(error.file).toBe(path)
        expect(error.problems).toEqual([
          "poll_interval: expected a positive number, got -1",
          "use_stdin: expected true or false, got \"yes\"",
          "script_prologue: expected a list of strings, got \"module load java\"",
          "lsf_units: expected one of KB, MB, GB, TB, got \"XB\"",
          `profiles.slurm.executor: expected one of ${availableExecutors.join(", ")}, auto, got "mainframe"`,
          "profiles.slurm.poll_interval: expected a positive number, got \"fast\"",
          "profiles.slurm.cpus: expected a positive integer, got 2.5",
          "profiles.slurm.extra_args: expected a list of strings, got [\"-x\",3]",
          "overrides.gpus: expected a non-negative integer, got -1"
        ])
        expect(error.message).toContain(path)
        expect(error.message).toContain("profiles.slurm.poll_interval: expected a positive number, got \"fast\"")
      }))

    test("wrong types in overrides with no file name \"overrides\"", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const error = yield* box.failed({ overrides: { poll_interval: "soon", executor: "mainframe" } })
        expect(error).toBeInstanceOf(ConfigInvalid)
        expect(error.message).toContain("Invalid config overrides")
        expect(error.message).toContain("poll_interval: expected a positive number, got \"soon\"")
        expect(error.message).toContain(`executor: expected one of ${availableExecutors.join(", ")}, auto, got "mainframe"`)
      }))

    test("memory and walltime must parse", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "memory: lots\nwalltime: soon\n")
        const error = yield* box.failed()
        expect(error).toBeInstanceOf(ConfigInvalid)
        if (!(error instanceof ConfigInvalid)) return
        expect(error.problems).toHaveLength(2)
        expect(error.problems[0]).toMatch(/^memory: Cannot parse memory "lots"/)
        expect(error.problems[1]).toMatch(/^walltime: Cannot parse walltime "soon"/)
      }))

    test("a line break or other control character in a value that reaches a script or path is refused, naming the key", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write(
          "work/cluster-api.yaml",
          [
            "log_directory: \"logs\\ntouch PWNED\\n#\"",
            "state_path: \"db\\r.sqlite\"",
            "job_name_prefix: \"capi\\u001b\"",
            "shebang: \"#!/bin/bash\\ntouch PWNED\"",
            "extra_directives: [\"#SBATCH --qos=high\", \"#SBATCH --x\\ntouch PWNED\", \"touch PWNED\"]",
            "queue: \"q\\tx\"",
            "account: \"a\\u007f\"",
            "script_prologue: [\"echo a\\necho b\"]",
            "profiles:",
            "  bare:",
            "    shebang: \"touch PWNED\""
          ].join("\n")
        )
        const error = yield* box.failed({ profile: "bare" })
        expect(error).toBeInstanceOf(ConfigInvalid)
        if (!(error instanceof ConfigInvalid)) return
        expect(error.problems.map((p) => p.slice(0, p.indexOf(":")))).toEqual([
          "log_directory",
          "state_path",
          "job_name_prefix",
          "shebang",
          "extra_directives[1]",
          "extra_directives[2]",
          "queue",
          "account",
          "profiles.bare.shebang"
        ])
        expect(error.problems[0]).toContain("control character (\\x0a")
        expect(error.problems[8]).toContain("is not a shebang")
        expect(error.problems[5]).toContain("is not a directive line")
      }))

    test("a number for memory or walltime is refused with a hint to quote it", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "walltime: 90\n")
        const error = yield* box.failed()
        expect(error.message).toContain("walltime: expected a walltime string")
        expect(error.message).toContain("got 90 (quote it)")
      }))

    test("a YAML syntax error fails with its line and column", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const path = yield* box.write("work/cluster-api.yaml", "executor: local\npoll_interval: 10\nqueue: [a, b\ncpus: 2\n")
        const error = yield* box.failed()
        expect(error).toBeInstanceOf(ConfigInvalid)
        expect(error.message).toContain(path)
        expect(error.message).toMatch(/YAML syntax error at line \d+, column \d+/)
        const duplicate = yield* box.write("dup.yaml", "cpus: 1\ncpus: 2\n")
        expect((yield* box.failed({ configPath: duplicate })).message).toContain("line 2, column 1")
      }))

    test("a top level that is not a mapping fails", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "- executor: local\n")
        const error = yield* box.failed()
        expect(error).toBeInstanceOf(ConfigInvalid)
        expect(error.message).toContain("top level must be a mapping")
      }))

    test("profiles must be a mapping of mappings", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const list = yield* box.write("list.yaml", "profiles:\n  - dev\n")
        expect((yield* box.failed({ configPath: list })).message).toContain("profiles: expected a mapping")
        const scalar = yield* box.write("scalar.yaml", "profiles:\n  dev: local\n")
        const error = yield* box.failed({ configPath: scalar, profile: "dev" })
        expect(error).toBeInstanceOf(ConfigInvalid)
        expect(error.message).toContain("profiles.dev: expected a mapping of options, got \"local\"")
      }))
  })

  describe("templates", () => {
    const file = [
      "templates:",
      "  gpu:",
      "    queue: gpu",
      "    gpus: 1",
      "    memory: 32 GB",
      "    env: { OMP_NUM_THREADS: 8 }",
      "    prologue: [\"module load cuda/12\"]",
      "    max_retries: 2",
      "    retry_on: [NodeFailure, Timeout]",
      "    check_logs: { patterns: [\"CUDA error\"], fail: false }",
      "  cpu:",
      "    cpus: 4",
      "profiles:",
      "  big:",
      "    templates:",
      "      gpu:",
      "        queue: a100",
      "        gpus: 4",
      "      bigmem:",
      "        memory: 1 TB",
      "  plain:",
      "    cpus: 2"
    ].join("\n")

    test("load from the top level, and a profile's replace those of the same name and keep the others", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", file)
        const top = yield* box.loaded()
        expect(top.options.templates).toEqual({
          gpu: {
            queue: "gpu",
            gpus: 1,
            memory: "32 GB",
            env: { OMP_NUM_THREADS: "8" },
            prologue: ["module load cuda/12"],
            max_retries: 2,
            retry_on: ["NodeFailure", "Timeout"],
            check_logs: { patterns: ["CUDA error"], fail: false }
          },
          cpu: { cpus: 4 }
        })
        expect((yield* box.loaded({ profile: "plain" })).options.templates).toEqual(top.options.templates)
        const big = yield* box.loaded({ profile: "big" })
        expect(big.options.templates).toEqual({
          gpu: { queue: "a100", gpus: 4 },
          cpu: { cpus: 4 },
          bigmem: { memory: "1 TB" }
        })
        // overrides merge by name too, and templates: null puts them back to none
        const over = yield* box.loaded({ overrides: { templates: { cpu: { cpus: 8 } } } })
        expect(over.options.templates.cpu).toEqual({ cpus: 8 })
        expect(over.options.templates.gpu?.queue).toBe("gpu")
        expect((yield* box.loaded({ overrides: { templates: null } })).options.templates).toEqual({})
      }))

    test("a bad template value is a problem named by its path, in the file and in a profile", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write(
          "work/cluster-api.yaml",
          [
            "templates:",
            "  gpu:",
            "    memory: lots",
            "    gpus: -1",
            "    memroy: 8 GB",
            "  \"gpu box\":",
            "    cpus: 1",
            "  nested:",
            "    template: gpu",
            "profiles:",
            "  dev:",
            "    templates:",
            "      cpu:",
            "        cpus: many",
            "        retry_on: [Timeout]",
            "      list: [1, 2]"
          ].join("\n")
        )
        const error = yield* box.failed({ profile: "dev" })
        expect(error).toBeInstanceOf(ConfigInvalid)
        if (!(error instanceof ConfigInvalid)) return
        expect(error.problems).toEqual([
          expect.stringMatching(/^templates\.gpu\.memory: Cannot parse memory "lots"/),
          "templates.gpu.gpus: expected a non-negative integer, got -1",
          "templates.gpu.memroy: unknown option; did you mean memory?",
          "templates: \"gpu box\" is not a template name; use letters, digits, _, . and -",
          "templates.nested.template: a template cannot name another template; copy the options it needs",
          "profiles.dev.templates.cpu.cpus: expected a positive integer, got \"many\"",
          "profiles.dev.templates.cpu.retry_on: means nothing without max_retries; add max_retries (how many times to retry)",
          "profiles.dev.templates.list: expected a mapping of job options, got a list"
        ])
        const scalar = yield* box.write("scalar.yaml", "templates: gpu\n")
        expect((yield* box.failed({ configPath: scalar })).message).toContain(
          "templates: expected a mapping of template names to mappings of job options, got \"gpu\""
        )
      }))

    test("print in config show and load back the same", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", file)
        const config = yield* box.loaded({ profile: "big" })
        const text = renderConfig(config)
        expect(text).toContain("templates:\n  gpu:\n    gpus: 4\n    queue: a100\n  cpu:\n    cpus: 4\n")
        const rendered = yield* box.write("rendered.yaml", text)
        const reloaded = yield* box.load({ configPath: rendered })
        expect(reloaded.warnings).toEqual([])
        expect(Either.map(reloaded.result, (c) => c.options)).toEqual(Either.right(config.options))
      }))
  })

  describe("error_patterns", () => {
    test("must compile as regular expressions; the problem names the bad one", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "error_patterns: [\"\\\\berror\\\\b\", \"(unclosed\", \"ok\"]\n")
        const error = yield* box.failed()
        expect(error).toBeInstanceOf(ConfigInvalid)
        if (!(error instanceof ConfigInvalid)) return
        expect(error.problems).toHaveLength(1)
        expect(error.problems[0]).toMatch(/^error_patterns\[1\]: "\(unclosed" is not a valid regular expression: /)
        yield* box.write("work/cluster-api.yaml", "error_patterns: [\"\\\\bpanic\\\\b\"]\n")
        expect((yield* box.loaded()).options.error_patterns).toEqual(["\\bpanic\\b"])
      }))
  })

  describe("where the file is found", () => {
    test("an explicit configPath that does not exist fails with ConfigNotFound", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "poll_interval: 3\n")
        const error = yield* box.failed({ configPath: "missing.yaml" })
        expect(error).toBeInstanceOf(ConfigNotFound)
        if (!(error instanceof ConfigNotFound)) return
        expect(error.source).toBe("configPath")
        expect(error.path).toBe(box.path.join(box.cwd, "missing.yaml"))
      }))

    test("configPath is relative to cwd and may start with ~/", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const inCwd = yield* box.write("work/conf/a.yaml", "poll_interval: 4\n")
        const inHome = yield* box.write("home/b.yaml", "poll_interval: 5\n")
        const a = yield* box.loaded({ configPath: "conf/a.yaml" })
        expect(a.options.poll_interval).toBe(4)
        expect(a.source.file).toBe(inCwd)
        const b = yield* box.loaded({ configPath: "~/b.yaml" })
        expect(b.options.poll_interval).toBe(5)
        expect(b.source.file).toBe(inHome)
      }))

    test("$CLUSTER_API_CONFIG is used before ./cluster-api.yaml", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "poll_interval: 3\n")
        const fromEnv = yield* box.write("elsewhere/conf.yaml", "poll_interval: 6\n")
        const { options, source } = yield* box.loaded({}, { CLUSTER_API_CONFIG: fromEnv })
        expect(options.poll_interval).toBe(6)
        expect(source.file).toBe(fromEnv)
      }))

    test("$CLUSTER_API_CONFIG naming a missing file fails with ConfigNotFound", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "poll_interval: 3\n")
        const missing = box.path.join(box.root, "nope.yaml")
        const error = yield* box.failed({}, { CLUSTER_API_CONFIG: missing })
        expect(error).toBeInstanceOf(ConfigNotFound)
        expect(error.message).toContain(missing)
        expect(error.message).toContain("$CLUSTER_API_CONFIG")
      }))

    test("./cluster-api.yaml is found in cwd, before the home config", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const local = yield* box.write("work/cluster-api.yaml", "poll_interval: 3\n")
        yield* box.write("home/.config/cluster-api/config.yaml", "poll_interval: 9\n")
        const { options, source } = yield* box.loaded()
        expect(options.poll_interval).toBe(3)
        expect(source.file).toBe(local)
      }))

    test("~/.config/cluster-api/config.yaml is found through HOME", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const home = yield* box.write("home/.config/cluster-api/config.yaml", "poll_interval: 9\n")
        const { options, source } = yield* box.loaded()
        expect(options.poll_interval).toBe(9)
        expect(source.file).toBe(home)
      }))

    test("an explicit configPath beats $CLUSTER_API_CONFIG", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const explicit = yield* box.write("explicit.yaml", "poll_interval: 1\n")
        const fromEnv = yield* box.write("env.yaml", "poll_interval: 2\n")
        const { options, source } = yield* box.loaded({ configPath: explicit }, { CLUSTER_API_CONFIG: fromEnv })
        expect(options.poll_interval).toBe(1)
        expect(source.file).toBe(explicit)
      }))
  })

  describe("renderConfig", () => {
    test("prints where the options came from, and YAML that reads back as the same options", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const path = yield* box.write(
          "work/cluster-api.yaml",
          "job_name_prefix: null\nscript_prologue: [\"module load java/11\"]\nprofiles:\n  dev:\n    walltime: \"04:00\"\n    shebang: \"#!/bin/sh\"\n"
        )
        const config = yield* box.loaded({ profile: "dev" })
        const text = renderConfig(config)
        expect(text).toContain(`# file: ${path}`)
        expect(text).toContain("# profile: dev")
        expect(text).toMatch(/^# unset: .*job_name_prefix/m)
        expect(YAML.parse(text)).toEqual(config.options)
        // and it is a config file that loads back to the same options, without warnings (unset
        // options are not written, so job_name_prefix must be unset again)
        const rendered = yield* box.write("rendered.yaml", text)
        const reloaded = yield* box.load({ configPath: rendered, overrides: { job_name_prefix: null } })
        expect(reloaded.warnings).toEqual([])
        expect(Either.map(reloaded.result, (c) => c.options)).toEqual(Either.right(config.options))
      }))

    it("says so when no file was read", () => {
      const text = renderConfig(ClusterConfig.make({ poll_interval: 2 }))
      expect(text).toContain("# file: none (built-in defaults)")
      expect(text).toContain("# profile: none")
      expect(YAML.parse(text)).toEqual({ ...defaultOptions, poll_interval: 2 })
    })
  })

  describe("ClusterConfig.layer", () => {
    test("provides the loaded config", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* box.write("work/cluster-api.yaml", "poll_interval: 4\nprofiles:\n  dev:\n    cpus: 2\n")
        const config: ClusterConfigShape = yield* ClusterConfig.pipe(
          Effect.provide(ClusterConfig.layer({ cwd: box.cwd, profile: "dev" })),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["HOME", box.home]])))
        )
        expect(config.options).toMatchObject({ poll_interval: 4, cpus: 2 })
        expect(config.source.profile).toBe("dev")
      }))
  })

  describe("ClusterConfig.layerConfig", () => {
    test("by default loads the profile in CLUSTER_API_PROFILE from the file in CLUSTER_API_CONFIG", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const file = yield* box.write("elsewhere/site.yaml", "poll_interval: 4\nprofiles:\n  dev:\n    cpus: 2\n")
        const env = new Map([["HOME", box.home], ["CLUSTER_API_CONFIG", file], ["CLUSTER_API_PROFILE", "dev"]])
        const config: ClusterConfigShape = yield* ClusterConfig.pipe(
          Effect.provide(ClusterConfig.layerConfig()),
          Effect.withConfigProvider(ConfigProvider.fromMap(env))
        )
        expect(config.options).toMatchObject({ poll_interval: 4, cpus: 2 })
        expect(config.source).toMatchObject({ file, profile: "dev" })
      }))

    test("reads the profile and file from the Config it is given; a profile the file lacks fails", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const file = yield* box.write("elsewhere/site.yaml", "profiles:\n  big:\n    memory: 64 GB\n")
        const location = { profile: Config.string("PROFILE"), configPath: Config.string("FILE") }
        const withEnv = (profile: string) =>
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["HOME", box.home], ["FILE", file], ["PROFILE", profile]])))
        const config: ClusterConfigShape = yield* ClusterConfig.pipe(
          Effect.provide(ClusterConfig.layerConfig(location)),
          withEnv("big")
        )
        expect(config.options.memory).toBe("64 GB")
        const error = yield* ClusterConfig.pipe(Effect.provide(ClusterConfig.layerConfig(location)), withEnv("small"), Effect.flip)
        expect(error._tag).toBe("UnknownProfile")
      }))

    test("ClusterApi.layerConfig builds every service on the config so loaded", () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const file = yield* box.write("elsewhere/site.yaml", "profiles:\n  quick:\n    poll_interval: 3\n    state_path: \":memory:\"\n")
        const options = yield* Effect.map(ClusterConfig, (c) => c.options).pipe(
          Effect.provide(ClusterApi.layerConfig({ profile: Config.string("PROFILE"), configPath: Config.succeed(file) })),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["HOME", box.home], ["PROFILE", "quick"]])))
        )
        expect(options).toMatchObject({ executor: "local", poll_interval: 3, state_path: ":memory:" })
      }))
  })
})

describe("where the job store is", () => {
  const posix = path.posix
  const withEnv = (env: Record<string, string>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

  test("by default the user's own file, the same from every directory: XDG_STATE_HOME when absolute, else ~/.local/state", () =>
    Effect.sync(() => {
      expect(defaultStatePath({ home: "/home/u", xdgStateHome: "/xdg/state" }, posix)).toBe("/xdg/state/cluster-api/jobs.db")
      for (const xdgStateHome of [undefined, "", "relative/state"]) {
        expect(defaultStatePath({ home: "/home/u", xdgStateHome }, posix)).toBe("/home/u/.local/state/cluster-api/jobs.db")
      }
      const resolve = (...segments: Array<string>) => posix.resolve(...segments)
      expect(resolveStatePath(defaultOptions, "/home/u/run", resolve, "/d/jobs.db")).toBe("/d/jobs.db")
      expect(resolveStatePath({ ...defaultOptions, state_path: "state/jobs.db" }, "/home/u", resolve, "/d/jobs.db")).toBe(
        "/home/u/state/jobs.db"
      )
      expect(resolveStatePath({ ...defaultOptions, state_path: ":memory:" }, "/home/u", resolve, "/d/jobs.db")).toBe(":memory:")
    }))

  it.prop(
    "whatever XDG_STATE_HOME holds, the default is an absolute jobs.db: under it when absolute, else under HOME",
    [FastCheck.option(FastCheck.string(), { nil: undefined })],
    ([xdgStateHome]) => {
      const file = defaultStatePath({ home: "/home/u", xdgStateHome }, posix)
      expect(posix.isAbsolute(file)).toBe(true)
      expect(file.endsWith("/cluster-api/jobs.db")).toBe(true)
      const underXdg = xdgStateHome !== undefined && posix.isAbsolute(xdgStateHome)
      expect(file).toBe(underXdg ? posix.join(xdgStateHome, "cluster-api", "jobs.db") : "/home/u/.local/state/cluster-api/jobs.db")
    }
  )

  test("statePathOf: state_path, else $CLUSTER_API_STATE, else the default; never the log directory", () =>
    Effect.gen(function*() {
      const home = { HOME: "/home/u" }
      expect(yield* statePathOf(defaultOptions).pipe(withEnv(home))).toBe("/home/u/.local/state/cluster-api/jobs.db")
      expect(yield* statePathOf(defaultOptions).pipe(withEnv({ ...home, XDG_STATE_HOME: "/xdg" }))).toBe(
        "/xdg/cluster-api/jobs.db"
      )
      expect(yield* statePathOf(defaultOptions).pipe(withEnv({ ...home, CLUSTER_API_STATE: "~/mine.db" }))).toBe(
        "/home/u/mine.db"
      )
      expect(
        yield* statePathOf({ ...defaultOptions, state_path: "/code/jobs.db" }).pipe(withEnv({ ...home, CLUSTER_API_STATE: "/env.db" }))
      ).toBe("/code/jobs.db")
    }))

  test("a config file's relative state_path is its directory's; $CLUSTER_API_STATE beats the file, overrides beat both", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const configPath = yield* box.write("conf/c.yaml", "state_path: db/jobs.db\n")
      expect((yield* box.loaded({ configPath })).options.state_path).toBe(path.join(box.root, "conf", "db", "jobs.db"))
      const home = yield* box.write("home/.config/cluster-api/config.yaml", "state_path: ~/x.db\n")
      expect((yield* box.loaded()).options.state_path).toBe(path.join(box.home, "x.db"))
      expect((yield* box.loaded({}, { CLUSTER_API_STATE: "env.db" })).options.state_path).toBe(path.join(box.cwd, "env.db"))
      expect((yield* box.loaded({ configPath: home, overrides: { state_path: "o.db" } }, { CLUSTER_API_STATE: "/env.db" }))
        .options.state_path).toBe("o.db")
    }))
})

describe("README.md's configuration table", () => {
  test("lists every option", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(path.join(repoRoot, "README.md"))
      const section = text.slice(text.indexOf("## Configuration"), text.indexOf("### Which scheduler"))
      const listed = section.split("\n")
        .filter((line) => line.startsWith("| `"))
        .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`(\w+)`/g)].map((m) => m[1]))
      expect([...listed].sort()).toEqual(Object.keys(ConfigOptions.fields).sort())
    }))
})

describe("the example cluster-api.yaml", () => {
  const readExample = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(exampleFile))

  test("loads without problems or warnings, with and without profile local_dev", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const plain = yield* box.load({ configPath: exampleFile })
      expect(plain.warnings).toEqual([])
      expect(Either.map(plain.result, (c) => c.options)).toEqual(Either.right(defaultOptions))
      expect(Either.map(plain.result, (c) => c.source.profiles)).toEqual(Either.right(["local_dev"]))
      const dev = yield* box.loaded({ configPath: exampleFile, profile: "local_dev" })
      expect(dev.options).toEqual({ ...defaultOptions, poll_interval: 2 })
      // and it is the file found in the directory it sits in
      const found = yield* box.loaded({ cwd: repoRoot })
      expect(found.source.file).toBe(exampleFile)
    }))

  test("its reference block lists every option with its real default", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const text = yield* readExample
      const block = text.slice(text.indexOf("# Every option, with its default"))
      const lines = block.split("\n").filter((l) => /^# \w+:/.test(l)).map((l) => l.slice(2))
      const keys = lines.map((l) => l.slice(0, l.indexOf(":")))
      expect([...keys].sort()).toEqual(Object.keys(ConfigOptions.fields).sort())
      const uncommented = yield* box.write("reference.yaml", lines.join("\n"))
      const { result, warnings } = yield* box.load({ configPath: uncommented })
      expect(warnings).toEqual([])
      expect(Either.map(result, (c) => c.options)).toEqual(Either.right(defaultOptions))
    }))

  test("its commented-out templates are valid once uncommented", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const lines = (yield* readExample).split("\n")
      const start = lines.indexOf("# templates:")
      expect(start).toBeGreaterThan(0)
      const body: Array<string> = []
      for (const line of lines.slice(start)) {
        if (!/^# ( {2}|templates:)/.test(line)) break
        body.push(line.slice(2))
      }
      const file = yield* box.write("templates.yaml", body.join("\n"))
      const { result, warnings } = yield* box.load({ configPath: file })
      expect(warnings).toEqual([])
      const templates = Either.map(result, (c) => c.options.templates)
      expect(Either.map(templates, Object.keys)).toEqual(Either.right(["gpu", "bigmem"]))
      expect(Either.map(templates, (t) => t.gpu?.retry_on)).toEqual(Either.right(["NodeFailure", "Preempted", "Timeout"]))
    }))

  test("its commented-out scheduler profiles are valid once uncommented, but for executors not built yet", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const lines = (yield* readExample).split("\n")
      const names: Array<string> = []
      for (const [i, line] of lines.entries()) {
        const header = /^ {2}# (\w+):\s*$/.exec(line)
        if (header === null || header[1] === undefined) continue
        const name = header[1]
        names.push(name)
        const body: Array<string> = []
        for (const next of lines.slice(i + 1)) {
          if (!next.startsWith("  #   ")) break
          body.push(next.replace(/^ {2}# /, "  "))
        }
        const file = yield* box.write(`${name}.yaml`, `profiles:\n  ${name}:\n${body.join("\n")}\n`)
        const { result, warnings } = yield* box.load({ configPath: file, profile: name })
        expect(warnings).toEqual([])
        if (Either.isRight(result)) {
          expect(result.right.options.executor).toBe(name)
          expect(result.right.options.memory).toBe("8 GB")
        } else {
          // Only the executor may be refused, while this version does not support it.
          expect(result.left).toBeInstanceOf(ConfigInvalid)
          const problems = result.left instanceof ConfigInvalid ? result.left.problems : []
          expect(problems).toEqual([
            `profiles.${name}.executor: expected one of ${availableExecutors.join(", ")}, auto, got "${name}"`
          ])
        }
      }
      expect(names).toEqual(["slurm", "lsf", "sge", "pbs"])
    }))
})
