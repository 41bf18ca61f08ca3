/**
 * A scripted PBS for executor tests under TestClock: TestCommandRunner rules for qsub, qstat and
 * qdel that answer in PBS's formats (test/fixtures/pbs), as PBS Pro (`qstat -f -F json`) or
 * TORQUE (`qstat -f -x`, XML). The test says which rows each job id shows (an array's own row and
 * its subjobs'); qstat answers the ids it is asked about (`qstat: Unknown Job Id <id>` on stderr
 * and exit 153 for an id it does not know, the others still on stdout), or every job without ids;
 * qdel is silent, or refuses the ids it was told to, or says an unknown id is unknown.
 *
 * The executor is PbsExecutor's layer: `withFakePbs` is FakeScheduler's `withFakeScheduler` with
 * that executor given explicitly, as the config's `executor: pbs` does not pick it yet.
 */
import type { Scope } from "effect"
import { Effect, Ref } from "effect"
import { readFileSync } from "node:fs"
import { userInfo } from "node:os"
import * as ClusterApi from "../../src/ClusterApi.js"
import type { ConfigOptions } from "../../src/Config.js"
import * as PbsExecutor from "../../src/schedulers/pbs/index.js"
import type { RecordedCall, Reply, Rule } from "../../src/TestCommandRunner.js"
import type { TestCommandRunner } from "../../src/TestCommandRunner.js"
import { tempDirs } from "./TempDirs.js"

export type Flavor = "pro" | "torque"

/** The user these tests run as: reconnect keeps this owner's jobs. */
export const me = (() => {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? ""
  }
})()

/**
 * One row qstat shows: a job (`1000.pbs`), an array (`1000[].pbs`) or a subjob (`1000[3].pbs`).
 * `state` is in PBS Pro's letters; TORQUE shows the finished ones (F, X) as C.
 */
export interface PbsRow {
  readonly id: string
  readonly name: string
  readonly state: string
  readonly exit?: number | undefined
  readonly owner?: string | undefined
  readonly comment?: string | undefined
  /** Started on a host (stime, exec_host). Default: when the state is not Q/H/W. */
  readonly started?: boolean | undefined
}

/** A row of job `id` in `state`; `over` sets the rest. Finished rows get exit status 0 unless said. */
export const row = (id: string, name: string, state: string, over: Partial<PbsRow> = {}): PbsRow => ({
  id,
  name,
  state,
  ...(state === "F" || state === "X" ? { exit: 0 } : {}),
  ...over
})

const CTIME = "Sat Nov 21 12:00:00 2026"
const EPOCH = Math.floor(new Date(2026, 10, 21, 12, 0, 0).getTime() / 1000)

const startedOf = (r: PbsRow) => r.started ?? !["Q", "H", "W"].includes(r.state)

const indexOf = (id: string): number | undefined => {
  const m = /^\d+\[(\d+)\]/.exec(id)
  return m === null ? undefined : Number(m[1])
}

const proAttrs = (r: PbsRow): Record<string, unknown> => {
  const index = indexOf(r.id)
  return {
    Job_Name: r.name,
    Job_Owner: `${r.owner ?? me}@login1`,
    job_state: r.state,
    queue: "workq",
    ctime: CTIME,
    ...(startedOf(r) ? { exec_host: "node1/0", stime: CTIME } : {}),
    ...(r.comment === undefined ? {} : { comment: r.comment }),
    ...(r.exit === undefined ? {} : { Exit_status: r.exit }),
    ...(/^\d+\[\]/.test(r.id) ? { array: true } : {}),
    ...(index === undefined ? {} : { array_id: r.id.replace(/\[\d+\]/, "[]"), array_index: index })
  }
}

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const torqueJob = (r: PbsRow): string => {
  const index = indexOf(r.id)
  const state = r.state === "F" || r.state === "X" ? "C" : r.state === "B" ? "R" : r.state
  const fields: Array<[string, string]> = [
    ["Job_Id", r.id],
    ["Job_Name", index === undefined ? r.name : `${r.name}-${index}`],
    ["Job_Owner", `${r.owner ?? me}@login1`],
    ["job_state", state],
    ["queue", "batch"],
    ["ctime", String(EPOCH)],
    ...(startedOf(r) ? [["exec_host", "node1/0"], ["start_time", String(EPOCH)]] as Array<[string, string]> : []),
    ...(r.comment === undefined ? [] : [["comment", r.comment]] as Array<[string, string]>),
    ...(r.exit === undefined ? [] : [["exit_status", String(r.exit)]] as Array<[string, string]>)
  ]
  return `<Job>${fields.map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join("")}</Job>`
}

