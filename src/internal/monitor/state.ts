/**
 * The Monitor's state: one entry per job it knows of (owned, watched, ended, awaited, with
 * callbacks, closing after a cancel, waiting for its retry, warned about by the gate), plus the
 * start-up announcements waiting for the first event stream. Kept in ONE SynchronizedRef by the
 * Monitor and changed only by the pure steps below, each `(state, …) → [what to do, next state]`
 * or `(state, …) → next state`: the effects (firing callbacks, releasing waiters, writing
 * deliveries, publishing events) are the Monitor's, decided here.
 */
import type { Deferred } from "effect"
import { HashMap, Option } from "effect"
import type { JobEvent, JobRecord, JobStatus } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"

/** Which endings a callback is for. */
export type ExitCondition = "success" | "failure" | "killed" | "any"

/** A callback registration: the state only moves it around; the Monitor runs it. */
export interface Registration {
  readonly condition: ExitCondition
  readonly callback: (record: JobRecord) => unknown
  /** The services the callback was registered with: it runs with them. */
  readonly services: unknown
}

export type Waiter = Deferred.Deferred<JobRecord>

/** What the Monitor knows of one job. */
export interface JobEntry {
  /** Submitted or adopted by this program: its deliveries are recorded, its retries planned. */
  readonly owned: boolean
  /** Unfinished as last seen (owned jobs), to notice an end another program wrote. */
  readonly watched: JobRecord | undefined
  /** When its end was claimed for announcement (ms); it is purged a retention after. */
  readonly endedAt: number | undefined
  /** Callbacks of it still running: it is purged only once none is. */
  readonly running: number
  readonly callbacks: ReadonlyArray<Registration>
  readonly waiters: ReadonlyArray<Waiter>
  /** Cancelled and not yet reported ended by the scheduler: since when (ms). */
  readonly closingSince: number | undefined
  /** Failed, its next attempt (this number) waiting to be submitted. */
  readonly retryAttempt: number | undefined
  /** An end found at start, announced through the first event stream. */
  readonly inBacklog: boolean
  /** The gate has warned that a dependency of it is unknown to the store. */
  readonly warnedHeld: boolean
}

export interface MonitorState {
  readonly jobs: HashMap.HashMap<string, JobEntry>
  /** Start-up announcements for the first event stream. */
  readonly backlog: ReadonlyArray<JobEvent>
  /**
   * When the last answered poll was (ms), for the zombie timeout: a report that changes nothing
   * leaves the job's record as it is, `lastSeen` too, so the exact sighting is kept here. Every
   * job that poll asked about was seen then, except those in `missed`.
   */
  readonly lastPoll: number | undefined
  /** Jobs the last answered poll asked about and did not see: their last sighting (ms), if any. */
  readonly missed: ReadonlyMap<string, number>
  /**
   * How many entries have a `closingSince`, and how many an `endedAt` (kept by `update`): a tick
   * with none of either walks no entry for them.
   */
  readonly closingCount: number
  readonly endedCount: number
}

const blank: JobEntry = {
  owned: false,
  watched: undefined,
  endedAt: undefined,
  running: 0,
  callbacks: [],
  waiters: [],
  closingSince: undefined,
  retryAttempt: undefined,
  inBacklog: false,
  warnedHeld: false
}

export const empty: MonitorState = {
  jobs: HashMap.empty(),
  backlog: [],
  lastPoll: undefined,
  missed: new Map(),
  closingCount: 0,
  endedCount: 0
}

/** A job's entry, blank when the state holds none. */
export const entry = (state: MonitorState, jobId: string): JobEntry =>
  Option.getOrElse(HashMap.get(state.jobs, jobId), () => blank)

/** Whether an entry still says anything (a blank one is dropped). */
const holdsAnything = (e: JobEntry): boolean =>
  e.owned || e.watched !== undefined || e.endedAt !== undefined || e.running > 0 || e.callbacks.length > 0 ||
  e.waiters.length > 0 || e.closingSince !== undefined || e.retryAttempt !== undefined || e.inBacklog || e.warnedHeld

