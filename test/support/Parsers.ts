/**
 * Every parser of scheduler output and of what users type, with generators of inputs (any string,
 * and near-valid ones: ids with huge, negative or fractional indices, ranges with huge ends, steps
 * of 0, JSON with wrong types, XML with wrong shapes) and a judge of what it returned: a typed
 * error, a valid value, or a value of the wrong type (NaN, Infinity, an unsafe or out-of-range
 * number, an Invalid Date, a string where a number belongs, …). Shared by the property tests and
 * `bench/fuzz.ts`.
 */
import { Duration, Either, FastCheck as fc } from "effect"
import type { BatchListing, CancelOutcome, CommandAnswer } from "../../src/Scheduler.js"
import type { JobRecord, Observation } from "../../src/Domain.js"
import { JobStatus } from "../../src/Domain.js"
import * as Local from "./parts/local.js"
import * as Lsf from "./parts/lsf.js"
import { parseMonthNameTime } from "../../src/schedulers/Observed.js"
import * as Pbs from "./parts/pbs.js"
import * as Sge from "./parts/sge.js"
import * as Slurm from "./parts/slurm.js"
import { isExitCode, observationProblem } from "../../src/internal/transition.js"
import { parseMemory, parseWalltime } from "../../src/Units.js"
import { jobRecord } from "./Records.js"
import { parseAge, parseWhen } from "../../src/internal/queries/when.js"

/** What a parser returned: a typed error, a valid value, or what is wrong with it. */
export type Verdict = { readonly _tag: "Error" } | { readonly _tag: "Valid" } | { readonly _tag: "WrongType"; readonly problem: string }

const error: Verdict = { _tag: "Error" }
const valid: Verdict = { _tag: "Valid" }
const wrong = (problem: string): Verdict => ({ _tag: "WrongType", problem })

export interface ParserCase {
  readonly name: string
  readonly input: fc.Arbitrary<string>
  /** Runs the parser on one input and judges what it returned. */
  readonly run: (input: string) => Verdict
}

// ---------------------------------------------------------------------------------------------
// Judges
// ---------------------------------------------------------------------------------------------

const statuses: ReadonlySet<unknown> = new Set(JobStatus.literals)

const observationVerdict = (o: Observation): string | undefined => {
  if (typeof o.jobId !== "string" || o.jobId === "") return `job id ${JSON.stringify(o.jobId)}`
  if (o.unreadable !== undefined) return typeof o.unreadable === "string" ? undefined : "unreadable is not a message"
  if (o.status !== undefined && !statuses.has(o.status)) return `status ${String(o.status)}`
  for (const e of o.elements ?? []) if (!statuses.has(e.status)) return `element status ${String(e.status)}`
  for (const key of ["name", "execHost"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "string") return `${key} is not a string`
  }
  return observationProblem(o)
}

/** A Left with a message is an error; a Right is judged by `judge`. */
const either = <A>(result: Either.Either<A, unknown>, judge: (a: A) => string | undefined): Verdict => {
  if (Either.isLeft(result)) {
    const e: unknown = result.left
    const message = typeof e === "string" ? e : (e as { message?: unknown } | undefined)?.message
    return typeof message === "string" && message !== "" ? error : wrong("an error without a message")
  }
  const problem = judge(result.right)
  return problem === undefined ? valid : wrong(problem)
}

const observations = (os: ReadonlyArray<Observation>): string | undefined => {
  for (const o of os) {
    const problem = observationVerdict(o)
    if (problem !== undefined) return problem
  }
  return undefined
}

const listings = (ls: ReadonlyArray<BatchListing>): string | undefined => {
  for (const l of ls) {
    if (typeof l.name !== "string" || l.jobId !== l.observation.jobId) return "listing does not match its observation"
    const problem = observationVerdict(l.observation)
    if (problem !== undefined) return problem
  }
  return undefined
}

const strings = (xs: ReadonlyArray<unknown>): string | undefined =>
  xs.every((x) => typeof x === "string" && x !== "") ? undefined : "an id that is not a string"

