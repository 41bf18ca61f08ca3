// Shared state and helpers for the PBS emulator (qsub / qstat / qdel / qrls) used by end-to-end tests.
// Two flavours, chosen by PBS_EMULATOR_FLAVOR: "pro" (PBS Pro / OpenPBS 2022, the default) and
// "torque" (Torque 6). The server name is PBS_EMULATOR_SERVER (default "pbs-emu").
//
// State lives in the directory named by PBS_EMULATOR_DIR:
//   counter                  last allocated sequence number (guarded by counter.lock)
//   jobs/<seq>.json          one record per submitted job (array subjobs live inside it as tasks),
//                            updated under jobs/<seq>.lock and written atomically (tmp + rename)
//   jobs/<seq>.sh            the job script as submitted (mode 0755)
//   jobs/<seq>[.<i>].nodes   PBS_NODEFILE of the job / subjob
//   jobs/<seq>.runner.log    output of the detached runner (supervisor) process
//
// Choices where the documents are silent (PBS Pro 2022 / Torque 6 behaviour as documented or observed):
// - Exit codes are pbs_errno & 0xff: PBSE_UNKJOBID 15001 -> 153, PBSE_HISTJOBID 15139 -> 35,
//   PBSE_BADSTATE 15018 -> 170. Usage errors exit 2.
// - Unknown ids: pro "<cmd>: Unknown Job Id <id>"; torque "<cmd>: Unknown Job Id Error <id>" (Torque's
//   text for PBSE_UNKJOBID, for qstat and qrls), but TORQUE 5+'s qdel prints
//   "qdel: nonexistent job id: <id as given>"; all exit 153. A completed job: TORQUE's qdel prints
//   "qdel: invalid state for job - COMPLETE <id>" (svr_chk_owner.c).
// - A job held by a dependency shows job_state H and Hold_Types "s" (a system hold, as real PBS does);
//   a user hold (-h) is "u"; both "us"; none "n". `qrls -h s` releases a dependency hold (the job
//   then runs regardless of its dependencies).
// - Dependencies are shown with full ids (`afterok:1000.pbs-emu`), as real PBS normalises them.
//   Also accepted: `after` (target has started) and, in torque, `afterokarray` / `afternotokarray` /
//   `afteranyarray` / `afterstartarray` on an array id. Other types (before*, on:) are refused as illegal.
//   A dependency on a job that has already finished is accepted and evaluated at once.
// - When a job ends without running (deleted), afterok dependents are deleted and afternotok /
//   afterany dependents are released (as PBS does on qdel).
// - A job array id `1000` (without `[]`) is accepted as well as `1000[]`; `1000[]` on a job that is
//   not an array is unknown.
// - Array parent (pro) Exit_status: 0 all subjobs 0, 1 some non-zero, 2 some deleted. Torque's array
//   summary has no exit_status.
// - qstat -t (torque) prints the summary `1000[]` and then each subjob.
// - Pro -J needs start < end (PBS Pro documents X < Y); torque -t may name one index.
// - Pro `array` is printed as the string "True", like every boolean (Rerunable "True"/"False"), as
//   real PBS Pro does.
// - A job PBS deletes because its dependency can never be met: TORQUE's comment says so
//   ("Job deleted as result of dependency on job <id>"); PBS Pro's server aborts it without a
//   comment, and its history shows substate 92 where a job qdel ended shows 91 (93: exited
//   non-zero). `depend` names each job as id@server.
// - Torque qstat -x (as Torque 6's qstat.c does): `<?xml version="1.0"?>` on its own line, then the
//   `<Data>…</Data>` document on one line; one such document PER job-id operand (Torque stats each
//   operand separately), one for all jobs without operands (`<Data></Data>` when there are none), and
//   nothing on stdout for an unknown id (its error goes to stderr at the end; exit 153).
// - `-o`/`-e` naming an existing directory put the default file name inside it (PBS does so).
// - `-a` (execution time) holds the job in state W until then. `-W block=true` is only stored.
// - `qsub -- command` (pro) is not supported; `--` just ends the options. Interactive -I is refused.
// - Resource_List is what was asked (walltime normalised to HH:MM:SS, pro integers as JSON numbers)
//   plus the defaults a server adds: pro ncpus, nodect, place=pack, select=1:ncpus=N; torque nodect,
//   nodes=1. exec_host is "<host>/0" ("<host>/0*N" for N cpus in pro).
// - `-W depend=...` keeps its commas (it is one attribute); other -W values split at commas.
// - State E (exiting) is never shown; a task goes straight from R to F / X / C.
// - resources_used.mem / vmem are VmHWM / VmPeak of the job's main process sampled every 100 ms
//   (2048kb / 10240kb when the job ended before the first sample); cput from /proc/<pid>/stat.
// - qdel / qrls / qstat without -F json or -x print plain-text forms (short table, `qstat -f` text)
//   that are close to, but not byte-for-byte, the real ones.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { currentUser, jobRecords, shellSplit as splitWords, sleepSync, stateDirFrom, withLock, writeAtomic } from "../emulator.mjs"

