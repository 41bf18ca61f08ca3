/**
 * How `submit` reads its command line: every option known or refused, the command after `--` or
 * at the first word that is not an option, and sbatch's spellings beside the long names. Pure
 * tests of the splitting and the grammars, then the command line run in-process on the local
 * executor.
 */
import { Options } from "@effect/cli"
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { submitArgv, submitOptionTable } from "../src/cli/commands/submit.js"
import type { OptionTable } from "../src/cli/Input.js"
import {
  closestOption,
  nonEmptyIds,
  optionTable,
  parseDependency,
  schedulerWalltime,
  splitCommandLine
} from "../src/cli/Input.js"
import type { JobRecord } from "../src/Domain.js"
import type { CliResult, StartedCli } from "./support/CliInProcess.js"
import { runCli, startCli } from "./support/CliInProcess.js"
import { tempDirs } from "./support/TempDirs.js"

const table: OptionTable = optionTable(
  Options.getUsage(Options.all({
    memory: Options.text("memory").pipe(Options.withAlias("mem"), Options.optional),
    cpus: Options.integer("cpus").pipe(Options.withAlias("c"), Options.optional),
    extra: Options.text("extra-arg").pipe(Options.repeated),
    wait: Options.boolean("wait")
  }))
)

const split = (...words: Array<string>) => splitCommandLine("submit", words, table)