const render = (flavor: Flavor, rows: ReadonlyArray<PbsRow>): string => {
  if (flavor === "pro") {
    const doc: Record<string, unknown> = { timestamp: EPOCH, pbs_version: "2022.1.0", pbs_server: "pbs" }
    if (rows.length > 0) doc.Jobs = Object.fromEntries(rows.map((r) => [r.id, proAttrs(r)]))
    return `${JSON.stringify(doc, null, 4)}\n`
  }
  return rows.length === 0 ? "" : `<?xml version="1.0"?><Data>${rows.map(torqueJob).join("")}</Data>\n`
}

interface State {
  readonly rows: ReadonlyMap<string, ReadonlyArray<PbsRow>>
  readonly down: boolean
  readonly refuse: ReadonlySet<string>
}

/** Whether a submitted script asks for an array. */
const isArrayScript = (call: RecordedCall): boolean => {
  let script = call.stdin
  if (script === undefined) {
    try {
      script = readFileSync(call.argv[call.argv.length - 1] ?? "", "utf8")
    } catch {
      script = ""
    }
  }
  return /^#PBS -[Jt] /m.test(script)
}

export const makeFakePbs = (flavor: Flavor, firstId = 1000) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({ rows: new Map(), down: false, refuse: new Set() })
    let next = firstId
    const read = () => Effect.runSync(Ref.get(state))
    const unknown = (cmd: string, id: string) => `${cmd}: Unknown Job Id${flavor === "torque" ? " Error" : ""} ${id}`

    const qstat = (call: RecordedCall): Reply => {
      const s = read()
      if (s.down) return { exitCode: 15, stderr: "Connection refused\nqstat: cannot connect to server pbs (errno=111)\n" }
      const ids = call.argv.slice(1).filter((a) => !a.startsWith("-") && a !== "json")
      if (ids.length === 0) return { stdout: render(flavor, Array.from(s.rows.values()).flat()) }
      const found: Array<PbsRow> = []
      const errors: Array<string> = []
      for (const id of ids) {
        const rows = s.rows.get(id)
        if (rows === undefined) errors.push(unknown("qstat", id))
        else found.push(...rows)
      }
      return {
        stdout: render(flavor, found),
        stderr: errors.map((l) => `${l}\n`).join(""),
        exitCode: errors.length > 0 ? 153 : 0
      }
    }

    const qdel = (call: RecordedCall): Reply => {
      const s = read()
      const err: Array<string> = []
      let code = 0
      for (const id of call.argv.slice(1)) {
        if (s.refuse.has(id)) {
          err.push(`qdel: Unauthorized Request  ${id}`)
          code = 159
        } else if (!s.rows.has(id) && id.startsWith("9")) {
          // Ids starting with 9 are ones this PBS never had.
          err.push(unknown("qdel", id))
          code = 153
        }
      }
      return { stderr: err.map((l) => `${l}\n`).join(""), exitCode: code }
    }

    const rules: ReadonlyArray<Rule> = [
      { match: "qsub", reply: (call) => ({ stdout: `${next++}${isArrayScript(call) ? "[]" : ""}.pbs\n` }) },
      { match: "qstat", reply: qstat },
      { match: "qdel", reply: qdel }
    ]

    return {
      flavor,
      rules,
      /** What qstat shows of a job from now on; undefined: it knows the job no more. */
      show: (jobId: string, rows: ReadonlyArray<PbsRow> | undefined) =>
        Ref.update(state, (s) => {
          const map = new Map(s.rows)
          if (rows === undefined) map.delete(jobId)
          else map.set(jobId, rows)
          return { ...s, rows: map }
        }),
      setDown: (down: boolean) => Ref.update(state, (s) => ({ ...s, down })),
      /** qdel answers "Unauthorized Request" for these ids. */
      refuse: (ids: ReadonlyArray<string>) => Ref.update(state, (s) => ({ ...s, refuse: new Set(ids) }))
    }
  })

export type FakePbs = Effect.Effect.Success<ReturnType<typeof makeFakePbs>>

/**
 * Runs test bodies on a fresh FakePbs of `flavor` with PbsExecutor's layer, the config `defaults`
 * (`executor: pbs`, the flavour, a fresh log directory) under each test's own `config`.
 */
export const withFakePbs = (flavor: Flavor, defaults: Partial<ConfigOptions> = {}) => {
  const tempDir = tempDirs(`capi-pbs-${flavor}-`)
  return <A, E>(
    body: (fake: FakePbs) => Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>,
    config: Partial<ConfigOptions> = {}
  ) =>
    Effect.gen(function*() {
      const fake = yield* makeFakePbs(flavor)
      return yield* body(fake).pipe(
        Effect.scoped,
        Effect.provide(
          ClusterApi.layerTest({
            config: { poll_interval: 10, log_directory: tempDir(), executor: "pbs", pbs_flavor: flavor, ...defaults, ...config },
            rules: fake.rules,
            executor: PbsExecutor.layer
          })
        )
      )
    })
}