export { currentUser, sleepSync, withLock, writeAtomic }

export const stateDir = stateDirFrom("PBS_EMULATOR_DIR", "PBS", 2)

/** Splits a `#PBS` line or an option value like a shell; a `#` starting a word ends it. */
export const shellSplit = (line) => splitWords(line, { comments: true })

export const FIRST_ID = 1000
export const flavor = () => ((process.env.PBS_EMULATOR_FLAVOR ?? "pro").toLowerCase() === "torque" ? "torque" : "pro")
export const serverName = () => process.env.PBS_EMULATOR_SERVER || "pbs-emu"
export const host = () => os.hostname().split(".")[0]
export const PBS_VERSION = "2022.1.0"
export const TORQUE_VERSION = "6.1.3"

export const EXIT_UNKNOWN = 153
export const EXIT_FINISHED = 35
export const EXIT_BADSTATE = 170
export const KILL_GRACE_MS = 2000

const records = jobRecords({ firstId: FIRST_ID, keyOf: (job) => job.seq, onUpdate: (job) => (job.mtime = Date.now()) })
export const { jobFile, readJob, writeJob, updateJob, listJobs } = records
export const allocateSeq = records.allocate

/** The submitter's passwd entry (home and login shell), falling back to the environment. */
export const passwdInfo = () => {
  let info
  try {
    info = os.userInfo()
  } catch {
    info = undefined
  }
  return {
    user: info?.username ?? process.env.USER ?? "unknown",
    home: info?.homedir || process.env.HOME || "/",
    shell: info?.shell || process.env.SHELL || "/bin/sh"
  }
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

/**
 * Parses "1000", "1000.server", "1000[]", "1000[].server", "1000[3]", "1000[3].server[.domain]".
 * Returns { seq, kind: "plain" | "array" | "subjob", index, text } or undefined (not an id of this server).
 */
export const parseJobId = (text) => {
  const server = serverName()
  const m = /^(\d+)(?:\[(\d*)\])?(?:\.(.+))?$/.exec(text.trim())
  if (!m) return undefined
  if (m[3] !== undefined && m[3] !== server && !m[3].startsWith(server + ".")) return undefined
  const seq = parseInt(m[1], 10)
  if (m[2] === undefined) return { seq, kind: "plain", index: undefined }
  if (m[2] === "") return { seq, kind: "array", index: undefined }
  return { seq, kind: "subjob", index: parseInt(m[2], 10) }
}

/** The id as the server spells it: "<id>.<server>" (keeping an explicit server suffix). */
export const fullId = (text) => {
  const t = text.trim()
  const server = serverName()
  const m = /^(\d+(?:\[\d*\])?)(?:\.(.+))?$/.exec(t)
  if (m) return `${m[1]}.${m[2] ?? server}`
  return t.includes(".") ? t : `${t}.${server}`
}

export const jobIdOf = (job) => (job.isArray ? `${job.seq}[].${job.server}` : `${job.seq}.${job.server}`)
export const subjobIdOf = (job, index) => `${job.seq}[${index}].${job.server}`

/**
 * Finds what an id names: { job, tasks: [keys] , parent: boolean } or undefined when unknown.
 * `1000` also names an array (lenient); `1000[]` names only arrays; `1000[3]` one subjob.
 */
export const lookup = (dir, text, jobs) => {
  const p = parseJobId(text)
  if (!p) return undefined
  const job = jobs ? jobs.find((j) => j.seq === p.seq) : readJob(dir, p.seq)
  if (!job) return undefined
  if (p.kind === "array" && !job.isArray) return undefined
  if (p.kind === "subjob") {
    if (!job.isArray || job.tasks[String(p.index)] === undefined) return undefined
    return { job, keys: [String(p.index)], subjob: p.index }
  }
  return { job, keys: Object.keys(job.tasks), subjob: undefined }
}

// ---------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------

export const taskFinished = (t) => t.state === "F"
export const jobFinished = (job) => Object.values(job.tasks).every(taskFinished)

/** Whether a task is held (user hold, dependency) or waiting (-a); otherwise "Q". */
export const pendingState = (job, now = Date.now()) => {
  if (job.userHold || job.depPending) return "H"
  if (job.executionTime && job.executionTime > now) return "W"
  return "Q"
}

export const holdTypes = (job) => {
  const s = (job.userHold ? "u" : "") + (job.depPending ? "s" : "")
  return s === "" ? "n" : s
}

/** The state of one task as qstat shows it (subjob finished: pro X, torque C). */
export const taskState = (job, t, fl = flavor()) => {
  if (t.state === "R") return "R"
  if (t.state === "F") return job.isArray ? (fl === "pro" ? "X" : "C") : fl === "pro" ? "F" : "C"
  return job.isArray ? "Q" : pendingState(job)
}

/** The state of a job (array parent / summary included). */
export const jobState = (job, fl = flavor()) => {
  const tasks = Object.values(job.tasks)
  if (!job.isArray) return taskState(job, tasks[0], fl)
  if (tasks.every(taskFinished)) return fl === "pro" ? "F" : "C"
  if (tasks.every((t) => t.state === "Q")) return pendingState(job)
  if (fl === "pro") return "B"
  return tasks.some((t) => t.state === "R") ? "R" : pendingState(job)
}

// ---------------------------------------------------------------------------------------------
// Dependencies: [{ type: afterok|afternotok|afterany|after, ids: ["1000.pbs-emu", "1001[].pbs-emu"] }]
// Evaluation: "yes" (met), "no" (not yet), "never" (cannot be met any more).
// ---------------------------------------------------------------------------------------------

export const DEP_TYPES = new Set(["afterok", "afternotok", "afterany", "after"])
/** Torque's dependency types on a whole array (`afterokarray:1000[]`), read like the plain ones. */
export const TORQUE_ARRAY_DEP_TYPES = new Set(["afterokarray", "afternotokarray", "afteranyarray", "afterstartarray"])

export const parseDepend = (text, fl = flavor()) => {
  const out = []
  for (const part of text.split(",")) {
    const items = part.trim().split(":")
    const type = items[0].trim()
    const arrayType = fl === "torque" && TORQUE_ARRAY_DEP_TYPES.has(type)
    if ((!DEP_TYPES.has(type) && !arrayType) || items.length < 2 || items.slice(1).some((i) => i.trim() === "")) return undefined
    const base = arrayType ? (type === "afterstartarray" ? "after" : type.slice(0, -"array".length)) : type
    out.push({ type, base, ids: items.slice(1).map((i) => fullId(i.trim())) })
  }
  return out
}

export const formatDepend = (deps) => deps.map((d) => `${d.type}:${d.ids.join(":")}`).join(",")

const targetResult = (type, job, keys) => {
  const tasks = keys.map((k) => job.tasks[k])
  if (type === "after") return tasks.every((t) => t.state === "R" || t.state === "F") ? "yes" : "no"
  if (!tasks.every(taskFinished)) return "no"
  if (type === "afterany") return "yes"
  const ok = tasks.every((t) => !t.deleted && t.exitStatus === 0)
  if (type === "afterok") return ok ? "yes" : "never"
  return ok ? "never" : "yes"
}

/** Evaluates all dependencies; returns { result, blocker } where blocker is the id that can never be met. */
export const evalDepend = (dir, deps) => {
  let all = "yes"
  for (const d of deps) {
    for (const id of d.ids) {
      const found = lookup(dir, id)
      if (!found) return { result: "never", blocker: id }
      const r = targetResult(d.base ?? d.type, found.job, found.keys)
      if (r === "never") return { result: "never", blocker: id }
      if (r === "no") all = "no"
    }
  }
  return { result: all, blocker: undefined }
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------------------------

/** Splits "a=1,b=\"x,y\",c" at commas outside quotes (quotes removed). */
export const splitList = (text) => {
  const out = []
  let cur = ""
  let quote = null
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = null
      else cur += c
    } else if (c === '"' || c === "'") quote = c
    else if (c === ",") {
      out.push(cur)
      cur = ""
    } else cur += c
  }
  out.push(cur)
  return out.map((s) => s.trim()).filter((s) => s !== "")
}

