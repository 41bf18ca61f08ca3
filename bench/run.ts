/**
 * The benchmark: `npm run bench` (builds, then `node --expose-gc dist/bench/run.js`).
 *
 *   npm run bench                        every part, 1k/10k/100k tracked jobs
 *   npm run bench -- --quick             1k/10k only, fewer local jobs and runs
 *   npm run bench -- --only tick,sqlite  some parts (see --help for their names)
 *   npm run bench -- --json              one JSON document on stdout instead of the table
 *
 * Every figure of the performance goals is printed beside its floor measured in the same run
 * (JSON.parse of the same text, the in-memory store, a raw better-sqlite3 SELECT, xargs at the
 * same concurrency, `node -e 0`), with the ratio and the goal. Progress goes to stderr. Everything
 * it writes goes to a temporary directory, removed at the end.
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeTempDirs, parts } from "./parts.js"
import type { BenchDocument, Figure } from "./report.js"
import { machine, progress, renderText } from "./report.js"

interface Args {
  readonly json: boolean
  /** Also write the JSON document to this file (the table still goes to stdout). */
  readonly jsonFile: string | undefined
  readonly quick: boolean
  readonly only: ReadonlyArray<string> | undefined
}

const usage = () =>
  [
    "usage: node --expose-gc dist/bench/run.js [--quick] [--json] [--json-file PATH] [--only PART,...]",
    "",
    "  --quick  tracked-job sizes 1k and 10k only (not 100k), fewer local jobs and paired runs",
    "  --json   print one JSON document (stable keys) instead of the table",
    "  --json-file PATH  print the table and write the JSON document to PATH",
    "  --only   run only these parts, in the usual order:",
    ...parts.map((p) => `             ${p.name.padEnd(8)} ${p.about}`)
  ].join("\n")

const parseArgs = (argv: ReadonlyArray<string>): Args | string => {
  let json = false
  let jsonFile: string | undefined
  let quick = false
  let only: Array<string> | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--json") json = true
    else if (a === "--json-file" || a.startsWith("--json-file=")) {
      jsonFile = a === "--json-file" ? argv[++i] : a.slice("--json-file=".length)
      if (jsonFile === undefined || jsonFile === "") return "--json-file needs a path"
    }    else if (a === "--quick") quick = true
    else if (a === "--only" || a.startsWith("--only=")) {
      const value = a === "--only" ? argv[++i] : a.slice("--only=".length)
      if (value === undefined || value === "") return "--only needs a list of parts"
      only = value.split(",").map((s) => s.trim()).filter((s) => s !== "")
      const unknown = only.filter((name) => !parts.some((p) => p.name === name))
      if (unknown.length > 0) return `unknown part ${unknown.join(", ")}; parts: ${parts.map((p) => p.name).join(", ")}`
    } else if (a === "--help" || a === "-h") return ""
    else return `unknown option ${a}`
  }
  return { json, jsonFile, quick, only }
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === "string") {
    if (args !== "") process.stderr.write(`${args}\n\n`)
    process.stderr.write(`${usage()}\n`)
    process.exitCode = args === "" ? 0 : 2
    return
  }
  const selected = parts.filter((p) => args.only === undefined || args.only.includes(p.name))
  const root = mkdtempSync(join(tmpdir(), "cluster-api-bench-"))
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const start = machine()
  if ((globalThis as { gc?: unknown }).gc === undefined) progress("global.gc is not exposed: run node --expose-gc for the memory figure")
  const figures: Array<Figure> = []
  const problems: Array<string> = []
  try {
    const ctx = {
      tempDir: makeTempDirs(root),
      quick: args.quick,
      sizes: args.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000],
      parts: selected.map((p) => p.name)
    }
    for (const part of selected) {
      const partStart = performance.now()
      // A part that fails is reported and the others still run.
      const result = await Effect.runPromise(Effect.either(part.run(ctx)))
      if (result._tag === "Right") figures.push(...result.right)
      else {
        const e = result.left
        problems.push(`${part.name}: ${e instanceof Error ? e.message : String(e)}`)
        progress(`${part.name} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
      }
      progress(`${part.name}: ${((performance.now() - partStart) / 1000).toFixed(1)} s`)
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  const doc: BenchDocument = {
    bench: "cluster-api",
    schema: 1,
    node: start.node,
    cpus: start.cpus,
    cpuModel: start.cpuModel,
    loadAverage: { start: start.load, end: machine().load },
    quick: args.quick,
    parts: selected.map((p) => p.name),
    startedAt,
    seconds: (performance.now() - started) / 1000,
    figures,
    problems
  }
  if (args.jsonFile !== undefined) writeFileSync(args.jsonFile, `${JSON.stringify(doc, null, 2)}\n`)
  process.stdout.write(`${args.json ? JSON.stringify(doc, null, 2) : renderText(doc)}\n`)
  if (problems.length > 0) process.exitCode = 1
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exitCode = 1
})
