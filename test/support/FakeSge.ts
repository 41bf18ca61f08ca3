/**
 * A scripted Grid Engine for executor tests under TestClock: TestCommandRunner rules for qsub,
 * qstat, qacct, qdel and qrls answering in SGE's formats (test/fixtures/sge). The test says what
 * qstat lists of each job (entries, as `job_list` elements) and what qacct holds once it left
 * qstat; qdel deletes, or refuses the ids it was told to; qrls clears a hold.
 */
import { Effect, Ref } from "effect"
import { globToRegExp } from "../../src/internal/glob.js"
import type { RecordedCall, Reply, Rule } from "../../src/TestCommandRunner.js"

/** One `job_list` entry of `qstat -xml`. */
export interface SgeEntry {
  readonly state: string
  readonly name: string
  /** An array's task: `3`, or a pending range `4-10:1`. */
  readonly tasks?: string
  readonly owner?: string
}

/** One qacct record's fields (`jobnumber` is filled in). */
export type QacctRecord = Readonly<Record<string, string>>

/** A qacct record of a job (or an array's task) that ended with `exit_status`. */
export const accounted = (name: string, exitStatus: number, over: Partial<Record<string, string>> = {}): QacctRecord => ({
  qname: "all.q",
  hostname: "node1",
  owner: "tester",
  jobname: name,
  taskid: "undefined",
  qsub_time: "Sat Nov 21 12:00:00 2026",
  start_time: "Sat Nov 21 12:00:01 2026",
  end_time: "Sat Nov 21 12:00:09 2026",
  failed: "0",
  exit_status: String(exitStatus),
  maxvmem: "12.500M",
  ...over
})

interface State {
  readonly queued: ReadonlyMap<string, ReadonlyArray<SgeEntry>>
  readonly accounting: ReadonlyMap<string, ReadonlyArray<QacctRecord>>
  readonly errorReasons: ReadonlyMap<string, string>
  readonly refuse: ReadonlySet<string>
  readonly down: boolean
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** `qstat -xml` as SGE 8.1.9 prints it: running jobs under queue_info, waiting ones under job_info. */
export const qstatXml = (jobs: ReadonlyArray<readonly [string, SgeEntry]>): string => {
  const entry = ([id, e]: readonly [string, SgeEntry]) => {
    const running = !e.state.includes("q")
    return [
      `    <job_list state="${running ? "running" : "pending"}">`,
      `      <JB_job_number>${id}</JB_job_number>`,
      `      <JAT_prio>0.55500</JAT_prio>`,
      `      <JB_name>${escape(e.name)}</JB_name>`,
      `      <JB_owner>${e.owner ?? "tester"}</JB_owner>`,
      `      <state>${e.state}</state>`,
      running ? `      <JAT_start_time>2026-11-21T12:00:01</JAT_start_time>` : `      <JB_submission_time>2026-11-21T12:00:00</JB_submission_time>`,
      `      <queue_name>${running ? "all.q@node1" : ""}</queue_name>`,
      `      <slots>1</slots>`,
      ...(e.tasks === undefined ? [] : [`      <tasks>${e.tasks}</tasks>`]),
      `    </job_list>`
    ].join("\n")
  }
  const running = jobs.filter(([, e]) => !e.state.includes("q"))
  const pending = jobs.filter(([, e]) => e.state.includes("q"))
  return [
    `<?xml version='1.0'?>`,
    `<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">`,
    `  <queue_info>`,
    ...running.map(entry),
    `  </queue_info>`,
    `  <job_info>`,
    ...pending.map(entry),
    `  </job_info>`,
    `</job_info>`,
    ""
  ].join("\n")
}

const qacctText = (records: ReadonlyArray<readonly [string, QacctRecord]>) =>
  records.map(([id, r]) =>
    [
      "==============================================================",
      ...Object.entries({ ...r, jobnumber: id }).map(([k, v]) => `${k.padEnd(13)}${v}`)
    ].join("\n")
  ).join("\n") + "\n"

export const makeFakeSge = (firstId = 100) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({
      queued: new Map(),
      accounting: new Map(),
      errorReasons: new Map(),
      refuse: new Set(),
      down: false
    })
    let next = firstId
    const read = () => Effect.runSync(Ref.get(state))
    const update = (f: (s: State) => State) => Effect.runSync(Ref.update(state, f))

