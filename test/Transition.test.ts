import { describe, expect, it } from "@effect/vitest"
import { FastCheck, Schema } from "effect"
import type { JobRecord, JobStatus, Observation } from "../src/Domain.js"
import { describeReason, failedElementIndices, isTerminalStatus, JobRecord as JobRecordSchema } from "../src/Domain.js"
import {
  aggregateArray,
  applyObservation,
  cancelled,
  completeCancelled,
  isZombie,
  mergeElements,
  observationProblem,
  reportsEnd,
  vanish
} from "../src/internal/transition.js"

const t0 = new Date("2026-01-01T00:00:00Z")
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000)

const record = (over: Partial<JobRecord> = {}): JobRecord => ({
  jobId: "1",
  name: "capi-job",
  command: "true",
  executor: "local",
  status: "Pending",
  lastSeen: t0,
  metadata: {},
  ...over
})

const arrayRecord = (start: number, end: number) => record({ array: { start, end } })

/** Every status a scheduler's answer can give an element, except Unknown (it says nothing). */
const statuses = ["Pending", "Running", "Done", "Failed", "Killed"] as const

/** How far along a status is: Pending, then Running, then ended. */
const progress = (status: JobStatus): number => status === "Pending" ? 0 : status === "Running" ? 1 : isTerminalStatus(status) ? 2 : -1

describe("applyObservation", () => {
  it("never gives a record a non-finite or out-of-range value: such an observation leaves it as it was", () => {
    const running = record({ status: "Running", array: { start: 0, end: 1 } })
    const bad: ReadonlyArray<Observation> = [
      { jobId: "1", status: "Failed", exitCode: 99999999999999999999 },
      { jobId: "1", status: "Failed", exitCode: -1 },
      { jobId: "1", status: "Failed", exitCode: 2.5 },
      { jobId: "1", status: "Done", maxMem: Infinity },
      { jobId: "1", status: "Done", maxMem: NaN },
      { jobId: "1", status: "Done", maxMem: -5 },
      { jobId: "1", status: "Running", startTime: new Date(NaN) },
      { jobId: "1", status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 1e20 } },
      { jobId: "1", elements: [{ index: 0.5, status: "Done" }] },
      { jobId: "1", elements: [{ index: 0, status: "Done", maxMem: Infinity }] },
      { jobId: "1", elements: [{ index: 9007199254740993, status: "Done" }] },
      { jobId: "1", unreadable: "unknown job state" }
    ]
    for (const obs of bad) {
      expect(observationProblem(obs)).toBeDefined()
      const next = applyObservation(running, obs, at(5))
      expect(next).toBe(running)
      // What is recorded can always be written and read back.
      expect(Schema.decodeUnknownSync(JobRecordSchema)(Schema.encodeSync(JobRecordSchema)(next))).toEqual(next)
    }
    expect(observationProblem({ jobId: "1", status: "Failed", exitCode: 255, maxMem: 0 })).toBeUndefined()
  })

  it("leaves a record the observation does not change as it is (the same object, lastSeen too); any change is a new record", () => {
    const running = applyObservation(record(), {
      jobId: "1",
      status: "Running",
      execHost: "node1",
      startTime: at(2),
      reason: { _tag: "Preempted" }
    }, at(10))
    const again = applyObservation(running, {
      jobId: "1",
      status: "Running",
      execHost: "node1",
      startTime: at(2),
      reason: { _tag: "Preempted" }
    }, at(20))
    expect(again).toBe(running)
    expect(applyObservation(running, { jobId: "1", status: "Running" }, at(20))).toBe(running)
    const moved = applyObservation(running, { jobId: "1", status: "Running", execHost: "node2" }, at(30))
    expect(moved).not.toBe(running)
    expect([moved.execHost, moved.lastSeen]).toEqual(["node2", at(30)])
    expect(applyObservation(running, { jobId: "1", status: "Running", maxMem: 1024 }, at(30)).maxMem).toBe(1024)

    const array = applyObservation(arrayRecord(0, 1), {
      jobId: "1",
      elements: [{ index: 0, status: "Running", startTime: at(1) }, { index: 1, status: "Pending" }]
    }, at(10))
    const elements = [{ index: 1, status: "Pending" as const }, { index: 0, status: "Running" as const, startTime: at(1) }]
    const same = applyObservation(array, { jobId: "1", elements }, at(20))
    expect(same).toBe(array)
    expect(mergeElements(array.elements, elements)).toBe(array.elements)
    const started = applyObservation(array, { jobId: "1", elements: [{ index: 1, status: "Running" }] }, at(30))
    expect(started.elements?.map((e) => e.status)).toEqual(["Running", "Running"])
    expect(started.lastSeen).toEqual(at(30))
  })

  it("moves Pending → Running → Done and fills the exit code 0", () => {
    const running = applyObservation(record(), { jobId: "1", status: "Running", execHost: "node1" }, at(10))
    expect(running.status).toBe("Running")
    expect(running.execHost).toBe("node1")
    expect(running.lastSeen).toEqual(at(10))
    const done = applyObservation(running, { jobId: "1", status: "Done" }, at(20))
    expect(done.status).toBe("Done")
    expect(done.exitCode).toBe(0)
    expect(done.reason).toBeUndefined()
    expect(done.finishTime).toEqual(at(20))
    expect(done.execHost).toBe("node1")
  })

  it("gives a failure with a non-zero exit code the NonZeroExit reason", () => {
    const failed = applyObservation(record({ status: "Running" }), { jobId: "1", status: "Failed", exitCode: 3 }, at(5))
    expect(failed.reason).toEqual({ _tag: "NonZeroExit", exitCode: 3 })
  })

  it("keeps a reason the scheduler gave", () => {
    const failed = applyObservation(record(), { jobId: "1", status: "Failed", reason: { _tag: "OutOfMemory" } }, at(5))
    expect(failed.reason).toEqual({ _tag: "OutOfMemory" })
  })

  it("never changes a terminal record", () => {
    const killed = record({ status: "Killed", reason: { _tag: "Cancelled" } })
    expect(applyObservation(killed, { jobId: "1", status: "Done" }, at(5))).toBe(killed)
  })

  it("keeps fields the observation leaves out", () => {
    const r = record({ status: "Running", maxMem: 100, startTime: at(1) })
    const next = applyObservation(r, { jobId: "1", status: "Running" }, at(5))
    expect(next.maxMem).toBe(100)
    expect(next.startTime).toEqual(at(1))
  })
})