const cancelOutcome = (o: CancelOutcome): string | undefined =>
  strings(o.ended) ?? (o.refused.every((r) => typeof r.jobId === "string" && typeof r.detail === "string") ? undefined : "refusal")

const jobId = (id: string): string | undefined => /^\d/.test(id) ? undefined : `job id ${JSON.stringify(id)}`

/** An optional result: undefined is "could not read", anything else is judged. */
const optional = <A>(a: A | undefined, judge: (a: A) => string | undefined): Verdict => {
  if (a === undefined) return error
  const problem = judge(a)
  return problem === undefined ? valid : wrong(problem)
}

const wholeBytes = (n: number): string | undefined =>
  Number.isSafeInteger(n) && n >= 0 ? undefined : `${n} is not a whole number of bytes`
const finiteNonNegative = (n: number): string | undefined =>
  Number.isFinite(n) && n >= 0 ? undefined : `${n} is not a finite number ≥ 0`
const date = (d: Date): string | undefined =>
  d instanceof Date && Number.isFinite(d.getTime()) ? undefined : "Invalid Date"
const indices = (xs: ReadonlyArray<number>): string | undefined =>
  xs.every((i) => Number.isSafeInteger(i) && i >= 0) ? undefined : "an index that is not a whole number"

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

const digits = fc.oneof(
  fc.nat({ max: 20 }).map(String),
  fc.nat().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.constantFrom("9007199254740993", "99999999999999999999", "4000001", "75001", "2147483647", "0", "00")
)
const number = fc.oneof(
  digits,
  fc.constantFrom("-1", "1.5", "NaN", "Infinity", "1e400", "", " ", "0x10", "-0", ".5"),
  fc.double().map(String)
)
const range = fc.oneof(
  digits,
  fc.tuple(digits, digits).map(([a, b]) => `${a}-${b}`),
  fc.tuple(digits, digits, number).map(([a, b, c]) => `${a}-${b}:${c}`),
  fc.constantFrom("1-100000000", "1-3:0", "0-4000001", "0-4000000:40", "9007199254740990-9007199254740993", "1-75000", "3-1")
)
const ranges = fc.array(range, { minLength: 1, maxLength: 4 }).map((r) => r.join(","))
const junk = fc.oneof(fc.string(), fc.fullUnicodeString({ maxLength: 30 }), fc.constantFrom("", "|", "\n", "-", "(null)"))
const pad = (n: number) => String(n).padStart(2, "0")
const isoTime = fc.oneof(
  fc.tuple(fc.nat({ max: 9999 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }))
    .map(([y, mo, d, h, mi, s]) => `${String(y).padStart(4, "0")}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}`),
  fc.constantFrom("Unknown", "N/A", "None", "2026-11-21T12:00:00"),
  digits,
  junk
)
const ctime = fc.oneof(
  fc.tuple(fc.constantFrom("Sat", "Xyz"), fc.constantFrom("Nov", "Jan", "Foo"), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 9999 }))
    .map(([w, m, d, h, mi, s, y]) => `${w} ${m} ${d} ${pad(h)}:${pad(mi)}:${pad(s)} ${y}`),
  junk
)
const memory = fc.oneof(
  fc.tuple(number, fc.constantFrom("", "K", "M", "G", "T", "P", "kb", "gb", "Mbytes", " Gbytes", "n", "c", "B", "iB", "x")).map(([n, u]) => `${n}${u}`),
  junk
)
const lines = (line: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 4, arbitrary: fc.array(line, { maxLength: 5 }).map((ls) => ls.join("\n")) }, { weight: 1, arbitrary: junk })
const json = (value: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 4, arbitrary: value.map((v) => JSON.stringify(v)) }, { weight: 1, arbitrary: junk })
/** A value where a string is expected: often near-valid text, sometimes any JSON value. */
const field = (text: fc.Arbitrary<string>) => fc.oneof({ weight: 3, arbitrary: text }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) })
const answer = (text: fc.Arbitrary<string>): fc.Arbitrary<CommandAnswer> =>
  fc.record({ exitCode: fc.option(fc.integer({ min: -1, max: 300 }), { nil: undefined }), stdout: text, stderr: text })
