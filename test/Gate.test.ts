/**
 * The Monitor's gate, its pure part: which held jobs it judges, and what it decides for each from
 * the records of the jobs they depend on.
 */
import { describe, expect, it } from "@effect/vitest"
import { defaultOptions } from "../src/Config.js"
import type { Dependency, JobRecord, Observation } from "../src/Domain.js"
import { dependencyFailed, judge, waitingJobs } from "../src/internal/monitor/gate.js"

const at = new Date("2026-01-01T00:00:00Z")

const record = (jobId: string, status: JobRecord["status"], dependsOn?: ReadonlyArray<Dependency>): JobRecord => ({
  jobId,
  name: jobId,
  command: "true",
  executor: "sge",
  status,
  submitTime: at,
  lastSeen: at,
  metadata: {},
  ...(status === "Done" ? { exitCode: 0, finishTime: at } : {}),
  ...(status === "Failed" ? { exitCode: 1, finishTime: at, reason: { _tag: "NonZeroExit", exitCode: 1 } } : {}),
  ...(dependsOn === undefined ? {} : { dependsOn })
})

const afterok = (jobId: string): Dependency => ({ type: "afterok", jobId })
const afternotok = (jobId: string): Dependency => ({ type: "afternotok", jobId })
const afterany = (jobId: string): Dependency => ({ type: "afterany", jobId })

/** An executor that leaves afterok and afternotok to the gate, as SGE does. */
const sgeLike = { gatedDependencies: (j: JobRecord) => (j.dependsOn ?? []).filter((d) => d.type !== "afterany") }

describe("waitingJobs", () => {
  it("takes only jobs the poll reports held, not ended, with gated dependencies", () => {
    const jobs = [
      record("1", "Pending", [afterok("9")]),
      record("2", "Pending", [afterok("9")]),
      record("3", "Pending", [afterany("9")]),
      record("4", "Failed", [afterok("9")]),
      record("5", "Pending")
    ]
    const seen = new Map<string, Observation>([
      ["1", { jobId: "1", status: "Pending", held: true }],
      ["2", { jobId: "2", status: "Pending" }],
      ["3", { jobId: "3", status: "Pending", held: true }],
      ["4", { jobId: "4", status: "Pending", held: true }],
      ["5", { jobId: "5", status: "Pending", held: true }]
    ])
    expect(waitingJobs(sgeLike, jobs, seen).map((w) => w.job.jobId)).toEqual(["1"])
    expect(waitingJobs(sgeLike, jobs, seen)[0]?.dependsOn).toEqual([afterok("9")])
  })
})

describe("judge", () => {
  const records = new Map([
    ["done", record("done", "Done")],
    ["failed", record("failed", "Failed")],
    ["running", record("running", "Running")]
  ])
  const waiting = (jobId: string, dependsOn: ReadonlyArray<Dependency>) => ({ job: record(jobId, "Pending", dependsOn), dependsOn })

  it("ready when every dependency is met; never, naming the ones that cannot be; else left held", () => {
    const verdicts = judge(
      [
        waiting("a", [afterok("done")]),
        waiting("b", [afterok("failed"), afterok("done")]),
        waiting("c", [afternotok("failed")]),
        waiting("d", [afternotok("done")]),
        waiting("e", [afterok("running")]),
        waiting("f", [afterok("nowhere")]),
        waiting("g", [afterok("nowhere"), afterok("failed")])
      ],
      records,
      defaultOptions
    )
    expect(verdicts.ready).toEqual(["a", "c"])
    expect(Object.fromEntries(verdicts.never)).toEqual({ b: ["failed"], d: ["done"], g: ["failed"] })
    expect(Object.fromEntries(verdicts.unknown)).toEqual({ f: ["nowhere"] })
  })
})

describe("dependencyFailed", () => {
  it("ends the job and each element Failed(DependencyFailed), no longer held", () => {
    const o = dependencyFailed(
      { jobId: "1", status: "Pending", held: true, elements: [{ index: 1, status: "Pending" }] },
      ["9"]
    )
    const reason = { _tag: "DependencyFailed", dependencies: ["9"] }
    expect(o).toEqual({ jobId: "1", status: "Failed", held: false, reason, elements: [{ index: 1, status: "Failed", reason }] })
  })
})
