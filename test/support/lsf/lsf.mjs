// Shared state and helpers for the LSF emulator (bsub / bjobs / bkill) used by end-to-end tests.
//
// State lives in the directory named by LSF_EMULATOR_DIR:
//   counter            last allocated job id (guarded by counter.lock)
//   jobs/<id>.json     one record per submitted job (array elements live inside it),
//                      updated under jobs/<id>.lock and written atomically (tmp + rename)
//   jobs/<id>.sh       the job script
//   jobs/<id>.supervisor.log  output of the detached supervisor process
import { currentUser, jobRecords, shellSplit, sleepSync, stateDirFrom, withLock } from "../emulator.mjs"

export { currentUser, shellSplit, sleepSync, withLock }

export const stateDir = stateDirFrom("LSF_EMULATOR_DIR", "LSF", 255)

export const FIRST_ID = 1000

const records = jobRecords({ firstId: FIRST_ID, keyOf: (job) => job.id })
export const { jobFile, readJob, writeJob, updateJob, listJobs } = records
export const allocateId = records.allocate

export const isFinished = (stat) => stat === "DONE" || stat === "EXIT"

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n) => String(n).padStart(2, "0")

/** LSF style local time, e.g. "Jan  5 10:00:00 2024 L" (day padded with a space, trailing " L"). */
export const formatTime = (ms) => {
  if (ms === undefined || ms === null) return "-"
  const d = new Date(ms)
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${pad2(d.getHours())}:${pad2(
    d.getMinutes()
  )}:${pad2(d.getSeconds())} ${d.getFullYear()} L`
}

export const parseJobName = (spec) => {
  const m = /^(.*)\[([^\]]*)\](?:%(\d+))?$/.exec(spec)
  if (!m) return { name: spec, indices: undefined, throttle: undefined }
  let body = m[2]
  let throttle = m[3] === undefined ? undefined : parseInt(m[3], 10)
  const pm = /^(.*)%(\d+)$/.exec(body)
  if (pm) {
    body = pm[1]
    throttle = parseInt(pm[2], 10)
  }
  const indices = []
  for (const part of body.split(",")) {
    const r = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim())
    if (!r) throw new Error(`${spec}: Bad job name. Job not submitted.`)
    const a = parseInt(r[1], 10)
    const b = r[2] === undefined ? a : parseInt(r[2], 10)
    const s = r[3] === undefined ? 1 : parseInt(r[3], 10)
    if (a < 1 || b < a || s < 1) throw new Error(`${spec}: Bad job name. Job not submitted.`)
    for (let i = a; i <= b; i += s) indices.push(i)
  }
  return { name: m[1], indices: [...new Set(indices)].sort((x, y) => x - y), throttle }
}

export const globMatch = (pattern, text) => {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$")
  return re.test(text)
}

// ---------------------------------------------------------------------------------------------
// Dependency expressions (-w): done(x), ended(x), exit(x), exit(x,op code) (code ignored),
// started(x), a bare x (= done(x)), combined with &&, ||, ! and parentheses.
// x is a job id, id[index], or a job name (wildcards * allowed), optionally quoted.
// Evaluation is three-valued: "yes", "no" (not yet) and "never" (can no longer become true).
// ---------------------------------------------------------------------------------------------

export const parseDependency = (text) => {
  let pos = 0
  const src = text
  const ws = () => {
    while (pos < src.length && /\s/.test(src[pos])) pos++
  }
  const ref = () => {
    ws()
    if (src[pos] === '"' || src[pos] === "'") {
      const q = src[pos++]
      const end = src.indexOf(q, pos)
      if (end < 0) throw new Error(`${text}: Syntax error in dependency condition`)
      const r = src.slice(pos, end)
      pos = end + 1
      return r
    }
    const m = /^[^\s()&|!,]+/.exec(src.slice(pos))
    if (!m) throw new Error(`${text}: Syntax error in dependency condition`)
    pos += m[0].length
    return m[0]
  }
  const primary = () => {
    ws()
    if (src[pos] === "!") {
      pos++
      return { op: "not", arg: primary() }
    }
    if (src[pos] === "(") {
      pos++
      const e = orExpr()
      ws()
      if (src[pos] !== ")") throw new Error(`${text}: Syntax error in dependency condition`)
      pos++
      return e
    }
    const fm = /^(done|ended|exit|started|post_done|post_err)\s*\(/i.exec(src.slice(pos))
    if (fm) {
      pos += fm[0].length
      const target = ref()
      ws()
      if (src[pos] === ",") {
        const close = src.indexOf(")", pos)
        pos = close < 0 ? src.length : close
      }
      ws()
      if (src[pos] !== ")") throw new Error(`${text}: Syntax error in dependency condition`)
      pos++
      return { op: "cond", kind: fm[1].toLowerCase(), target }
    }
    return { op: "cond", kind: "done", target: ref() }
  }
  const andExpr = () => {
    let left = primary()
    for (;;) {
      ws()
      if (src.startsWith("&&", pos)) {
        pos += 2
        left = { op: "and", args: [left, primary()] }
      } else return left
    }
  }
  const orExpr = () => {
    let left = andExpr()
    for (;;) {
      ws()
      if (src.startsWith("||", pos)) {
        pos += 2
        left = { op: "or", args: [left, andExpr()] }
      } else return left
    }
  }
  const e = orExpr()
  ws()
  if (pos !== src.length) throw new Error(`${text}: Syntax error in dependency condition`)
  return e
}

export const dependencyTargets = (expr) =>
  expr.op === "cond" ? [expr.target] : expr.op === "not" ? dependencyTargets(expr.arg) : expr.args.flatMap(dependencyTargets)

/** The element statuses a dependency reference points at (empty array when nothing matches). */
export const resolveTarget = (jobs, target, user) => {
  const m = /^(\d+)(?:\[(\d+)\])?$/.exec(target)
  if (m) {
    const job = jobs.find((j) => j.id === parseInt(m[1], 10))
    if (!job) return []
    if (m[2] !== undefined) {
      const el = job.elements[m[2]]
      return el ? [el.stat] : []
    }
    return Object.values(job.elements).map((e) => e.stat)
  }
  const nm = /^(.*)\[(\d+)\]$/.exec(target)
  const base = nm ? nm[1] : target
  return jobs
    .filter((j) => j.user === user && globMatch(base, j.name))
    .flatMap((j) => (nm ? (j.elements[nm[2]] ? [j.elements[nm[2]].stat] : []) : Object.values(j.elements).map((e) => e.stat)))
}

const condOf = (kind, stats) => {
  if (stats.length === 0) return "never"
  const each = (s) => {
    switch (kind) {
      case "done":
      case "post_done":
        return s === "DONE" ? "yes" : s === "EXIT" ? "never" : "no"
      case "exit":
      case "post_err":
        return s === "EXIT" ? "yes" : s === "DONE" ? "never" : "no"
      case "ended":
        return isFinished(s) ? "yes" : "no"
      case "started":
        return s === "PEND" ? "no" : "yes"
      default:
        return "never"
    }
  }
  const rs = stats.map(each)
  return rs.includes("never") ? "never" : rs.every((r) => r === "yes") ? "yes" : "no"
}

export const evalDependency = (expr, jobs, user) => {
  switch (expr.op) {
    case "cond":
      return condOf(expr.kind, resolveTarget(jobs, expr.target, user))
    case "not": {
      const r = evalDependency(expr.arg, jobs, user)
      return r === "yes" ? "no" : "yes"
    }
    case "and": {
      const rs = expr.args.map((a) => evalDependency(a, jobs, user))
      return rs.includes("never") ? "never" : rs.every((r) => r === "yes") ? "yes" : "no"
    }
    case "or": {
      const rs = expr.args.map((a) => evalDependency(a, jobs, user))
      return rs.includes("yes") ? "yes" : rs.every((r) => r === "never") ? "never" : "no"
    }
  }
  return "never"
}

/** Substitutes %J (job id) and %I (array index) in -o / -e paths. */
export const substitutePath = (p, id, index) => p.replace(/%J/g, String(id)).replace(/%I/g, String(index))

/** Parses -W "[HH:]MM" into milliseconds (one minute = LSF_EMULATOR_SECONDS_PER_MINUTE seconds, default 60). */
export const parseRunLimit = (w, secondsPerMinute) => {
  const m = /^(?:(\d+):)?(\d+)$/.exec(w.trim())
  if (!m) return undefined
  const minutes = (m[1] ? parseInt(m[1], 10) * 60 : 0) + parseInt(m[2], 10)
  return minutes * secondsPerMinute * 1000
}
