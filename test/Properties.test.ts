/**
 * Property tests: random input never produces a defect (only success or a typed error), and the
 * transition function keeps its invariants for arbitrary records and observations.
 */
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Arbitrary, Cause, Effect, Exit, FastCheck, Schema } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ClusterConfig, loadConfig } from "../src/Config.js"
import { JobRecord, JobSpec, JobStatus } from "../src/Domain.js"
import { prepareJob } from "../src/internal/prepare.js"
import { aggregateArray, applyObservation, isCancelled } from "../src/internal/transition.js"
import { parserCases } from "./support/Parsers.js"
import { removeDir } from "./support/TempDirs.js"
import { parseWhen } from "../src/internal/queries/when.js"

/** True when the exit is a success or a failure made only of typed errors (no defect, no interrupt). */
const typedOnly = <A, E>(exit: Exit.Exit<A, E>): boolean =>
  Exit.isSuccess(exit) || (Cause.isFailType(exit.cause) || Cause.failures(exit.cause).length > 0) &&
    Cause.defects(exit.cause).length === 0

const yamlish = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.fullUnicodeString(),
  // Structured documents with known and unknown keys and values of every type.
  FastCheck.dictionary(
    FastCheck.constantFrom(
      "executor",
      "poll_interval",
      "memory",
      "walltime",
      "cpus",
      "job_name_prefix",
      "profiles",
      "script_prologue",
      "max_local_jobs",
      "nonsense"
    ),
    FastCheck.jsonValue()
  ).map((doc) => JSON.stringify(doc))
)

