/**
 * `executor: auto`: the pure decision over made-up facts, the gatherer against fake scheduler
 * commands (shell scripts in temporary directories that make up the whole PATH), loadConfig and
 * renderConfig with an injected detection, and `cluster-api config show` (the command line, in
 * this process).
 *
 * The identity lines the fake qstat prints: `SGE 8.1.9` is what this machine's real SGE qstat
 * prints first for `qstat -help`; `pbs_version = 2022.1.0` (OpenPBS / PBS Professional) and
 * `Version: 6.1.3` / `version: 4.2.10` (TORQUE) are the forms their `qstat --version` documents.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as YAML from "yaml"
import * as ClusterApi from "../src/ClusterApi.js"
import { ClusterConfig, defaultOptions, loadConfig, type LoadOptions, renderConfig } from "../src/Config.js"
import { type DetectFacts, type Detection, decide, detect } from "../src/Detect.js"
import { Executor } from "../src/Executor.js"
import { runCli } from "./support/CliInProcess.js"
import { tempDirs } from "./support/TempDirs.js"
import { pbsIdentity, sgeIdentity } from "../src/internal/detect/identity.js"

const tempDir = tempDirs("cluster-api-detect-")

const qsubFacts = (extra: Partial<DetectFacts> = {}): DetectFacts => ({
  onPath: { qsub: "/opt/q/bin", qstat: "/opt/q/bin" },
  ...extra
})

describe("decide", () => {
  it("no scheduler commands: local, saying what it looked for", () => {
    const d = decide({ onPath: {} })
    expect(d).toEqual({
      executor: "local",
      reason: "no scheduler's commands are on PATH (looked for sbatch, bsub, qsub): running jobs as local processes",
      found: []
    })
  })

  it("half a scheduler is not one, and the reason says which half was found", () => {
    const d = decide({ onPath: { sbatch: "/usr/bin", bjobs: "/lsf/bin" } })
    expect(d.executor).toBe("local")
    expect(d.reason).toBe(
      "no scheduler has both its commands on PATH (found sbatch without squeue, bjobs without bsub): running jobs as local processes"
    )
  })

  it("slurm: sbatch and squeue", () => {
    const d = decide({ onPath: { sbatch: "/usr/bin", squeue: "/usr/bin" } })
    expect(d).toEqual({
      executor: "slurm",
      reason: "sbatch and squeue are on PATH (/usr/bin)",
      found: [{ executor: "slurm", evidence: "sbatch and squeue in /usr/bin" }]
    })
  })

  it("lsf: bsub and bjobs, naming both directories when they differ", () => {
    const d = decide({ onPath: { bsub: "/lsf/bin", bjobs: "/lsf/etc" } })
    expect(d.executor).toBe("lsf")
    expect(d.reason).toBe("bsub and bjobs are on PATH (/lsf/bin, /lsf/etc)")
  })

  it("slurm beats lsf and sge, which are still listed as found", () => {
    const d = decide({
      onPath: { sbatch: "/usr/bin", squeue: "/usr/bin", bsub: "/lsf/bin", bjobs: "/lsf/bin", qsub: "/usr/bin", qstat: "/usr/bin" },
      qstatHelp: "SGE 8.1.9\nusage: qstat [options]\n"
    })
    expect(d.executor).toBe("slurm")
    expect(d.found.map((f) => f.executor)).toEqual(["slurm", "lsf", "sge"])
    expect(d.found[2]).toEqual({ executor: "sge", evidence: `qstat -help says "SGE 8.1.9"` })
  })

  it("lsf beats sge and pbs", () => {
    const d = decide({ onPath: { bsub: "/l", bjobs: "/l", qsub: "/q", qstat: "/q" }, qstatVersion: "pbs_version = 2022.1.0" })
    expect(d.executor).toBe("lsf")
    expect(d.found.map((f) => f.executor)).toEqual(["lsf", "pbs"])
  })

  it.each([
    ["SGE 8.1.9"],
    ["OGS/GE 2011.11p1"],
    ["Univa Grid Engine 8.6.4"],
    ["UGE 8.5.4"]
  ])("sge: qstat -help says %j", (line) => {
    const d = decide(qsubFacts({ qstatHelp: `${line}\nusage: qstat [options]\n        [-ext]   view additional attributes\n` }))
    expect(d.executor).toBe("sge")
    expect(d.pbsFlavor).toBeUndefined()
    expect(d.reason).toBe(`qsub and qstat are on PATH and qstat -help says "${line}"`)
  })

  it("sge: qstat says nothing of itself but SGE_ROOT is set", () => {
    const d = decide(qsubFacts({ sgeRoot: "/opt/sge", qstatHelp: "qstat: unknown option\n" }))
    expect(d.executor).toBe("sge")
    expect(d.reason).toBe("qsub and qstat are on PATH and SGE_ROOT is set (/opt/sge)")
  })

  it("SGE_ROOT without qsub and qstat is not SGE", () => {
    expect(decide({ onPath: {}, sgeRoot: "/opt/sge" }).executor).toBe("local")
    expect(decide({ onPath: { qsub: "/opt/sge/bin" }, sgeRoot: "/opt/sge" }).executor).toBe("local")
  })

  it("a qstat that says PBS beats a stale SGE_ROOT", () => {
    const d = decide(qsubFacts({ sgeRoot: "/opt/sge", qstatVersion: "pbs_version = 2022.1.0\n" }))
    expect(d).toMatchObject({ executor: "pbs", pbsFlavor: "pro" })
  })

  it("pbs pro: qstat --version says pbs_version", () => {
    const d = decide(qsubFacts({ qstatHelp: "usage:\n  qstat [-f] [-J] [-p] ...\n", qstatVersion: "pbs_version = 2022.1.0\n" }))
    expect(d).toEqual({
      executor: "pbs",
      pbsFlavor: "pro",
      reason: `qsub and qstat are on PATH and qstat --version says "pbs_version = 2022.1.0" (PBS Professional/OpenPBS)`,
      found: [{ executor: "pbs", evidence: `qstat --version says "pbs_version = 2022.1.0", PBS Professional/OpenPBS` }]
    })
  })

  it.each([["Version: 6.1.3"], ["version: 4.2.10"], ["TORQUE 6.1.3"]])("pbs torque: qstat --version says %j", (line) => {
    const d = decide(qsubFacts({ qstatVersion: `${line}\nCommit: 1b9a6c0\n` }))
    expect(d).toMatchObject({ executor: "pbs", pbsFlavor: "torque" })
    expect(d.reason).toBe(`qsub and qstat are on PATH and qstat --version says "${line}" (TORQUE)`)
  })

  it("pbs pro: qstat says nothing, but a PBS config file exists", () => {
    const d = decide(qsubFacts({ pbsConf: "/etc/pbs.conf" }))
    expect(d).toMatchObject({ executor: "pbs", pbsFlavor: "pro" })
    expect(d.reason).toBe("qsub and qstat are on PATH and /etc/pbs.conf exists (PBS Professional/OpenPBS)")
  })

  it("qsub and qstat that cannot be told apart: local, and the reason says how to choose", () => {
    const d = decide(qsubFacts({ qstatHelp: "usage: qstat [options]\n" }))
    expect(d.executor).toBe("local")
    expect(d.found).toEqual([])
    expect(d.reason).toMatch(/^qsub and qstat are on PATH \(\/opt\/q\/bin\) but cannot be told apart/)
    expect(d.reason).toContain("running jobs as local processes")
    expect(d.reason).toContain("executor: sge")
    expect(d.reason).toContain("executor: pbs with pbs_flavor")
  })

  it("identity parsers ignore usage text", () => {
    expect(sgeIdentity("usage: qstat [-f] [-J]\n  qstat -B")).toBeUndefined()
    expect(pbsIdentity("usage: qstat [options]\n  [-ext] view additional attributes")).toBeUndefined()
    expect(sgeIdentity("\n  SGE 8.1.9  \n")).toBe("SGE 8.1.9")
  })
})

// ---------------------------------------------------------------------------------------------
// The gatherer, against fake commands
// ---------------------------------------------------------------------------------------------

/** A directory with executable shell scripts `name` → body; returns the directory. */
const toolDir = (scripts: Readonly<Record<string, string>>): string => {
  const dir = tempDir()
  for (const [name, body] of Object.entries(scripts)) {
    const file = path.join(dir, name)
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`)
    fs.chmodSync(file, 0o755)
  }
  return dir
}

/** A qstat that logs its arguments to `log` and answers `-help` and `--version` as told. */
const fakeQstat = (log: string, answers: { readonly help?: string; readonly version?: string }) =>
  [
    `echo "$@" >> '${log}'`,
    `case "$1" in`,
    `  -help) ${answers.help ?? "echo 'usage: qstat [options]'; exit 1"} ;;`,
    `  --version) ${answers.version ?? "echo 'qstat: unknown option' >&2; exit 2"} ;;`,
    `esac`
  ].join("\n")

const noop = "exit 0"
const noPbsConf = "/nonexistent/pbs.conf"

describe("detect (the gatherer) against fake commands", () => {
  it.live("sge: qstat -help's first line; --version is then not asked", () =>
    Effect.gen(function*() {
      const log = path.join(tempDir(), "qstat.log")
      const dir = toolDir({ qsub: noop, qstat: fakeQstat(log, { help: "echo 'SGE 8.1.9'; echo 'usage: qstat [options]'; exit 1" }) })
      const d = yield* detect({ env: { PATH: dir }, defaultPbsConf: noPbsConf })
      expect(d).toEqual({
        executor: "sge",
        reason: `qsub and qstat are on PATH and qstat -help says "SGE 8.1.9"`,
        found: [{ executor: "sge", evidence: `qstat -help says "SGE 8.1.9"` }]
      })
      expect(fs.readFileSync(log, "utf8")).toBe("-help\n")
    }))

  it.live("pbs pro and torque from qstat --version, each in its own PATH", () =>
    Effect.gen(function*() {
      const log = path.join(tempDir(), "qstat.log")
      const pro = toolDir({ qsub: noop, qstat: fakeQstat(log, { version: "echo 'pbs_version = 2022.1.0'" }) })
      const torque = toolDir({ qsub: noop, qstat: fakeQstat(log, { version: "echo 'Version: 6.1.3'; echo 'Commit: 1b9a6c0'" }) })
      expect(yield* detect({ env: { PATH: pro }, defaultPbsConf: noPbsConf })).toMatchObject({
        executor: "pbs",
        pbsFlavor: "pro"
      })
      expect(yield* detect({ env: { PATH: torque }, defaultPbsConf: noPbsConf })).toMatchObject({
        executor: "pbs",
        pbsFlavor: "torque",
        reason: `qsub and qstat are on PATH and qstat --version says "Version: 6.1.3" (TORQUE)`
      })
      expect(fs.readFileSync(log, "utf8")).toBe("-help\n--version\n-help\n--version\n")
    }))

  it.live("slurm in one PATH directory beats SGE in a later one, which is still reported", () =>
    Effect.gen(function*() {
      const log = path.join(tempDir(), "qstat.log")
      const slurm = toolDir({ sbatch: noop, squeue: noop })
      const sge = toolDir({ qsub: noop, qstat: fakeQstat(log, { help: "echo 'SGE 8.1.9'" }) })
      const d = yield* detect({ env: { PATH: [slurm, sge].join(path.delimiter) }, defaultPbsConf: noPbsConf })
      expect(d.executor).toBe("slurm")
      expect(d.reason).toBe(`sbatch and squeue are on PATH (${slurm})`)
      expect(d.found.map((f) => f.executor)).toEqual(["slurm", "sge"])
    }))

  it.live("only executable files count, and qstat is not run without qsub", () =>
    Effect.gen(function*() {
      const log = path.join(tempDir(), "qstat.log")
      const dir = toolDir({ qstat: fakeQstat(log, { help: "echo 'SGE 8.1.9'" }), squeue: noop })
      fs.writeFileSync(path.join(dir, "sbatch"), "#!/bin/sh\n") // not executable
      fs.mkdirSync(path.join(dir, "qsub")) // a directory
      const d = yield* detect({ env: { PATH: dir, SGE_ROOT: "/opt/sge" }, defaultPbsConf: noPbsConf })
      expect(d.executor).toBe("local")
      expect(d.reason).toBe(
        "no scheduler has both its commands on PATH (found squeue without sbatch, qstat without qsub): running jobs as local processes"
      )
      expect(fs.existsSync(log)).toBe(false)
    }))

  it.live("a qstat that hangs says nothing: SGE_ROOT decides, else a PBS config file, else local", () =>
    Effect.gen(function*() {
      const dir = toolDir({ qsub: noop, qstat: "exec /bin/sleep 30" })
      const conf = path.join(tempDir(), "pbs.conf")
      fs.writeFileSync(conf, "PBS_SERVER=head\n")
      const started = Date.now()
      const timeout = "300 millis"
      expect(yield* detect({ env: { PATH: dir, SGE_ROOT: "/opt/sge" }, timeout, defaultPbsConf: noPbsConf })).toMatchObject({
        executor: "sge",
        reason: "qsub and qstat are on PATH and SGE_ROOT is set (/opt/sge)"
      })
      expect(yield* detect({ env: { PATH: dir, PBS_CONF_FILE: conf }, timeout, defaultPbsConf: noPbsConf })).toMatchObject({
        executor: "pbs",
        pbsFlavor: "pro",
        reason: `qsub and qstat are on PATH and ${conf} exists (PBS Professional/OpenPBS)`
      })
      const unknown = yield* detect({ env: { PATH: dir }, timeout, defaultPbsConf: noPbsConf })
      expect(unknown.executor).toBe("local")
      expect(unknown.reason).toContain("cannot be told apart")
      // three detections, two qstat runs each, all killed at the timeout
      expect(Date.now() - started).toBeLessThan(10_000)
    }))
})

// ---------------------------------------------------------------------------------------------
// loadConfig, renderConfig and ClusterApi with executor: auto
// ---------------------------------------------------------------------------------------------

const sgeDetection: Detection = {
  executor: "sge",
  reason: `qsub and qstat are on PATH and qstat -help says "SGE 8.1.9"`,
  found: [
    { executor: "slurm", evidence: "sbatch and squeue in /usr/bin" },
    { executor: "sge", evidence: `qstat -help says "SGE 8.1.9"` }
  ]
}
const torqueDetection: Detection = {
  executor: "pbs",
  pbsFlavor: "torque",
  reason: `qsub and qstat are on PATH and qstat --version says "Version: 6.1.3" (TORQUE)`,
  found: [{ executor: "pbs", evidence: `qstat --version says "Version: 6.1.3", TORQUE` }]
}

/** Loads `text` as the config file, with `detection` injected; counts how often it was asked. */
const loadWith = (text: string, detection: Detection, options: LoadOptions = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-api-detect-config-" })
    const file = path.join(root, "cluster-api.yaml")
    yield* fs.writeFileString(file, text)
    let asked = 0
    const result = yield* loadConfig({
      cwd: root,
      configPath: file,
      detect: Effect.sync(() => {
        asked += 1
        return detection
      }),
      ...options
    }).pipe(
      Effect.either,
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["HOME", root]])))
    )
    if (Either.isLeft(result)) return yield* Effect.dieMessage(`expected a config, got ${result.left.message}`)
    return { config: result.right, asked }
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

describe("loadConfig with executor: auto", () => {
  it.effect("sets the detected executor, keeps the detection in source, and config show says why", () =>
    Effect.gen(function*() {
      const { config, asked } = yield* loadWith("executor: auto\n", sgeDetection)
      expect(asked).toBe(1)
      expect(config.options.executor).toBe("sge")
      expect(config.options.pbs_flavor).toBe(defaultOptions.pbs_flavor)
      expect(config.source.detection).toEqual(sgeDetection)
      const text = renderConfig(config)
      const header = text.split("\n").filter((l) => l.startsWith("#"))
      expect(header).toContain(`# executor: auto → sge: qsub and qstat are on PATH and qstat -help says "SGE 8.1.9"`)
      expect(header).toContain("# also found: slurm (sbatch and squeue in /usr/bin)")
      expect(YAML.parse(text)).toEqual(config.options)
    }))

  it.effect("pbs: the detected flavor, unless a profile names one", () =>
    Effect.gen(function*() {
      const file = "executor: auto\nprofiles:\n  old:\n    pbs_flavor: torque\n  reset:\n    pbs_flavor: null\n"
      const detected = yield* loadWith(file, torqueDetection)
      expect(detected.config.options).toMatchObject({ executor: "pbs", pbs_flavor: "torque" })
      expect(renderConfig(detected.config)).toContain(
        `# executor: auto → pbs: qsub and qstat are on PATH and qstat --version says "Version: 6.1.3" (TORQUE)`
      )
      const pro: Detection = { ...torqueDetection, pbsFlavor: "pro" }
      expect((yield* loadWith(file, pro)).config.options.pbs_flavor).toBe("pro")
      // A profile's explicit flavor beats detection; null sets it back to "not given"
      expect((yield* loadWith(file, pro, { profile: "old" })).config.options.pbs_flavor).toBe("torque")
      const explicitTop = "executor: auto\npbs_flavor: torque\nprofiles:\n  reset:\n    pbs_flavor: null\n"
      expect((yield* loadWith(explicitTop, pro)).config.options.pbs_flavor).toBe("torque")
      expect((yield* loadWith(explicitTop, pro, { profile: "reset" })).config.options.pbs_flavor).toBe("pro")
    }))

  it.effect("detects only for auto: an explicit executor (even one overriding auto) never asks", () =>
    Effect.gen(function*() {
      const local = yield* loadWith("executor: local\n", sgeDetection)
      expect(local.asked).toBe(0)
      expect(local.config.source.detection).toBeUndefined()
      expect(renderConfig(local.config)).not.toContain("# executor: auto")
      const overridden = yield* loadWith("executor: auto\n", sgeDetection, { overrides: { executor: "slurm" } })
      expect(overridden.asked).toBe(0)
      expect(overridden.config.options.executor).toBe("slurm")
    }))
})

