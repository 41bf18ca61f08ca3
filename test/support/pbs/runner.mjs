// PBS emulator: the detached supervisor of one submitted job (all subjobs of an array).
// While the job is held (-h, until qrls) or waits for its dependencies it polls; a dependency that can
// never be met deletes the job. Then it runs the tasks as local processes (each in its own process
// group) within the array throttle, enforces Resource_List.walltime, escalates qdel's SIGTERM to
// SIGKILL after 2 s, samples memory and cpu from /proc, and records Q -> R -> F in the job's record.
// It exits when every task has finished (or when the state directory is gone).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  KILL_GRACE_MS,
  commentTime,
  evalDepend,
  host,
  jobIdOf,
  ncpusOf,
  readJob,
  signalGroup,
  streamPath,
  subjobIdOf,
  updateJob
} from "./pbs.mjs"

const [dir, seqText] = process.argv.slice(2)
const seq = parseInt(seqText, 10)
const POLL_MS = 100
const execHost = host()

const first = readJob(dir, seq)
if (!first) process.exit(1)
const limit = first.throttle ?? Infinity
const running = new Map() // key -> { pid, startedAt, termAt, done }
const ncpus = ncpusOf(first.resources)

const openOut = (file) => {
  try {
    return fs.openSync(file, "w")
  } catch (e) {
    process.stderr.write(`cannot open ${file}: ${e.message}\n`)
    return "ignore"
  }
}

const nodeFileLines = (job) => {
  if (job.flavor === "torque") return ncpus
  if (job.resources.select === undefined) return 1
  let n = 0
  for (const chunk of String(job.resources.select).split("+")) {
    const items = chunk.split(":")
    const count = /^\d+$/.test(items[0]) ? parseInt(items[0], 10) : 1
    const mp = items.map((x) => /^mpiprocs=(\d+)$/.exec(x)).find(Boolean)
    n += count * (mp ? parseInt(mp[1], 10) : 1)
  }
  return Math.max(1, n)
}

const jobEnv = (job, t) => {
  const pro = job.flavor === "pro"
  const base = {
    HOME: job.home,
    USER: job.owner,
    LOGNAME: job.owner,
    SHELL: job.loginShell,
    PATH: "/usr/local/bin:/usr/bin:/bin"
  }
  if (job.variableList.TMPDIR === undefined && process.env.TMPDIR) base.TMPDIR = process.env.TMPDIR
  const nodeFile = path.join(dir, "jobs", t.index === null ? `${job.seq}.nodes` : `${job.seq}.${t.index}.nodes`)
  fs.writeFileSync(nodeFile, `${execHost}\n`.repeat(nodeFileLines(job)))
  const id = t.index === null ? jobIdOf(job) : subjobIdOf(job, t.index)
  const env = {
    ...base,
    ...job.variableList,
    PBS_JOBID: id,
    PBS_JOBNAME: !pro && t.index !== null ? `${job.name}-${t.index}` : job.name,
    PBS_QUEUE: job.queue,
    PBS_ENVIRONMENT: "PBS_BATCH",
    PBS_NODEFILE: nodeFile,
    PBS_TASKNUM: "1",
    PBS_NODENUM: "0"
  }
  if (pro) {
    Object.assign(env, {
      ENVIRONMENT: "BATCH",
      PBS_JOBDIR: job.home,
      PBS_MOMPORT: "15003",
      NCPUS: String(ncpus),
      OMP_NUM_THREADS: String(ncpus)
    })
    if (t.index !== null) Object.assign(env, { PBS_ARRAY_INDEX: String(t.index), PBS_ARRAY_ID: jobIdOf(job) })
  } else {
    Object.assign(env, {
      PBS_SERVER: job.server,
      PBS_VNODENUM: "0",
      PBS_NP: String(ncpus),
      PBS_NUM_NODES: "1",
      PBS_NUM_PPN: String(ncpus)
    })
    if (job.workdir !== null) env.PBS_O_INITDIR = job.workdir
    if (job.walltime !== null) env.PBS_WALLTIME = String(job.walltime)
    if (t.index !== null) env.PBS_ARRAYID = String(t.index)
  }
  return env
}

const exists = (p) => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

