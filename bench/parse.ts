/**
 * The status parsers against their floor: `node --expose-gc dist/bench/parse.js [sizes…] [--runs N]
 * [--json]` (after `npm run build`), or `benchParse(sizes)` from the main benchmark.
 *
 * For each size it generates one scheduler answer shaped like the real ones, and the same records
 * as plain JSON, then times, in alternating order, `JSON.parse` of the floor text and the dialect's
 * `parseStatus` of its answer:
 * - LSF: a `bjobs -a -json -o "…"` answer (every field bjobs is asked for, as text, indented as
 *   `bjobs -json` prints it). The floor is `JSON.parse` of that very text: the parser calls it.
 * - Slurm: an `squeue -h -o "%i|%T|%r|%N|%V|%S|%j"` answer. The floor is `JSON.parse` of the
 *   same rows written as JSON objects of the same seven fields.
 *
 * The jobs are a mix like a busy queue's: mostly running or pending, some ended (LSF keeps them a
 * while), a fifth of them elements of arrays, a few pending ranges (Slurm). Jobs submitted together
 * share a submit time (50 to a second); start times are spread over hours.
 *
 * Figures are medians over `runs` paired runs, after two warm-up runs; `ratio` is the median of the
 * per-run ratios parse / JSON.parse, so a load that slows both sides of one run cancels out, and
 * `cpuRatio` the same in CPU time (steadier on a loaded machine).
 */
import * as Either from "effect/Either"
import { pathToFileURL } from "node:url"
import type { Observation } from "../src/Domain.js"
import * as Lsf from "../src/schedulers/lsf/status.js"
import * as Slurm from "../src/schedulers/slurm/status.js"

export type ParseDialect = "lsf" | "slurm"

export interface ParseFigure {
  readonly dialect: ParseDialect
  /** Records (LSF) or lines (Slurm) in the answer. */
  readonly records: number
  /** Observations the parser returned (an array's elements are one). */
  readonly observations: number
  /** Size of the answer, in bytes. */
  readonly bytes: number
  readonly runs: number
  /** Median time of `JSON.parse` of the floor text. */
  readonly jsonParseMs: number
  /** Median time of `parseStatus`. */
  readonly parseMs: number
  /** Median of the per-run ratios `parseStatus` / `JSON.parse`, in wall time. */
  readonly ratio: number
  /**
   * The same in CPU time of this process (GC threads included): steadier than `ratio` when other
   * programs load the machine.
   */
  readonly cpuRatio: number
}

export interface Answer {
  /** What the scheduler printed. */
  readonly text: string
  /** The floor: the same records as JSON (for LSF, the answer itself). */
  readonly floor: string
  readonly records: number
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n: number) => String(n).padStart(2, "0")

/** `Nov  5 10:00:00 2026 L`, as bjobs prints a time with LSB_DISPLAY_YEAR. */
const lsfTime = (d: Date) =>
  `${months[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${
    pad2(d.getSeconds())
  } ${d.getFullYear()} L`

/** `2026-11-05T10:00:00`, as squeue prints a time. */
const slurmTime = (d: Date) =>
  `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${
    pad2(d.getSeconds())
  }`

/** A fixed start (so every run measures the same text): 2026-11-05 08:00 local. */
const epoch = new Date(2026, 10, 5, 8, 0, 0).getTime()

/** Job `i`'s times: submitted with 49 others, started up to ~3 hours later, ended after. */
const timesOf = (i: number) => {
  const submit = epoch + Math.floor(i / 50) * 1000
  const start = submit + 60_000 + ((i * 7919) % 10_800) * 1000
  return { submit: new Date(submit), start: new Date(start), finish: new Date(start + 600_000 + (i % 97) * 1000) }
}

/** Job `i` of an answer: a plain job, or element `index` of array `arrayId` (a fifth of them). */
const idOf = (i: number, first: number) => {
  const inArray = i % 5 === 4
  return inArray ? { jobId: String(first + i - (i % 100)), index: (i % 100) + 1 } : { jobId: String(first + i) }
}

/** A `bjobs -a -json` answer about `n` records. */
export const lsfAnswer = (n: number): Answer => {
  const first = 4_000_000
  const records: Array<Record<string, string>> = []
  for (let i = 0; i < n; i++) {
    const { index, jobId } = idOf(i, first)
    const { finish, start, submit } = timesOf(i)
    const k = i % 20
    const stat = k < 12 ? "RUN" : k < 17 ? "PEND" : k < 19 ? "DONE" : "EXIT"
    const started = stat !== "PEND"
    const ended = stat === "DONE" || stat === "EXIT"
    const name = index === undefined ? `capi-step-${i}` : `capi-array-${jobId}[${index}]`
    records.push({
      JOBID: index === undefined ? jobId : `${jobId}[${index}]`,
      JOB_NAME: name,
      STAT: stat,
      EXIT_CODE: stat === "EXIT" ? String(1 + (i % 3)) : stat === "DONE" ? "0" : "-",
      EXIT_REASON: stat === "EXIT" ? (i % 2 === 0 ? "TERM_MEMLIMIT: job killed after reaching LSF memory usage limit" : "-") : "-",
      EXEC_HOST: started ? (i % 3 === 0 ? `4*node${String(i % 512).padStart(3, "0")}` : `node${String(i % 512).padStart(3, "0")}`) : "-",
      MAX_MEM: started ? `${(i % 4000) + 1} Mbytes` : "-",
      SUBMIT_TIME: lsfTime(submit),
      START_TIME: started ? lsfTime(start) : "-",
      FINISH_TIME: ended ? lsfTime(finish) : "-"
    })
  }
  const text = `${JSON.stringify({ COMMAND: "bjobs", JOBS: n, RECORDS: records }, null, 2)}\n`
  return { text, floor: text, records: n }
}

