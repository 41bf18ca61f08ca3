/**
 * A scripted LSF for executor tests under TestClock: TestCommandRunner rules for bsub, bjobs and
 * bkill that answer in LSF's formats (test/fixtures/lsf). The test says which bjobs records each
 * job id shows; bjobs answers the ids it is asked about (an `ERROR` record and exit 255 for an id
 * it does not know), or without ids lists this user's jobs (everyone's with `-u all`: jobs of other
 * users are shown with `showOther`), those whose name matches `-J` when given; bkill terminates,
 * or refuses the ids it was told to.
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
  /** Jobs of other users: listed only with `-u all`, shown by id. */
  readonly others: ReadonlyMap<string, ReadonlyArray<LsfRecord>>
  readonly down: boolean
  readonly refuse: ReadonlySet<string>
}

const json = (records: ReadonlyArray<LsfRecord | Readonly<Record<string, string>>>) =>
  `${JSON.stringify({ COMMAND: "bjobs", JOBS: records.length, RECORDS: records }, null, 2)}\n`

export const makeFakeLsf = (firstId = 1000) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({ records: new Map(), others: new Map(), down: false, refuse: new Set() })
    let next = firstId
    const read = () => Effect.runSync(Ref.get(state))

    const bjobs = (call: RecordedCall): Reply => {
      const s = read()
      if (s.down) return { exitCode: 255, stderr: "LSF is down. Please wait ...\n" }
      const o = call.argv.indexOf("-o")
      const ids = call.argv.slice(o + 2).filter((a) => /^\d+$/.test(a))
      if (ids.length === 0) {
        const j = call.argv.indexOf("-J")
        const matches = j === -1 ? undefined : globToRegExp(call.argv[j + 1] ?? "")
        const u = call.argv.indexOf("-u")
        const everyone = u !== -1 && call.argv[u + 1] === "all"
        const found = [...s.records.values(), ...(everyone ? s.others.values() : [])].flat().filter((r) =>
          matches === undefined || matches.test(r.JOB_NAME!.replace(/\[\d+\]$/, ""))
        )
        if (found.length > 0) return { stdout: json(found) }
        return { exitCode: 255, stderr: matches === undefined ? "No unfinished job found\n" : "No matching job found\n" }
      }
      const found: Array<Readonly<Record<string, string>>> = []
      let unknown = false
      for (const id of ids) {
        const rows = s.records.get(id) ?? s.others.get(id)
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
      /** What bjobs shows of many jobs at once (`show` for each, in one update). */
      showMany: (entries: Iterable<readonly [string, ReadonlyArray<LsfRecord>]>) =>
        Ref.update(state, (s) => ({ ...s, records: new Map([...s.records, ...entries]) })),
      /** What bjobs shows of another user's job: by id, or listed with `-u all`. */
      showOther: (jobId: string, records: ReadonlyArray<LsfRecord>) =>
        Ref.update(state, (s) => ({ ...s, others: new Map(s.others).set(jobId, records) })),
      setDown: (down: boolean) => Ref.update(state, (s) => ({ ...s, down })),
      /** bkill answers "User permission denied" for these ids. */
      refuse: (ids: ReadonlyArray<string>) => Ref.update(state, (s) => ({ ...s, refuse: new Set(ids) }))
    }
  })