describe("arrays", () => {
  it("stays Pending while no element has started", () => {
    const r = applyObservation(arrayRecord(1, 3), {
      jobId: "1",
      elements: [{ index: 1, status: "Pending" }, { index: 2, status: "Pending" }]
    }, at(1))
    expect(r.status).toBe("Pending")
  })

  it("is Running until every expected element is terminal, even when all seen ones are", () => {
    const r = applyObservation(arrayRecord(1, 5), {
      jobId: "1",
      elements: [{ index: 1, status: "Done" }, { index: 2, status: "Done" }]
    }, at(1))
    expect(r.status).toBe("Running")
  })

  it("ends Done when all elements are Done", () => {
    const r = applyObservation(arrayRecord(1, 2), {
      jobId: "1",
      elements: [{ index: 1, status: "Done" }, { index: 2, status: "Done" }]
    }, at(1))
    expect(r.status).toBe("Done")
    expect(r.exitCode).toBe(0)
  })

  it("ends Failed when any element failed (Failed wins over Killed), naming the failed indices", () => {
    const r = applyObservation(arrayRecord(1, 3), {
      jobId: "1",
      elements: [
        { index: 1, status: "Done" },
        { index: 2, status: "Failed", exitCode: 1 },
        { index: 3, status: "Killed" }
      ]
    }, at(1))
    expect(r.status).toBe("Failed")
    expect(r.reason).toEqual({ _tag: "ElementsFailed", indices: [2] })
    expect(failedElementIndices(r)).toEqual([2, 3])
    expect(r.elements?.[1]?.reason).toEqual({ _tag: "NonZeroExit", exitCode: 1 })
  })

  it("an array that ends with no element reported (run as one plain job) is Failed(NoArrayElements), never Done", () => {
    // Done as one plain job: LSF given the script as a file without LSB_BSUB_PARSE_SCRIPT=Y.
    const done = applyObservation(arrayRecord(1, 4), { jobId: "1", status: "Done", exitCode: 0 }, at(1))
    expect(done.status).toBe("Failed")
    expect(done.reason).toEqual({ _tag: "NoArrayElements", elements: 4 })
    expect(describeReason(done.reason!)).toContain("none of its 4 array elements")
    // The plain job's own failure says no more about the elements.
    const failed = applyObservation(arrayRecord(1, 4), { jobId: "1", status: "Failed", exitCode: 3 }, at(1))
    expect(failed).toMatchObject({ status: "Failed", exitCode: 3, reason: { _tag: "NoArrayElements", elements: 4 } })
    // Running without elements is no end yet.
    expect(applyObservation(arrayRecord(1, 4), { jobId: "1", status: "Running" }, at(1)).status).toBe("Running")
    // An end the scheduler decided for the whole array keeps its reason; so does a cancel.
    const orphan = { _tag: "DependencyFailed", dependencies: ["7"] } as const
    expect(applyObservation(arrayRecord(1, 4), { jobId: "1", status: "Failed", reason: orphan }, at(1)).reason).toEqual(orphan)
    expect(applyObservation(arrayRecord(1, 4), { jobId: "1", status: "Killed" }, at(1)).status).toBe("Killed")
    // A plain job that ends Done stays Done.
    expect(applyObservation(record(), { jobId: "1", status: "Done" }, at(1)).status).toBe("Done")
    // What is recorded can be written and read back, even for the widest range an ArraySpec allows.
    const widest = applyObservation(arrayRecord(0, Number.MAX_SAFE_INTEGER), { jobId: "1", status: "Done" }, at(1))
    for (const r of [done, widest]) {
      expect(Schema.decodeUnknownSync(JobRecordSchema)(Schema.encodeSync(JobRecordSchema)(r))).toEqual(r)
    }
  })

  it("ends Killed when elements were killed and none failed", () => {
    expect(aggregateArray(2, [{ index: 1, status: "Done" }, { index: 2, status: "Killed" }])).toBe("Killed")
  })

  it("merges element observations over several polls, keeping terminal elements", () => {
    const first = mergeElements(undefined, [{ index: 2, status: "Done" }, { index: 1, status: "Running" }])
    expect(first.map((e) => e.index)).toEqual([1, 2])
    const second = mergeElements(first, [{ index: 2, status: "Running" }, { index: 1, status: "Done" }])
    expect(second.map((e) => e.status)).toEqual(["Done", "Done"])
  })

  it("an element that started or ended is never set back to Pending by a later answer", () => {
    const started = applyObservation(arrayRecord(1, 3), {
      jobId: "1",
      elements: [
        { index: 1, status: "Running", startTime: at(1), execHost: "node1" },
        { index: 2, status: "Done", exitCode: 0 },
        { index: 3, status: "Pending" }
      ]
    }, at(1))
    // A later answer (a stale pending range) says all three are Pending.
    const later = applyObservation(started, {
      jobId: "1",
      elements: [1, 2, 3].map((index) => ({ index, status: "Pending" as const }))
    }, at(2))
    expect(later.elements).toEqual([
      { index: 1, status: "Running", startTime: at(1), execHost: "node1" },
      { index: 2, status: "Done", exitCode: 0 },
      { index: 3, status: "Pending" }
    ])
    expect(later.status).toBe("Running")
  })

  it.prop(
    "whatever answers come, in whatever order, no element moves back (Pending, then Running, then ended)",
    [FastCheck.array(FastCheck.array(FastCheck.constantFrom(...statuses), { minLength: 3, maxLength: 3 }), { maxLength: 8 })],
    ([answers]) => {
      let current = arrayRecord(1, 3)
      answers.forEach((answer, tick) => {
        const next = applyObservation(current, {
          jobId: "1",
          elements: answer.map((status, i) => ({ index: i + 1, status }))
        }, at(tick + 1))
        for (const before of current.elements ?? []) {
          const after = next.elements?.find((e) => e.index === before.index)
          expect(after && progress(after.status)).toBeGreaterThanOrEqual(progress(before.status))
        }
        current = next
      })
    }
  )

  it("an element ended by an answer without its details gets them from a later answer, and stays as it ended", () => {
    // The first answer speaks for elements 1 and 2 at once (a range row): both ended, no details.
    const ended = applyObservation(arrayRecord(1, 3), {
      jobId: "1",
      elements: [{ index: 1, status: "Failed", exitCode: 2 }, { index: 2, status: "Failed", exitCode: 2 }, { index: 3, status: "Running" }]
    }, at(1))
    expect(ended.status).toBe("Running")
    // Element 1's own row comes later: it ran on node1, from 0:00:01 to 0:00:02; its status is not taken again.
    const later = applyObservation(ended, {
      jobId: "1",
      elements: [{ index: 1, status: "Done", execHost: "node1", startTime: at(1), finishTime: at(2) }]
    }, at(3))
    expect(later.elements![0]).toEqual({
      index: 1,
      status: "Failed",
      reason: { _tag: "NonZeroExit", exitCode: 2 },
      exitCode: 2,
      execHost: "node1",
      startTime: at(1),
      finishTime: at(2)
    })
    expect(later.elements![1]).toBe(ended.elements![1])
    // Nothing new: the element is the same one (a host already known is not replaced).
    const again = applyObservation(later, { jobId: "1", elements: [{ index: 1, status: "Failed", execHost: "node2" }] }, at(4))
    expect(again.elements![0]).toBe(later.elements![0])
  })

  it("counts a stepped range's elements", () => {
    const r = applyObservation(record({ array: { start: 1, end: 5, step: 2 } }), {
      jobId: "1",
      elements: [1, 3, 5].map((index) => ({ index, status: "Done" as const }))
    }, at(1))
    expect(r.status).toBe("Done")
  })
})

