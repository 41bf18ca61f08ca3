// LSF emulator: the detached supervisor of one submitted job (all elements of an array).
// Waits for the -w dependency, runs elements as local processes (each in its own process group)
// within the array throttle, enforces -W, escalates bkill's SIGTERM to SIGKILL after 2 s, and
// records PEND -> RUN -> DONE/EXIT in the job's JSON file.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { currentUser, evalDependency, listJobs, parseDependency, readJob, substitutePath, updateJob } from "./lsf.mjs"

const [dir, idText] = process.argv.slice(2)
const id = parseInt(idText, 10)
const KILL_GRACE_MS = 2000
const POLL_MS = 100
const host = os.hostname()

const first = readJob(dir, id)
if (!first) process.exit(1)
const dependency = first.dependency ? parseDependency(first.dependency) : undefined
const queue = Object.keys(first.elements).map(Number).sort((a, b) => a - b)
const running = new Map() // index -> { pid, startedAt, termAt }
const limit = first.throttle ?? Infinity

const openOut = (p, overwrite, index) => {
  try {
    const resolved = path.resolve(first.cwd, substitutePath(p, id, index))
    return fs.openSync(resolved, overwrite ? "w" : "a")
  } catch (e) {
    process.stderr.write(`cannot open ${p}: ${e.message}\n`)
    return "ignore"
  }
}

const jobEnv = (job, index) => {
  const base = job.envNone
    ? Object.fromEntries(["PATH", "HOME", "USER"].filter((k) => job.env[k] !== undefined).map((k) => [k, job.env[k]]))
    : { ...job.env }
  for (const k of Object.keys(base)) if (k.startsWith("LSB_") && k !== "LSB_JOB_REPORT_MAIL") delete base[k]
  return {
    ...base,
    LSB_JOBID: String(job.id),
    LSB_JOBINDEX: String(index),
    LSB_JOBNAME: job.isArray ? `${job.name}[${index}]` : job.name,
    LSB_QUEUE: job.queue,
    LSB_HOSTS: host,
    LSB_MCPU_HOSTS: `${host} ${job.slots}`,
    LSB_DJOB_NUMPROC: String(job.slots),
    LSB_SUB_HOST: job.fromHost,
    LSB_OUTDIR: job.cwd
  }
}

const startElement = (index) =>
  updateJob(dir, id, (job) => {
    const el = job.elements[index]
    if (el.stat !== "PEND") return false // killed while pending
    const defaultOut = path.join(dir, job.isArray ? `${id}.${index}.out` : `${id}.out`)
    const out = openOut(job.stdout ?? defaultOut, job.stdoutOverwrite, index)
    const err = job.stderr ? openOut(job.stderr, job.stderrOverwrite, index) : out
    let file, args
    if (job.command) {
      file = "/bin/sh"
      args = ["-c", job.command.join(" ")]
    } else if (job.loginShell) {
      file = job.loginShell
      args = ["-l", job.script]
    } else if (fs.readFileSync(job.script, "utf8").startsWith("#!")) {
      file = job.script
      args = []
    } else {
      file = "/bin/bash"
      args = [job.script]
    }
    let child
    try {
      child = spawn(file, args, { cwd: job.cwd, env: jobEnv(job, index), detached: true, stdio: ["ignore", out, err] })
    } catch (e) {
      process.stderr.write(`spawn failed: ${e.message}\n`)
    }
    for (const fd of [out, err]) if (typeof fd === "number") try { fs.closeSync(fd) } catch { /* same fd twice */ }
    const now = Date.now()
    if (!child || child.pid === undefined) {
      Object.assign(el, { stat: "EXIT", exit_code: 127, start_time: now, finish_time: now, exec_host: host })
      return false
    }
    Object.assign(el, { stat: "RUN", pid: child.pid, exec_host: host, start_time: now })
    const state = { pid: child.pid, startedAt: now, termAt: null, runlimit: false }
    running.set(index, state)
    child.on("error", () => {})
    child.on("exit", (code, signal) => finishElement(index, state, code, signal))
    return true
  })

const SIGNALS = os.constants.signals
const finishElement = (index, state, code, signal) => {
  running.delete(index)
  updateJob(dir, id, (job) => {
    const el = job.elements[index]
    const exitCode = code ?? 128 + (SIGNALS[signal] ?? 0)
    el.finish_time = Date.now()
    el.pid = null
    if (el.kill) {
      el.stat = el.kill.done ? "DONE" : "EXIT"
      el.exit_code = el.kill.done ? 0 : exitCode
      el.exit_reason = el.kill.done ? null : "TERM_OWNER"
    } else if (state.runlimit) {
      el.stat = "EXIT"
      el.exit_code = exitCode
      el.exit_reason = "TERM_RUNLIMIT"
    } else if (exitCode === 0) {
      el.stat = "DONE"
      el.exit_code = 0
    } else {
      el.stat = "EXIT"
      el.exit_code = exitCode
    }
  })
}

const signalGroup = (pid, sig) => {
  try {
    process.kill(-pid, sig)
  } catch {
    // already gone
  }
}

const user = currentUser()
let released = dependency === undefined

const tick = () => {
  const job = readJob(dir, id)
  if (!job) process.exit(0)
  const now = Date.now()
  // bkill escalation and run limit
  for (const [index, st] of running) {
    const el = job.elements[index]
    if (el.kill && st.termAt === null) st.termAt = el.kill.at
    if (job.runLimitMs !== null && st.termAt === null && now - st.startedAt > job.runLimitMs) {
      st.runlimit = true
      st.termAt = now
      signalGroup(st.pid, "SIGTERM")
    }
    if (st.termAt !== null && now - st.termAt > KILL_GRACE_MS) signalGroup(st.pid, "SIGKILL")
  }
  if (!released) {
    const r = evalDependency(dependency, listJobs(dir), user)
    if (r === "yes") released = true
    else if (r === "never") {
      if (job.terminateIfInvalid) {
        updateJob(dir, id, (j) => {
          for (const el of Object.values(j.elements)) {
            if (el.stat === "PEND") Object.assign(el, { stat: "EXIT", exit_reason: "TERM_ORPHAN_SYSTEM", finish_time: now })
          }
        })
      }
      // Without -ti the job stays PEND forever, as in LSF; nothing more can happen here.
      process.exit(0)
    } else if (Object.values(job.elements).every((e) => e.stat !== "PEND")) process.exit(0)
  }
  if (released) {
    while (queue.length > 0 && running.size < limit) {
      startElement(queue.shift())
    }
    if (queue.length === 0 && running.size === 0) process.exit(0)
  }
  setTimeout(tick, POLL_MS)
}
tick()
