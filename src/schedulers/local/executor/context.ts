/**
 * What every part of the local executor shares: the context its `make` builds once (the config,
 * the services, the process states, the holds, the jobs it runs, the fibers running them, the
 * slots), and the small helpers over it. The machinery (processes, holds, resume, observe,
 * cancel) is module-level functions of this context.
 */
import type { FiberMap } from "effect"
import { Clock, Duration, Effect, Option, Queue } from "effect"
import type { Dependency, JobRecord, JobStatus } from "../../../Domain.js"
import { arrayIndices, isTerminalStatus } from "../../../Domain.js"
import type { ExecutorServices } from "../../../internal/executorServices.js"
import type { JobKey } from "../../../JobStore.js"
import type { ProcessState, RecordedProcess } from "../status.js"
import type { Spawner } from "./spawner.js"

/** How long a cancelled or timed-out local job gets between SIGTERM and SIGKILL. */
export const killGrace = Duration.seconds(5)

/** Whom a job is recorded as cancelled by when the program running it ends before it does. */
export const programEnded = "cluster-api: the program that ran it ended"

export const elementKey = (jobId: string, index: number) => `${jobId}[${index}]`

/** A local job, as the store knows it. */
export const keyOf = (jobId: string): JobKey => ({ executor: "local", jobId })

export const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))

/** The pid and exit files of one process of a job. */
export interface StatusFiles {
  readonly pid: string
  readonly exit: string
}

/** One process of a job: the job itself, or one array element. */
export interface JobProcess {
  readonly key: string
  readonly index: number | undefined
}

/**
 * A job held for its dependencies: what it waits for, its processes (all `Held`), and what starts
 * them once the dependencies are met (exactly what `submit` or `resume` would have run).
 */
export interface Hold {
  readonly dependsOn: ReadonlyArray<Dependency>
  readonly keys: ReadonlyArray<string>
  readonly run: Effect.Effect<void>
}

/** Everything one local executor shares among its parts; built once by its `make`. */
export interface LocalContext extends ExecutorServices {
  /**
   * Slots are tokens in a queue: waiting jobs get them first come, first served, so array
   * elements start in index order.
   */
  readonly slots: Queue.Queue<void>
  readonly states: Map<string, ProcessState>
  /** Jobs held for their dependencies; a job leaves it once started, doomed or cancelled. */
  readonly holds: Map<string, Hold>
  /** Jobs this executor started or took over: the ones it ends with its scope. */
  readonly tracked: Set<string>
  readonly fibers: FiberMap.FiberMap<string>
  readonly host: string
  /** Ids are `{pid of this process}-{n}`, n counted for the whole process (see submit.ts). */
  readonly idPrefix: string
  readonly hasProc: boolean
  /** How often a process started by another program is checked: the poll interval, within 50 ms–1 s. */
  readonly watchInterval: Duration.Duration
  /** Told each time a process of this executor's has ended (at most one telling kept): the Monitor's wake-up. */
  readonly ended: Queue.Queue<void>
  /** The spawner that starts this executor's processes, under the Node runner (see spawner.ts). */
  readonly spawner: Spawner | undefined
}

export const withSlot = <A, E>(ctx: LocalContext, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(Queue.take(ctx.slots), () => effect, () => Queue.offer(ctx.slots, undefined))

/** A process that is already running takes a slot when one is free and runs on regardless. */
export const withSlotIfFree = <A, E>(ctx: LocalContext, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Queue.poll(ctx.slots),
    () => effect,
    (slot) => Option.isSome(slot) ? Queue.offer(ctx.slots, undefined) : Effect.void
  )

/** The processes of a job that have not ended as far as its record knows. */
export const processesOf = (record: JobRecord): ReadonlyArray<JobProcess & { readonly known: RecordedProcess }> => {
  if (record.array === undefined) {
    const known = {
      status: record.status,
      startTime: record.startTime,
      execHost: record.execHost,
      lastSeen: record.lastSeen
    }
    return [{ key: record.jobId, index: undefined, known }]
  }
  const elements = new Map((record.elements ?? []).map((e) => [e.index, e] as const))
  return arrayIndices(record.array).flatMap((index) => {
    const e = elements.get(index)
    if (e !== undefined && isTerminalStatus(e.status)) return []
    // An element no poll reported yet was still waiting for its turn.
    const status: JobStatus = e?.status ?? "Pending"
    const known = { status, startTime: e?.startTime, execHost: e?.execHost, lastSeen: record.lastSeen }
    return [{ key: elementKey(record.jobId, index), index, known }]
  })
}