describe("splitCommandLine", () => {
  it("reads the usage's names by whether they take a value", () => {
    expect([...table.valued].sort()).toEqual(["--cpus", "--extra-arg", "--mem", "--memory", "-c"])
    expect([...table.flags]).toEqual(["--wait"])
  })

  it("the command starts after -- or at the first word that is not an option", () => {
    expect(split("--mem", "8G", "--", "ls", "-l")).toEqual(Either.right({ options: ["--mem", "8G"], command: ["ls", "-l"] }))
    expect(split("--wait", "python", "train.py", "--mem", "1")).toEqual(
      Either.right({ options: ["--wait"], command: ["python", "train.py", "--mem", "1"] })
    )
    expect(split("--wait", "true")).toEqual(Either.right({ options: ["--wait"], command: ["true"] }))
    expect(split("--", "--mem")).toEqual(Either.right({ options: [], command: ["--mem"] }))
    expect(split("-", "x")).toEqual(Either.right({ options: [], command: ["-", "x"] }))
  })

  it("reads --opt=value, -xVALUE and -x VALUE, repeatable options too, as --opt value pairs", () => {
    expect(split("--extra-arg=-H", "--extra-arg", "-x", "--mem=8G", "-c4", "-c", "2", "--", "true")).toEqual(
      Either.right({ options: ["--extra-arg", "-H", "--extra-arg", "-x", "--mem", "8G", "-c", "4", "-c", "2"], command: ["true"] })
    )
    expect(split("--mem=a=b", "x")).toEqual(Either.right({ options: ["--mem", "a=b"], command: ["x"] }))
  })

  it("refuses an unknown option, naming it and the closest known one", () => {
    expect(split("--memroy", "8G", "--", "true")).toEqual(
      Either.left("submit: unknown option --memroy; did you mean --memory? (see cluster-api submit --help)")
    )
    expect(split("--cpu=3", "true")).toMatchObject({ left: expect.stringContaining("unknown option --cpu; did you mean --cpus?") })
    expect(split("--zzzzzz", "true")).toMatchObject({ left: expect.not.stringContaining("did you mean") })
  })

  it("refuses a command word that starts with - without --", () => {
    expect(split("-ls")).toMatchObject({ left: expect.stringContaining("unknown option -ls; a command that starts with - goes after --") })
  })

  it("refuses a missing value, an empty one and a value given to a flag", () => {
    expect(split("--mem")).toEqual(Either.left("submit: option --mem needs a value"))
    expect(split("--mem", "--", "true")).toEqual(Either.left("submit: option --mem needs a value"))
    expect(split("--extra-arg", "", "--", "true")).toMatchObject({ left: expect.stringContaining("option --extra-arg was given an empty value") })
    expect(split("--mem=", "true")).toMatchObject({ left: expect.stringContaining("option --mem was given an empty value") })
    expect(split("--wait=yes", "true")).toMatchObject({ left: expect.stringContaining("--wait takes no value") })
  })

  it.prop(
    "any words split into known options and the rest, or are refused with a message",
    [FastCheck.array(FastCheck.oneof(FastCheck.constantFrom("--mem", "-c", "--wait", "--", "--extra-arg=-H", "-", "--x"), FastCheck.string()), { maxLength: 12 })],
    ([words]) => {
      const r = splitCommandLine("submit", words, table)
      if (Either.isLeft(r)) expect(r.left).toMatch(/^submit: /)
      else {
        // The command is the words' tail, and every option word before it is a known one.
        expect(r.right.command).toEqual(r.right.command.length === 0 ? [] : words.slice(words.length - r.right.command.length))
        for (let i = 0; i < r.right.options.length; i++) {
          const name = r.right.options[i]!
          expect(table.valued.has(name) || table.flags.has(name)).toBe(true)
          if (table.valued.has(name)) i++
        }
      }
    }
  )

  it("the README's table of submit's options lists every one", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const section = readme.slice(readme.indexOf("**Submit's options.**"), readme.indexOf("**Ctrl-C and SIGTERM.**"))
    const listed = new Set(
      section.split("\n").filter((line) => line.startsWith("| `")).flatMap((line) =>
        [...(line.split("|")[1] ?? "").matchAll(/`(-{1,2}[\w-]+)/g)].map((m) => m[1]!)
      )
    )
    const known = [...submitOptionTable.valued, ...submitOptionTable.flags].filter((n) => !["--help", "-h", "--wizard", "--version"].includes(n))
    expect(known.filter((n) => !listed.has(n))).toEqual([])
  })

  it("closest option", () => {
    expect(closestOption("--partiton", submitOptionTable.valued)).toBe("--partition")
    expect(closestOption("--nonsense-here", submitOptionTable.valued)).toBeUndefined()
  })
})

describe("submitArgv", () => {
  const argv = (...words: Array<string>) => submitArgv(["node", "cluster-api", ...words])

  it("splits submit's words after the root options, and leaves other commands alone", () => {
    expect(argv("--json", "-P", "gpu", "submit", "--mem", "8G", "-p", "short", "python", "x.py", "-v")).toEqual(
      Either.right(["node", "cluster-api", "--json", "-P", "gpu", "submit", "--mem", "8G", "-p", "short", "--", "python", "x.py", "-v"])
    )
    expect(argv("list", "--bogus")).toEqual(Either.right(["node", "cluster-api", "list", "--bogus"]))
    expect(argv("submit", "--help")).toEqual(Either.right(["node", "cluster-api", "submit", "--help"]))
  })

  it("refuses sbatch-style options submit does not know with a usage error", () => {
    const r = argv("submit", "--ntasks", "4", "--", "true")
    expect(r).toMatchObject({ left: { _tag: "UsageError", message: expect.stringContaining("unknown option --ntasks") } })
  })

  it("knows sbatch's and bsub's spellings", () => {
    for (const name of ["--mem", "--time", "--cpus-per-task", "-c", "--partition", "-p", "--account", "-A", "--gpus", "--dependency", "-d", "--array", "-a", "--job-name", "-J", "-o", "-e", "--output", "--error", "-t", "-N", "-G", "--chdir", "-D"]) {
      expect(submitOptionTable.valued.has(name), name).toBe(true)
    }
    expect(submitOptionTable.flags.has("--parsable")).toBe(true)
  })
})

describe("dependencies", () => {
  it("parses sbatch's --dependency", () => {
    expect(parseDependency("afterok:1:2,afternotok:3,afterany:4")).toEqual(Either.right([
      { type: "afterok", jobId: "1" },
      { type: "afterok", jobId: "2" },
      { type: "afternotok", jobId: "3" },
      { type: "afterany", jobId: "4" }
    ]))
  })

  it.each(["afterok:", "afterok::2", "afterok", "after:1", "singleton", "afterok:1?afterany:2", ""])("refuses %j", (input) => {
    expect(Either.isLeft(parseDependency(input))).toBe(true)
  })

  it("an empty job id says which option and that it was empty", () => {
    expect(nonEmptyIds("--after-ok", ["12", " "])).toEqual(
      Either.left("--after-ok was given an empty job id (an unset shell variable?): give the id of the job to wait for")
    )
    expect(parseDependency("afterok:")).toMatchObject({ left: expect.stringContaining("afterok has an empty job id") })
  })
})

describe("schedulerWalltime", () => {
  it("reads an ambiguous A:B as the scheduler does, and says so", () => {
    for (const kind of ["slurm", "sge", "pbs"]) {
      expect(schedulerWalltime("30:00", kind)).toEqual({
        walltime: "00:30:00",
        shown: `walltime 0:30:00 (30:00 read as minutes:seconds, as ${kind} does)`
      })
    }
    for (const kind of ["lsf", "local"]) {
      expect(schedulerWalltime("30:00", kind)).toEqual({
        walltime: "30:00:00",
        shown: `walltime 30:00:00 (30:00 read as hours:minutes, as ${kind} does)`
      })
    }
  })

  it("leaves unambiguous and unreadable values as given", () => {
    for (const input of ["1:30:00", "2-00:00:00", "90m", "90", "1:75", "soon"]) {
      expect(schedulerWalltime(input, "slurm")).toEqual({ walltime: input })
    }
  })
})

const freshDir = tempDirs("cluster-api-argv-")
const cli = (args: ReadonlyArray<string>, cwd: string): Promise<CliResult> => runCli(args, { cwd })

/** What the job store holds, as `list --json` prints it. */
const stored = async (dir: string): Promise<Array<JobRecord & { spec: { resources?: Record<string, unknown> } }>> => {
  const r = await cli(["list", "--json"], dir)
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout)
}

describe.concurrent("submit through the command line", { timeout: 90_000 }, () => {
  it("an unknown option exits 2 naming it, and nothing is recorded", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--memroy", "8G", "--", "true"], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("unknown option --memroy; did you mean")
    expect(r.stdout).toBe("")
    expect(await stored(dir)).toEqual([])
  })

  it("a command word starting with - needs --", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "-ls"], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("unknown option -ls")
    expect(await stored(dir)).toEqual([])
  })

  it("an empty --after-ok is refused, not dropped", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--after-ok", "", "--", "true"], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--after-ok was given an empty value")
    expect(await stored(dir)).toEqual([])
  })

  it("--parsable --mem --time prints only the id, and the job asks for what was given", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--parsable", "--mem", "100M", "--time", "1:00", "--extra-arg=-H", "--", "echo", "hi"], dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^\S+\n$/)
    const [job] = await stored(dir)
    expect(job?.jobId).toBe(r.stdout.trim())
    expect(job?.command).toBe("echo hi")
    expect(job?.spec.resources).toMatchObject({ memory: "100M", walltime: "00:01:00", extraArgs: ["-H"] })
  })

  it("an ambiguous --walltime is echoed back as it was read", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--walltime", "30:00", "--", "true"], dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Submitted job \S+ \(capi-true\); walltime 30:00:00 \(30:00 read as hours:minutes, as local does\)$/m)
  })

  it("--dependency afterok:ID holds the job until ID is done", async () => {
    const dir = freshDir()
    const first = startCli(["submit", "--", "sh", "-c", "while [ ! -f go ]; do sleep 0.05; done; echo a > a.txt"], { cwd: dir })
    let second: StartedCli | undefined
    try {
      await first.printedMatch(/Submitted job \S+/, 30_000)
      const id = /Submitted job (\S+)/.exec(first.printed().stdout)![1]!
      second = startCli(["submit", "--parsable", "--dependency", `afterok:${id}`, "--", "cat", "a.txt"], { cwd: dir })
      // Printed once it is recorded: had it not been held, it would run now and find no a.txt.
      await second.printedMatch(/^\S+\n/, 30_000)
      fs.writeFileSync(path.join(dir, "go"), "")
      expect((await first.exited).code).toBe(0)
      const done = await second.exited
      expect(done.code).toBe(0)
      expect(fs.readFileSync(path.join(dir, "logs", `stdout.${done.stdout.trim()}.log`), "utf8")).toBe("a\n")
    } finally {
      // Ended already unless an expectation failed: then the waiting submits (and their jobs) are ended.
      await Promise.all([first.interrupt(), second?.interrupt()])
    }
  })
})
