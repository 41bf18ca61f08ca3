/**
 * A store file as an older cluster-api left it: only the migrations up to `schema` run, and jobs
 * written as that version wrote them (one row per job id, its status changes by job id).
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { JobRecord } from "../../src/Domain.js"
import { migrations } from "../../src/internal/sqlite/migrations.js"

const encode = Schema.encodeSync(Schema.parseJson(JobRecord))

/** A job and the statuses it went through (oldest first), each a transition at `at`. */
export interface OldJob {
  readonly record: JobRecord
  readonly statuses: ReadonlyArray<JobRecord["status"]>
  readonly at: Date
}

export const oldStore = (file: string, schema: number, jobs: ReadonlyArray<OldJob>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const upTo = Object.fromEntries(Object.entries(migrations).filter(([k]) => Number(k.split("_")[0]) <= schema))
    yield* SqliteMigrator.run({ loader: Migrator.fromRecord(upTo), table: "cluster_api_migrations" })
    for (const { at, record, statuses } of jobs) {
      const active = ["Done", "Failed", "Killed"].includes(record.status) ? 0 : 1
      yield* sql`INSERT INTO jobs (job_id, executor, name, status, active, submit_time, finish_time, record)
        VALUES (${record.jobId}, ${record.executor}, ${record.name}, ${record.status}, ${active},
          ${record.submitTime?.getTime() ?? null}, ${record.finishTime?.getTime() ?? null}, ${encode(record)})`
      let from: string | null = null
      for (const to of statuses) {
        yield* sql`INSERT INTO transitions (job_id, at, from_status, to_status, reason)
          VALUES (${record.jobId}, ${at.getTime()}, ${from}, ${to}, NULL)`
        from = to
      }
    }
  }).pipe(
    Effect.provide(Layer.merge(SqliteClient.layer({ filename: file }), NodeContext.layer)),
    Effect.scoped
  )
