/**
 * Latency on a real Slurm: `npm run bench:slurm` (builds, then `node dist/bench/slurm.js`), with a
 * Slurm running on this host (scripts/slurm-setup.sh).
 *
 * - Submit latency: `executor.submit` (validate, write the script, sbatch --parsable, store) against
 *   the baseline of running `sbatch --parsable --wrap true` directly, in the same script.
 * - Completion to callback: each job's last act writes the time; `Monitor.onExit` records when the
 *   callback ran. The baseline is Slurm's own: the same jobs' end as the controller sees it, found
 *   by polling `squeue` every 100 ms, so the ratio says what the poll interval and sacct add.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ClusterApi from "../src/ClusterApi.js"
import { Executor } from "../src/Executor.js"
import { Monitor } from "../src/Monitor.js"
import { howToStartSlurm, slurmIsUp } from "../test/support/RealSlurm.js"

const jobs = 10
const pollInterval = 1

const stats = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  return { mean, median: sorted[Math.floor(sorted.length / 2)] ?? NaN, max: sorted[sorted.length - 1] ?? NaN }
}
const ms = (x: number) => `${x.toFixed(0)} ms`

const main = Effect.gen(function*() {
  if (!slurmIsUp()) return yield* Console.error(`Slurm is not running here; ${howToStartSlurm}`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-api-bench-slurm-"))
  const layer = ClusterApi.layer({
    configPath: path.join(dir, "none.yaml"),
    overrides: { executor: "slurm", poll_interval: pollInterval, log_directory: path.join(dir, "logs") }
  })
  fs.writeFileSync(path.join(dir, "none.yaml"), "{}\n")

  // Baseline: sbatch alone.
  const raw: Array<number> = []
  for (let i = 0; i < jobs; i++) {
    const t0 = performance.now()
    const r = spawnSync("sbatch", ["--parsable", "-J", "bench-raw", "-o", "/dev/null", "--wrap", "true"], {
      encoding: "utf8"
    })
    raw.push(performance.now() - t0)
    if (r.status !== 0) return yield* Effect.fail(new Error(`sbatch failed: ${r.stderr}`))
  }

  const result = yield* Effect.gen(function*() {
    const executor = yield* Executor
    const monitor = yield* Monitor
    const submitMs: Array<number> = []
    const callbackAt = new Map<string, number>()
    const ids: Array<string> = []
    for (let i = 0; i < jobs; i++) {
      const t0 = performance.now()
      const job = yield* executor.submit({
        name: `bench${i}`,
        command: `sleep 2; date +%s%3N > ${dir}/end.$SLURM_JOB_ID`,
        resources: { workDir: dir }
      })
      submitMs.push(performance.now() - t0)
      ids.push(job.jobId)
      yield* monitor.onExit(job, (r) => void callbackAt.set(r.jobId, Date.now()))
    }
    // Slurm's own view of each end: when squeue stops listing the job.
    const gone = new Map<string, number>()
    while (gone.size < ids.length) {
      const r = spawnSync("squeue", ["-h", "-j", ids.join(","), "-o", "%i"], { encoding: "utf8" })
      const listed = new Set(r.stdout.split("\n").map((l) => l.trim()))
      const now = Date.now()
      for (const id of ids) if (!listed.has(id) && !gone.has(id)) gone.set(id, now)
      yield* Effect.sleep("100 millis")
    }
    yield* monitor.awaitAll(ids, { timeout: "2 minutes" })
    yield* Effect.sleep("200 millis")
    const toCallback: Array<number> = []
    const toSlurm: Array<number> = []
    for (const id of ids) {
      const end = Number(fs.readFileSync(path.join(dir, `end.${id}`), "utf8").trim())
      toCallback.push((callbackAt.get(id) ?? NaN) - end)
      toSlurm.push((gone.get(id) ?? NaN) - end)
    }
    return { submitMs, toCallback, toSlurm }
  }).pipe(Effect.scoped, Effect.provide(layer))

  const s = stats(result.submitMs)
  const b = stats(raw)
  const c = stats(result.toCallback)
  const g = stats(result.toSlurm)
  yield* Console.log([
    `cluster-api on a real Slurm — ${jobs} jobs, poll_interval ${pollInterval} s`,
    "",
    `submit: executor.submit mean ${ms(s.mean)} (median ${ms(s.median)}, max ${ms(s.max)})`,
    `        sbatch alone    mean ${ms(b.mean)} (median ${ms(b.median)}, max ${ms(b.max)})`,
    `        ratio ${(s.mean / b.mean).toFixed(2)}`,
    `completion to callback: mean ${ms(c.mean)} (median ${ms(c.median)}, max ${ms(c.max)})`,
    `completion to leaving squeue (Slurm alone, polled every 100 ms): mean ${ms(g.mean)} (max ${ms(g.max)})`,
    `        ratio ${(c.mean / g.mean).toFixed(2)}`
  ].join("\n"))
  fs.rmSync(dir, { recursive: true, force: true })
})

NodeRuntime.runMain(main)
