/**
 * How each scheduler carries a submission's token (JobStore.SubmitIntent) and how it is read back
 * from the one listing a restart asks for: the submit arguments, and the listing parsers on
 * recorded outputs (test/fixtures) and on any text.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { readFileSync } from "node:fs"
import { withArguments } from "../src/BatchExecutor.js"
import * as Lsf from "../src/schedulers/Lsf.js"
import * as Sge from "../src/schedulers/Sge.js"
import * as Slurm from "../src/schedulers/Slurm.js"
import { tokenIn, tokenMarker } from "../src/schedulers/Token.js"

const fixture = (path: string) => readFileSync(new URL(`./fixtures/${path}`, import.meta.url), "utf8")

const parsers = [
  ["slurm", Slurm.parseTokens],
  ["lsf", Lsf.parseTokens],
  ["sge", Sge.parseTokens]
] as const

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

  for (const [name, parse] of parsers) {
    it.prop(`${name}: any text gives a listing or says what is wrong, never throws`, [FastCheck.string()], ([text]) => {
      const result = parse(text)
      expect(Either.isLeft(result) || Either.isRight(result)).toBe(true)
    })
  }
})