/** An `squeue -h -o "%i|%T|%r|%N|%V|%S|%j"` answer of `n` lines, and the same rows as JSON. */
export const slurmAnswer = (n: number): Answer => {
  const first = 4_000_000
  const lines: Array<string> = []
  const rows: Array<Record<string, string>> = []
  for (let i = 0; i < n; i++) {
    const { index, jobId } = idOf(i, first)
    const { start, submit } = timesOf(i)
    // One in 500 lines is an array's pending range.
    const range = i % 500 === 499
    const pending = range || i % 10 >= 7
    const row = {
      id: range ? `${jobId}_[${index ?? 1}-${(index ?? 1) + 40}%4]` : index === undefined ? jobId : `${jobId}_${index}`,
      state: pending ? "PENDING" : "RUNNING",
      reason: pending ? (range ? "JobArrayTaskLimit" : "Priority") : "None",
      nodes: pending ? "" : `node${String(i % 512).padStart(3, "0")}`,
      submit: slurmTime(submit),
      start: pending ? "N/A" : slurmTime(start),
      name: index === undefined ? `capi-step-${i}` : `capi-array-${jobId}`
    }
    rows.push(row)
    lines.push(`${row.id}|${row.state}|${row.reason}|${row.nodes}|${row.submit}|${row.start}|${row.name}`)
  }
  return { text: `${lines.join("\n")}\n`, floor: JSON.stringify(rows), records: n }
}

const parsers: Record<ParseDialect, (stdout: string) => Either.Either<ReadonlyArray<Observation>, string>> = {
  lsf: Lsf.parseStatus,
  slurm: Slurm.parseStatus
}

const answers: Record<ParseDialect, (n: number) => Answer> = { lsf: lsfAnswer, slurm: slurmAnswer }

const gc = (globalThis as { gc?: () => void }).gc

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Times `f` once, after a full collection when `gc` is exposed: wall and CPU milliseconds. */
const timed = (f: () => unknown): { readonly wall: number; readonly cpu: number } => {
  gc?.()
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const out = f()
  const wall = Number(process.hrtime.bigint() - start) / 1e6
  const used = process.cpuUsage(cpu)
  if (out === undefined) throw new Error("nothing parsed")
  return { wall, cpu: (used.user + used.system) / 1e3 }
}

/** One dialect at one size: `runs` paired runs after two warm-up runs. */
export const benchParseOne = (dialect: ParseDialect, records: number, runs = 7): ParseFigure => {
  const answer = answers[dialect](records)
  const parse = parsers[dialect]
  const result = parse(answer.text)
  if (Either.isLeft(result)) throw new Error(`${dialect} answer of ${records} records unreadable: ${result.left}`)
  const observations = result.right.length
  const floorMs: Array<number> = []
  const parseMs: Array<number> = []
  const ratios: Array<number> = []
  const cpuRatios: Array<number> = []
  for (let run = -2; run < runs; run++) {
    // Alternate which side goes first, so neither always runs right after the other's garbage.
    let f: { readonly wall: number; readonly cpu: number }
    let p: { readonly wall: number; readonly cpu: number }
    if (run % 2 === 0) {
      f = timed(() => JSON.parse(answer.floor))
      p = timed(() => parse(answer.text))
    } else {
      p = timed(() => parse(answer.text))
      f = timed(() => JSON.parse(answer.floor))
    }
    if (run < 0) continue
    floorMs.push(f.wall)
    parseMs.push(p.wall)
    ratios.push(p.wall / f.wall)
    cpuRatios.push(p.cpu / f.cpu)
  }
  return {
    dialect,
    records,
    observations,
    bytes: Buffer.byteLength(answer.text),
    runs,
    jsonParseMs: median(floorMs),
    parseMs: median(parseMs),
    ratio: median(ratios),
    cpuRatio: median(cpuRatios)
  }
}

/** Both dialects at each size (10,000 and 100,000 records unless told). */
export const benchParse = (
  sizes: ReadonlyArray<number> = [10_000, 100_000],
  runs = 7
): ReadonlyArray<ParseFigure> =>
  sizes.flatMap((n) => (["lsf", "slurm"] as const).map((dialect) => benchParseOne(dialect, n, runs)))

/** The figures as a table. */
export const formatParse = (figures: ReadonlyArray<ParseFigure>): string => {
  const header = ["dialect", "records", "MB", "JSON.parse ms", "parseStatus ms", "ratio", "CPU ratio"]
  const rows = figures.map((f) => [
    f.dialect,
    String(f.records),
    (f.bytes / 1e6).toFixed(1),
    f.jsonParseMs.toFixed(1),
    f.parseMs.toFixed(1),
    `${f.ratio.toFixed(2)}x`,
    `${f.cpuRatio.toFixed(2)}x`
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

const main = () => {
  const args = process.argv.slice(2)
  const runsAt = args.indexOf("--runs")
  const runs = runsAt === -1 ? 7 : Number(args[runsAt + 1])
  const sizes = args.filter((a, i) => /^\d+$/.test(a) && (runsAt === -1 || i !== runsAt + 1)).map(Number)
  if (gc === undefined) process.stderr.write("[bench] global.gc is not exposed (run node --expose-gc): timings are noisier\n")
  const figures = benchParse(sizes.length === 0 ? undefined : sizes, runs)
  process.stdout.write(args.includes("--json") ? `${JSON.stringify(figures, null, 2)}\n` : `${formatParse(figures)}\n`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main()
