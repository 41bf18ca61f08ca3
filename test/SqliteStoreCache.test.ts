/**
 * What the SQLite store's speed must not cost: records it read before and keeps decoded are read
 * anew once another program has written the file, and submits made together, written in one
 * transaction, are each written in full.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdtempSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { JobRecord } from "../src/Domain.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { jobRecord, slurmJob } from "./support/Records.js"
import { removeDir } from "./support/TempDirs.js"

const dir = mkdtempSync(join(tmpdir(), "capi-store-cache-"))
afterAll(() => removeDir(dir))
let files = 0
const freshFile = () => join(dir, `store-${++files}.db`)

/** A store open on `file` for the rest of the scope: one program of several sharing the file. */
const open = (file: string) => Effect.map(Layer.build(SqliteJobStore.layer(file)), Context.get(JobStore))

const running = (jobId: string, n = 0): JobRecord => jobRecord(jobId, { status: "Running", metadata: { n } })

describe("SQLite store shared by two programs", () => {
  it.scoped("a job another program changed is listed, got and modified as it now is, not as first read", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const mine = yield* open(file)
      const other = yield* open(file)
      yield* mine.insert([running("1"), running("2")])
      // Read (and kept) here, then changed by the other program.
      expect((yield* mine.list({ active: true })).map((r) => r.metadata)).toEqual([{ n: 0 }, { n: 0 }])
      yield* other.modify([slurmJob("1")], (r) => ({ ...r, metadata: { n: 1 } }))
      expect((yield* mine.list({ active: true })).map((r) => r.metadata)).toEqual([{ n: 1 }, { n: 0 }])
      yield* other.modify([slurmJob("2")], (r) => ({ ...r, metadata: { n: 2 } }))
      const got = yield* mine.get(slurmJob("2"))
      expect(got._tag === "Some" && got.value.metadata).toEqual({ n: 2 })
      yield* other.modify([slurmJob("1")], (r) => ({ ...r, metadata: { n: 3 } }))
      const seen: Array<unknown> = []
      yield* mine.modify([slurmJob("1")], (r) => {
        seen.push(r.metadata)
        return r
      })
      expect(seen).toEqual([{ n: 3 }])
    }))

  it.scoped("a job another program ended or removed is no longer listed as active", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const mine = yield* open(file)
      const other = yield* open(file)
      yield* mine.insert([running("1"), running("2"), running("3")])
      expect((yield* mine.list({ active: true })).map((r) => r.jobId)).toEqual(["1", "2", "3"])
      yield* other.modify([slurmJob("1")], (r) => ({ ...r, status: "Done", exitCode: 0 }))
      yield* other.remove([slurmJob("3")])
      expect((yield* mine.list({ active: true })).map((r) => r.jobId)).toEqual(["2"])
      expect((yield* mine.active).map((r) => r.jobId)).toEqual(["2"])
      expect((yield* mine.get(slurmJob("3")))._tag).toBe("None")
    }))

  it.scoped("a job this program rewrote is read as written", () =>
    Effect.gen(function*() {
      const mine = yield* open(freshFile())
      yield* mine.insert([running("1")])
      yield* mine.list({ active: true })
      yield* mine.modify([slurmJob("1")], (r) => ({ ...r, metadata: { n: 5 } }))
      expect((yield* mine.list({ active: true })).map((r) => r.metadata)).toEqual([{ n: 5 }])
      yield* mine.insert([running("1", 6)])
      expect((yield* mine.list({ active: true })).map((r) => r.metadata)).toEqual([{ n: 6 }])
    }))
})

describe("SQLite store, submits made together", () => {
  it.scoped("are written in one go: every job and its submission, and the file grows by less than a page per job", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const store = yield* open(file)
      const wal = () => statSync(`${file}-wal`).size
      const before = wal()
      const jobs = Array.from({ length: 200 }, (_, i) => running(String(i + 1)))
      yield* Effect.forEach(jobs, (r) => store.insert([r]), { concurrency: "unbounded", discard: true })
      // One transaction per job would write each job's table and index pages again: 9 pages a job.
      expect(wal() - before).toBeLessThan(200 * 4096)
      expect((yield* store.list()).map((r) => r.jobId)).toEqual(jobs.map((r) => r.jobId))
      const history = yield* Effect.forEach(jobs, (r) => store.transitions(r))
      expect(history.every((h) => h.length === 1 && h[0]?.to === "Running")).toBe(true)
    }))
})