/** "[[HH:]MM:]SS" (each part digits; seconds may carry a fraction) -> seconds, or undefined. */
export const parseWalltime = (text) => {
  const parts = String(text).trim().split(":")
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return undefined
  if (parts.slice(0, -1).some((p) => p.includes("."))) return undefined
  let s = 0
  for (const p of parts) s = s * 60 + Number(p)
  return Math.floor(s)
}

export const formatDuration = (seconds) => {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return `${String(h).padStart(2, "0")}:${pad2(m)}:${pad2(s % 60)}`
}

/** Array ranges. pro: "X-Y[:Z][%max]"; torque: "1-10", "1,3,5-7", each optionally "%max". */
export const parseArrayRange = (text, fl) => {
  let body = String(text).trim()
  let throttle
  const pm = /^(.*)%(\d+)$/.exec(body)
  if (pm) {
    body = pm[1]
    throttle = parseInt(pm[2], 10)
    if (throttle < 1) return undefined
  }
  const indices = []
  if (fl === "pro") {
    const m = /^(\d+)-(\d+)(?::(\d+))?$/.exec(body)
    if (!m) return undefined
    const a = parseInt(m[1], 10)
    const b = parseInt(m[2], 10)
    const s = m[3] === undefined ? 1 : parseInt(m[3], 10)
    if (!(a < b) || s < 1) return undefined
    for (let i = a; i <= b; i += s) indices.push(i)
  } else {
    for (const part of body.split(",")) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
      if (!m) return undefined
      const a = parseInt(m[1], 10)
      const b = m[2] === undefined ? a : parseInt(m[2], 10)
      if (b < a) return undefined
      for (let i = a; i <= b; i++) indices.push(i)
    }
  }
  const uniq = [...new Set(indices)].sort((x, y) => x - y)
  if (uniq.length === 0 || uniq.length > 10000) return undefined
  return { indices: uniq, throttle, text: body }
}