describe("zombies", () => {
  it("is a zombie only past the timeout", () => {
    const r = record({ status: "Running", lastSeen: t0 })
    expect(isZombie(r, at(59), 60_000)).toBe(false)
    expect(isZombie(r, at(61), 60_000)).toBe(true)
    expect(isZombie(record({ status: "Done" }), at(1000), 60_000)).toBe(false)
  })

  it("vanish marks Failed with the Vanished reason and the zombie metadata", () => {
    const r = vanish(record({ status: "Running", lastSeen: at(3) }), at(100))
    expect(r.status).toBe("Failed")
    expect(r.reason).toEqual({ _tag: "Vanished", lastSeen: at(3) })
    expect(r.metadata["zombie"]).toBe(true)
    expect(r.finishTime).toEqual(at(100))
  })
})

describe("cancelled", () => {
  it("marks Killed with reason Cancelled, or Done when asked", () => {
    expect(cancelled(record({ status: "Running" }), at(1), false).status).toBe("Killed")
    expect(cancelled(record({ status: "Running" }), at(1), false).reason).toEqual({ _tag: "Cancelled" })
    const done = cancelled(record({ status: "Running" }), at(1), true)
    expect(done.status).toBe("Done")
    expect(done.reason).toBeUndefined()
  })

  it("ends unfinished elements and leaves finished ones", () => {
    const r = cancelled(
      record({
        status: "Running",
        array: { start: 1, end: 2 },
        elements: [{ index: 1, status: "Done", exitCode: 0 }, { index: 2, status: "Running" }]
      }),
      at(1),
      false
    )
    expect(r.elements?.map((e) => e.status)).toEqual(["Done", "Killed"])
  })

  it("leaves a job that already ended alone", () => {
    const done = record({ status: "Done" })
    expect(cancelled(done, at(1), false)).toBe(done)
  })
})

