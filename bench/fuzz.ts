/**
 * The parser fuzz: `npm run bench:fuzz` (builds, then `node dist/bench/fuzz.js [runs] [seed]`).
 *
 * Every parser of scheduler output and of what users type (test/support/Parsers.ts) is given
 * `runs` generated inputs (10,000 by default): any strings, and near-valid ones (huge, negative
 * or fractional array indices, ranges with huge ends, steps of 0, JSON with wrong types, XML with
 * wrong shapes). Each parser runs in a worker thread that says when it starts and ends each call;
 * a call that has not ended after `hangMillis` counts as a hang (the worker is ended and a new one
 * goes on with the next input). Prints, per parser: inputs, errors, valid values, hangs, wrong
 * types (with the first few), the slowest call, and exits non-zero if there is any hang or wrong
 * type.
 */
import { FastCheck } from "effect"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { parserCases } from "../test/support/Parsers.js"

/**
 * A call past this is a hang. The slowest valid answer, a pending Slurm array at MaxArraySize's
 * ceiling (4,000,001 elements), takes about 3 s on a loaded 2-core machine; the rest take
 * milliseconds (the "slowest" column shows it).
 */
const hangMillis = 5_000

interface Job {
  readonly parser: number
  readonly from: number
  readonly runs: number
  readonly seed: number
}

type Message =
  | { readonly _tag: "Start"; readonly index: number }
  | {
    readonly _tag: "Done"
    readonly index: number
    readonly millis: number
    readonly verdict: "Error" | "Valid" | "WrongType"
    readonly problem?: string
    readonly input?: string
  }
  | { readonly _tag: "Thrown"; readonly index: number; readonly message: string; readonly input: string }
  | { readonly _tag: "Finished" }

/** The inputs of one parser, the same for every worker given the same seed. */
const inputsOf = (parser: number, runs: number, seed: number): ReadonlyArray<string> =>
  FastCheck.sample(parserCases[parser]!.input, { seed: seed + parser, numRuns: runs })

const work = () => {
  const job = workerData as Job
  const parse = parserCases[job.parser]!
  const inputs = inputsOf(job.parser, job.runs, job.seed)
  const post = (m: Message) => parentPort!.postMessage(m)
  for (let index = job.from; index < inputs.length; index++) {
    const input = inputs[index]!
    post({ _tag: "Start", index })
    try {
      const started = performance.now()
      const verdict = parse.run(input)
      const millis = performance.now() - started
      post(verdict._tag === "WrongType"
        ? { _tag: "Done", index, millis, verdict: verdict._tag, problem: verdict.problem, input }
        : { _tag: "Done", index, millis, verdict: verdict._tag })
    } catch (e) {
      // A parser that throws is neither a typed error nor a value: counted as a wrong type.
      post({ _tag: "Thrown", index, message: e instanceof Error ? e.message : String(e), input })
    }
  }
  post({ _tag: "Finished" })
}

interface Tally {
  inputs: number
  errors: number
  valid: number
  hangs: number
  wrongTypes: number
  slowestMillis: number
  examples: Array<string>
}

/** Runs one parser over its inputs in workers, restarting after each hang. */
const fuzzOne = (parser: number, runs: number, seed: number): Promise<Tally> =>
  new Promise((resolve) => {
    const tally: Tally = { inputs: 0, errors: 0, valid: 0, hangs: 0, wrongTypes: 0, slowestMillis: 0, examples: [] }
    const example = (text: string) => {
      if (tally.examples.length < 3) tally.examples.push(text.length > 200 ? `${text.slice(0, 200)}…` : text)
    }
    const start = (from: number) => {
      if (from >= runs) return resolve(tally)
      const worker = new Worker(new URL(import.meta.url), { workerData: { parser, from, runs, seed } satisfies Job })
      let current = from
      let timer: NodeJS.Timeout | undefined
      const arm = () => {
        clearTimeout(timer)
        timer = setTimeout(() => {
          tally.inputs++
          tally.hangs++
          example(`hang on input #${current}: ${JSON.stringify(inputsOf(parser, runs, seed)[current])}`)
          void worker.terminate().then(() => start(current + 1))
        }, hangMillis)
      }
      worker.on("message", (m: Message) => {
        switch (m._tag) {
          case "Start":
            current = m.index
            arm()
            return
          case "Done":
            clearTimeout(timer)
            tally.inputs++
            tally.slowestMillis = Math.max(tally.slowestMillis, m.millis)
            if (m.verdict === "Error") tally.errors++
            else if (m.verdict === "Valid") tally.valid++
            else {
              tally.wrongTypes++
              example(`${m.problem} for ${JSON.stringify(m.input)}`)
            }
            return
          case "Thrown":
            clearTimeout(timer)
            tally.inputs++
            tally.wrongTypes++
            example(`threw ${m.message} for ${JSON.stringify(m.input)}`)
            return
          case "Finished":
            clearTimeout(timer)
            void worker.terminate().then(() => resolve(tally))
        }
      })
      worker.on("error", (e) => {
        // A worker that dies (out of memory) on an input: counted as a hang on it.
        clearTimeout(timer)
        tally.inputs++
        tally.hangs++
        example(`worker died on input #${current}: ${e.message}`)
        start(current + 1)
      })
    }
    start(0)
  })

const main = async () => {
  const runs = Number(process.argv[2] ?? 10_000)
  const seed = Number(process.argv[3] ?? 42)
  const header = ["parser", "inputs", "errors", "valid", "hangs", "wrong types", "slowest ms"]
  const rows: Array<Array<string>> = []
  const notes: Array<string> = []
  let bad = 0
  for (let parser = 0; parser < parserCases.length; parser++) {
    const name = parserCases[parser]!.name
    process.stderr.write(`[fuzz] ${name}\n`)
    const t = await fuzzOne(parser, runs, seed)
    bad += t.hangs + t.wrongTypes
    rows.push([name, String(t.inputs), String(t.errors), String(t.valid), String(t.hangs), String(t.wrongTypes), t.slowestMillis.toFixed(1)])
    for (const e of t.examples) notes.push(`  ${name}: ${e}`)
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ")
  const total = (i: number) => String(rows.reduce((sum, r) => sum + Number(r[i]), 0))
  console.log(`Parser fuzz: ${runs} inputs per parser, seed ${seed}, a call over ${hangMillis} ms is a hang\n`)
  console.log([line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), line(["total", total(1), total(2), total(3), total(4), total(5), Math.max(...rows.map((r) => Number(r[6]))).toFixed(1)])].join("\n"))
  if (notes.length > 0) console.log(`\nFirst hangs and wrong types:\n${notes.join("\n")}`)
  process.exitCode = bad > 0 ? 1 : 0
}

if (isMainThread) void main()
else work()