/** Compresses indices into "1-3,5,7-9" (with ":step" runs for pro-style stepped ranges). */
export const rangeText = (indices) => {
  if (indices.length === 0) return "-"
  const parts = []
  let i = 0
  while (i < indices.length) {
    let j = i
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++
    parts.push(j === i ? String(indices[i]) : `${indices[i]}-${indices[j]}`)
    i = j + 1
  }
  return parts.join(",")
}

/** Total cpus a resource list asks for (select chunks, ncpus, nodes:ppn, procs); default 1. */
export const ncpusOf = (resources) => {
  if (resources.select !== undefined) {
    let total = 0
    for (const chunk of String(resources.select).split("+")) {
      const items = chunk.split(":")
      const n = /^\d+$/.test(items[0]) ? parseInt(items[0], 10) : 1
      const c = items.map((x) => /^ncpus=(\d+)$/.exec(x)).find(Boolean)
      total += n * (c ? parseInt(c[1], 10) : 1)
    }
    return Math.max(1, total)
  }
  if (resources.ncpus !== undefined && /^\d+$/.test(resources.ncpus)) return Math.max(1, parseInt(resources.ncpus, 10))
  if (resources.nodes !== undefined) {
    const m = /^(\d+)?(?::ppn=(\d+))?/.exec(String(resources.nodes))
    const n = m && m[1] ? parseInt(m[1], 10) : 1
    const p = m && m[2] ? parseInt(m[2], 10) : 1
    return Math.max(1, n * p)
  }
  if (resources.procs !== undefined && /^\d+$/.test(resources.procs)) return Math.max(1, parseInt(resources.procs, 10))
  return 1
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n) => String(n).padStart(2, "0")

/** ctime(3) style local time: "Fri Nov 11 17:57:05 2016" (day of month padded with a space). */
export const ctimeString = (ms) => {
  const d = new Date(ms)
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${pad2(d.getHours())}:${pad2(
    d.getMinutes()
  )}:${pad2(d.getSeconds())} ${d.getFullYear()}`
}

/** PBS Pro's comment time: "Fri Nov 11 at 17:57". */
export const commentTime = (ms) => {
  const d = new Date(ms)
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad2(d.getDate())} at ${pad2(d.getHours())}:${pad2(d.getMinutes())}`
}

export const epoch = (ms) => Math.floor(ms / 1000)

/** qsub -a "[[[[CC]YY]MM]DD]hhmm[.SS]" -> epoch ms (local time), or undefined. */
export const parseExecutionTime = (text) => {
  const m = /^(\d{4}|\d{6}|\d{8}|\d{10}|\d{12})(?:\.(\d{2}))?$/.exec(text.trim())
  if (!m) return undefined
  const digits = m[1]
  const now = new Date()
  const take = (s, e) => parseInt(digits.slice(digits.length - e, digits.length - s), 10)
  const mm = take(0, 2)
  const hh = take(2, 4)
  const DD = digits.length >= 6 ? take(4, 6) : now.getDate()
  const MM = digits.length >= 8 ? take(6, 8) - 1 : now.getMonth()
  let YY = now.getFullYear()
  if (digits.length === 10) YY = 2000 + take(8, 10)
  if (digits.length === 12) YY = take(8, 12)
  const ss = m[2] ? parseInt(m[2], 10) : 0
  if (mm > 59 || hh > 23 || ss > 61 || MM > 11 || DD < 1 || DD > 31) return undefined
  const d = new Date(YY, MM, DD, hh, mm, ss)
  return d.getTime()
}