const tagged = (a: fc.Arbitrary<CommandAnswer>) => a.map((x) => JSON.stringify(x))
const fromTagged = (s: string): CommandAnswer => {
  try {
    const x = JSON.parse(s) as Partial<CommandAnswer>
    return { exitCode: typeof x.exitCode === "number" ? x.exitCode : undefined, stdout: String(x.stdout ?? ""), stderr: String(x.stderr ?? "") }
  } catch {
    return { exitCode: 1, stdout: s, stderr: s }
  }
}

const slurmId = fc.oneof(
  digits,
  fc.tuple(digits, digits).map(([j, i]) => `${j}_${i}`),
  fc.tuple(digits, ranges, fc.option(digits)).map(([j, r, t]) => `${j}_[${r}${t === null ? "" : `%${t}`}]`),
  junk
)
const slurmState = fc.oneof(fc.constantFrom(...Object.keys(Slurm.stateTable), "CANCELLED by 0", "CANCELLED+", "R", "PD"), junk)
const squeueLine = fc.tuple(slurmId, slurmState, junk, junk, isoTime, isoTime, junk).map((f) => f.join("|"))
const slurmExit = fc.oneof(fc.tuple(number, number).map(([a, b]) => `${a}:${b}`), junk)
const sacctLines = fc.tuple(slurmId, slurmState, slurmExit, memory, memory, isoTime, isoTime, isoTime).map(
  ([id, state, exit, rss, req, a, b, c]) =>
    [`${id}|${id}|${state}|${exit}|None||${req}|n1|${a}|${b}|${c}|capi-x`, `${id}.batch|${id}.batch|${state}|${exit}||${rss}||n1|${a}|${b}|${c}|batch`].join("\n")
)
const scontrolLine = fc.tuple(digits, digits, ranges, slurmState, slurmExit, isoTime).map(
  ([id, arr, task, state, exit, t]) => `JobId=${id} ArrayJobId=${arr} ArrayTaskId=${task} JobName=capi-x JobState=${state} Reason=None ExitCode=${exit} SubmitTime=${t} StartTime=${t} EndTime=${t} NodeList=n1`
)

const lsfRecord = fc.record({
  JOBID: field(fc.oneof(digits, fc.tuple(digits, digits).map(([j, i]) => `${j}[${i}]`))),
  JOB_NAME: field(fc.oneof(fc.constant("capi-x"), digits.map((i) => `capi-x[${i}]`))),
  STAT: field(fc.constantFrom("RUN", "PEND", "DONE", "EXIT", "PSUSP", "ZOMBI", "UNKWN")),
  EXIT_CODE: field(number),
  EXIT_REASON: field(junk),
  MAX_MEM: field(memory),
  SUBMIT_TIME: field(ctime),
  START_TIME: field(ctime),
  FINISH_TIME: field(fc.oneof(ctime, isoTime))
}, { requiredKeys: [] })
const lsfJson = json(fc.oneof({ weight: 5, arbitrary: fc.record({ RECORDS: fc.array(lsfRecord, { maxLength: 4 }) }) }, { weight: 1, arbitrary: fc.jsonValue() }))