/** The state with `f` applied to one job's entry. */
export const update = (state: MonitorState, jobId: string, f: (e: JobEntry) => JobEntry): MonitorState => {
  const before = entry(state, jobId)
  const next = f(before)
  return {
    ...state,
    jobs: holdsAnything(next) ? HashMap.set(state.jobs, jobId, next) : HashMap.remove(state.jobs, jobId),
    closingCount: state.closingCount + count(next.closingSince) - count(before.closingSince),
    endedCount: state.endedCount + count(next.endedAt) - count(before.endedAt)
  }
}

const count = (x: number | undefined): number => x === undefined ? 0 : 1

/**
 * Runs the steps `f` takes over many jobs at once on a transient copy of the jobs map (Effect's
 * HashMap mutation: no path copied per job), sealed again before it is returned. `state` itself is
 * not changed.
 */
export const batch = <A>(
  state: MonitorState,
  f: (s: MonitorState) => readonly [A, MonitorState]
): readonly [A, MonitorState] => {
  const [a, s] = f({ ...state, jobs: HashMap.beginMutation(state.jobs) })
  return [a, { ...s, jobs: HashMap.endMutation(s.jobs) }]
}

/** The ids of the jobs whose entries satisfy `p`. */
export const idsWhere = (state: MonitorState, p: (e: JobEntry) => boolean): Array<string> => {
  const out: Array<string> = []
  for (const [id, e] of state.jobs) if (p(e)) out.push(id)
  return out
}

export const isOwned = (state: MonitorState, jobId: string): boolean => entry(state, jobId).owned

/** Ended for good: terminal, and no next attempt is on its way. */
export const isSettled = (state: MonitorState, record: JobRecord): boolean =>
  isTerminal(record) && entry(state, record.jobId).retryAttempt === undefined

// ---------------------------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------------------------

/** Jobs adopted at start: owned; the unfinished ones watched. */
export const adopt = (
  state: MonitorState,
  active: ReadonlyArray<JobRecord>,
  undelivered: ReadonlyArray<JobRecord>
): MonitorState => {
  let s = state
  for (const r of active) s = update(s, r.jobId, (e) => ({ ...e, owned: true, watched: r }))
  for (const r of undelivered) s = update(s, r.jobId, (e) => ({ ...e, owned: true }))
  return s
}

/**
 * An end found at start: claimed (its purge clock started from its finish), no longer watched,
 * closing when it was cancelled here, and either waiting for its retry (`retryAttempt`) or
 * announced through the backlog.
 */
export const endedOnStart = (
  state: MonitorState,
  record: JobRecord,
  at: Date,
  options: { readonly closing: boolean; readonly retryAttempt: number | undefined }
): MonitorState =>
  update(state, record.jobId, (e) => ({
    ...e,
    endedAt: (record.finishTime ?? at).getTime(),
    watched: undefined,
    closingSince: options.closing ? at.getTime() : e.closingSince,
    retryAttempt: options.retryAttempt,
    inBacklog: options.retryAttempt === undefined
  }))

export const addBacklog = (state: MonitorState, events: ReadonlyArray<JobEvent>): MonitorState =>
  events.length === 0 ? state : { ...state, backlog: [...state.backlog, ...events] }

/** Hands the start-up announcements over, once: the events, and the jobs whose delivery to record. */
export const takeBacklog = (
  state: MonitorState
): readonly [{ readonly events: ReadonlyArray<JobEvent>; readonly delivered: ReadonlyArray<string> }, MonitorState] => {
  const delivered = idsWhere(state, (e) => e.inBacklog)
  let s: MonitorState = { ...state, backlog: [] }
  for (const id of delivered) s = update(s, id, (e) => ({ ...e, inBacklog: false }))
  return [{ events: state.backlog, delivered }, s]
}

// ---------------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------------