// ---------------------------------------------------------------------------------------------
// Output paths
// ---------------------------------------------------------------------------------------------

/** Splits "host:/path" into { host, path } (a path without a host keeps the submission host). */
export const splitHostPath = (p) => {
  const m = /^([^/:]+):(.*)$/.exec(p)
  return m ? { host: m[1], path: m[2] } : { host: undefined, path: p }
}

/**
 * The file one task writes its stdout ("o") or stderr ("e") to, and the path qstat shows.
 * Pro: "^array_index^" is replaced per subjob; default "<name>.o<seq>[.<index>]".
 * Torque: subjobs get "-<index>" appended; default "<name>.o<seq>[-<index>]".
 */
export const streamPath = (job, which, index) => {
  const given = which === "o" ? job.outputPath : job.errorPath
  const defaultName = (i) =>
    job.flavor === "pro"
      ? `${job.name}.${which}${job.seq}${i === undefined ? "" : `.${i}`}`
      : `${job.name}.${which}${job.seq}${i === undefined ? "" : `-${i}`}`
  if (given === null) return path.join(job.cwd, defaultName(index))
  let p = path.resolve(job.cwd, splitHostPath(given).path)
  try {
    if (fs.statSync(p).isDirectory()) return path.join(p, defaultName(index))
  } catch {
    // not there yet: a file path
  }
  if (index !== undefined) {
    if (job.flavor === "pro") p = p.replace(/\^array_index\^/g, String(index))
    else p = `${p}-${index}`
  }
  return p
}

/** Output_Path / Error_Path as qstat shows them ("host:/abs/path"). */
export const shownPath = (job, which, index) => {
  const given = which === "o" ? job.outputPath : job.errorPath
  const h = given !== null ? splitHostPath(given).host ?? job.submitHost : job.submitHost
  if (given === null && job.isArray && index === undefined && job.flavor === "pro") {
    return `${h}:${path.join(job.cwd, `${job.name}.${which}${job.seq}.^array_index^`)}`
  }
  return `${h}:${streamPath(job, which, index)}`
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** A text C's strtod(3) reads whole (leading and trailing blanks allowed): decimal, hex, inf, nan. */
const strtodWhole =
  /^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?|inf(?:inity)?|nan(?:\([\w]*\))?)\s*$/i

/**
 * Whether PBS Pro's JSON writer (pbs_json.c add_json_node, up to 23.06.06) prints a text value
 * bare: when strtod reads it whole, unless it starts with "0" and is 1 or more ("007" stays quoted,
 * "005" too; "00", ".5", "+1", "inf", "1e5" are printed bare, JSON or not).
 */
const printedBare = (text) => text.trim() !== "" && strtodWhole.test(text) && !(text[0] === "0" && Number(text) >= 1)

/**
 * JSON the way PBS Pro's qstat -F json prints it: 4-space indent, no space after ":", and a text
 * value that reads as a number printed bare (see `printedBare`), so `-v FOO=005` is `"FOO":005`.
 */
export const pbsJson = (value, indent = 0) => {
  const pad = " ".repeat(indent + 4)
  if (typeof value === "string" && printedBare(value)) return value
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  const entries = Object.entries(value).filter(([, v]) => v !== undefined)
  if (entries.length === 0) return "{}"
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}:${pbsJson(v, indent + 4)}`).join(",\n")}\n${" ".repeat(indent)}}`
}

export const xmlEscape = (s) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;")

/** Torque-style Variable_List string: "A=1,B=2" with commas in values escaped as "\,". */
export const variableListString = (vars) =>
  Object.entries(vars)
    .map(([k, v]) => `${k}=${String(v).replace(/,/g, "\\,")}`)
    .join(",")

/** Signals a process group, ignoring a group that is gone. */
export const signalGroup = (pid, sig) => {
  try {
    process.kill(-pid, sig)
    return true
  } catch {
    try {
      process.kill(pid, sig)
      return true
    } catch {
      return false
    }
  }
}