const pbsId = fc.oneof(
  digits.map((j) => `${j}.s`),
  digits.map((j) => `${j}[].s`),
  fc.tuple(digits, digits).map(([j, i]) => `${j}[${i}].s`),
  junk
)
const pbsAttrs = fc.record({
  Job_Name: field(junk),
  job_state: field(fc.constantFrom("Q", "R", "H", "F", "X", "C", "E", "B", "Z")),
  Exit_status: field(number),
  exit_status: field(number),
  resources_used: fc.oneof(fc.record({ mem: field(memory) }), fc.jsonValue({ maxDepth: 1 })),
  ctime: field(fc.oneof(ctime, digits)),
  stime: field(fc.oneof(ctime, digits)),
  start_time: field(digits),
  mtime: field(fc.oneof(ctime, digits)),
  obittime: field(ctime),
  comp_time: field(digits),
  exec_host: field(junk),
  comment: field(junk),
  array: fc.jsonValue({ maxDepth: 0 })
}, { requiredKeys: [] })
const pbsProJson = json(fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(pbsId, pbsAttrs, { maxKeys: 4 }).map((Jobs) => ({ timestamp: 1, Jobs })) },
  { weight: 1, arbitrary: fc.jsonValue() }
))
const xmlText = (s: string) => s.replace(/[<&]/g, "")
const tag = (name: string, value: fc.Arbitrary<string>) => value.map((v) => `<${name}>${xmlText(v)}</${name}>`)
const torqueJob = fc.tuple(
  tag("Job_Id", pbsId),
  tag("Job_Name", junk),
  tag("job_state", fc.constantFrom("Q", "R", "C", "H", "E")),
  tag("exit_status", number),
  tag("start_time", digits),
  tag("comp_time", digits),
  fc.oneof(tag("resources_used", fc.constant("")), memory.map((m) => `<resources_used><mem>${xmlText(m)}</mem></resources_used>`))
).map((parts) => `<Job>${parts.join("")}</Job>`)
const torqueXml = fc.oneof(
  { weight: 5, arbitrary: fc.array(torqueJob, { maxLength: 3 }).map((jobs) => `<?xml version="1.0"?><Data>${jobs.join("")}</Data>`) },
  { weight: 1, arbitrary: fc.constantFrom("<Data><Job>x</Job></Data>", "<Data>", "<Data><Job><Job_Id><a/></Job_Id></Job></Data>", "<Data/>") },
  { weight: 1, arbitrary: junk }
)

const sgeEntry = fc.tuple(
  tag("JB_job_number", fc.oneof(digits, junk)),
  tag("JB_name", junk),
  tag("state", fc.constantFrom("r", "qw", "hqw", "Eqw", "dr", "t", "s", "x")),
  tag("JB_submission_time", fc.oneof(isoTime, digits)),
  tag("JAT_start_time", fc.oneof(isoTime, digits)),
  tag("queue_name", junk),
  fc.oneof(tag("tasks", ranges), fc.constant(""))
).map((parts) => `<job_list state="running">${parts.join("")}</job_list>`)
const sgeXml = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(fc.array(sgeEntry, { maxLength: 3 }), fc.array(sgeEntry, { maxLength: 3 })).map(([q, p]) =>
      `<?xml version='1.0'?><job_info><queue_info>${q.join("")}</queue_info><job_info>${p.join("")}</job_info></job_info>`
    )
  },
  { weight: 1, arbitrary: fc.constantFrom("<job_info><job_info><job_list>x</job_list></job_info></job_info>", "<job_info/>", "<job_info><queue_info><job_list><JB_job_number><a/></JB_job_number></job_list></queue_info></job_info>") },
  { weight: 1, arbitrary: junk }
)
const qacctRecord = fc.tuple(fc.constantFrom("1", "2", "3"), fc.oneof(digits, fc.constant("undefined")), number, fc.oneof(number, fc.constant("0 : fine"), fc.constant("37  : qmaster enforced h_rt")), memory, ctime, ctime).map(
  ([id, task, exit, failed, mem, a, b]) =>
    `==============================================================\njobnumber    ${id}\njobname      capi-x\ntaskid       ${task}\nhostname     vm\nqsub_time    ${a}\nstart_time   ${a}\nend_time     ${b}\nfailed       ${failed}\nexit_status  ${exit}\nru_wallclock ${exit}s\ncategory     -l h_rt=${exit},h_vmem=${mem}\nmaxvmem      ${mem}`
)

const records: ReadonlyArray<JobRecord> = ["1", "2", "3", "5", "7"].map((id) => jobRecord(id))
const now = new Date(2026, 10, 21, 13)

