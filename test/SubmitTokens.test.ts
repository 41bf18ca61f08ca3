/**
 * How each scheduler carries a submission's token (JobStore.SubmitIntent) and how it is read back
 * from the one listing a restart asks for: the submit arguments, and the listing parsers on
 * recorded outputs (test/fixtures) and on any text.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { withArguments } from "../src/internal/batch/submit.js"
import * as Lsf from "./support/parts/lsf.js"
import * as Pbs from "./support/parts/pbs.js"
import * as Sge from "./support/parts/sge.js"
import * as Slurm from "./support/parts/slurm.js"
import { tokenIn, tokenMarker } from "../src/schedulers/Token.js"
import { removeDir } from "./support/TempDirs.js"

const fixture = (path: string) => readFileSync(new URL(`./fixtures/${path}`, import.meta.url), "utf8")

const parsers = [
  ["slurm", Slurm.parseTokens],
  ["lsf", Lsf.parseTokens],
  ["sge", Sge.parseTokens],
  ["pbs", Pbs.parseTokens]
] as const

/** Runs argv against the PBS emulator of `flavor` in `dir`; its stdout. */
const pbs = (flavor: "pro" | "torque", dir: string, argv: ReadonlyArray<string>) => {
  const bin = fileURLToPath(new URL(`./support/pbs/bin/${argv[0]}`, import.meta.url))
  const r = spawnSync(bin, argv.slice(1), {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, PBS_EMULATOR_DIR: join(dir, "cluster"), PBS_EMULATOR_FLAVOR: flavor }
  })
  expect(r.status, r.stderr).toBe(0)
  return r.stdout
}

describe("submission tokens", () => {
  it("a token is found in what the scheduler shows back, and nothing else is taken for one", () => {
    expect(tokenIn(tokenMarker("0123456789abcdef"))).toBe("0123456789abcdef")
    expect(tokenIn(`a note; ${tokenMarker("00112233aabbccdd")}`)).toBe("00112233aabbccdd")
    expect(tokenIn("(null)")).toBeUndefined()
    expect(tokenIn("cluster-api:")).toBeUndefined()
  })

  it("go to the submit command before the script's path, or last when the script comes on stdin", () => {
    expect(withArguments({ argv: ["sbatch", "--parsable", "/s/j.sh"] }, ["--comment=x"], "/s/j.sh").argv)
      .toEqual(["sbatch", "--parsable", "--comment=x", "/s/j.sh"])
    expect(withArguments({ argv: ["bsub", "-env", "none"], stdin: "#!/bin/sh" }, ["-Jd", "x"], "/s/j.sh").argv)
      .toEqual(["bsub", "-env", "none", "-Jd", "x"])
  })

  it("slurm: the job's comment; squeue -o '%F|%k' (recorded on Slurm 22.05) gives each token's job, an array's once", () => {
    expect(Slurm.tokenArgs("0123456789abcdef")).toEqual(["--comment=cluster-api:0123456789abcdef"])
    expect(Slurm.tokenCommand().argv).toEqual(["squeue", "--me", "-h", "-t", "all", "-o", "%F|%k"])
    expect(Slurm.parseTokens(fixture("slurm/squeue-tokens.txt"))).toEqual(Either.right([
      { token: "0123456789abcdef", jobId: "7" },
      { token: "00112233aabbccdd", jobId: "8" }
    ]))
    expect(Either.isLeft(Slurm.parseTokens("slurm_load_jobs error: Unable to contact slurm controller\n"))).toBe(true)
  })

  it("lsf: the job's description (-Jd); bjobs -o 'jobid job_description' gives each token's job, an array's once", () => {
    expect(Lsf.tokenArgs("0123456789abcdef")).toEqual(["-Jd", "cluster-api:0123456789abcdef"])
    expect(Lsf.tokenCommand().argv).toEqual(["bjobs", "-a", "-json", "-o", "jobid job_description"])
    expect(Lsf.parseTokens(fixture("lsf/bjobs-tokens.json"))).toEqual(Either.right([
      { token: "00112233aabbccdd", jobId: "1000" }
    ]))
    expect(Lsf.parseTokens("No job found\n")).toEqual(Either.right([]))
  })

  it("sge: a context variable (-ac); qstat -j '*' (recorded on SGE 8.1.9) gives each token's job; none is no jobs", () => {
    expect(Sge.tokenArgs("0123456789abcdef")).toEqual(["-ac", "cluster_api=cluster-api:0123456789abcdef"])
    expect(Sge.tokenCommand().argv).toEqual(["qstat", "-j", "*"])
    expect(Sge.parseTokens(fixture("sge/qstat-j-all-tokens.txt"))).toEqual(Either.right([
      { token: "0123456789abcdef", jobId: "5" },
      { token: "00112233aabbccdd", jobId: "6" }
    ]))
    const none = { exitCode: 1, stdout: fixture("sge/qstat-j-all-none.txt"), stderr: fixture("sge/qstat-j-all-none.stderr") }
    expect(Sge.tokenNoJobs(none)).toBe(true)
    expect(Sge.tokenNoJobs({ exitCode: 1, stdout: "", stderr: "error: commlib error: got select error (Connection refused)\n" }))
      .toBe(false)
  })

  for (const flavor of ["pro", "torque"] as const) {
    it(`pbs (${flavor}, emulator): a variable of the job's environment (-v); qstat -f gives each token's job, an array's once`, () => {
      const dir = mkdtempSync(join(tmpdir(), "capi-pbs-tokens-"))
      writeFileSync(join(dir, "job.sh"), "#!/bin/sh\nsleep 30\n")
      const submit = (args: ReadonlyArray<string>) => pbs(flavor, dir, ["qsub", ...args, "job.sh"]).trim()
      const single = submit(Pbs.tokenArgs("0123456789abcdef"))
      const array = submit([flavor === "pro" ? "-J" : "-t", "1-2", ...Pbs.tokenArgs("00112233aabbccdd")])
      const plain = submit([])
      const listing = pbs(flavor, dir, Pbs.tokenCommand(flavor)().argv)
      expect(Pbs.parseTokens(listing)).toEqual(Either.right([
        { token: "0123456789abcdef", jobId: single },
        { token: "00112233aabbccdd", jobId: array }
      ]))
      pbs(flavor, dir, ["qdel", single, array, plain])
      removeDir(dir)
    })
  }

  it("pbs: a Variable_List PBS Pro prints as broken JSON does not hide a token", () => {
    const text = `{"Jobs":{\n"7.s":{\n"Variable_List":{\n"X":"say "hi"",\n"CLUSTER_API_TOKEN":"cluster-api:0123456789abcdef"\n}\n}\n}}`
    expect(Pbs.parseTokens(text)).toEqual(Either.right([{ token: "0123456789abcdef", jobId: "7.s" }]))
  })

  it("pbs: a job id that is no PBS id (empty, or an index past 2^53) says so instead of giving an empty id", () => {
    for (const id of ["\n", "0[99999999999999999999].s"]) {
      const text = `<Job><Job_Id>${id}</Job_Id><Variable_List>CLUSTER_API_TOKEN=cluster-api:7e9edb4622ab5e49</Variable_List></Job>`
      expect(Either.isLeft(Pbs.parseTokens(text)), id).toBe(true)
    }
  })

  for (const [name, parse] of parsers) {
    it.prop(`${name}: any text gives a listing or says what is wrong, never throws`, [FastCheck.string()], ([text]) => {
      const result = parse(text)
      expect(Either.isLeft(result) || Either.isRight(result)).toBe(true)
    })
  }
})