/** A new job (submitted here, or written by this program) is owned, before its end is judged. */
export const own = (state: MonitorState, jobId: string): MonitorState =>
  update(state, jobId, (e) => ({ ...e, owned: true }))

/** A change to an unfinished job: an owned one is watched as it now is. */
export const sawUnfinished = (state: MonitorState, after: JobRecord): MonitorState => {
  // One lookup and one write: this runs for every change of every job.
  const e = entry(state, after.jobId)
  return e.owned ? { ...state, jobs: HashMap.set(state.jobs, after.jobId, { ...e, watched: after }) } : state
}

/**
 * Claims a job's end for announcement: true the first time only (the change feed and a tick's
 * catch-up never both announce one end). The claim starts its purge clock, stops watching it,
 * notes its retry and, for a cancelled job this program owns, that it is closing.
 */
export const claimEnd = (
  state: MonitorState,
  record: JobRecord,
  at: Date,
  options: { readonly retryAttempt: number | undefined; readonly closing: boolean }
): readonly [boolean, MonitorState] => {
  if (entry(state, record.jobId).endedAt !== undefined) return [false, state]
  return [
    true,
    update(state, record.jobId, (e) => ({
      ...e,
      endedAt: (record.finishTime ?? at).getTime(),
      watched: undefined,
      retryAttempt: options.retryAttempt ?? e.retryAttempt,
      closingSince: options.closing ? at.getTime() : e.closingSince
    }))
  ]
}

const conditionOf = (status: JobStatus): ExitCondition | undefined =>
  status === "Done" ? "success" : status === "Failed" ? "failure" : status === "Killed" ? "killed" : undefined

/** The registrations among `registrations` that `record`'s end is for. */
export const matching = (registrations: ReadonlyArray<Registration>, record: JobRecord): ReadonlyArray<Registration> => {
  const c = conditionOf(record.status)
  return registrations.filter((r) => r.condition === "any" || r.condition === c)
}

/** What settling a job does: the callbacks to run and the waiters to release with its record. */
export interface Settlement {
  readonly fire: ReadonlyArray<Registration>
  readonly release: ReadonlyArray<Waiter>
}

/** Callbacks `fire` of `jobId` start running (its purge waits for them). */
const started = (state: MonitorState, jobId: string, n: number): MonitorState =>
  n === 0 ? state : update(state, jobId, (e) => ({ ...e, running: e.running + n }))

/** A settled end: its callbacks and waiters are taken, the matching callbacks counted as running. */
export const settle = (state: MonitorState, record: JobRecord): readonly [Settlement, MonitorState] => {
  const e = entry(state, record.jobId)
  if (e.callbacks.length === 0 && e.waiters.length === 0) return [{ fire: [], release: [] }, state]
  const fire = matching(e.callbacks, record)
  const s = update(state, record.jobId, (x) => ({ ...x, callbacks: [], waiters: [] }))
  return [{ fire, release: e.waiters }, started(s, record.jobId, fire.length)]
}

/** A callback of `jobId` has ended. */
export const callbackDone = (state: MonitorState, jobId: string): MonitorState =>
  update(state, jobId, (e) => ({ ...e, running: Math.max(0, e.running - 1) }))

/**
 * A callback registered for `record` (its last attempt): run at once when the job is settled
 * (`fire`, and `delivered` when its end was waiting in the backlog: registering takes it), else
 * kept until it is.
 */
export const register = (
  state: MonitorState,
  record: JobRecord,
  registration: Registration
): readonly [{ readonly fire: boolean; readonly delivered: boolean }, MonitorState] => {
  if (!isSettled(state, record)) {
    return [
      { fire: false, delivered: false },
      update(state, record.jobId, (e) => ({ ...e, callbacks: [...e.callbacks, registration] }))
    ]
  }
  const fire = matching([registration], record).length > 0
  const delivered = entry(state, record.jobId).inBacklog
  const s = update(state, record.jobId, (e) => ({ ...e, inBacklog: false }))
  return [{ fire, delivered }, started(s, record.jobId, fire ? 1 : 0)]
}