describe("random input", () => {
  const dir = mkdtempSync(join(tmpdir(), "capi-prop-"))
  const file = join(dir, "config.yaml")

  it.effect.prop("loadConfig on any file content gives a config or a typed error, never a defect", [yamlish], ([text]) =>
    Effect.gen(function*() {
      writeFileSync(file, text)
      const exit = yield* Effect.exit(loadConfig({ configPath: file }))
      expect(typedOnly(exit)).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)), { fastCheck: { numRuns: 300 } })

  it.effect.prop("loadConfig with any profile name gives a config or a typed error", [FastCheck.string()], ([profile]) =>
    Effect.gen(function*() {
      writeFileSync(file, "profiles:\n  dev:\n    poll_interval: 2\n")
      const exit = yield* Effect.exit(loadConfig({ configPath: file, profile }))
      expect(typedOnly(exit)).toBe(true)
      if (profile.trim() !== "" && profile !== "dev") expect(Exit.isFailure(exit)).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.prop("prepareJob on any job spec gives a prepared job or a typed error", [Arbitrary.make(JobSpec)], ([spec]) => {
    const exit = Effect.runSyncExit(prepareJob(spec, ClusterConfig.make().options))
    expect(typedOnly(exit)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.name).toMatch(/^[\w.-]+$/)
  }, { fastCheck: { numRuns: 300 } })

  it("an env name __proto__ is refused naming the field (it would be lost, as a prototype, before the script is written)", () => {
    const env = JSON.parse(`{"__proto__": "x", "RUN": "1"}`) as Record<string, string>
    const exit = Effect.runSyncExit(prepareJob({ name: "e", command: "true", env }, ClusterConfig.make().options))
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as { _tag?: string; field?: string } : undefined
    expect(error?._tag).toBe("InvalidJobSpec")
    expect(String(error?.field)).toMatch(/^env/)
  })

  it("a metadata key __proto__ is refused naming the field (it would be lost, as a prototype, on the way through the store)", () => {
    const metadata = JSON.parse(`{"__proto__": [], "run": 1}`) as Record<string, unknown>
    const exit = Effect.runSyncExit(prepareJob({ name: "m", command: "true", metadata }, ClusterConfig.make().options))
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as { _tag?: string; field?: string } : undefined
    expect([error?._tag, error?.field]).toEqual(["InvalidJobSpec", "metadata"])
    // A record holding one (written by hand or by an older version) reads back without it, never with a prototype.
    const record = { jobId: "1", name: "m", command: "", executor: "local", status: "Running", lastSeen: new Date(0).toISOString(), metadata }
    const read = Schema.decodeUnknownSync(JobRecord)(record)
    expect(Object.keys(read.metadata)).toEqual(["run"])
    expect(Object.getPrototypeOf(read.metadata)).toBe(Object.prototype)
  })

  afterAll(() => removeDir(dir))
})

const observation = FastCheck.record({
  status: FastCheck.option(Arbitrary.make(JobStatus), { nil: undefined }),
  exitCode: FastCheck.option(FastCheck.integer({ min: -1, max: 255 }), { nil: undefined })
})

describe("transitions", () => {
  it.prop(
    "a terminal record keeps its status and reason (only a cancelled one takes details), and a record always keeps its id",
    [Arbitrary.make(JobRecord), observation],
    ([record, obs]) => {
      const next = applyObservation(record, { jobId: record.jobId, ...obs }, new Date(0))
      expect(next.jobId).toBe(record.jobId)
      if (["Done", "Failed", "Killed"].includes(record.status)) {
        expect([next.status, next.reason]).toEqual([record.status, record.reason])
        if (!isCancelled(record)) expect(next).toBe(record)
      }
      expect(Schema.is(JobRecord)(next)).toBe(true)
    },
    { fastCheck: { numRuns: 300 } }
  )

  const wild = FastCheck.oneof(FastCheck.double(), FastCheck.integer(), FastCheck.constantFrom(1e20, Infinity, NaN, -1, 256))
  const anyDate = FastCheck.oneof(FastCheck.date(), FastCheck.constant(new Date(NaN)))
  it.prop(
    "whatever numbers and dates an observation holds, the record stays one the store can write and read",
    [
      Arbitrary.make(JobRecord),
      FastCheck.record({
        status: Arbitrary.make(JobStatus),
        exitCode: FastCheck.option(wild, { nil: undefined }),
        maxMem: FastCheck.option(wild, { nil: undefined }),
        startTime: FastCheck.option(anyDate, { nil: undefined }),
        elements: FastCheck.option(
          FastCheck.array(FastCheck.record({ index: wild, status: Arbitrary.make(JobStatus), exitCode: FastCheck.option(wild, { nil: undefined }) }), { maxLength: 3 }),
          { nil: undefined }
        )
      })
    ],
    ([record, obs]) => {
      const next = applyObservation(record, { jobId: record.jobId, ...obs }, new Date(0))
      expect(Schema.is(JobRecord)(next)).toBe(true)
      expect(Schema.decodeUnknownSync(JobRecord)(Schema.encodeSync(JobRecord)(next))).toEqual(next)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "an array is terminal exactly when every expected element is",
    [FastCheck.array(Arbitrary.make(JobStatus), { minLength: 1, maxLength: 8 }), FastCheck.integer({ min: 1, max: 8 })],
    ([statuses, expected]) => {
      const elements = statuses.map((status, index) => ({ index, status }))
      const status = aggregateArray(expected, elements)
      const allTerminal = statuses.every((s) => s === "Done" || s === "Failed" || s === "Killed")
      const terminal = status === "Done" || status === "Failed" || status === "Killed"
      expect(terminal).toBe(allTerminal && statuses.length >= expected)
      if (terminal && statuses.includes("Failed")) expect(status).toBe("Failed")
    }
  )
})

describe("parsers: any input gives a typed error or a valid value, in bounded time", () => {
  // The slowest valid answer (a pending Slurm array at MaxArraySize's ceiling, 4,000,001
  // elements) takes a few seconds on a loaded machine; anything past this bound is a hang.
  const boundMillis = 5_000
  for (const parser of parserCases) {
    it.prop(parser.name, [parser.input], ([input]) => {
      const started = performance.now()
      const verdict = parser.run(input)
      expect(performance.now() - started).toBeLessThan(boundMillis)
      expect(verdict).not.toMatchObject({ _tag: "WrongType" })
    }, { fastCheck: { numRuns: 100 } })
  }

  it("an age too far back for a date is refused, not an Invalid Date", () => {
    for (const age of ["99999999999999999999w", "9".repeat(400) + "d", "300000000w"]) {
      const when = parseWhen(age, new Date(2026, 0, 1))
      expect(when._tag, age).toBe("Left")
    }
  })
})