describe("ClusterApi with a config made in code saying executor: auto", () => {
  it.live("builds the executor detection picks on this machine", () =>
    Effect.gen(function*() {
      const detection = yield* detect()
      const executor = yield* Executor
      const config = yield* ClusterConfig
      expect(config.options.executor).toBe("auto")
      // PBS has no executor of its own yet: it runs as the pbs case of layerExecutor says.
      if (detection.executor !== "pbs") expect(executor.kind).toBe(detection.executor)
    }).pipe(Effect.provide(ClusterApi.layerTest({ config: { executor: "auto" } }))))
})

// ---------------------------------------------------------------------------------------------
// cluster-api config show (the command line, run in this process)
// ---------------------------------------------------------------------------------------------

describe("cluster-api config show", { timeout: 60_000 }, () => {
  it("with executor: auto prints the detected executor and why", async () => {
    const log = path.join(tempDir(), "qstat.log")
    const slurm = toolDir({ sbatch: noop, squeue: noop })
    const sge = toolDir({ qsub: noop, qstat: fakeQstat(log, { help: "echo 'SGE 8.1.9'" }) })
    const cwd = tempDir()
    fs.writeFileSync(path.join(cwd, "cluster-api.yaml"), "executor: auto\n")
    // Detection reads PATH, SGE_ROOT and PBS_CONF_FILE from the environment the command line is
    // given: PATH is only the two directories, the other two are unset. Both are found; Slurm wins
    // although SGE comes first on PATH.
    const r = await runCli(["config", "show"], { cwd, env: { PATH: [sge, slurm].join(path.delimiter) } })
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`# executor: auto → slurm: sbatch and squeue are on PATH (${slurm})`)
    expect(r.stdout).toContain(`# also found: sge (qstat -help says "SGE 8.1.9")`)
    expect(r.stdout).toMatch(/^executor: slurm$/m)
  })
})
