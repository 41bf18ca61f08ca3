/**
 * A job is its executor and its id: Slurm's job 52 and LSF's job 52 are two jobs. Both stores keep
 * them apart, a store written before jobs were keyed so opens with its jobs and their histories,
 * and a bare id that several executors share is refused by name (`slurm:52` says which). On a
 * real Slurm with the LSF emulator beside it, jobs with equal ids stay two records from the
 * command line, and `show` asks which one is meant.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect, Option, Queue } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { StoreError } from "../src/Errors.js"
import * as JobQueries from "../src/JobQueries.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { runCli } from "./support/CliInProcess.js"
import { oldStore } from "./support/OldStore.js"
import { failUnlessSlurmIsUp, inCI, slurmUpOrWarn } from "./support/RealSlurm.js"
import { jobRecord } from "./support/Records.js"
import { removeDir, tempDirs } from "./support/TempDirs.js"

const tempDir = tempDirs("capi-keys-")
const slurm52 = jobRecord("52", { executor: "slurm", name: "capi-align", command: "align" })
const lsf52 = jobRecord("52", { executor: "lsf", name: "capi-call", command: "call" })

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<JobStore, StoreError>]> = [
  ["in memory", () => JobStore.layerMemory],
  ["SQLite", () => SqliteJobStore.layer(path.join(tempDir(), "jobs.db"))]
]

describe.each(stores)("jobs of two executors with one id (%s store)", (_, makeLayer) => {
  it.scoped("are two records: each read, changed, listed and removed on its own", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const feed = yield* store.subscribe
      yield* store.insert([slurm52])
      yield* store.insert([lsf52])
      expect(Option.getOrThrow(yield* store.get(slurm52)).command).toBe("align")
      expect(Option.getOrThrow(yield* store.get(lsf52)).command).toBe("call")
      expect((yield* store.list({ ids: ["52"] })).map((r) => r.executor)).toEqual(["slurm", "lsf"])

      const changed = yield* store.modify([lsf52], (r) => ({ ...r, status: "Running", execHost: "n7" }))
      expect(changed.map((c) => [c.after.executor, c.after.status])).toEqual([["lsf", "Running"]])
      expect(Option.getOrThrow(yield* store.get(slurm52))).toMatchObject({ status: "Pending", command: "align" })
      expect((yield* store.transitions(slurm52)).map((t) => t.to)).toEqual(["Pending"])
      expect((yield* store.transitions(lsf52)).map((t) => t.to)).toEqual(["Pending", "Running"])
      // Every write is published as the job it is.
      const published = yield* Queue.takeAll(feed)
      expect([...published].map((c) => `${c.after.executor}:${c.after.status}`)).toEqual([
        "slurm:Pending",
        "lsf:Pending",
        "lsf:Running"
      ])

      // A change that tries to turn a record into another job changes only its own record.
      yield* store.modify([lsf52], (r) => ({ ...r, executor: "slurm", status: "Done" }))
      expect(Option.getOrThrow(yield* store.get(lsf52)).status).toBe("Done")
      expect(Option.getOrThrow(yield* store.get(slurm52)).status).toBe("Pending")

      yield* store.remove([slurm52])
      expect(Option.isNone(yield* store.get(slurm52))).toBe(true)
      expect(Option.isSome(yield* store.get(lsf52))).toBe(true)
      expect((yield* store.transitions(lsf52)).length).toBe(3)
    }).pipe(Effect.provide(makeLayer())))

  it.scoped("a bare id is found when one executor has it, refused naming both when two do", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.insert([slurm52, jobRecord("7", { executor: "local" })])
      expect((yield* JobQueries.findJob("52")).executor).toBe("slurm")
      expect((yield* JobQueries.findJob("7")).executor).toBe("local")
      yield* store.insert([lsf52])
      const ambiguous = yield* Effect.flip(JobQueries.findJob("52"))
      expect(ambiguous._tag).toBe("AmbiguousJob")
      expect(ambiguous.message).toBe("Job id 52 is known on slurm and lsf: say which, as slurm:52 or lsf:52")
      expect((yield* JobQueries.findJob("lsf:52")).command).toBe("call")
      expect((yield* JobQueries.findJob("slurm:52")).command).toBe("align")
      const missing = yield* Effect.flip(JobQueries.findJob("pbs:52"))
      expect(missing._tag).toBe("JobNotFound")
      expect(missing.message).toContain("no pbs job 52")
      expect((yield* Effect.flip(JobQueries.findJob("53")))._tag).toBe("JobNotFound")
    }).pipe(Effect.provide(makeLayer())))
})

describe("a store written before jobs were keyed by executor", () => {
  it.effect("opens with its jobs in order and their histories, and then takes another executor's job of the same id", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "jobs.db")
      const at = new Date(2026, 10, 21, 12, 0, 0)
      yield* oldStore(file, 3, [
        { record: { ...slurm52, status: "Running" }, statuses: ["Pending", "Running"], at },
        { record: jobRecord("9", { executor: "local", status: "Done" }), statuses: ["Pending", "Done"], at }
      ])
      const found = yield* Effect.gen(function*() {
        const store = yield* JobStore
        const before = yield* store.list()
        const history = yield* store.transitions(slurm52)
        yield* store.insert([lsf52])
        yield* store.modify([slurm52], (r) => ({ ...r, status: "Done" }))
        return {
          before: before.map((r) => `${r.executor}:${r.jobId}`),
          history: history.map((t) => t.to),
          after: (yield* store.list()).map((r) => `${r.executor}:${r.jobId}:${r.status}`),
          slurmHistory: (yield* store.transitions(slurm52)).map((t) => t.to),
          lsfHistory: (yield* store.transitions(lsf52)).map((t) => t.to)
        }
      }).pipe(Effect.provide(SqliteJobStore.layer(file)), Effect.scoped)
      expect(found).toEqual({
        before: ["slurm:52", "local:9"],
        history: ["Pending", "Running"],
        after: ["slurm:52:Done", "local:9:Done", "lsf:52:Pending"],
        slurmHistory: ["Pending", "Running", "Done"],
        lsfHistory: ["Pending"]
      })
    }))
})

// ---------------------------------------------------------------------------------------------
// Real Slurm and the LSF emulator, one store, the same job id
// ---------------------------------------------------------------------------------------------

const slurmUp = slurmUpOrWarn("The real-Slurm and LSF test of equal ids is left out")
const lsfBin = fileURLToPath(new URL("./support/lsf/bin", import.meta.url))

describe.runIf(slurmUp || inCI)("real Slurm and LSF jobs with equal ids, from the command line", { timeout: 180_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capi-keys-cli-"))
  const lsfDir = path.join(dir, "lsf")
  let slurmId = ""
  beforeAll(() => {
    failUnlessSlurmIsUp()
    fs.mkdirSync(lsfDir)
    // The command line runs in this process: the bsub and bjobs it starts (it reads neither
    // variable itself) find the emulator and its cluster through the process's environment.
    process.env.PATH = `${lsfBin}${path.delimiter}${process.env.PATH}`
    process.env.LSF_EMULATOR_DIR = lsfDir
    fs.writeFileSync(
      path.join(dir, "cluster-api.yaml"),
      [
        `log_directory: ${JSON.stringify(path.join(dir, "logs"))}`,
        `job_name_prefix: capikeys${process.pid}`,
        "poll_interval: 1",
        "profiles:",
        "  slurm: { executor: slurm }",
        "  lsf: { executor: lsf }",
        ""
      ].join("\n")
    )
  })
  afterAll(async () => {
    if (slurmId !== "") await cli(["cancel", "--profile", "slurm", `slurm:${slurmId}`])
    removeDir(dir)
  })

  const cli = (args: ReadonlyArray<string>) => runCli(args, { cwd: dir })
  const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>

  it("stay two records; show, status and cancel ask which one, and slurm:ID / lsf:ID say it", async () => {
    const slurm = await cli(["submit", "--profile", "slurm", "--json", "--name", "align", "--", "sleep", "300"])
    expect(slurm.code, slurm.stderr).toBe(0)
    slurmId = String(json(slurm.stdout).jobId)
    // The emulator's next id is the Slurm job's.
    fs.writeFileSync(path.join(lsfDir, "counter"), String(Number(slurmId) - 1))
    const lsf = await cli(["submit", "--profile", "lsf", "--json", "--name", "call", "--", "true"])
    expect(lsf.code, lsf.stderr).toBe(0)
    expect(String(json(lsf.stdout).jobId)).toBe(slurmId)

    const list = await cli(["list", "--json"])
    expect(list.code, list.stderr).toBe(0)
    const listed = (JSON.parse(list.stdout) as Array<Record<string, unknown>>).filter((r) => r.jobId === slurmId)
    expect(listed.map((r) => [r.executor, r.command])).toEqual([["slurm", "sleep 300"], ["lsf", "true"]])

    for (const command of ["show", "status"]) {
      const ambiguous = await cli([command, slurmId])
      expect(ambiguous.code, `${command}: ${ambiguous.stdout}`).toBe(2)
      expect(ambiguous.stderr).toContain(`Job id ${slurmId} is known on slurm and lsf: say which, as slurm:${slurmId} or lsf:${slurmId}`)
    }
    const shownSlurm = await cli(["show", "--json", `slurm:${slurmId}`])
    expect(shownSlurm.code, shownSlurm.stderr).toBe(0)
    expect(json(shownSlurm.stdout)).toMatchObject({ record: { executor: "slurm", command: "sleep 300" } })
    const shownLsf = await cli(["show", "--json", `lsf:${slurmId}`])
    expect(shownLsf.code, shownLsf.stderr).toBe(0)
    expect(json(shownLsf.stdout)).toMatchObject({ record: { executor: "lsf", command: "true" } })

    // Cancelling the Slurm job leaves the LSF one's record as it was.
    const before = json((await cli(["show", "--json", `lsf:${slurmId}`])).stdout).record as Record<string, unknown>
    const cancelled = await cli(["cancel", "--profile", "slurm", "--json", `slurm:${slurmId}`])
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect((JSON.parse(cancelled.stdout) as Array<Record<string, unknown>>).map((r) => [r.executor, r.status]))
      .toEqual([["slurm", "Killed"]])
    slurmId = ""
    const after = json((await cli(["show", "--json", `lsf:${JSON.stringify(before.jobId).slice(1, -1)}`])).stdout)
      .record as Record<string, unknown>
    expect(after.status).toBe(before.status)
    expect(after.command).toBe("true")
  })
})
