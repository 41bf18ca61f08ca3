/**
 * The status parsers' fast paths give exactly what the general readers give: LSF's and Slurm's
 * `parseStatus` against grouping the rows `parseRows`/`parseSqueueRows` read, for generated
 * answers (same values, same keys, same order); times read by hand against `new Date(…)` across a
 * year's end, a leap day and both DST changes; no two observations share a Date; `groupRows`
 * against the plain grouping it replaced (`referenceGroupRows` below).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import type { ElementObservation, Observation } from "../src/Domain.js"
import { observationProblem } from "../src/internal/transition.js"
import type { ObservedRow } from "../src/schedulers/Observed.js"
import { groupRows, parseMonthNameTime } from "../src/schedulers/Observed.js"
import * as Lsf from "../src/schedulers/lsf/status.js"
import * as Slurm from "../src/schedulers/slurm/status.js"
import { parseMemory } from "../src/Units.js"

/** Values and key order both: what a reader of the observations, or of their JSON, would see. */
const expectSame = (actual: Either.Either<ReadonlyArray<Observation>, string>, expected: typeof actual) => {
  expect(actual).toStrictEqual(expected)
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected))
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n: number) => String(n).padStart(2, "0")
const lsfTime = (y: number, mo: number, d: number, h: number, mi: number, s: number) =>
  `${months[mo]} ${String(d).padStart(2, " ")} ${pad2(h)}:${pad2(mi)}:${pad2(s)} ${y}`
const isoTime = (y: number, mo: number, d: number, h: number, mi: number, s: number) =>
  `${y}-${pad2(mo + 1)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}`

describe("times read by hand", () => {
  // A zone with DST, so the gap (02:30 on 8 March 2026 does not exist) and the fold (01:30 on
  // 1 November 2026 happens twice) are read here as `new Date(…)` reads them.
  let zone: string | undefined
  beforeAll(() => {
    zone = process.env.TZ
    process.env.TZ = "America/New_York"
  })
  afterAll(() => {
    if (zone === undefined) delete process.env.TZ
    else process.env.TZ = zone
  })

  const cases: ReadonlyArray<readonly [number, number, number, number, number, number]> = [
    [2025, 11, 31, 23, 59, 59],
    [2026, 0, 1, 0, 0, 0],
    [2024, 1, 29, 12, 0, 0],
    [2026, 1, 29, 12, 0, 0], // no 29 February in 2026: Date rolls it to 1 March, as before
    [2026, 2, 8, 1, 59, 59],
    [2026, 2, 8, 2, 30, 0], // in the spring gap
    [2026, 2, 8, 3, 0, 0],
    [2026, 10, 1, 1, 30, 0], // in the autumn fold
    [2026, 10, 1, 2, 0, 0],
    [2026, 10, 5, 9, 7, 3]
  ]

  it("LSF, SGE/PBS and Slurm times are the Date new Date(…) makes of their parts", () => {
    expect(process.env.TZ).toBe("America/New_York")
    for (const [y, mo, d, h, mi, s] of cases) {
      const expected = new Date(y, mo, d, h, mi, s)
      expect(Lsf.parseTime(lsfTime(y, mo, d, h, mi, s))).toEqual(expected)
      expect(Lsf.parseTime(`${lsfTime(y, mo, d, h, mi, s)} L`)).toEqual(expected)
      expect(parseMonthNameTime(lsfTime(y, mo, d, h, mi, s))).toEqual(expected)
      expect(parseMonthNameTime(`Sat ${lsfTime(y, mo, d, h, mi, s)}`)).toEqual(expected)
      expect(Slurm.parseTime(isoTime(y, mo, d, h, mi, s))).toEqual(expected)
    }
  })

  it("texts the hand readers do not take are read as before", () => {
    expect(Lsf.parseTime("jan  5 10:00:00 2024")).toEqual(new Date(2024, 0, 5, 10, 0, 0))
    expect(Lsf.parseTime(" Jan\t5 10:00:00 2024 ")).toEqual(new Date(2024, 0, 5, 10, 0, 0))
    expect(Lsf.parseTime("Jan  5 10:00:00 2024L")).toBeUndefined()
    expect(Lsf.parseTime("Jan  5 10:00:00 20245")).toBeUndefined()
    expect(Lsf.parseTime("Jan 123 10:00:00 2024")).toBeUndefined()
    expect(Lsf.parseTime("Jan  5 10:0:00 2024")).toBeUndefined()
    expect(parseMonthNameTime("Jan  5 10:00:00 2024 L")).toBeUndefined()
    expect(Slurm.parseTime(" 2026-11-21T11:58:48 ")).toEqual(new Date(2026, 10, 21, 11, 58, 48))
    expect(Slurm.parseTime("2026-11-21 11:58:48")).toBeUndefined()
    expect(Slurm.parseTime("2026-1-21T11:58:48")).toBeUndefined()
  })
})

