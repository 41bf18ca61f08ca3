/**
 * Which programs have the SQLite job store open. Each open store is an owner (`host:pid:random`),
 * a row of `owners` with a heartbeat renewed every 15 s and deleted when the store's scope closes.
 * An owner whose row is gone, whose heartbeat is a minute old, or whose process no longer runs on
 * this host is dead, and its jobs may be adopted.
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import { isTerminal } from "../../Domain.js"
import type { StoreError } from "../../Errors.js"
import type { JobStoreShape } from "../../JobStore.js"
import type { StoreContext } from "./context.js"
import { describeStoreFailure } from "./errors.js"
import type { OwnedRow } from "./rows.js"
import { chunks, idsPerQuery } from "./rows.js"

export { heartbeatEvery, ownerDeadAfter, ownerId } from "./identity.js"
export type { Holder } from "./identity.js"
import { heartbeatEvery, ownerDeadAfter } from "./identity.js"

/** Whether a process runs on this host (a pid that exists but is not ours still counts). */
const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The host part of an owner id (`host:pid:random`). */
const hostOf = (owner: string): string => owner.split(":").slice(0, -2).join(":")

/**
 * Makes this program an owner of the store for the life of the scope: its row, renewed every
 * `heartbeatEvery`, and deleted on close.
 */
export const becomeOwner = (ctx: StoreContext): Effect.Effect<void, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const { me, sql } = ctx
    const started = yield* Clock.currentTimeMillis
    yield* sql`INSERT INTO owners (owner, host, pid, started, heartbeat)
      VALUES (${me}, ${ctx.host}, ${process.pid}, ${started}, ${started})`.pipe(Effect.catchAll(ctx.failed("open")))
    // On close: give up ownership, and let SQLite refresh the statistics its query planner uses
    // (without them a time-range query scans the table instead of using jobs_submit).
    yield* Effect.addFinalizer(() =>
      sql`DELETE FROM owners WHERE owner = ${me}`.pipe(Effect.zipRight(sql`PRAGMA optimize`), Effect.ignore)
    )
    yield* Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => sql`UPDATE owners SET heartbeat = ${now} WHERE owner = ${me}`),
      Effect.catchAll((e) =>
        Effect.logWarning(`could not renew this program's heartbeat in the job store: ${describeStoreFailure(e)}`)
      ),
      Effect.repeat(Schedule.spaced(heartbeatEvery)),
      Effect.forkScoped
    )
  })

/**
 * The rows of `owners`, and the ids of those alive: this program, and every other whose heartbeat
 * is not older than `deadBefore` and, on this host, whose process still runs.
 */
export const liveOwners = (ctx: StoreContext, deadBefore: number) =>
  ctx.sql<{ owner: string; host: string; pid: number; heartbeat: number }>`
    SELECT owner, host, pid, heartbeat FROM owners`.pipe(
    Effect.map((owners) => ({
      owners,
      alive: new Set(
        owners.filter((o) =>
          o.owner === ctx.me || (o.heartbeat >= deadBefore && (o.host !== ctx.host || processAlive(o.pid)))
        ).map((o) => o.owner)
      )
    }))
  )

/** Takes over, in one transaction, the jobs of an executor whose owner is gone (and forgets dead owners). */
export const adopt = (ctx: StoreContext): JobStoreShape["adopt"] => (adoptOptions) => {
  const { me, sql } = ctx
  return ctx.lock.withPermits(1)(Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const deadBefore = now - Duration.toMillis(ownerDeadAfter)
    const rows = yield* ctx.transaction(Effect.gen(function*() {
      yield* ctx.lockFile
      const { alive, owners } = yield* liveOwners(ctx, deadBefore)
      const dead = owners.filter((o) => !alive.has(o.owner)).map((o) => o.owner)
      if (dead.length > 0) yield* sql`DELETE FROM owners WHERE ${sql.in("owner", dead)}`
      const candidates = yield* sql<OwnedRow>`SELECT executor, job_id, record, owner, active FROM jobs
        WHERE executor = ${adoptOptions.executor} AND (active = 1 OR delivered_at IS NULL)
          AND (owner IS NULL OR owner <> ${me}) ORDER BY rowid`
      const only = adoptOptions.ids === undefined ? undefined : new Set(adoptOptions.ids)
      // A job that cannot be read cannot be watched: it is left to its owner (or to none).
      const taken = yield* ctx.readable(candidates.filter((r) =>
        (r.owner === null || !alive.has(r.owner)) &&
        (!adoptOptions.sameHostOnly || r.owner === null || hostOf(r.owner) === ctx.host) &&
        (only === undefined || only.has(r.job_id))
      ))
      for (const part of chunks(taken.map(([r]) => r.job_id), idsPerQuery)) {
        yield* sql`UPDATE jobs SET owner = ${me} WHERE executor = ${adoptOptions.executor} AND ${sql.in("job_id", part)}`
      }
      return taken
    }))
    const records = rows.map(([, record]) => record)
    return {
      active: records.filter((r) => !isTerminal(r)),
      undelivered: records.filter((r) => isTerminal(r))
    }
  })).pipe(Effect.catchAll(ctx.failed("adopt")))
}