    const qstat = (call: RecordedCall): Reply => {
      const s = read()
      if (s.down) {
        return { exitCode: 1, stderr: "error: commlib error: got select error (Connection refused)\nerror: unable to send message to qmaster using port 6444 on host \"node1\": got send error\n" }
      }
      const j = call.argv.indexOf("-j")
      if (j !== -1) {
        const ids = (call.argv[j + 1] ?? "").split(",")
        const blocks = ids.filter((id) => s.queued.has(id)).map((id) =>
          [
            "==============================================================",
            `job_number:                 ${id}`,
            `job_name:                   ${s.queued.get(id)?.[0]?.name ?? ""}`,
            ...(s.errorReasons.has(id) ? [`error reason    1:          ${s.errorReasons.get(id)}`] : [])
          ].join("\n")
        )
        return { stdout: `${blocks.join("\n")}\n` }
      }
      const all = Array.from(s.queued.entries()).flatMap(([id, entries]) => entries.map((e) => [id, e] as const))
      return { stdout: qstatXml(all) }
    }

    const qacct = (call: RecordedCall): Reply => {
      const s = read()
      const j = call.argv.indexOf("-j")
      const id = call.argv[j + 1]
      const records = id !== undefined
        ? (s.accounting.get(id) ?? []).map((r) => [id, r] as const)
        : Array.from(s.accounting.entries()).flatMap(([k, rs]) => rs.map((r) => [k, r] as const))
      if (records.length === 0) return { exitCode: 1, stderr: id !== undefined ? `error: job id ${id} not found\n` : "" }
      return { stdout: qacctText(records) }
    }

    const qdel = (call: RecordedCall): Reply => {
      const s = read()
      const out: Array<string> = []
      const err: Array<string> = []
      const u = call.argv.indexOf("-u")
      const targets = call.argv.slice(1).filter((_, i) => u === -1 || (i !== u - 1 && i !== u))
      for (const target of targets) {
        const ids = /^\d+$/.test(target)
          ? [target]
          : Array.from(s.queued.entries()).filter(([, es]) => globToRegExp(target).test(es[0]?.name ?? "")).map(([id]) => id)
        if (ids.length === 0) err.push(`denied: job "${target}" does not exist`)
        for (const id of ids) {
          if (s.refuse.has(id)) err.push(`other has no permission to delete job "${id}"`.replace("other", "tester"))
          else if (!s.queued.has(id)) err.push(`denied: job "${id}" does not exist`)
          else {
            out.push(`tester has deleted job ${id}`)
            update((st) => {
              const queued = new Map(st.queued)
              queued.delete(id)
              return { ...st, queued }
            })
          }
        }
      }
      return { stdout: out.map((l) => `${l}\n`).join(""), stderr: err.map((l) => `${l}\n`).join(""), exitCode: err.length > 0 ? 1 : 0 }
    }

    const qrls = (call: RecordedCall): Reply => {
      const ids = call.argv.slice(3)
      update((st) => {
        const queued = new Map(st.queued)
        for (const id of ids) {
          const entries = queued.get(id)
          if (entries !== undefined) queued.set(id, entries.map((e) => ({ ...e, state: e.state.replace("h", "") })))
        }
        return { ...st, queued }
      })
      return { stdout: ids.map((id) => `modified hold of job ${id}\n`).join("") }
    }

    const rules: ReadonlyArray<Rule> = [
      { match: "qsub", reply: () => ({ stdout: `${next++}\n` }) },
      { match: "qstat", reply: qstat },
      { match: "qacct", reply: qacct },
      { match: "qdel", reply: qdel },
      { match: "qrls", reply: qrls }
    ]

    return {
      rules,
      /** What qstat lists of a job from now on; undefined: it left qstat. */
      queue: (jobId: string, entries: ReadonlyArray<SgeEntry> | undefined) =>
        Ref.update(state, (s) => {
          const queued = new Map(s.queued)
          if (entries === undefined) queued.delete(jobId)
          else queued.set(jobId, entries)
          return { ...s, queued }
        }),
      /** The job left qstat, and qacct holds these records of it (none: not written yet). */
      end: (jobId: string, records: ReadonlyArray<QacctRecord>) =>
        Ref.update(state, (s) => {
          const queued = new Map(s.queued)
          queued.delete(jobId)
          const accounting = new Map(s.accounting)
          if (records.length > 0) accounting.set(jobId, records)
          return { ...s, queued, accounting }
        }),
      /** What `qstat -j` says of a job in error state. */
      errorReason: (jobId: string, reason: string) =>
        Ref.update(state, (s) => ({ ...s, errorReasons: new Map(s.errorReasons).set(jobId, reason) })),
      /** What qstat currently lists of a job. */
      listed: (jobId: string) => Ref.get(state).pipe(Effect.map((s) => s.queued.get(jobId))),
      setDown: (down: boolean) => Ref.update(state, (s) => ({ ...s, down })),
      /** qdel refuses these ids (no permission). */
      refuse: (ids: ReadonlyArray<string>) => Ref.update(state, (s) => ({ ...s, refuse: new Set(ids) }))
    }
  })
