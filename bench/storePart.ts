/**
 * The `store` part of `npm run bench`: what the SQLite JobStore costs on its own, each figure
 * against the in-memory store (or plain better-sqlite3) measured in the same run. The store's
 * share of a tick (bench/storeTick.ts), submits one by one and together with the bytes each
 * writes, a local job's lifecycle in bytes, the cost per status transition (bench/store.ts), and
 * the queries the CLI and the Monitor make on a filled store.
 */
import { Effect } from "effect"
import type { Part } from "./parts.js"
import type { Figure } from "./report.js"
import { collectGarbage, figure, progress } from "./report.js"
import { benchStore } from "./store.js"
import { benchStoreTick } from "./storeTick.js"

/** `list({ status: ["Failed"], limit: 50 })` → `list.status.Failed.limit.50`. */
const slug = (label: string) => label.replace(/[^A-Za-z0-9]+/g, ".").replace(/^\.+|\.+$/g, "")

export const store: Part = {
  name: "store",
  about: "the SQLite store alone vs the in-memory store: its share of a tick, submits, transitions, queries",
  run: (ctx) =>
    Effect.gen(function*() {
      const figures: Array<Figure> = []
      const sizes = ctx.sizes.filter((n) => n >= 10_000)
      const t = yield* benchStoreTick(ctx.tempDir("store-tick"), {
        sizes,
        submits: ctx.quick ? 300 : 1_000,
        lifecycle: ctx.quick ? 100 : 300
      })
      for (const c of t.ticks) {
        figures.push(figure({
          name: c.changedPerTick === 0 ? "store.tick.unchanged" : "store.tick.onePercent",
          size: c.jobs,
          value: c.sqliteMs,
          unit: "ms",
          floor: { name: "in-memory store", value: c.memoryMs },
          runs: c.ticks,
          note: `the store's part of a tick (list the owned active jobs, modify them), ${
            c.changedPerTick === 0 ? "no record changed" : "1% of the records changed"
          }; CPU-time ratio ${c.cpuRatio.toFixed(1)}× at this size; no goal (the sqlite part judges the whole tick)`
        }))
      }
      for (const s of t.submits) {
        const name = `store.submit.${s.path}.${s.together ? "together" : "oneByOne"}`
        const how = `${s.path === "insert" ? "insert([record]) (local executor)" : "addIntent then settleIntent (batch schedulers)"}, ${
          s.together ? "all at once" : "one after another"
        }`
        figures.push(figure({
          name,
          size: s.jobs,
          value: s.usPerSubmit,
          unit: "µs/submit",
          floor: { name: "in-memory store", value: s.memoryUsPerSubmit },
          note: `${how}, into a store already holding as many ended jobs; no goal`
        }))
        figures.push(figure({
          name: `${name}.bytes`,
          size: s.jobs,
          value: s.bytesPerSubmit ?? NaN,
          unit: "B/submit",
          note: "wchar of /proc/self/io per submit (the WAL and checkpoints: all of SQLite's writes); no goal"
        }))
      }
      figures.push(figure({
        name: "store.lifecycle.bytes",
        size: t.lifecycle.jobs,
        value: t.lifecycle.bytesPerJob ?? NaN,
        unit: "B/job",
        note: "the store alone: inserted together, then each job's start and end by its own modify, its end marked delivered; wchar per job; no goal (the written part judges the library's)"
      }))
      collectGarbage()

      const s = yield* benchStore(ctx.tempDir("store"), {
        writeJobs: ctx.quick ? 500 : 2_000,
        writeRuns: ctx.quick ? 1 : 3,
        listJobs: Math.max(...ctx.sizes)
      })
      for (const batch of [100, 1]) {
        const of = (kind: string) => s.writes.find((w) => w.batch === batch && w.store === kind)
        const sqlite = of("sqlite")
        figures.push(figure({
          name: `store.transition.batch${batch}`,
          size: sqlite?.transitions ?? null,
          value: sqlite?.usPerTransition ?? NaN,
          unit: "µs",
          floor: { name: "better-sqlite3 INSERT", value: of("raw")?.usPerTransition ?? NaN },
          runs: sqlite?.runsUsPerTransition.length,
          note: `per transition Pending→Running→Done, ${batch === 1 ? "one id" : `${batch} ids`} per modify; in-memory store ${
            (of("memory")?.usPerTransition ?? NaN).toFixed(1)
          } µs; floor: plain INSERTs, one transaction per ${batch === 1 ? "row" : `${batch} rows`}; no goal`
        }))
      }
      for (const q of s.queries) {
        figures.push(figure({
          name: `store.query.${slug(q.query)}`,
          size: s.listJobs,
          value: q.sqlite.medianMs,
          unit: "ms",
          floor: { name: "in-memory store", value: q.memory.medianMs },
          runs: q.sqlite.runs,
          note: `${q.query}: ${q.rows} rows of ${s.listJobs} (99% ended); first run ${q.sqlite.firstMs.toFixed(1)} ms; no goal`
        }))
      }
      progress(`store: filled ${s.listJobs} jobs in ${(s.fillMs.sqlite / 1000).toFixed(1)} s (SQLite)`)
      return figures
    })
}