/** A waiter for `record` (its last attempt): released at once when the job is settled, else kept. */
export const addWaiter = (state: MonitorState, record: JobRecord, waiter: Waiter): readonly [boolean, MonitorState] =>
  isSettled(state, record)
    ? [true, state]
    : [false, update(state, record.jobId, (e) => ({ ...e, waiters: [...e.waiters, waiter] }))]

/** A waiter that stopped waiting (timed out, interrupted). */
export const removeWaiter = (state: MonitorState, jobId: string, waiter: Waiter): MonitorState =>
  update(state, jobId, (e) => ({ ...e, waiters: e.waiters.filter((w) => w !== waiter) }))

/** What waits on attempt `from` (callbacks, waiters), taken off it. */
export const takeWaiting = (state: MonitorState, from: string): readonly [Settlement & { readonly callbacks: ReadonlyArray<Registration> }, MonitorState] => {
  const e = entry(state, from)
  return [
    { fire: [], release: e.waiters, callbacks: e.callbacks },
    update(state, from, (x) => ({ ...x, callbacks: [], waiters: [] }))
  ]
}

/** Callbacks and waiters moved onto attempt `to`, which has not settled. */
export const attach = (
  state: MonitorState,
  to: string,
  callbacks: ReadonlyArray<Registration>,
  waiters: ReadonlyArray<Waiter>
): MonitorState =>
  callbacks.length === 0 && waiters.length === 0
    ? state
    : update(state, to, (e) => ({ ...e, callbacks: [...e.callbacks, ...callbacks], waiters: [...e.waiters, ...waiters] }))

/** Callbacks moved onto `record`, which has settled: the matching ones run now. */
export const fireNow = (
  state: MonitorState,
  record: JobRecord,
  callbacks: ReadonlyArray<Registration>
): readonly [ReadonlyArray<Registration>, MonitorState] => {
  const fire = matching(callbacks, record)
  return [fire, started(state, record.jobId, fire.length)]
}

/** Its retry was submitted, or failed to be: no next attempt is on its way any more. */
export const retryDone = (state: MonitorState, jobId: string): MonitorState =>
  update(state, jobId, (e) => ({ ...e, retryAttempt: undefined }))

// ---------------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------------

/**
 * Cancelled jobs whose closing is over the zombie timeout are let go (their ids returned); the
 * others' ids are the ones still closing.
 */
export const expireClosing = (
  state: MonitorState,
  nowMillis: number,
  zombieMillis: number
): readonly [{ readonly expired: ReadonlyArray<string>; readonly closing: ReadonlyArray<string> }, MonitorState] => {
  const expired: Array<string> = []
  const closing: Array<string> = []
  if (state.closingCount === 0) return [{ expired, closing }, state]
  for (const [id, e] of state.jobs) {
    if (e.closingSince === undefined) continue
    if (nowMillis - e.closingSince > zombieMillis) expired.push(id)
    else closing.push(id)
  }
  return [{ expired, closing }, stopClosing(state, expired)]
}

/**
 * How long after its cancel an array the scheduler reports ended is still asked about while no
 * element is known to have started: sacct's row of a range speaks for several elements at once,
 * and the rows of those that ran (their host and start) can come later. An array none of whose
 * elements ran never gets such rows; this bounds the wait for it.
 */
export const closingSettleMillis = 60_000

/**
 * Whether a cancelled job the scheduler now reports ended (`reportsEnd`) is done closing: at once
 * when what is known of it is `complete` (some element is known to have started, or it is no
 * array), else once `closingSettleMillis` have passed since the cancel.
 */
export const doneClosing = (
  state: MonitorState,
  jobId: string,
  nowMillis: number,
  reportsEnd: boolean,
  complete: boolean
): boolean => {
  if (!reportsEnd) return false
  const since = entry(state, jobId).closingSince
  return complete || since === undefined || nowMillis - since >= closingSettleMillis
}