describe("memory read by hand", () => {
  /** LSF's memory as it was read before, by regular expression alone. */
  const reference = (text: string): number | undefined => {
    const t = Lsf.field(text)
    const m = t === undefined ? null : /^(\d+(?:\.\d+)?)\s*([KMGTP])(?:bytes|i?B)?$/i.exec(t)
    if (m === null) return undefined
    return Either.getOrUndefined(parseMemory(`${m[1]}${m[2]}`))
  }

  it.prop(
    "parseLsfMemory reads every text as the regular expression did",
    [
      FastCheck.tuple(
        FastCheck.constantFrom("0", "1", "512", "1.5", "007", "999999999999999", "9999999999999999", "", "x"),
        FastCheck.constantFrom("", " ", "  ", "\t"),
        FastCheck.constantFrom("K", "M", "G", "T", "P", "k", "m", "g", "X", "B", ""),
        FastCheck.constantFrom("", "bytes", "BYTES", "Bytes", "B", "b", "iB", "IB", "ib", "byte", "bytess", "i", " ")
      ).map((parts) => parts.join(""))
    ],
    ([text]) => {
      expect(Lsf.parseLsfMemory(text)).toBe(reference(text))
    },
    { fastCheck: { numRuns: 2000 } }
  )
})

describe("observations own their dates", () => {
  it("jobs that share a submit time get equal Dates, not the same Date", () => {
    const time = "Nov  5 10:00:00 2026 L"
    const record = (id: string) => ({ JOBID: id, STAT: "RUN", SUBMIT_TIME: time, START_TIME: time, FINISH_TIME: "-" })
    const read = Either.getOrThrow(Lsf.parseStatus(JSON.stringify({ RECORDS: [record("1"), record("2"), record("3")] })))
    const dates = read.flatMap((o) => [o.submitTime, o.startTime])
    expect(dates).toHaveLength(6)
    for (const d of dates) expect(d).toEqual(new Date(2026, 10, 5, 10, 0, 0))
    expect(new Set(dates).size).toBe(6)

    const line = (id: string) => `${id}|RUNNING|None|vm|2026-11-05T10:00:00|2026-11-05T10:00:00|capi-x`
    const lines = Either.getOrThrow(Slurm.parseStatus([line("1"), line("2")].join("\n")))
    expect(new Set(lines.flatMap((o) => [o.submitTime, o.startTime])).size).toBe(4)
  })
})

// ---------------------------------------------------------------------------------------------
// Generated answers: the one-pass parsers against the row readers and groupRows
// ---------------------------------------------------------------------------------------------

const time = FastCheck.oneof(
  FastCheck.constantFrom("-", "", "Jan  5 10:00:00 2024", "Feb  8 10:31:17 2026 L", "2024/01/05-10:00:00", "soon"),
  FastCheck.tuple(
    FastCheck.integer({ min: 1999, max: 2030 }),
    FastCheck.integer({ min: 0, max: 11 }),
    FastCheck.integer({ min: 1, max: 31 }),
    FastCheck.integer({ min: 0, max: 23 })
  ).map(([y, mo, d, h]) => `${lsfTime(y, mo, d, h, 30, 0)} L`)
)

const lsfRecord = FastCheck.record(
  {
    JOBID: FastCheck.oneof(
      FastCheck.constantFrom("100", "101", "102", "100[1]", "100[2]", "101[3]", " 102 ", "x7", "7[x]", "100[99999999999]"),
      FastCheck.integer({ min: 1, max: 5 }).map(String)
    ),
    JOB_NAME: FastCheck.constantFrom("-", "", "capi-a", "capi-b", "capi-arr[2]", "capi-arr[1-10]%2", "capi-x[3]"),
    STAT: FastCheck.constantFrom("RUN", "PEND", "DONE", "EXIT", "ZOMBI", "UNKWN", "PSUSP", "WHAT", ""),
    EXIT_CODE: FastCheck.constantFrom("-", "", "0", "1", "137", "300", "x", 2),
    EXIT_REASON: FastCheck.constantFrom("-", "TERM_MEMLIMIT: job killed after reaching LSF memory usage limit", "TERM_OWNER"),
    EXEC_HOST: FastCheck.constantFrom("-", "node01", "4*node02", " node03 "),
    MAX_MEM: FastCheck.constantFrom("-", "512 MB", "12 Mbytes", "1.5 Gbytes", "0 Mbytes", "3G", "7 kbytes", "9 XB", "2 GiB"),
    SUBMIT_TIME: time,
    START_TIME: time,
    FINISH_TIME: time,
    ERROR: FastCheck.constantFrom("Job <9> is not found", "-")
  },
  { requiredKeys: ["JOBID", "STAT"] }
)

const slurmLine = FastCheck.tuple(
  FastCheck.oneof(
    FastCheck.constantFrom("5", "6", "5_1", "5_2", "5_[1-4%2]", "5_[3-9]", "6_[2,4-5]", "7_[1-2]", "x", "8_[5-2]"),
    FastCheck.integer({ min: 1, max: 9 }).map(String)
  ),
  FastCheck.constantFrom("RUNNING", "PENDING", "CANCELLED by 1001", "CANCELLED+", "R", "PD", "TIMEOUT", "BOGUS"),
  FastCheck.constantFrom("", "node01", "(null)", "N/A"),
  FastCheck.constantFrom("2026-11-21T12:51:36", "2026-11-21T12:51:37", "N/A", "Unknown", "2026-02-30T25:00:00"),
  FastCheck.constantFrom("", "capi-a", "capi-b", "with|pipe")
).map(([id, state, nodes, t, name]) => `${id}|${state}|None|${nodes}|${t}|${t}|${name}`)

