/**
 * What `bjobs -json` and `squeue` print for N running jobs, generated once per size (before any
 * time is taken), and TestCommandRunner rules that answer the real dialects' status commands from
 * it. The shapes are the emulator's (test/support/lsf/bin/bjobs: `JSON.stringify(…, null, 2)`) and
 * the recorded fixtures' (test/fixtures/lsf, test/fixtures/slurm/squeue-running.txt).
 *
 * Each job has one row per answer variant:
 * - `a`: Running, started a minute after its submission (the steady answer);
 * - `b`: the same with the start one second later (a "fresh record": every job's record changes,
 *   no status does — as a requeued job's would);
 * - `c`: Pending (alternating `a` and `c` changes every job's status every tick).
 * Submission times advance one second every four jobs, so times repeat as they do on a busy
 * cluster without all being the same string.
 */
import type { JobRecord } from "../src/Domain.js"
import type { RecordedCall, Reply, Rule } from "../src/TestCommandRunner.js"

export type DialectName = "lsf" | "slurm"
export type Variant = "a" | "b" | "c"

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const
const pad2 = (n: number) => String(n).padStart(2, "0")

/** `Nov 21 12:00:00 2026 L`, as the LSF emulator prints a time. */
const lsfTime = (d: Date) =>
  `${months[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${
    pad2(d.getSeconds())
  } ${d.getFullYear()} L`

/** `2026-11-21T12:51:36`, as squeue prints a time. */
const slurmTime = (d: Date) =>
  `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${
    pad2(d.getSeconds())
  }`

export const firstJobId = 1_000_000

/** A fixed moment (local time), so that every run prints the same texts. */
const base = new Date(2026, 10, 21, 12, 0, 0).getTime()

const submitMillis = (i: number) => base + Math.floor(i / 4) * 1000
const startMillis = (i: number, variant: Variant) => submitMillis(i) + 60_000 + (variant === "b" ? 1000 : 0)

export const jobName = (i: number) => `capi-step-${i}`

/** The `i`th job's record as the executor would have stored it at submission, Running since. */
export const jobRecord = (i: number, executor: DialectName, dir: string): JobRecord => {
  const jobId = String(firstJobId + i)
  const name = jobName(i)
  return {
    jobId,
    name,
    command: `run-step --input data/part-${i}.csv --output out/part-${i}.parquet`,
    executor,
    status: "Running",
    submitTime: new Date(submitMillis(i)),
    lastSeen: new Date(base),
    workDir: dir,
    scriptPath: `${dir}/${name}.sh`,
    stdoutPath: `${dir}/${executor}-${jobId}.out`,
    stderrPath: `${dir}/${executor}-${jobId}.err`,
    metadata: {}
  }
}

export interface LsfRecordText {
  readonly [field: string]: string
}

/** One bjobs -json record (the fields the dialect asks for). */
const lsfRecord = (i: number, variant: Variant): LsfRecordText => {
  const running = variant !== "c"
  return {
    JOBID: String(firstJobId + i),
    JOB_NAME: jobName(i),
    STAT: running ? "RUN" : "PEND",
    EXIT_CODE: "",
    EXIT_REASON: "",
    EXEC_HOST: running ? `node${pad2(i % 64)}` : "",
    MAX_MEM: running ? `${(i % 900) + 100} Mbytes` : "",
    SUBMIT_TIME: lsfTime(new Date(submitMillis(i))),
    START_TIME: running ? lsfTime(new Date(startMillis(i, variant))) : "",
    FINISH_TIME: ""
  }
}

/** One squeue line in the dialect's format (`%i|%T|%r|%N|%V|%S|%j`). */
const squeueFields = (i: number, variant: Variant) => {
  const running = variant !== "c"
  return {
    JOBID: String(firstJobId + i),
    STATE: running ? "RUNNING" : "PENDING",
    REASON: running ? "None" : "Priority",
    NODES: running ? `node${pad2(i % 64)}` : "",
    SUBMIT_TIME: slurmTime(new Date(submitMillis(i))),
    START_TIME: running ? slurmTime(new Date(startMillis(i, variant))) : "N/A",
    NAME: jobName(i)
  }
}

const squeueLine = (i: number, variant: Variant) => Object.values(squeueFields(i, variant)).join("|")

/** The whole answer for jobs `indices` (0-based job numbers). */
export const answerText = (dialect: DialectName, indices: ReadonlyArray<number>, variant: Variant): string =>
  dialect === "lsf"
    ? `${
      JSON.stringify(
        { COMMAND: "bjobs", JOBS: indices.length, RECORDS: indices.map((i) => lsfRecord(i, variant)) },
        null,
        2
      )
    }\n`
    : indices.map((i) => `${squeueLine(i, variant)}\n`).join("")

/**
 * The floor's text: for LSF the bjobs answer itself; for Slurm the same rows as a JSON text of
 * the bjobs shape (`{"RECORDS": [{"JOBID": …, "STATE": …}, …]}`, indented the same way), since
 * squeue's answer is not JSON.
 */
export const floorText = (dialect: DialectName, n: number): string => {
  const indices = Array.from({ length: n }, (_, i) => i)
  return dialect === "lsf"
    ? answerText("lsf", indices, "a")
    : `${JSON.stringify({ RECORDS: indices.map((i) => squeueFields(i, "a")) }, null, 2)}\n`
}

/** The job numbers a status command asks about; undefined when it asks by name or user (all of them). */
const askedIndices = (dialect: DialectName, argv: ReadonlyArray<string>): Array<number> | undefined => {
  let ids: Array<string>
  if (dialect === "lsf") {
    if (argv.includes("-J")) return undefined
    const o = argv.indexOf("-o")
    ids = argv.slice(o === -1 ? 1 : o + 2).filter((a) => /^\d+$/.test(a))
  } else {
    const j = argv.indexOf("-j")
    if (j === -1) return undefined
    ids = (argv[j + 1] ?? "").split(",").filter((a) => /^\d+$/.test(a))
  }
  return ids.length === 0 ? undefined : ids.map((id) => Number(id) - firstJobId)
}

export const statusCommand = (dialect: DialectName) => dialect === "lsf" ? "bjobs" : "squeue"

/**
 * A scheduler answering for `n` jobs: the status command gets the rows of the jobs it names (all
 * `n` when it asks by name prefix or user), in the variant `current()` says. Each distinct
 * question's text is built once and kept (`clear` forgets them, for a heap measurement), so timed
 * ticks after a warm-up tick of each variant cost the double a map lookup.
 */
export const schedulerRules = (dialect: DialectName, n: number, current: () => Variant) => {
  const cache = new Map<string, string>()
  const all = Array.from({ length: n }, (_, i) => i)
  const reply = (call: RecordedCall): Reply => {
    const indices = askedIndices(dialect, call.argv) ?? all
    const variant = current()
    const key = `${variant}:${indices[0]}:${indices.length}:${indices[indices.length - 1]}`
    let text = cache.get(key)
    if (text === undefined) {
      text = answerText(dialect, indices.filter((i) => i >= 0 && i < n), variant)
      cache.set(key, text)
    }
    return { stdout: text }
  }
  const rules: ReadonlyArray<Rule> = [{ match: (argv) => argv[0] === statusCommand(dialect), reply }]
  return { rules, clear: () => cache.clear() }
}