const submitOutput = fc.oneof(
  digits,
  digits.map((n) => `${n};cluster`),
  digits.map((n) => `Job <${n}> is submitted to queue <normal>.`),
  fc.tuple(digits, ranges).map(([n, r]) => `${n}.${r}`),
  pbsId,
  junk
)
const cancelText = fc.oneof(
  fc.tuple(slurmId, junk).map(([id, why]) => `scancel: error: Kill job error on job id ${id}: ${why}`),
  fc.tuple(digits, junk).map(([id, why]) => `Job <${id}>: ${why}`),
  fc.tuple(digits, junk).map(([id, why]) => `denied: job "${id}" does not exist ${why}`),
  fc.tuple(pbsId, junk).map(([id, why]) => `qdel: Unknown Job Id ${id} ${why}`),
  junk
)

// ---------------------------------------------------------------------------------------------
// The parsers
// ---------------------------------------------------------------------------------------------

const hexToken = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{16}$/),
  fc.stringMatching(/^[0-9a-f]{0,70}$/),
  junk
)
const marker = fc.oneof(hexToken.map((t) => `cluster-api:${t}`), junk)
const tokenLines = lines(fc.tuple(fc.oneof(slurmId, digits, junk), marker).map(([id, m]) => `${id}|${m}`))
const lsfTokenJson = json(fc.oneof(
  { weight: 5, arbitrary: fc.record({ RECORDS: fc.array(fc.record({ JOBID: field(fc.oneof(digits, slurmId)), JOB_DESCRIPTION: field(marker) }), { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.jsonValue() }
))
const sgeJobText = lines(fc.oneof(
  fc.oneof(digits, junk).map((n) => `job_number:                 ${n}`),
  marker.map((m) => `context:                    cluster_api=${m}`),
  junk
))
const pbsTokenText = fc.oneof(
  fc.array(fc.tuple(fc.oneof(pbsId, junk), marker).map(([id, m]) => `"${id}":{ "Variable_List":{ "CLUSTER_API_TOKEN":"${m}" } }`), { maxLength: 4 }).map((xs) => xs.join(",")),
  fc.array(fc.tuple(fc.oneof(pbsId, junk), marker).map(([id, m]) => `<Job><Job_Id>${xmlText(id)}</Job_Id><Variable_List>CLUSTER_API_TOKEN=${m}</Variable_List></Job>`), { maxLength: 4 }).map((xs) => xs.join("")),
  junk
)
/** A token listing: every entry a job id and a token as the submit wrote it (hex). */
const tokenListings = (ls: ReadonlyArray<{ readonly jobId: unknown; readonly token: unknown }>): string | undefined => {
  for (const l of ls) {
    if (typeof l.jobId !== "string" || l.jobId === "") return `job id ${JSON.stringify(l.jobId)}`
    if (typeof l.token !== "string" || !/^[0-9a-f]{8,64}$/.test(l.token)) return `token ${JSON.stringify(l.token)}`
  }
  return undefined
}

export const parserCases: ReadonlyArray<ParserCase> = [
  { name: "Slurm.parseTokens (squeue %F|%k)", input: tokenLines, run: (s) => either(Slurm.parseTokens(s), tokenListings) },
  { name: "Lsf.parseTokens (bjobs job_description)", input: lsfTokenJson, run: (s) => either(Lsf.parseTokens(s), tokenListings) },
  { name: "Sge.parseTokens (qstat -j)", input: sgeJobText, run: (s) => either(Sge.parseTokens(s), tokenListings) },
  { name: "Pbs.parseTokens (qstat -f)", input: pbsTokenText, run: (s) => either(Pbs.parseTokens(s), tokenListings) },

  { name: "Slurm.parseSubmit", input: submitOutput, run: (s) => either(Slurm.parseSubmit(s), jobId) },
  { name: "Slurm.parseStatus (squeue)", input: lines(squeueLine), run: (s) => either(Slurm.parseStatus(s), observations) },
  { name: "Slurm.parseListing", input: lines(squeueLine), run: (s) => either(Slurm.parseListing(s), listings) },
  { name: "Slurm.parseAccounting (sacct)", input: lines(sacctLines), run: (s) => either(Slurm.parseAccounting(s, records, now), observations) },
  { name: "Slurm.parseScontrol", input: lines(scontrolLine), run: (s) => either(Slurm.parseScontrol(s, records), observations) },
  { name: "Slurm.cancelOutcome", input: tagged(answer(cancelText)), run: (s) => either(Slurm.cancelOutcome(["1", "2", "5"], fromTagged(s)), cancelOutcome) },
  { name: "Slurm.readIndices", input: fc.oneof(ranges, junk), run: (s) => either(Slurm.readIndices(s), indices) },
  { name: "Slurm small readers (time, memory, exit code)", input: fc.oneof(isoTime, memory, slurmExit), run: (s) => {
    const t = Slurm.parseTime(s)
    const m = Slurm.parseSlurmMemory(s)
    const e = Slurm.parseExitCode(s)
    const problem = (t === undefined ? undefined : date(t)) ?? (m === undefined ? undefined : wholeBytes(m)) ??
      (e === undefined || (isExitCode(e.rc) && isExitCode(e.signal)) ? undefined : "exit code out of range")
    return problem !== undefined ? wrong(problem) : t === undefined && m === undefined && e === undefined ? error : valid
  } },
  { name: "Lsf.parseSubmit", input: submitOutput, run: (s) => either(Lsf.parseSubmit(s), jobId) },
  { name: "Lsf.parseStatus (bjobs -json)", input: lsfJson, run: (s) => either(Lsf.parseStatus(s), observations) },
  { name: "Lsf.parseListing", input: lsfJson, run: (s) => either(Lsf.parseListing(s), listings) },
  { name: "Lsf.cancelOutcome", input: tagged(answer(cancelText)), run: (s) => either(Lsf.cancelOutcome(["1", "2", "5"], fromTagged(s)), cancelOutcome) },
  { name: "Lsf.cancelledByName", input: tagged(answer(cancelText)), run: (s) => either(Lsf.cancelledByName(fromTagged(s)), strings) },
  { name: "Lsf small readers (time, memory)", input: fc.oneof(ctime, memory, isoTime), run: (s) => {
    const t = Lsf.parseTime(s)
    const m = Lsf.parseLsfMemory(s)
    const problem = (t === undefined ? undefined : date(t)) ?? (m === undefined ? undefined : wholeBytes(m))
    return problem !== undefined ? wrong(problem) : t === undefined && m === undefined ? error : valid
  } },
  { name: "Sge.parseSubmit", input: submitOutput, run: (s) => either(Sge.parseSubmit(s), jobId) },
  { name: "Sge.parseStatus (qstat -xml)", input: sgeXml, run: (s) => either(Sge.parseStatus(s), observations) },
  { name: "Sge.parseListing", input: sgeXml, run: (s) => either(Sge.parseListing(s), listings) },
  { name: "Sge.parseAccounting (qacct)", input: lines(qacctRecord), run: (s) => either(Sge.parseAccounting(s, records, now), observations) },
  { name: "Sge.readTasks", input: fc.oneof(ranges, junk), run: (s) => either(Sge.readTasks(s), indices) },
  { name: "Sge.parseExplain", input: lines(fc.oneof(digits.map((n) => `job_number: ${n}`), junk.map((j) => `error reason 1: ${j}`))), run: (s) => {
    const reasons = Sge.parseExplain(s)
    return Array.from(reasons).every(([k, v]) => /^\d+$/.test(k) && typeof v === "string") ? valid : wrong("reason")
  } },
  { name: "Sge.cancelOutcome", input: tagged(answer(cancelText)), run: (s) => either(Sge.cancelOutcome(["1", "2", "5"], fromTagged(s)), cancelOutcome) },
  { name: "Sge.cancelledByName", input: tagged(answer(cancelText)), run: (s) => either(Sge.cancelledByName(fromTagged(s)), strings) },
  { name: "Sge small readers (times, memory, seconds)", input: fc.oneof(isoTime, ctime, memory, number), run: (s) => {
    const ts = [Sge.parseQstatTime(s), Sge.parseQacctTime(s)]
    const m = Sge.parseQacctMemory(s)
    const sec = Sge.sgeSeconds(s)
    const problem = ts.map((t) => t === undefined ? undefined : date(t)).find((p) => p !== undefined) ??
      (m === undefined ? undefined : wholeBytes(m)) ?? (sec === undefined ? undefined : finiteNonNegative(sec))
    return problem !== undefined ? wrong(problem) : [...ts, m, sec].every((x) => x === undefined) ? error : valid
  } },
  { name: "Pbs.parseSubmit", input: submitOutput, run: (s) => either(Pbs.parseSubmit(s), jobId) },
  { name: "Pbs.parseStatus (pro, qstat -F json)", input: pbsProJson, run: (s) => either(Pbs.parseStatus("pro")(s), observations) },
  { name: "Pbs.parseStatus (torque, qstat -x)", input: torqueXml, run: (s) => either(Pbs.parseStatus("torque")(s), observations) },
  { name: "Pbs.parseListing", input: pbsProJson, run: (s) => either(Pbs.parseListing("pro", undefined)(s), listings) },
  { name: "Pbs.cancelOutcome", input: tagged(answer(cancelText)), run: (s) => either(Pbs.cancelOutcome(["1.s", "2.s"], fromTagged(s)), cancelOutcome) },
  { name: "Pbs small readers (time, memory)", input: fc.oneof(ctime, digits, memory), run: (s) => {
    const t = Pbs.parseTime(s)
    const m = Pbs.parsePbsMemory(s)
    const problem = (t === undefined ? undefined : date(t)) ?? (m === undefined ? undefined : wholeBytes(m))
    return problem !== undefined ? wrong(problem) : t === undefined && m === undefined ? error : valid
  } },
  { name: "Observed.parseMonthNameTime", input: ctime, run: (s) => optional(parseMonthNameTime(s), date) },
  { name: "Local.parseStatusFile", input: fc.oneof(number, digits.map((d) => ` ${d}\n`), junk), run: (s) => optional(Local.parseStatusFile(s), wholeBytes) },
  { name: "Units.parseMemory", input: memory, run: (s) => either(parseMemory(s), (n) => n > 0 ? wholeBytes(n) : "zero bytes") },
  {
    name: "Units.parseWalltime",
    input: fc.oneof(
      fc.tuple(number, number, number, number).map(([d, h, m, s]) => `${d}-${h}:${m}:${s}`),
      fc.tuple(number, number, number).map(([h, m, s]) => `${h}:${m}:${s}`),
      fc.tuple(number, number, fc.constantFrom(" ", "", "      ")).map(([h, m, sp]) => `${h}h${sp}${m}m${sp}`),
      fc.tuple(fc.nat({ max: 5000 }), fc.constantFrom("1", "1h", "1d")).map(([n, s]) => `${s}${" ".repeat(n)}x`),
      number,
      junk
    ),
    run: (s) => either(parseWalltime(s), (d) => {
      const ms = Duration.toMillis(d)
      return Number.isSafeInteger(ms) && ms > 0 ? undefined : `duration ${ms} ms`
    })
  },
  { name: "JobQueries.parseAge", input: fc.oneof(fc.tuple(number, fc.constantFrom("s", "m", "h", "d", "w", "x")).map(([n, u]) => `${n}${u}`), junk), run: (s) => optional(parseAge(s), finiteNonNegative) },
  {
    name: "JobQueries.parseWhen",
    input: fc.oneof(fc.tuple(number, fc.constantFrom("s", "m", "h", "d", "w")).map(([n, u]) => `${n}${u}`), isoTime, isoTime.map((t) => `${t}Z`), junk),
    run: (s) => either(parseWhen(s, now), date)
  }
]
