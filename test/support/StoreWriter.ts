/**
 * A program that hammers a store file, for the test of two processes writing one store:
 *
 *   node StoreWriter.js FILE N JOB_ID...   N times: adds 1 to metadata.n of every given job (one
 *                                           modify each time) and inserts one job of its own
 *
 * With START_AT (epoch milliseconds) in the environment it opens the store at that moment, so
 * that several writers open a new file together. Prints `ok` when every write succeeded; a
 * failed write ends it with the error and exit code 1.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { JobStore } from "../../src/JobStore.js"
import * as SqliteJobStore from "../../src/SqliteJobStore.js"
import { jobRecord, slurmJob } from "./Records.js"

const [file, times, ...ids] = process.argv.slice(2)

const main = Effect.gen(function*() {
  const store = yield* JobStore
  for (let i = 0; i < Number(times); i++) {
    yield* store.modify(ids.map(slurmJob), (r) => ({ ...r, metadata: { ...r.metadata, n: Number(r.metadata.n ?? 0) + 1 } }))
    yield* store.insert([jobRecord(`${process.pid}-${i}`)])
  }
  yield* Console.log("ok")
}).pipe(Effect.provide(SqliteJobStore.layer(file!)))

const startAt = Number(process.env.START_AT ?? 0)
if (file !== undefined) setTimeout(() => NodeRuntime.runMain(main), Math.max(0, startAt - Date.now()))
