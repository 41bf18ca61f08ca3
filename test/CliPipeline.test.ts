/**
 * `run PIPELINE.yaml`, `retry`, and what `submit` and `show` gained for them (templates, retries,
 * expected outputs, log checks, attempts and failure evidence), through the `cluster-api` command
 * line run in-process (test/support/CliInProcess.ts) with real local processes. Each test runs in its own temporary directory, with a
 * `cluster-api.yaml` there that polls often and HOME pointing there.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { CliResult } from "./support/CliInProcess.js"
import { runCli } from "./support/CliInProcess.js"
import { tempDirs } from "./support/TempDirs.js"

const examplePipeline = fileURLToPath(new URL("../examples/pipeline.yaml", import.meta.url))

const newDir = tempDirs("cluster-api-clipipeline-")

/** A fresh directory with `cluster-api.yaml` holding `config` (polling every 0.2 s unless it says otherwise). */
const freshDir = (config = ""): string => {
  const dir = newDir()
  fs.writeFileSync(path.join(dir, "cluster-api.yaml"), `poll_interval: 0.2\n${config}`)
  return dir
}

const cli = (args: ReadonlyArray<string>, cwd: string): Promise<CliResult> => runCli(args, { cwd })

const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

const jobIdOf = (r: CliResult): string => {
  const m = /Submitted job (\S+) \(/.exec(r.stdout)
  if (m === null) throw new Error(`no job id in:\n${show(r)}`)
  return m[1]!
}

interface ListedJob {
  readonly jobId: string
  readonly status: string
  readonly attempt?: number
  readonly retryOf?: string
  readonly metadata: Record<string, unknown>
}

const listJobs = async (dir: string): Promise<ReadonlyArray<ListedJob>> => {
  const r = await cli(["list", "--json"], dir)
  expect(r.code, show(r)).toBe(0)
  return JSON.parse(r.stdout) as ReadonlyArray<ListedJob>
}

const writeFile = (dir: string, name: string, text: string): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

/** A progress line of `run`: `HH:MM:SS step status note`. */
const stepLine = (step: string, rest: string): RegExp => new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${step}\\s+${rest}$`, "m")

describe.concurrent("cluster-api run", { timeout: 120_000 }, () => {
  it("runs examples/pipeline.yaml: progress per step, train retried, exit 0; a second run keeps every step", async () => {
    const dir = freshDir()
    const first = await cli(["run", examplePipeline], dir)
    expect(first.code, show(first)).toBe(0)
    expect(first.stdout).toMatch(/^Pipeline ml: 3 step\(s\) on local$/m)
    for (const step of ["preprocess", "train", "evaluate"]) {
      expect(first.stdout).toMatch(stepLine(step, "Pending\\s+submitted as job \\S+"))
      expect(first.stdout).toMatch(stepLine(step, "Done"))
    }
    expect(first.stdout).toMatch(stepLine("train", "Failed\\s+exit code 1"))
    expect(first.stdout).toMatch(stepLine("train", "Failed\\s+retrying \\(attempt 2\\)"))
    // evaluate read what train wrote (5050 / 100), after train's second attempt
    expect(fs.readFileSync(path.join(dir, "model.txt"), "utf8")).toBe("5050\n")

    const jobs = await listJobs(dir)
    expect(jobs).toHaveLength(4)
    const trainJobs = jobs.filter((j) => j.metadata["step"] === "train")
    expect(trainJobs.map((j) => [j.status, j.attempt ?? 1])).toEqual([["Failed", 1], ["Done", 2]])
    const [firstTrain, secondTrain] = trainJobs
    expect(secondTrain?.retryOf).toBe(firstTrain?.jobId)

    // The final table: each step, its (last) job, how it ended.
    const ids = Object.fromEntries(jobs.filter((j) => j.status === "Done").map((j) => [j.metadata["step"], j.jobId]))
    expect(first.stdout).toMatch(new RegExp(`^preprocess\\s+${ids["preprocess"]}\\s+Done$`, "m"))
    expect(first.stdout).toMatch(new RegExp(`^train\\s+${ids["train"]} \\(attempt 2\\)\\s+Done$`, "m"))
    expect(first.stdout).toMatch(new RegExp(`^evaluate\\s+${ids["evaluate"]}\\s+Done$`, "m"))

    const again = await cli(["run", examplePipeline], dir)
    expect(again.code, show(again)).toBe(0)
    for (const step of ["preprocess", "train", "evaluate"]) {
      expect(again.stdout).toMatch(stepLine(step, "Done\\s+Done in an earlier run: kept"))
      expect(again.stdout).toMatch(new RegExp(`^${step}\\s+${ids[step]}.*\\s+Done \\(kept from an earlier run\\)$`, "m"))
    }
    expect(again.stdout).not.toContain("submitted as job")
    expect(await listJobs(dir)).toHaveLength(4)
  })

  it("a failing step fails its dependents: exit 1, and the table names the step they waited for", async () => {
    const dir = freshDir()
    const file = writeFile(
      dir,
      "chain.yaml",
      `name: chain
steps:
  - { name: a, command: "echo a" }
  - { name: b, command: "exit 3", depends_on: [a] }
  - { name: c, command: "echo c > c.txt", depends_on: [b] }
`
    )
    const r = await cli(["run", file], dir)
    expect(r.code, show(r)).toBe(1)
    const jobs = await listJobs(dir)
    const b = jobs.find((j) => j.metadata["step"] === "b")
    expect(b?.status).toBe("Failed")
    expect(r.stdout).toMatch(/^a\s+\S+\s+Done$/m)
    expect(r.stdout).toMatch(new RegExp(`^b\\s+${b?.jobId}\\s+Failed: exit code 3$`, "m"))
    expect(r.stdout).toMatch(new RegExp(`^c\\s+\\S+\\s+Failed: dependency failed: b \\(job ${b?.jobId}\\)$`, "m"))
    expect(fs.existsSync(path.join(dir, "c.txt"))).toBe(false)
  })

  it("an invalid pipeline exits 2, lists every problem and submits nothing", async () => {
    const dir = freshDir()
    const file = writeFile(
      dir,
      "loop.yaml",
      `name: loop
steps:
  - { name: x, command: "true", depends_on: [y] }
  - { name: y, command: "true", depends_on: [x] }
  - { name: z, command: "true", depends_on: [ghost] }
`
    )
    const r = await cli(["run", file], dir)
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toContain("Pipeline 'loop' cannot run; nothing was submitted:")
    expect(r.stdout).not.toContain("Pipeline loop:") // checked before the first line of progress
    expect(r.stderr).toContain("  - step 'z' depends on 'ghost', which is not a step of this pipeline (its steps: x, y, z)")
    expect(await listJobs(dir)).toEqual([])
    // Every problem at once: the cycle too, not only once the unknown step is fixed.
    expect(r.stderr).toMatch(/ {2}- steps '[xy]' → '[xy]' → '[xy]' depend on each other in a cycle; break it/)
  })

  it("a cycle alone is reported as one, with exit 2", async () => {
    const dir = freshDir()
    const file = writeFile(
      dir,
      "cycle.yaml",
      `steps:
  x: { command: "true", depends_on: y }
  y: { command: "true", depends_on: x }
`
    )
    const r = await cli(["run", file], dir)
    expect(r.code, show(r)).toBe(2)
    // Unnamed: the pipeline is named after the file's stem.
    expect(r.stderr).toContain("Pipeline 'cycle' cannot run; nothing was submitted:")
    expect(r.stderr).toContain("  - steps 'x' → 'y' → 'x' depend on each other in a cycle; break it")
  })

  it("a file with bad options exits 2 with every problem at its place in the file", async () => {
    const dir = freshDir()
    const file = writeFile(
      dir,
      "typo.yaml",
      `name: typo
steps:
  - { name: a, command: "true", cpu: 2 }
  - { name: b, memory: 4 GB }
`
    )
    const r = await cli(["run", file], dir)
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toContain("  - steps[0].cpu: unknown option; did you mean cpus?")
    expect(r.stderr).toContain("  - steps[1]: give the step a command (command: ...)")
    expect(r.stdout).not.toContain("Pipeline typo:")
  })

  it("--json prints the result only: pipeline, ok and each step's status, summary and record", async () => {
    const dir = freshDir()
    const file = writeFile(
      dir,
      "anyway.yaml",
      `name: anyway
steps:
  - { name: flaky, command: "exit 2" }
  - { name: cleanup, command: "echo cleaned", depends_on: [{ step: flaky, type: afterany }] }
`
    )
    const r = await cli(["run", "--json", file], dir)
    expect(r.code, show(r)).toBe(1)
    const result = JSON.parse(r.stdout) as {
      pipeline: string
      ok: boolean
      steps: ReadonlyArray<{ step: string; status: string; reused: boolean; summary: string; record?: { jobId: string } }>
    }
    expect(result.pipeline).toBe("anyway")
    expect(result.ok).toBe(false)
    expect(result.steps.map(({ record: _, ...s }) => s)).toEqual([
      { step: "flaky", status: "Failed", reused: false, summary: "Failed: exit code 2" },
      { step: "cleanup", status: "Done", reused: false, summary: "Done" }
    ])
    const [flaky, cleanup] = result.steps
    expect(flaky?.record).toMatchObject({ status: "Failed", exitCode: 2, metadata: { pipeline: "anyway", step: "flaky" } })
    expect(cleanup?.record).toMatchObject({ status: "Done", metadata: { pipeline: "anyway", step: "cleanup" } })
    expect(cleanup?.record?.jobId).not.toBe(flaky?.record?.jobId)
  })
})

describe.concurrent("cluster-api retry, submit and show", { timeout: 120_000 }, () => {
  it("retry submits an ended job again as attempt 2, linked both ways; refused twice and for unknown ids", async () => {
    const dir = freshDir()
    const failed = await cli(["submit", "--", "sh", "-c", "exit 3"], dir)
    expect(failed.code, show(failed)).toBe(1)
    const first = jobIdOf(failed)

    const retried = await cli(["retry", first], dir)
    expect(retried.code, show(retried)).toBe(1) // the new attempt fails the same way
    const second = jobIdOf(retried)
    expect(second).not.toBe(first)
    expect(retried.stdout).toContain(`Submitted job ${second} (capi-sh), attempt 2 of job ${first}`)

    const [json, text, again, unknown] = await Promise.all([
      cli(["show", second, "--json"], dir),
      cli(["show", first], dir),
      cli(["retry", first], dir),
      cli(["retry", "nope"], dir)
    ])
    expect(json.code, show(json)).toBe(0)
    const details = JSON.parse(json.stdout) as {
      record: { jobId: string; attempt?: number; retryOf?: string; command: string }
      attempts: ReadonlyArray<string>
    }
    expect(details.record).toMatchObject({ jobId: second, attempt: 2, retryOf: first, command: "sh -c 'exit 3'" })
    expect(details.attempts).toEqual([first, second])

    expect(text.code, show(text)).toBe(0)
    expect(text.stdout).toMatch(/^Attempt:\s+1 of 2$/m)
    expect(text.stdout).toContain("\nAttempts:\n")
    expect(text.stdout).toMatch(new RegExp(`^  \\* 1  job ${first}  Failed \\(exit code 3\\)`, "m"))
    expect(text.stdout).toMatch(new RegExp(`^    2  job ${second}  Failed \\(exit code 3\\)`, "m"))

    expect(again.code, show(again)).toBe(2)
    expect(again.stderr).toContain(`Cannot retry job ${first}: it was retried already as job ${second}`)
    expect(unknown.code, show(unknown)).toBe(2)
    expect(unknown.stderr).toContain("No job nope is in the job store")
  })

  it("submit --template puts the config's template under the job; an unknown one exits 2 naming those defined", async () => {
    const dir = freshDir("templates: { small: { env: { GREETING: hi }, max_retries: 0 }, big: { cpus: 2 } }\n")
    const r = await cli(["submit", "--template", "small", "--", "sh", "-c", "echo $GREETING"], dir)
    expect(r.code, show(r)).toBe(0)
    const id = jobIdOf(r)
    const [logs, unknown] = await Promise.all([
      cli(["logs", id], dir),
      cli(["submit", "--template", "nope", "--", "true"], dir)
    ])
    expect(logs.code, show(logs)).toBe(0)
    expect(logs.stdout).toBe("hi\n")
    expect(unknown.code, show(unknown)).toBe(2)
    expect(unknown.stderr).toContain(`template "nope" is not a template; the config defines small, big`)
    expect(unknown.stdout).not.toContain("Submitted job")
  })

  it("submit --expect fails a job that leaves no such file, and show says which output is missing", async () => {
    const dir = freshDir()
    const [missing, made] = await Promise.all([
      cli(["submit", "--name", "missing", "--expect", "out.txt", "--", "true"], dir),
      cli(["submit", "--name", "made", "--expect", "made-*.txt", "--", "touch", "made-1.txt"], dir)
    ])
    expect(made.code, show(made)).toBe(0)
    expect(missing.code, show(missing)).toBe(1)
    const details = await cli(["show", jobIdOf(missing)], dir)
    expect(details.stdout).toMatch(/^Reason:\s+missing output: out\.txt$/m)
    expect(details.stdout).toMatch(/^Failure:\n {2}missing output: out\.txt\n {2}missing outputs: out\.txt$/m)
  })

  it("submit --check-logs fails a job whose log has an error line", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--check-logs", "--", "sh", "-c", "echo 'ERROR: disk full'"], dir)
    expect(r.code, show(r)).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`→ Failed \\(1 error line in its logs, first: ERROR: disk full\\)$`, "m"))
  })

  it("submit --retry-on without --max-retries exits 2 and submits nothing", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--retry-on", "Timeout", "--", "true"], dir)
    expect(r.code, show(r)).toBe(2)
    expect(r.stderr).toContain("--retry-on and --retry-backoff need --max-retries N")
    expect(r.stdout).not.toContain("Submitted job")
  })

  it("show of a failed job has a Failure section: its exit code and the end of its stderr", async () => {
    const dir = freshDir()
    const r = await cli(["submit", "--", "sh", "-c", "echo boom >&2; exit 4"], dir)
    expect(r.code, show(r)).toBe(1)
    const id = jobIdOf(r)
    const [text, json] = await Promise.all([cli(["show", id], dir), cli(["show", id, "--json"], dir)])
    expect(text.code, show(text)).toBe(0)
    const stderrLog = path.join(dir, "logs", `stderr.${id}.log`)
    expect(text.stdout).toContain(`\nFailure:\n  exit code 4\n  last lines of stderr (${stderrLog}):\n    boom\n`)
    expect(text.stdout).not.toContain("Attempts:")
    const failure = (JSON.parse(json.stdout) as { failure?: Record<string, unknown> }).failure
    expect(failure).toMatchObject({ jobId: id, status: "Failed", exitCode: 4, summary: "exit code 4", stderrTail: "boom\n" })
  })
})
