import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import { ClusterConfig } from "../src/Config.js"
import { prepareJob } from "../src/internal/prepare.js"
import { cleanEnvironment, renderLocalScript, wantsCleanEnv } from "./support/parts/local.js"
import * as JobName from "../src/JobName.js"
import {
  loginShebang,
  renderScript,
  shellQuote,
  skipDirectives,
  makeScriptWriter,
  writeScript
} from "../src/internal/script.js"

describe("job names", () => {
  it.each([
    ["my-Demo App-run", "my-Demo-App-run"],
    ["a b c", "a-b-c"],
    ["job@host#1", "job-host-1"],
    ["prefix-my_job.v2", "prefix-my_job.v2"],
    ["test-myjob", "test-myjob"],
    ["x$(touch canary)`id`'\"\n", "x--touch-canary--id----"]
  ])("sanitizes %j to %j", (input, expected) => {
    expect(JobName.sanitize(input)).toBe(expected)
  })

  it("prefixes as {prefix}-{name}, or leaves the name alone without a prefix", () => {
    expect(JobName.full("capi", "Demo App")).toBe("capi-Demo-App")
    expect(JobName.full(undefined, "my-job")).toBe("my-job")
    expect(JobName.full("", "my-job")).toBe("my-job")
  })
})

describe("shellQuote", () => {
  it.each([
    "plain",
    "with space",
    "it's",
    "$(touch canary)",
    "`touch canary`",
    "a\nb",
    "\"double\" 'single' \\back",
    ""
  ])("round-trips %j through a real shell as one word", (value) => {
    const out = execFileSync("bash", ["-c", `printf '%s' ${shellQuote(value)}`], { encoding: "utf8" })
    expect(out).toBe(value)
  })
})

describe("renderScript", () => {
  it("orders shebang, header, exports, prologue, command, epilogue", () => {
    const script = renderScript({
      shebang: "#!/bin/bash",
      header: ["#SBATCH -J x"],
      env: { FOO: "bar baz" },
      prologue: ["module load java/11"],
      command: "echo hello",
      epilogue: ["echo done"]
    })
    expect(script).toBe(
      "#!/bin/bash\n#SBATCH -J x\nexport FOO='bar baz'\nmodule load java/11\necho hello\necho done\n"
    )
  })

  it("drops directive lines containing a directives_skip substring", () => {
    expect(skipDirectives(["#BSUB -q normal", "#BSUB -R span", "#BSUB -W 1:00"], ["-R"])).toEqual([
      "#BSUB -q normal",
      "#BSUB -W 1:00"
    ])
  })

  it("puts the config's and the job's prologue and epilogue lines in order, with a custom shebang", () => {
    const options = ClusterConfig.make({
      shebang: "#!/bin/zsh",
      script_prologue: ["P1"],
      script_epilogue: ["E1"],
      extra_directives: ["#LOCAL extra"]
    }).options
    const job = Effect.runSync(
      prepareJob({ name: "j", command: "run", prologue: ["P2"], epilogue: ["E2"] }, options)
    )
    const script = renderLocalScript(job, options)
    const lines = script.trimEnd().split("\n")
    expect(lines[0]).toBe("#!/bin/zsh")
    expect(lines).toContain("#LOCAL extra")
    expect(lines.slice(-5)).toEqual(["P1", "P2", "run", "E1", "E2"])
  })

  it("directives_skip leaves out the config's extra_directives too, in a local script", () => {
    const options = ClusterConfig.make({
      extra_directives: ["#LOCAL --qos=high", "#LOCAL --keep"],
      directives_skip: ["--qos"]
    }).options
    const lines = renderLocalScript(Effect.runSync(prepareJob({ name: "j", command: "run" }, options)), options)
      .split("\n")
    expect(lines).toContain("#LOCAL --keep")
    expect(lines.filter((l) => l.includes("--qos"))).toEqual([])
  })
})

describe("local scripts that inherit no environment", () => {
  const options = ClusterConfig.make({}).options
  const prepare = (spec: Parameters<typeof prepareJob>[0]) => Effect.runSync(prepareJob(spec, options))

  it("carry a line saying so, which a program taking the job over reads", () => {
    const clean = renderLocalScript(prepare({ name: "j", command: "x", inheritEnv: false }), options)
    expect(wantsCleanEnv(clean)).toBe(true)
    expect(wantsCleanEnv(renderLocalScript(prepare({ name: "j", command: "x" }), options))).toBe(false)
    // The config's default applies when the job says nothing.
    const byConfig = ClusterConfig.make({ inherit_env: false }).options
    expect(wantsCleanEnv(renderLocalScript(Effect.runSync(prepareJob({ name: "j", command: "x" }, byConfig)), byConfig)))
      .toBe(true)
  })

  it("start from identity variables that are set, and a fixed PATH", () => {
    expect(cleanEnvironment({ HOME: "/h", USER: "u", SECRET: "s", PATH: "/opt/bin", TZ: undefined })).toEqual({
      HOME: "/h",
      USER: "u",
      PATH: "/usr/local/bin:/usr/bin:/bin"
    })
  })
})

