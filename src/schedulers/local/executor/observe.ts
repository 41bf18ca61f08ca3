/**
 * What the local executor sees of its jobs, changing nothing: the jobs it runs from the states
 * of their processes, the others from their pid and exit files.
 */
import { Effect } from "effect"
import type { JobRecord, Observation } from "../../../Domain.js"
import { arrayIndices, isTerminal } from "../../../Domain.js"
import { observe, resumedState } from "../status.js"
import type { ProcessState } from "../status.js"
import type { LocalContext } from "./context.js"
import { elementKey, now, processesOf } from "./context.js"
import { inspect, statusFiles } from "./files.js"

/** What this executor has seen of a job it runs, from its processes' states; undefined for none. */
export const observeJob = (ctx: LocalContext, record: JobRecord): Observation | undefined => {
  const { states } = ctx
  if (record.array === undefined) {
    const state = states.get(record.jobId)
    if (state === undefined) return undefined
    const { index: _index, ...seen } = observe(state)
    return { jobId: record.jobId, ...seen, ...(state._tag === "Held" ? { held: true } : {}) }
  }
  const elements = []
  let unmet: Extract<ProcessState, { _tag: "Unmet" }> | undefined
  for (const i of arrayIndices(record.array)) {
    const state = states.get(elementKey(record.jobId, i))
    if (state === undefined) continue
    if (state._tag === "Unmet") unmet = state
    elements.push(observe(state, i))
  }
  if (elements.length === 0) return undefined
  // Never started for its dependencies: the array failed for them, not for its elements.
  return unmet === undefined
    ? { jobId: record.jobId, elements, ...(ctx.holds.has(record.jobId) ? { held: true } : {}) }
    : {
      jobId: record.jobId,
      status: "Failed",
      reason: { _tag: "DependencyFailed", dependencies: unmet.dependencies },
      finishTime: unmet.finishTime,
      elements
    }
}

/**
 * What the pid and exit files of a job another program runs (or ran) say, read only: nothing
 * is started, watched or taken over. A process that ended is reported with its exit status, a
 * live one Running, one never started Pending; one whose files say nothing sure (its pid gone
 * with no exit file, or a pid of another host) is not reported, for its owner or the zombie
 * timeout to judge.
 */
const observeElsewhere = (ctx: LocalContext, record: JobRecord) =>
  Effect.gen(function*() {
    const script = record.scriptPath
    if (script === undefined || record.executor !== "local" || isTerminal(record)) return undefined
    if (record.execHost !== undefined && record.execHost !== ctx.host) return undefined
    const at = yield* now
    const elements = []
    for (const { index, known } of processesOf(record)) {
      const found = yield* inspect(ctx, statusFiles(ctx, script, record.jobId, index), script)
      const state = resumedState(found, known, at, ctx.host)
      if (state._tag !== "Vanished") elements.push(observe(state, index))
    }
    if (record.array !== undefined) return elements.length === 0 ? undefined : { jobId: record.jobId, elements }
    const [only] = elements
    if (only === undefined) return undefined
    const { index: _index, ...seen } = only
    return { jobId: record.jobId, ...seen } satisfies Observation
  })

/**
 * What this executor sees of the given jobs, changing nothing: a job held for its dependencies
 * is reported Pending and held (the Monitor's gate judges it and calls `release` or
 * `withdraw`). Jobs it does not run are read from their files (see `observeElsewhere`).
 */
export const poll = Effect.fn("LocalExecutor.poll")(function*(ctx: LocalContext, jobs: ReadonlyArray<JobRecord>) {
  const out: Array<Observation> = []
  for (const job of jobs) {
    const o = ctx.tracked.has(job.jobId) ? observeJob(ctx, job) : yield* observeElsewhere(ctx, job)
    if (o !== undefined) out.push(o)
  }
  return out
})
