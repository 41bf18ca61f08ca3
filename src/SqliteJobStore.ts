/**
 * A JobStore kept in SQLite (@effect/sql-sqlite-node), so that jobs outlive the process.
 *
 * The file is opened in WAL mode with a busy timeout, so several processes can share it; its
 * schema is created and upgraded by numbered migrations, and a file written by a newer
 * cluster-api (a migration this one does not know) is refused rather than misread.
 *
 * Every job is one row of `jobs`: the columns queries filter on, its owner, when its end was
 * delivered, and the whole record as JSON (encoded by the JobRecord Schema). Every status change
 * is also a row of `transitions`, with its time. `modify` reads, applies and writes in one
 * transaction; its changes are published to this process's subscribers after the commit, in
 * write order. A record `modify`'s function leaves as it is is neither encoded nor written.
 *
 * Reads are cheap when nothing changed: the records of active jobs are kept decoded, and taken
 * as kept while `PRAGMA data_version` says no other program has written the file since (this
 * program's writes drop what they replace), so a Monitor tick that finds nothing new asks SQLite
 * only which rows match. Submissions made together (intents, settled jobs, inserts) are written
 * in one transaction.
 *
 * Each open store is an owner (`host:pid:random`), a row of `owners` with a heartbeat renewed
 * every 15 s and deleted when the store's scope closes. An owner whose row is gone, whose
 * heartbeat is a minute old, or whose process no longer runs on this host is dead, and its jobs
 * may be adopted.
 *
 * The implementation lives in internal/sqlite/ (store, migrations, owners, intents, errors).
 */
import { Config, Effect, Layer } from "effect"
import type { ConfigError } from "effect"
import type { StoreError } from "./Errors.js"
import type { JobStore } from "./JobStore.js"
import type { LayerOptions } from "./internal/sqlite/open.js"
import { layer } from "./internal/sqlite/open.js"

export type { MakeOptions } from "./internal/sqlite/context.js"
export type { LayerOptions } from "./internal/sqlite/open.js"
export { layer } from "./internal/sqlite/open.js"
export { make } from "./internal/sqlite/store.js"

/**
 * The SQLite store whose file (and options) come from `effect/Config`, e.g.
 * `SqliteJobStore.layerConfig({ filename: Config.string("JOBS_DB") })`.
 */
export const layerConfig = (
  config: Config.Config.Wrap<{ readonly filename: string } & LayerOptions>
): Layer.Layer<JobStore, StoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), ({ filename, ...options }) => layer(filename, options)))
