/**
 * Submissions in flight (JobStore.SubmitIntent), the same contract in memory and in SQLite: written
 * before the submit command runs, settled together with the job's record, and taken over by the
 * next program only once their owner is gone. A store file from before intents existed opens with
 * its jobs and gains them.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Scope } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { StoreError } from "../src/Errors.js"
import type { SubmitIntent } from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as SqliteJobStore from "../src/SqliteJobStore.js"
import { jobRecord, slurmJob } from "./support/Records.js"
import { oldStore } from "./support/OldStore.js"
import { removeDir } from "./support/TempDirs.js"

const dir = mkdtempSync(join(tmpdir(), "capi-intents-"))
afterAll(() => removeDir(dir))
let files = 0
const freshFile = () => join(dir, `store-${++files}.db`)

const intent = (token: string, executor = "slurm"): SubmitIntent => ({
  token,
  executor,
  name: `capi-${token}`,
  at: new Date(2026, 10, 21, 12, 0, 0),
  draft: jobRecord("", { name: `capi-${token}`, executor, scriptPath: `/jobs/capi-${token}.1.sh` })
})

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<JobStore, StoreError>]> = [
  ["in memory", () => JobStore.layerMemory],
  ["SQLite", () => SqliteJobStore.layer(freshFile())]
]

describe.each(stores)("submissions in flight (%s)", (_, makeLayer) => {
  it.scoped("are kept until settled; settling inserts the job's record and removes the intent in one write", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const feed = yield* store.subscribe
      yield* store.addIntent(intent("aaaa0001"))
      yield* store.addIntent(intent("aaaa0002"))
      expect(yield* store.intents).toEqual([intent("aaaa0001"), intent("aaaa0002")])
      yield* store.settleIntent("aaaa0001", [{ ...intent("aaaa0001").draft, jobId: "17" }])
      yield* store.settleIntent("aaaa0002", [])
      expect(yield* store.intents).toEqual([])
      expect((yield* store.list()).map((r) => [r.jobId, r.name, r.scriptPath])).toEqual([
        ["17", "capi-aaaa0001", "/jobs/capi-aaaa0001.1.sh"]
      ])
      // The insert is announced like any submission.
      expect((yield* feed.take).after.jobId).toBe("17")
      // This program is alive and submitting: nothing for anyone to take over.
      yield* store.addIntent(intent("aaaa0003"))
      expect(yield* Effect.fork(store.adoptIntents("slurm")).pipe(Effect.flatMap((f) => f.await))).toEqual(
        Exit.succeed([])
      )
    }).pipe(Effect.provide(makeLayer())))
})

describe("submissions in flight in a SQLite file", () => {
  it.effect("are taken over by another program only once their owner has ended, and only for their executor", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const open = (scope: Scope.Scope) =>
        Layer.buildWithScope(SqliteJobStore.layer(file), scope).pipe(Effect.map((ctx) => Context.get(ctx, JobStore)))
      const first = yield* Scope.make()
      const a = yield* open(first)
      yield* a.addIntent(intent("bbbb0001"))
      yield* a.addIntent(intent("bbbb0002", "lsf"))
      const second = yield* Scope.make()
      const b = yield* open(second)
      expect(yield* b.adoptIntents("slurm")).toEqual([])
      yield* Scope.close(first, Exit.void)
      expect(yield* b.adoptIntents("slurm")).toEqual([intent("bbbb0001")])
      // Taken over by a live program: a third one leaves it alone.
      const third = yield* Scope.make()
      const c = yield* open(third)
      expect(yield* c.adoptIntents("slurm")).toEqual([])
      expect((yield* c.intents).map((i) => i.token)).toEqual(["bbbb0001", "bbbb0002"])
      expect((yield* c.adoptIntents("lsf")).map((i) => i.token)).toEqual(["bbbb0002"])
      yield* Scope.close(third, Exit.void)
      yield* Scope.close(second, Exit.void)
    }))

  it.effect("a store file from before intents existed opens with its jobs, and gains them", () =>
    Effect.gen(function*() {
      const file = freshFile()
      // As the cluster-api before intents left it: two migrations recorded.
      yield* oldStore(file, 2, [{ record: jobRecord("1"), statuses: ["Pending"], at: new Date(0) }])
      const found = yield* Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.addIntent(intent("cccc0001"))
        return { jobs: yield* store.list(), intents: yield* store.intents, one: yield* store.get(slurmJob("1")) }
      }).pipe(Effect.provide(SqliteJobStore.layer(file)), Effect.scoped)
      expect(found.jobs.map((r) => r.jobId)).toEqual(["1"])
      expect(Option.isSome(found.one)).toBe(true)
      expect(found.intents.map((i) => i.token)).toEqual(["cccc0001"])
    }))
})