describe("array parent times", () => {
  it("takes the parent's start time from its earliest element", () => {
    const r = applyObservation(arrayRecord(1, 2), {
      jobId: "1",
      elements: [{ index: 1, status: "Running", startTime: at(7) }, { index: 2, status: "Running", startTime: at(3) }]
    }, at(10))
    expect(r.startTime).toEqual(at(3))
  })
})

describe("a cancelled job completed by what the scheduler says afterwards", () => {
  const running = record({
    status: "Running",
    startTime: at(2),
    execHost: "n1",
    array: { start: 0, end: 1 },
    elements: [
      { index: 0, status: "Done", exitCode: 0, startTime: at(2), finishTime: at(4), execHost: "n1" },
      { index: 1, status: "Running", startTime: at(3), execHost: "n2", maxMem: 1024 }
    ]
  })

  it("a running job cancelled keeps its start time, host and its elements' details, also when marked done", () => {
    for (const done of [false, true]) {
      const r = cancelled(running, at(10), done)
      expect([r.startTime, r.execHost, r.finishTime]).toEqual([at(2), "n1", at(10)])
      expect(r.elements).toEqual([
        running.elements![0],
        done
          ? { index: 1, status: "Done", startTime: at(3), execHost: "n2", maxMem: 1024 }
          : { index: 1, status: "Killed", reason: { _tag: "Cancelled" }, startTime: at(3), execHost: "n2", maxMem: 1024 }
      ])
    }
  })

  it("a later observation gives it the scheduler's host, times, memory and exit code; it stays Killed(Cancelled)", () => {
    const killed = cancelled(record({ status: "Pending" }), at(10), false)
    expect(killed.startTime).toBeUndefined()
    // What Slurm says once the cancel reached the job: CANCELLED by uid 0, or a killed process's signal.
    for (const status of ["Killed", "Failed", "Done"] as const) {
      const next = applyObservation(killed, {
        jobId: "1",
        status,
        reason: status === "Failed" ? { _tag: "Signalled", signal: "SIGTERM" } : { _tag: "Cancelled", by: "0" },
        exitCode: status === "Failed" ? 143 : undefined,
        execHost: "n1",
        startTime: at(3),
        finishTime: at(11),
        maxMem: 2048
      }, at(12))
      expect(next.status).toBe("Killed")
      expect(next.reason).toEqual({ _tag: "Cancelled" })
      expect([next.execHost, next.startTime, next.finishTime, next.maxMem, next.lastSeen]).toEqual(["n1", at(3), at(11), 2048, at(12)])
      expect(next.exitCode).toBe(status === "Failed" ? 143 : undefined)
      expect(reportsEnd(killed, { jobId: "1", status })).toBe(true)
    }
  })

  it("an array cancelled before any poll saw its elements gets each one, and only an observation of all of them ends it", () => {
    const killed = cancelled(arrayRecord(0, 3), at(10), false)
    expect(killed.elements).toBeUndefined()
    // Right after the cancel the running elements are still wound down (Slurm's COMPLETING).
    const winding: Observation = {
      jobId: "1",
      elements: [0, 1].map((index) => ({ index, status: "Running" as const, startTime: at(3), execHost: "n1" }))
    }
    const first = applyObservation(killed, winding, at(11))
    expect(first.status).toBe("Killed")
    expect(first.startTime).toEqual(at(3))
    expect(first.elements?.map((e) => [e.index, e.status, e.reason?._tag, e.execHost])).toEqual([
      [0, "Killed", "Cancelled", "n1"],
      [1, "Killed", "Cancelled", "n1"]
    ])
    expect(reportsEnd(first, winding)).toBe(false)
    const accounted: Observation = {
      jobId: "1",
      elements: [0, 1, 2, 3].map((index) => ({
        index,
        status: "Killed" as const,
        reason: { _tag: "Cancelled" as const, by: "0" },
        finishTime: at(12),
        ...(index < 2 ? { startTime: at(3), execHost: "n1" } : {})
      }))
    }
    const partly: Observation = { jobId: "1", elements: accounted.elements!.slice(0, 2) }
    expect(reportsEnd(killed, partly)).toBe(false)
    // Slurm's accounting first holds one row for the whole array: its elements are still to come.
    expect(reportsEnd(first, { jobId: "1", status: "Killed", finishTime: at(12) })).toBe(false)
    const final = applyObservation(first, accounted, at(13))
    expect(reportsEnd(first, accounted)).toBe(true)
    expect(final.status).toBe("Killed")
    expect(final.reason).toEqual({ _tag: "Cancelled" })
    expect(final.elements?.map((e) => [e.index, e.status, e.finishTime])).toEqual([0, 1, 2, 3].map((i) => [i, "Killed", at(12)]))
    expect([final.startTime, final.finishTime]).toEqual([at(3), at(12)])
    expect(final.elements?.[0]?.execHost).toBe("n1")
    // Nothing new: the same record, so nothing is written.
    expect(applyObservation(final, accounted, at(14))).toBe(final)
    expect(completeCancelled(final, accounted, at(14))).toBe(final)
  })

  it("an element the cancel recorded Killed that the scheduler says ended Done is Done; one it says failed stays Killed", () => {
    const killed = cancelled(record({ status: "Running", array: { start: 0, end: 2 }, elements: [0, 1, 2].map((index) => ({ index, status: "Running" as const })) }), at(10), false)
    const next = applyObservation(killed, {
      jobId: "1",
      elements: [
        { index: 0, status: "Done", exitCode: 0, finishTime: at(9) },
        { index: 1, status: "Failed", exitCode: 143, finishTime: at(11) },
        { index: 2, status: "Killed", reason: { _tag: "Cancelled", by: "0" }, finishTime: at(11) }
      ]
    }, at(12))
    expect(next.status).toBe("Killed")
    expect(next.elements?.map((e) => [e.status, e.reason, e.exitCode, e.finishTime])).toEqual([
      ["Done", undefined, 0, at(9)],
      ["Killed", { _tag: "Cancelled" }, 143, at(11)],
      ["Killed", { _tag: "Cancelled" }, undefined, at(11)]
    ])
  })

  it("a job that ended otherwise (Done, Failed, Vanished, Killed by the scheduler for another reason) never changes", () => {
    for (const ended of [
      record({ status: "Done" }),
      record({ status: "Failed", reason: { _tag: "NonZeroExit", exitCode: 1 } }),
      vanish(record({ status: "Running" }), at(5)),
      record({ status: "Killed", reason: { _tag: "Preempted" } })
    ]) {
      expect(applyObservation(ended, { jobId: "1", status: "Killed", execHost: "n9", finishTime: at(20) }, at(21))).toBe(ended)
    }
  })
})