/** Jobs no longer closing (their end was reported, or the store no longer holds them cancelled). */
export const stopClosing = (state: MonitorState, jobIds: Iterable<string>): MonitorState => {
  let s = state
  for (const id of jobIds) s = update(s, id, (e) => ({ ...e, closingSince: undefined }))
  return s
}

/**
 * The jobs a tick re-reads from the store: owned ones watched that the tick did not find active
 * (another program ended them), and jobs of other programs someone here awaits.
 */
export const toCatchUp = (state: MonitorState, activeIds: ReadonlySet<string>): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const [id, e] of state.jobs) {
    const endedElsewhere = e.watched !== undefined && !activeIds.has(id)
    const awaitedHere = !e.owned && (e.waiters.length > 0 || e.callbacks.length > 0)
    if (endedElsewhere || awaitedHere) out.push(id)
  }
  return out
}

/** Owned jobs that left this program's hands some other way (removed, adopted elsewhere). */
export const unwatch = (state: MonitorState, jobIds: Iterable<string>, activeIds: ReadonlySet<string>): MonitorState => {
  let s = state
  for (const id of jobIds) {
    if (!activeIds.has(id) && entry(s, id).watched !== undefined) s = update(s, id, (e) => ({ ...e, watched: undefined }))
  }
  return s
}

/**
 * Ended jobs due for purge (a retention after their end, no callback running or waiting, no
 * waiter, no retry on its way), oldest end first: no longer ended nor owned here.
 */
export const purgeDue = (
  state: MonitorState,
  nowMillis: number,
  retentionMillis: number
): readonly [ReadonlyArray<string>, MonitorState] => {
  if (state.endedCount === 0) return [[], state]
  const due: Array<readonly [string, number]> = []
  for (const [id, e] of state.jobs) {
    if (e.endedAt === undefined || nowMillis - e.endedAt < retentionMillis) continue
    if (e.running > 0 || e.callbacks.length > 0 || e.waiters.length > 0 || e.retryAttempt !== undefined) continue
    due.push([id, e.endedAt])
  }
  due.sort((a, b) => a[1] - b[1])
  let s = state
  for (const [id] of due) s = update(s, id, (e) => ({ ...e, endedAt: undefined, owned: false }))
  return [due.map(([id]) => id), s]
}

/**
 * When the Monitor last saw `jobId` (ms): at the last answered poll unless that poll missed it,
 * then its sighting before. Undefined when it knows of none: the job's record says (`lastSeen`);
 * a job submitted after that poll has a record's `lastSeen` later than it, so the later of the two
 * (`lastSighting`) is right for it too.
 */
export const sighting = (state: MonitorState, jobId: string): number | undefined => {
  const missed = state.missed.get(jobId)
  return missed !== undefined ? (Number.isFinite(missed) ? missed : undefined) : state.lastPoll
}

/**
 * A poll answered at `atMillis` for the jobs `polled`: those in `seen` were sighted then; the
 * others (`missed`) keep their last sighting. Nothing is kept per job that was seen.
 */
export const sighted = (
  state: MonitorState,
  polled: ReadonlyArray<{ readonly jobId: string }>,
  seen: ReadonlyMap<string, unknown>,
  atMillis: number
): MonitorState => {
  const missed = new Map<string, number>()
  // A plain loop: it runs over every active job on every tick.
  for (let i = 0; i < polled.length; i++) {
    const id = polled[i]!.jobId
    if (!seen.has(id)) missed.set(id, sighting(state, id) ?? -Infinity)
  }
  return { ...state, lastPoll: atMillis, missed }
}

/** The gate warned about these jobs; those it gave up need no warning any more. */
export const gateWarned = (state: MonitorState, warned: Iterable<string>, givenUp: Iterable<string>): MonitorState => {
  let s = state
  for (const id of warned) s = update(s, id, (e) => ({ ...e, warnedHeld: true }))
  for (const id of givenUp) s = update(s, id, (e) => ({ ...e, warnedHeld: false }))
  return s
}
