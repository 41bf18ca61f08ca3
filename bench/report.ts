/**
 * The benchmark's figures and how they are printed: one `Figure` per measurement, each a value
 * beside the floor it is judged against (measured in the same run), the ratio between them, and the
 * issue's goal. Printed as a table, or as one JSON document (`--json`) whose keys do not change.
 */
import { availableParallelism, cpus, loadavg } from "node:os"

/** Whether a smaller or a larger value is better (a time, or a throughput). */
export type Better = "lower" | "higher"

export interface Figure {
  /** Stable dotted name, e.g. `tick.lsf.fresh`. */
  readonly name: string
  /** Jobs (or records, processes) the figure is about; null when it has no size. */
  readonly size: number | null
  readonly value: number
  readonly unit: string
  /** What the value is judged against, measured in the same run (null: none). */
  readonly floorName: string | null
  readonly floorValue: number | null
  /** value / floorValue, or null without a floor. */
  readonly ratio: number | null
  /** The goal for the ratio (null: no ratio goal). */
  readonly goalRatio: number | null
  /** The goal for the value itself, where it states one (null: none). */
  readonly goalValue: number | null
  readonly better: Better
  /** Whether the goal is met; null when the figure has no goal. */
  readonly pass: boolean | null
  /** How many measurements the value is the median of (null: one, or not a median). */
  readonly runs: number | null
  /** How the figure was made, where the name does not say it. */
  readonly note: string | null
}

export interface FigureInput {
  readonly name: string
  readonly size?: number | null | undefined
  readonly value: number
  readonly unit: string
  readonly floor?: { readonly name: string; readonly value: number } | undefined
  /** The ratio when it is not value / floor (e.g. the median of paired ratios). */
  readonly ratio?: number | undefined
  readonly goalRatio?: number | undefined
  readonly goalValue?: number | undefined
  readonly better?: Better | undefined
  readonly runs?: number | undefined
  readonly note?: string | undefined
}

const meets = (x: number, goal: number, better: Better) => better === "lower" ? x <= goal : x >= goal

/** A figure, its ratio and verdict computed. A value that could not be measured (NaN) fails its goal. */
export const figure = (input: FigureInput): Figure => {
  const better = input.better ?? "lower"
  const floorValue = input.floor?.value ?? null
  const ratio = input.ratio ?? (floorValue === null || floorValue === 0 ? null : input.value / floorValue)
  const goalRatio = input.goalRatio ?? null
  const goalValue = input.goalValue ?? null
  const checks: Array<boolean> = []
  if (goalRatio !== null) checks.push(ratio !== null && Number.isFinite(ratio) && meets(ratio, goalRatio, better))
  if (goalValue !== null) checks.push(Number.isFinite(input.value) && meets(input.value, goalValue, better))
  return {
    name: input.name,
    size: input.size ?? null,
    value: input.value,
    unit: input.unit,
    floorName: input.floor?.name ?? null,
    floorValue,
    ratio,
    goalRatio,
    goalValue,
    better,
    pass: checks.length === 0 ? null : checks.every((c) => c),
    runs: input.runs ?? null,
    note: input.note ?? null
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

export const median = (xs: ReadonlyArray<number>): number => percentile(xs, 0.5)

/** The nearest-rank percentile (`p` in 0..1); NaN for no values. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  if (p === 0.5 && s.length % 2 === 0) return ((s[s.length / 2 - 1] ?? NaN) + (s[s.length / 2] ?? NaN)) / 2
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN
}

/** Heap used after full collections, or undefined when `gc` is not exposed (run node --expose-gc). */
export const settledHeap = (): number | undefined => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return undefined
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

export const collectGarbage = (): void => (globalThis as { gc?: () => void }).gc?.()

export const progress = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** A number with about three significant digits (whole numbers from 100 on). */
export const num = (x: number | null): string => {
  if (x === null) return ""
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  return a >= 100 ? Math.round(x).toLocaleString("en-US") : a >= 10 ? x.toFixed(1) : a >= 0.1 ? x.toFixed(2) : x.toFixed(4)
}

const goalText = (f: Figure): string => {
  const op = f.better === "lower" ? "≤" : "≥"
  const parts: Array<string> = []
  if (f.goalRatio !== null) parts.push(`${op} ${num(f.goalRatio)}×`)
  if (f.goalValue !== null) parts.push(`${op} ${num(f.goalValue)} ${f.unit}`)
  return parts.join(", ")
}

const verdict = (f: Figure): string => f.pass === null ? "" : f.pass ? "pass" : "FAIL"

/** Everything measured, one row per figure, then the notes. */
export const renderText = (doc: BenchDocument): string => {
  const rows = doc.figures.map((f) => [
    f.name,
    f.size === null ? "" : f.size.toLocaleString("en-US"),
    f.runs === null ? "" : String(f.runs),
    `${num(f.value)} ${f.unit}`,
    f.floorName === null ? "" : `${f.floorName} ${num(f.floorValue)}`,
    f.ratio === null ? "" : `${num(f.ratio)}×`,
    goalText(f),
    verdict(f)
  ])
  // One note per figure name (the same at every size).
  const noted = new Map<string, string>()
  for (const f of doc.figures) if (f.note !== null && !noted.has(f.name)) noted.set(f.name, f.note)
  const uniqueNotes = Array.from(noted, ([name, note]) => `- ${name}: ${note}`)
  return [
    `cluster-api benchmark — node ${doc.node}, ${doc.cpus} CPUs (${doc.cpuModel}), load average ${num(doc.loadAverage.start)} at start, ${
      num(doc.loadAverage.end)
    } at end; ${doc.seconds.toFixed(0)} s${doc.quick ? " (--quick)" : ""}; parts: ${doc.parts.join(", ")}`,
    "",
    table(["figure", "size", "runs", "value (median)", "floor (same run)", "ratio", "goal", ""], rows),
    "",
    `${doc.figures.filter((f) => f.pass === true).length} pass, ${doc.figures.filter((f) => f.pass === false).length} fail, ${
      doc.figures.filter((f) => f.pass === null).length
    } without a goal`,
    ...(uniqueNotes.length > 0 ? ["", "Notes", ...uniqueNotes] : []),
    ...(doc.problems.length > 0 ? ["", "Problems", ...doc.problems.map((p) => `- ${p}`)] : [])
  ].join("\n")
}

/** The `--json` document. */
export interface BenchDocument {
  readonly bench: "cluster-api"
  /** Changes only when a key changes meaning. */
  readonly schema: 1
  readonly node: string
  readonly cpus: number
  readonly cpuModel: string
  readonly loadAverage: { readonly start: number; readonly end: number }
  readonly quick: boolean
  readonly parts: ReadonlyArray<string>
  readonly startedAt: string
  readonly seconds: number
  readonly figures: ReadonlyArray<Figure>
  /** Parts that could not be measured, and why. */
  readonly problems: ReadonlyArray<string>
}

export const machine = () => ({
  node: process.version,
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? "unknown",
  load: loadavg()[0] ?? NaN
})