describe("loginShebang", () => {
  it("adds -l to a shell named by its path, joining a flag cluster, keeping one that says it already", () => {
    expect(loginShebang("#!/bin/bash")).toEqual(Either.right({ shebang: "#!/bin/bash -l", shell: "/bin/bash" }))
    expect(loginShebang("#! /bin/zsh ")).toEqual(Either.right({ shebang: "#!/bin/zsh -l", shell: "/bin/zsh" }))
    expect(loginShebang("#!/bin/bash -e")).toEqual(Either.right({ shebang: "#!/bin/bash -el", shell: "/bin/bash" }))
    expect(loginShebang("#!/bin/bash -l")).toEqual(Either.right({ shebang: "#!/bin/bash -l", shell: "/bin/bash" }))
    expect(loginShebang("#!/bin/bash --login")).toEqual(
      Either.right({ shebang: "#!/bin/bash --login", shell: "/bin/bash" })
    )
  })

  it("refuses a shebang through env, without a path, or with a second argument, saying what to write", () => {
    const refused = (s: string) => Either.match(loginShebang(s), { onLeft: (why) => why, onRight: () => "" })
    expect(refused("#!/usr/bin/env bash")).toContain("#!/bin/bash")
    expect(refused("#!bash")).toContain("names no shell by its path")
    expect(refused("bash")).toContain("names no shell by its path")
    expect(refused("#!/bin/bash -e -u")).toContain("add -l to it yourself")
  })

  it("makes prepareJob fail with InvalidJobSpec(loginShell) when the configured shebang cannot take -l", () => {
    const options = ClusterConfig.make({ shebang: "#!/usr/bin/env bash", login_shell: true }).options
    const result = Effect.runSync(Effect.either(prepareJob({ name: "j", command: "x" }, options)))
    expect(Either.isLeft(result) && result.left._tag === "InvalidJobSpec" && result.left.field).toBe("loginShell")
    // A job that asks for no login shell is not held to it.
    const plain = Effect.runSync(Effect.either(prepareJob({ name: "j", command: "x", loginShell: false }, options)))
    expect(Either.isRight(plain)).toBe(true)
  })
})

describe("prepareJob", () => {
  const options = ClusterConfig.make({ memory: "8 GB", walltime: "04:00", extra_args: ["-a"] }).options
  const prepare = (spec: Parameters<typeof prepareJob>[0]) => Effect.runSync(Effect.either(prepareJob(spec, options)))

  it("fills config defaults and parses memory and walltime", () => {
    const job = prepare({ name: "j", command: "x", resources: { extraArgs: ["-b"] } })
    expect(Either.isRight(job)).toBe(true)
    if (Either.isRight(job)) {
      expect(job.right.resources.memoryBytes).toBe(8 * 1024 ** 3)
      expect(job.right.resources.extraArgs).toEqual(["-a", "-b"])
      expect(job.right.name).toBe("capi-j")
    }
  })

  it.each([
    [{ name: "j", command: "x", resources: { memory: "lots" } }, "InvalidMemory"],
    [{ name: "j", command: "x", resources: { walltime: "soon" } }, "InvalidWalltime"],
    [{ name: "j", command: "x", env: { "BAD-NAME": "1" } }, "InvalidJobSpec"],
    [{ name: "j", command: "x", resources: { workDir: "/tmp/a\nb" } }, "InvalidJobSpec"],
    [{ name: "j", command: "x", resources: { extraDirectives: ["-P a\n#SBATCH --evil"] } }, "InvalidJobSpec"],
    [{ name: "j", command: "   " }, "InvalidJobSpec"],
    [{ name: "j", command: "x", array: { start: 5, end: 1 } }, "InvalidJobSpec"],
    [{ name: "j", command: "x", array: { start: 0, end: 2_000_000_000 } }, "InvalidJobSpec"]
  ] as const)("refuses %j with %s", (spec, tag) => {
    const result = prepare(spec)
    expect(Either.isLeft(result) && result.left._tag).toBe(tag)
  })

  it("says what to fix", () => {
    const result = prepare({ name: "j", command: "x", env: { "1X": "v" } })
    expect(Either.isLeft(result) && result.left.message).toMatch(/not shell variable names: "1X"/)
  })
})

describe("writeScript", () => {
  it.scoped("writes {dir}/{name}.{n}.sh executable by the owner only and never overwrites", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped()
      const first = yield* writeScript(path.join(dir, "sub"), "my job", "#!/bin/bash\necho 1\n")
      const second = yield* writeScript(path.join(dir, "sub"), "my job", "#!/bin/bash\necho 2\n")
      expect(first.path).toBe(path.join(dir, "sub", "my-job.1.sh"))
      expect(second.path).toBe(path.join(dir, "sub", "my-job.2.sh"))
      expect(yield* fs.readFileString(first.path)).toContain("echo 1")
      const info = yield* fs.stat(first.path)
      expect(info.mode & 0o777).toBe(0o700)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("prepareJob at run time", () => {
  it("refuses values the types would refuse, naming the field", () => {
    const spec = { name: "j", command: "x", resources: { cpus: 0 } } as unknown as Parameters<typeof prepareJob>[0]
    const result = Effect.runSync(Effect.either(prepareJob(spec, ClusterConfig.make().options)))
    expect(Either.isLeft(result) && result.left._tag).toBe("InvalidJobSpec")
    expect(Either.isLeft(result) && result.left.message).toContain("resources.cpus")
  })
})

describe("makeScriptWriter", () => {
  it.scoped("continues after the scripts an earlier run left, then counts on without probing", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(path.join(dir, "job.1.sh"), "old")
      yield* fs.writeFileString(path.join(dir, "job.7.sh"), "old")
      yield* fs.writeFileString(path.join(dir, "job-other.9.sh"), "other name")
      const write = yield* makeScriptWriter
      const a = yield* write(dir, "job", "new a")
      const b = yield* write(dir, "job", "new b")
      const c = yield* write(dir, "fresh", "new c")
      expect([a.n, b.n, c.n]).toEqual([8, 9, 1])
      expect(yield* fs.readFileString(path.join(dir, "job.7.sh"))).toBe("old")
    }).pipe(Effect.provide(NodeContext.layer)))
})