const startTask = (key) =>
  updateJob(dir, seq, (job) => {
    const t = job.tasks[key]
    if (t.state !== "Q") return false // deleted meanwhile
    const index = t.index === null ? undefined : t.index
    const outFile = streamPath(job, "o", index)
    const errFile = streamPath(job, "e", index)
    let out, err
    if (job.join === "oe") {
      out = openOut(outFile)
      err = out
    } else if (job.join === "eo") {
      err = openOut(errFile)
      out = err
    } else {
      out = openOut(outFile)
      err = openOut(errFile)
    }
    let file, args
    const scriptText = fs.readFileSync(job.script, "utf8")
    if (job.shell !== null) {
      file = job.shell
      args = [job.script]
    } else if (scriptText.startsWith("#!")) {
      file = job.script
      args = []
    } else {
      file = job.loginShell || "/bin/sh"
      args = [job.script]
    }
    const wd = job.flavor === "torque" && job.workdir !== null ? job.workdir : job.home
    const now = Date.now()
    let child
    try {
      child = spawn(file, args, {
        cwd: exists(wd) ? wd : "/",
        env: jobEnv(job, t),
        detached: true,
        stdio: ["ignore", out, err]
      })
    } catch (e) {
      process.stderr.write(`spawn failed: ${e.message}\n`)
    }
    for (const fd of new Set([out, err])) if (typeof fd === "number") fs.closeSync(fd)
    t.stime = now
    t.runCount += 1
    if (!child || child.pid === undefined) {
      Object.assign(t, { state: "F", exitStatus: 127, endTime: now })
      if (child) child.on("error", () => {})
      return false
    }
    t.state = "R"
    t.pid = child.pid
    if (job.flavor === "pro") t.comment = `Job run at ${commentTime(now)} on (${execHost}:ncpus=${ncpus})`
    const st = { pid: child.pid, startedAt: now, termAt: null, done: false, errFile: job.join === "oe" ? outFile : errFile, mem: 0, vmem: 0, cput: 0 }
    running.set(key, st)
    child.on("error", (e) => {
      process.stderr.write(`job process error: ${e.message}\n`)
      finishTask(key, st, 127, null)
    })
    child.on("exit", (code, signal) => finishTask(key, st, code, signal))
    return true
  })

/** Samples VmHWM / VmPeak (kB) and cpu time (utime+stime+cutime+cstime) of the job's main process. */
const sample = (st) => {
  try {
    const status = fs.readFileSync(`/proc/${st.pid}/status`, "utf8")
    const hwm = /VmHWM:\s+(\d+)/.exec(status)
    const peak = /VmPeak:\s+(\d+)/.exec(status)
    if (hwm) st.mem = Math.max(st.mem, parseInt(hwm[1], 10))
    if (peak) st.vmem = Math.max(st.vmem, parseInt(peak[1], 10))
    const stat = fs.readFileSync(`/proc/${st.pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ticks = [11, 12, 13, 14].reduce((a, i) => a + (parseInt(f[i], 10) || 0), 0)
    st.cput = Math.max(st.cput, Math.floor(ticks / 100))
  } catch {
    // gone or no /proc
  }
}

const SIGNALS = os.constants.signals
const finishTask = (key, st, code, signal) => {
  if (st.done) return
  st.done = true
  running.delete(key)
  updateJob(dir, seq, (job) => {
    const t = job.tasks[key]
    const now = Date.now()
    let status = signal ? 256 + (SIGNALS[signal] ?? 0) : code ?? 0
    if (t.walltimeKill) status = job.flavor === "pro" ? -29 : -11
    Object.assign(t, {
      state: "F",
      pid: null,
      endTime: now,
      exitStatus: status,
      mem: st.mem || 2048,
      vmem: st.vmem || 10240,
      cput: st.cput
    })
    if (job.flavor === "pro" && t.comment) t.comment = `${t.comment} and finished`
  })
}

/** Deletes every unstarted task because dependency `blocker` can never be met. */
const deleteForDependency = (blocker) =>
  updateJob(dir, seq, (job) => {
    const now = Date.now()
    // TORQUE says why in the job's comment; PBS Pro's server aborts it without one (job_abt).
    if (job.flavor !== "pro") job.comment = `Job deleted as result of dependency on job ${blocker}`
    job.depPending = false
    for (const t of Object.values(job.tasks)) {
      if (t.state === "Q") Object.assign(t, { state: "F", deleted: true, endTime: now })
    }
  })

const tick = () => {
  const job = readJob(dir, seq)
  if (!job) {
    for (const st of running.values()) signalGroup(st.pid, "SIGKILL")
    process.exit(0)
  }
  const now = Date.now()
  for (const [key, st] of running) {
    const t = job.tasks[key]
    sample(st)
    if (t.kill && st.termAt === null) st.termAt = t.kill.at
    if (job.walltime !== null && st.termAt === null && now - st.startedAt > job.walltime * 1000) {
      st.termAt = now
      const used = Math.ceil((now - st.startedAt) / 1000)
      updateJob(dir, seq, (j) => {
        j.tasks[key].walltimeKill = { used, limit: j.walltime }
      })
      try {
        fs.appendFileSync(st.errFile, `=>> PBS: job killed: walltime ${used} exceeded limit ${job.walltime}\n`)
      } catch {
        // unwritable stderr file
      }
      signalGroup(st.pid, "SIGTERM")
    }
    if (st.termAt !== null && now - st.termAt > KILL_GRACE_MS) signalGroup(st.pid, "SIGKILL")
  }
  const tasks = Object.entries(job.tasks)
  if (tasks.every(([, t]) => t.state === "F") && running.size === 0) process.exit(0)
  let eligible = !job.userHold && !(job.executionTime && job.executionTime > now)
  if (job.depPending) {
    const r = evalDepend(dir, job.deps)
    if (r.result === "never") {
      deleteForDependency(r.blocker)
      eligible = false
    } else if (r.result === "yes") updateJob(dir, seq, (j) => void (j.depPending = false))
    else eligible = false
  }
  if (eligible) {
    for (const [key, t] of tasks) {
      if (running.size >= limit) break
      if (t.state === "Q") startTask(key)
    }
  }
  setTimeout(tick, POLL_MS)
}
tick()
