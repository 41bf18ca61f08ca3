// What the scheduler emulators (test/support/lsf, test/support/pbs) share: their state directory,
// locks, atomic writes, the user, and splitting directive lines like a shell.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * The state directory named by `envVar` (with its `jobs/` made), or a message naming the variable
 * on stderr and exit `exitCode`, as the scheduler's own tools fail.
 */
export const stateDirFrom = (envVar, scheduler, exitCode) => (prog) => {
  const dir = process.env[envVar]
  if (!dir) {
    process.stderr.write(`${prog}: ${envVar} is not set (the ${scheduler} emulator needs a state directory)\n`)
    process.exit(exitCode)
  }
  fs.mkdirSync(path.join(dir, "jobs"), { recursive: true })
  return dir
}

const sleepBuffer = new Int32Array(new SharedArrayBuffer(4))
export const sleepSync = (ms) => Atomics.wait(sleepBuffer, 0, 0, ms)

/** Runs fn while holding an exclusive lock file (created with O_EXCL). Stale locks (>10 s) are broken. */
export const withLock = (lockPath, fn) => {
  let fd
  for (;;) {
    try {
      fd = fs.openSync(lockPath, "wx")
      break
    } catch (e) {
      if (e.code !== "EEXIST") throw e
      try {
        const st = fs.statSync(lockPath)
        if (Date.now() - st.mtimeMs > 10_000) fs.rmSync(lockPath, { force: true })
      } catch {
        // lock vanished in between; retry
      }
      sleepSync(2 + Math.floor(Math.random() * 5))
    }
  }
  try {
    return fn()
  } finally {
    fs.closeSync(fd)
    fs.rmSync(lockPath, { force: true })
  }
}

export const writeAtomic = (file, text) => {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

export const currentUser = () => {
  try {
    return os.userInfo().username
  } catch {
    return process.env.USER ?? "unknown"
  }
}

/**
 * Splits a line like a POSIX shell would for simple quoting ("..." and '...'); with `comments`, an
 * unquoted `#` starting a word ends the line.
 */
export const shellSplit = (line, { comments = false } = {}) => {
  const out = []
  let cur = ""
  let has = false
  let quote = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote) {
      if (c === quote) quote = null
      else if (c === "\\" && quote === '"' && i + 1 < line.length && /["\\$`]/.test(line[i + 1])) cur += line[++i]
      else cur += c
    } else if (c === '"' || c === "'") {
      quote = c
      has = true
    } else if (/\s/.test(c)) {
      if (has) out.push(cur)
      cur = ""
      has = false
    } else if (comments && c === "#" && !has) {
      break // a comment after the directive
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i]
      has = true
    } else {
      cur += c
      has = true
    }
  }
  if (has) out.push(cur)
  return out
}


/**
 * Job records as JSON files `jobs/<id>.json` under an emulator's state directory, numbered from
 * `firstId` (the last one kept in `counter`), each updated under its own lock and written
 * atomically. `keyOf` reads a record's number; `onUpdate` runs before each update is written.
 */
export const jobRecords = ({ firstId, keyOf, onUpdate = () => {} }) => {
  const allocate = (dir) =>
    withLock(path.join(dir, "counter.lock"), () => {
      const file = path.join(dir, "counter")
      let last = firstId - 1
      try {
        last = parseInt(fs.readFileSync(file, "utf8"), 10)
      } catch {
        // first job
      }
      const id = last + 1
      writeAtomic(file, String(id))
      return id
    })
  const jobFile = (dir, id) => path.join(dir, "jobs", `${id}.json`)
  const readJob = (dir, id) => {
    try {
      return JSON.parse(fs.readFileSync(jobFile(dir, id), "utf8"))
    } catch {
      return undefined
    }
  }
  const writeJob = (dir, job) => writeAtomic(jobFile(dir, keyOf(job)), JSON.stringify(job, null, 1))
  /** Read-modify-write of one job record under its lock; fn may mutate the job and return a value. */
  const updateJob = (dir, id, fn) =>
    withLock(path.join(dir, "jobs", `${id}.lock`), () => {
      const job = readJob(dir, id)
      if (!job) return undefined
      const result = fn(job)
      onUpdate(job)
      writeJob(dir, job)
      return result
    })
  /** Every job record, by number. */
  const listJobs = (dir) => {
    let names = []
    try {
      names = fs.readdirSync(path.join(dir, "jobs")).filter((n) => /^\d+\.json$/.test(n))
    } catch {
      return []
    }
    return names
      .map((n) => readJob(dir, parseInt(n, 10)))
      .filter((j) => j !== undefined)
      .sort((a, b) => keyOf(a) - keyOf(b))
  }
  return { allocate, jobFile, readJob, writeJob, updateJob, listJobs }
}

/**
 * All of stdin, as text. `fs.readFileSync(0)` throws EAGAIN when stdin is a non-blocking pipe the
 * writer has not written to yet (a busy machine): wait for the data instead, until end of input.
 */
export const readStdinSync = () => {
  const chunks = []
  const buffer = Buffer.alloc(65536)
  for (;;) {
    let n
    try {
      n = fs.readSync(0, buffer, 0, buffer.length, null)
    } catch (e) {
      if (e.code === "EAGAIN") {
        sleepSync(5)
        continue
      }
      if (e.code === "EOF") break
      throw e
    }
    if (n === 0) break
    chunks.push(Buffer.from(buffer.subarray(0, n)))
  }
  return Buffer.concat(chunks).toString("utf8")
}
