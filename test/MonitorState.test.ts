/**
 * The Monitor's state steps, pure: each takes the state (and what happened) and gives what to do
 * and the next state. No fiber, clock or store is involved.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, HashMap } from "effect"
import type { JobEvent, JobRecord } from "../src/Domain.js"
import * as State from "../src/internal/monitor/state.js"

const at = new Date("2026-01-01T00:00:00Z")
const t = at.getTime()

const record = (jobId: string, status: JobRecord["status"], finishMillis?: number): JobRecord => ({
  jobId,
  name: jobId,
  command: "true",
  executor: "local",
  status,
  submitTime: at,
  lastSeen: at,
  metadata: {},
  ...(finishMillis === undefined ? {} : { finishTime: new Date(finishMillis) })
})

const registration = (condition: State.ExitCondition): State.Registration => ({
  condition,
  callback: () => undefined,
  services: undefined
})

const claimed = (state: State.MonitorState, r: JobRecord, retryAttempt?: number) =>
  State.claimEnd(state, r, at, { retryAttempt, closing: false })[1]

describe("claiming an end", () => {
  it("is true once: a second claim (the feed and a catch-up both seeing it) is refused", () => {
    const s0 = State.sawUnfinished(State.own(State.empty, "1"), record("1", "Running"))
    expect(State.entry(s0, "1").watched?.status).toBe("Running")
    const [first, s1] = State.claimEnd(s0, record("1", "Done", t + 5), at, { retryAttempt: undefined, closing: true })
    expect(first).toBe(true)
    expect(State.entry(s1, "1")).toMatchObject({ endedAt: t + 5, watched: undefined, closingSince: t })
    const [second, s2] = State.claimEnd(s1, record("1", "Done"), at, { retryAttempt: undefined, closing: false })
    expect(second).toBe(false)
    expect(s2).toBe(s1)
  })

  it("a job not owned is not watched; a blank entry is not kept", () => {
    expect(State.sawUnfinished(State.empty, record("1", "Running"))).toBe(State.empty)
    const s = State.stopClosing(State.empty, ["9"])
    expect(HashMap.size(s.jobs)).toBe(0)
  })
})

describe("settling", () => {
  it.effect("takes the callbacks and waiters; only the matching callbacks run, counted until done", () =>
    Effect.gen(function*() {
      const d = yield* Deferred.make<JobRecord>()
      const running = record("1", "Running")
      let s = State.register(State.empty, running, registration("success"))[1]
      s = State.register(s, running, registration("failure"))[1]
      s = State.register(s, running, registration("any"))[1]
      s = State.addWaiter(s, running, d)[1]
      const failed = record("1", "Failed", t)
      const [settlement, next] = State.settle(claimed(s, failed), failed)
      expect(settlement.fire.map((r) => r.condition)).toEqual(["failure", "any"])
      expect(settlement.release).toEqual([d])
      expect(State.entry(next, "1")).toMatchObject({ callbacks: [], waiters: [], running: 2 })
      const done = State.callbackDone(State.callbackDone(next, "1"), "1")
      expect(State.entry(done, "1").running).toBe(0)
    }))

  it("a callback registered for a settled job runs at once, and takes its end from the backlog", () => {
    const ended = record("1", "Killed", t)
    const s = State.endedOnStart(State.adopt(State.empty, [], [ended]), ended, at, { closing: false, retryAttempt: undefined })
    const [now, next] = State.register(s, ended, registration("killed"))
    expect(now).toEqual({ fire: true, delivered: true })
    expect(State.entry(next, "1")).toMatchObject({ running: 1, inBacklog: false, callbacks: [] })
    const [again] = State.register(next, ended, registration("success"))
    expect(again).toEqual({ fire: false, delivered: false })
  })

  it.effect("a job waiting for its retry is not settled: its waiters wait for the next attempt", () =>
    Effect.gen(function*() {
      const d = yield* Deferred.make<JobRecord>()
      const failed = record("1", "Failed", t)
      const s = claimed(State.own(State.empty, "1"), failed, 2)
      expect(State.isSettled(s, failed)).toBe(false)
      const [settledNow, waiting] = State.addWaiter(s, failed, d)
      expect(settledNow).toBe(false)
      const [taken, moved] = State.takeWaiting(waiting, "1")
      expect(taken.release).toEqual([d])
      const attached = State.attach(State.retryDone(moved, "1"), "2", taken.callbacks, taken.release)
      expect(State.entry(attached, "2").waiters).toEqual([d])
      expect(State.entry(attached, "1").waiters).toEqual([])
    }))
})

describe("ticks", () => {
  it("purges ended jobs a retention after their end, oldest first, unless something still waits on them", () => {
    let s = State.adopt(State.empty, [], [])
    for (const [id, end] of [["late", t + 10], ["early", t], ["busy", t], ["retrying", t], ["fresh", t + 1_000_000]] as const) {
      s = claimed(State.own(s, id), record(id, "Failed", end), id === "retrying" ? 2 : undefined)
    }
    s = State.register(s, record("busy", "Running"), registration("any"))[1]
    const [due, next] = State.purgeDue(s, t + 60_000, 60_000 - 20)
    expect(due).toEqual(["early", "late"])
    expect(State.isOwned(next, "early")).toBe(false)
    expect(State.entry(next, "busy").endedAt).toBe(t)
  })

  it("lets cancelled jobs go once their closing is over the zombie timeout", () => {
    const s = State.claimEnd(State.own(State.empty, "old"), record("old", "Killed"), new Date(t), { retryAttempt: undefined, closing: true })[1]
    const s2 = State.claimEnd(State.own(s, "new"), record("new", "Killed"), new Date(t + 50), { retryAttempt: undefined, closing: true })[1]
    const [{ closing, expired }, next] = State.expireClosing(s2, t + 100, 60)
    expect(expired).toEqual(["old"])
    expect(closing).toEqual(["new"])
    expect(State.entry(next, "old").closingSince).toBeUndefined()
  })

  it("keeps its counts of closing and ended jobs through every step, so a tick with none skips only what holds nothing", () => {
    const truth = (st: State.MonitorState) => {
      let closing = 0
      let ended = 0
      for (const [, e] of st.jobs) {
        if (e.closingSince !== undefined) closing += 1
        if (e.endedAt !== undefined) ended += 1
      }
      return { closing, ended }
    }
    const counts = (st: State.MonitorState) => ({ closing: st.closingCount, ended: st.endedCount })
    let s = State.claimEnd(State.own(State.empty, "a"), record("a", "Killed"), new Date(t), { retryAttempt: undefined, closing: true })[1]
    s = State.claimEnd(State.own(s, "b"), record("b", "Done", t + 10), at, { retryAttempt: undefined, closing: false })[1]
    s = State.endedOnStart(s, record("c", "Killed"), at, { closing: true, retryAttempt: undefined })
    expect(counts(s)).toEqual({ closing: 2, ended: 3 })
    expect(counts(s)).toEqual(truth(s))
    s = State.stopClosing(s, ["c", "c", "nobody"])
    expect(counts(s)).toEqual({ closing: 1, ended: 3 })
    const [{ expired }, s1] = State.expireClosing(s, t + 100, 60)
    expect(expired).toEqual(["a"])
    expect(counts(s1)).toEqual({ closing: 0, ended: 3 })
    const [due, s2] = State.purgeDue(s1, t + 1_000, 100)
    expect([...due].sort()).toEqual(["a", "b", "c"])
    expect(counts(s2)).toEqual({ closing: 0, ended: 0 })
    expect(counts(s2)).toEqual(truth(s2))
    // Nothing closing nor ended: the walks find nothing, as they would.
    expect(State.expireClosing(s2, t + 10_000_000, 60)[0]).toEqual({ expired: [], closing: [] })
    expect(State.purgeDue(s2, t + 10_000_000, 0)[0]).toEqual([])
    // A batch (transient map) keeps them too.
    const [, s3] = State.batch(s2, (x) => [undefined, State.claimEnd(State.own(x, "d"), record("d", "Killed"), at, { retryAttempt: undefined, closing: true })[1]] as const)
    expect(counts(s3)).toEqual({ closing: 1, ended: 1 })
    expect(State.purgeDue(s3, t + 1_000, 100)[0]).toEqual(["d"])
  })

  it("a cancelled array reported ended is done closing at once when what is known of it is complete, else after the settle", () => {
    const s = State.claimEnd(State.own(State.empty, "a"), record("a", "Killed"), new Date(t), { retryAttempt: undefined, closing: true })[1]
    expect(State.doneClosing(s, "a", t + 1, false, true)).toBe(false)
    expect(State.doneClosing(s, "a", t + 1, true, true)).toBe(true)
    expect(State.doneClosing(s, "a", t + 1, true, false)).toBe(false)
    expect(State.doneClosing(s, "a", t + State.closingSettleMillis, true, false)).toBe(true)
  })

  it("catches up watched jobs the tick did not find active, and other programs' jobs awaited here", () => {
    let s = State.sawUnfinished(State.own(State.empty, "mine"), record("mine", "Running"))
    s = State.sawUnfinished(State.own(s, "active"), record("active", "Running"))
    s = State.register(s, record("theirs", "Running"), registration("any"))[1]
    expect([...State.toCatchUp(s, new Set(["active"]))].sort()).toEqual(["mine", "theirs"])
    expect(State.entry(State.unwatch(s, ["mine", "active"], new Set(["active"])), "mine").watched).toBeUndefined()
  })

  it("the gate's warnings are kept per job, and dropped for jobs it gave up", () => {
    const s = State.gateWarned(State.empty, ["1", "2"], [])
    expect(State.entry(s, "1").warnedHeld).toBe(true)
    const s2 = State.gateWarned(s, [], ["1"])
    expect(State.entry(s2, "1").warnedHeld).toBe(false)
    expect(State.entry(s2, "2").warnedHeld).toBe(true)
  })
})

describe("start-up backlog", () => {
  it("goes to the first taker only, with the jobs whose delivery to record", () => {
    const ended = record("1", "Done", t)
    const event: JobEvent = { _tag: "JobStatusChanged", from: "Running", to: "Done", record: ended, at }
    let s = State.addBacklog(State.adopt(State.empty, [], [ended]), [event])
    s = State.endedOnStart(s, ended, at, { closing: false, retryAttempt: undefined })
    const [first, next] = State.takeBacklog(s)
    expect(first).toEqual({ events: [event], delivered: ["1"] })
    expect(State.takeBacklog(next)[0]).toEqual({ events: [], delivered: [] })
  })

  it("an end whose retry was never submitted is not announced: it waits for its retry", () => {
    const failed = record("1", "Failed", t)
    const s = State.endedOnStart(State.adopt(State.empty, [], [failed]), failed, at, { closing: false, retryAttempt: 2 })
    expect(State.entry(s, "1")).toMatchObject({ inBacklog: false, retryAttempt: 2, endedAt: t })
  })
})