describe("one-pass parsers read what the row readers read", () => {
  it.prop(
    "LSF: parseStatus is groupRows of parseRows",
    [FastCheck.array(lsfRecord, { maxLength: 12 })],
    ([records]) => {
      const text = JSON.stringify({ COMMAND: "bjobs", JOBS: records.length, RECORDS: records }, null, 2)
      expectSame(Lsf.parseStatus(text), Either.map(Lsf.parseRows(text), (rows) => groupRows(rows.map(Lsf.observed))))
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "Slurm: parseStatus is collect of parseSqueueRows",
    [FastCheck.array(FastCheck.oneof(slurmLine, FastCheck.constantFrom("", "   ", "garbage", "9|RUNNING")), { maxLength: 12 })],
    ([lines]) => {
      const text = lines.join("\n")
      expectSame(Slurm.parseStatus(text), Either.map(Slurm.parseSqueueRows(text), Slurm.collect))
    },
    { fastCheck: { numRuns: 400 } }
  )
})

// ---------------------------------------------------------------------------------------------
// groupRows against the grouping it replaced, which copied every row: same observations
// ---------------------------------------------------------------------------------------------

const indexProblem = (index: number): string | undefined =>
  Number.isSafeInteger(index) && index >= 0 ? undefined : `array index ${index} is not a whole number`

/** groupRows as it was written before it kept plain observations uncopied (the reference). */
const referenceGroupRows = (rows: ReadonlyArray<ObservedRow>): ReadonlyArray<Observation> => {
  const jobs = new Map<string, Observation>()
  const elements = new Map<string, Array<ElementObservation>>()
  const names = new Map<string, string>()
  const unreadable = new Map<string, string>()
  for (const { indices, jobId, name, obs, unreadable: problem } of rows) {
    if (name !== undefined && name !== "" && !names.has(jobId)) names.set(jobId, name)
    const badIndex = indices?.find((i) => indexProblem(i) !== undefined)
    const found = problem ?? observationProblem({ jobId, ...obs }) ??
      (badIndex === undefined ? undefined : indexProblem(badIndex))
    if (found !== undefined) {
      if (!unreadable.has(jobId)) unreadable.set(jobId, found)
      continue
    }
    if (indices === undefined) {
      jobs.set(jobId, { jobId, ...obs })
      continue
    }
    const list = elements.get(jobId) ?? []
    const fields: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(obs)) if (value !== undefined) fields[key] = value
    for (const index of indices) list.push(Object.assign({ index }, fields) as unknown as ElementObservation)
    elements.set(jobId, list)
  }
  for (const [jobId, list] of elements) {
    let ordered = true
    for (let i = 1; i < list.length && ordered; i++) ordered = list[i - 1]!.index < list[i]!.index
    const byIndex = new Map<number, ElementObservation>()
    for (const e of list) byIndex.set(e.index, e)
    jobs.set(jobId, { jobId, elements: ordered ? list : Array.from(byIndex.values()).sort((a, b) => a.index - b.index) })
  }
  for (const [jobId, problem] of unreadable) jobs.set(jobId, { jobId, unreadable: problem })
  return Array.from(jobs.values(), (o) => {
    const name = names.get(o.jobId)
    return name === undefined ? o : { ...o, name }
  })
}

const observedRow: FastCheck.Arbitrary<ObservedRow> = FastCheck.record(
  {
    jobId: FastCheck.constantFrom("1", "2", "3"),
    indices: FastCheck.option(FastCheck.array(FastCheck.constantFrom(0, 1, 2, 5, -1, 1.5), { maxLength: 3 }), {
      nil: undefined
    }),
    name: FastCheck.constantFrom(undefined, "", "a", "b"),
    obs: FastCheck.record(
      {
        status: FastCheck.constantFrom("Pending" as const, "Running" as const, "Done" as const),
        exitCode: FastCheck.constantFrom(undefined, 0, 3, 300),
        execHost: FastCheck.constantFrom(undefined, "node01"),
        submitTime: FastCheck.constantFrom(undefined, new Date(2026, 0, 1), new Date(Number.NaN))
      },
      { requiredKeys: ["status"] }
    ),
    unreadable: FastCheck.constantFrom(undefined, undefined, undefined, "garbled")
  },
  { requiredKeys: ["jobId", "obs"] }
)

describe("groupRows", () => {
  it.prop(
    "gives what the grouping that copied every row gave: values, keys and order",
    [FastCheck.array(observedRow, { maxLength: 10 })],
    ([rows]) => {
      const actual = groupRows(rows)
      const expected = referenceGroupRows(rows)
      expect(actual).toStrictEqual(expected)
      expect(JSON.stringify(actual)).toBe(JSON.stringify(expected))
    },
    { fastCheck: { numRuns: 1000 } }
  )
})
