/**
 * A scripted LSF for executor tests under TestClock: TestCommandRunner rules for bsub, bjobs and
 * bkill that answer in LSF's formats (test/fixtures/lsf). The test says which bjobs records each
 * job id shows; bjobs answers the ids it is asked about (an `ERROR` record and exit 255 for an id
 * it does not know), or the records whose name matches `-J`; bkill terminates, or refuses the ids
 * it was told to.
 */
import { Effect, Ref } from "effect"
import { globToRegExp } from "../../src/internal/glob.js"
import type { RecordedCall, Reply, Rule } from "../../src/TestCommandRunner.js"

/** One bjobs -json record, with the fields the dialect asks for. */
export type LsfRecord = Readonly<Record<string, string>>

/** A record of job `id` (`123` or an element `123[4]`) in state `stat`; `over` sets other fields. */
export const record = (id: string, name: string, stat: string, over: Partial<Record<string, string>> = {}): LsfRecord => ({
  JOBID: id,
  JOB_NAME: name,
  STAT: stat,
  EXIT_CODE: stat === "EXIT" ? "1" : "",
  EXIT_REASON: "",
  EXEC_HOST: stat === "PEND" ? "" : "node1",
  MAX_MEM: "",
  SUBMIT_TIME: "Nov 21 12:00:00 2026 L",
  START_TIME: stat === "PEND" ? "" : "Nov 21 12:00:01 2026 L",
  FINISH_TIME: stat === "DONE" || stat === "EXIT" ? "Nov 21 12:00:09 2026 L" : "",
  ...over
})

interface State {
  readonly records: ReadonlyMap<string, ReadonlyArray<LsfRecord>>
  readonly down: boolean
  readonly refuse: ReadonlySet<string>
}

const json = (records: ReadonlyArray<LsfRecord | Readonly<Record<string, string>>>) =>
  `${JSON.stringify({ COMMAND: "bjobs", JOBS: records.length, RECORDS: records }, null, 2)}\n`

export const makeFakeLsf = (firstId = 1000) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({ records: new Map(), down: false, refuse: new Set() })
    let next = firstId
    const read = () => Effect.runSync(Ref.get(state))

    const bjobs = (call: RecordedCall): Reply => {
      const s = read()
      if (s.down) return { exitCode: 255, stderr: "LSF is down. Please wait ...\n" }
      const j = call.argv.indexOf("-J")
      if (j !== -1) {
        const matches = globToRegExp(call.argv[j + 1] ?? "")
        const found = Array.from(s.records.values()).flat().filter((r) => matches.test(r.JOB_NAME!.replace(/\[\d+\]$/, "")))
        return found.length === 0 ? { exitCode: 255, stderr: "No matching job found\n" } : { stdout: json(found) }
      }
      const o = call.argv.indexOf("-o")
      const ids = call.argv.slice(o + 2).filter((a) => /^\d+$/.test(a))
      const found: Array<Readonly<Record<string, string>>> = []
      let unknown = false
      for (const id of ids) {
        const rows = s.records.get(id)
        if (rows === undefined) {
          unknown = true
          found.push({ JOBID: id, ERROR: `Job <${id}> is not found` })
        } else found.push(...rows)
      }
      return { stdout: json(found), exitCode: unknown ? 255 : 0 }
    }

    const bkill = (call: RecordedCall): Reply => {
      const s = read()
      const ids = call.argv.slice(1).filter((a) => /^\d+$/.test(a))
      const out: Array<string> = []
      const err: Array<string> = []
      for (const id of ids) {
        if (s.refuse.has(id)) err.push(`Job <${id}>: User permission denied`)
        else out.push(`Job <${id}> is being terminated`)
      }
      return { stdout: out.map((l) => `${l}\n`).join(""), stderr: err.map((l) => `${l}\n`).join(""), exitCode: err.length > 0 ? 255 : 0 }
    }

    const rules: ReadonlyArray<Rule> = [
      { match: "bsub", reply: () => ({ stdout: `Job <${next++}> is submitted to default queue <normal>.\n` }) },
      { match: "bjobs", reply: bjobs },
      { match: "bkill", reply: bkill }
    ]

    return {
      rules,
      /** What bjobs shows of a job from now on; undefined: it knows the job no more. */
      show: (jobId: string, records: ReadonlyArray<LsfRecord> | undefined) =>
        Ref.update(state, (s) => {
          const map = new Map(s.records)
          if (records === undefined) map.delete(jobId)
          else map.set(jobId, records)
          return { ...s, records: map }
        }),
      setDown: (down: boolean) => Ref.update(state, (s) => ({ ...s, down })),
      /** bkill answers "User permission denied" for these ids. */
      refuse: (ids: ReadonlyArray<string>) => Ref.update(state, (s) => ({ ...s, refuse: new Set(ids) }))
    }
  })
