/**
 * End-to-end checks of the PBS emulator (test/support/pbs/bin: qsub, qstat, qdel, qrls) in both of its
 * flavours, PBS Pro (qstat -f -F json) and Torque (qstat -f -x). Jobs run as real local processes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseStatus } from "./support/parts/pbs.js"
import { tempDirs } from "./support/TempDirs.js"

const BIN = fileURLToPath(new URL("./support/pbs/bin", import.meta.url))
const tempDir = tempDirs("pbs-emu-")
const HOST = os.hostname().split(".")[0]!
const CTIME = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/
const EPOCH = /^\d{10}$/
const HMS = /^\d\d:\d\d:\d\d$/

type Flavor = "pro" | "torque"
type Job = Record<string, unknown>
type Jobs = Record<string, Job>
interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The interval between two looks at the emulator's state in the waits below (never a wait for a process). */
const pollPause = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** A command that waits until `file` exists: the job runs on until the test writes it or deletes the job. */
const heldUntil = (file: string) => `until [ -e "${file}" ]; do sleep 0.05; done`
const obj = (v: unknown): Record<string, unknown> => (v ?? {}) as Record<string, unknown>

const xmlUnescape = (s: string) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&")

/** Parses the emulator's Torque XML (elements only, no attributes) into nested objects. */
const parseXmlElements = (text: string): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const re = /<(\w+)>([\s\S]*?)<\/\1>/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const body = m[2]!
    out[m[1]!] = body.includes("<") ? parseXmlElements(body) : xmlUnescape(body)
  }
  return out
}

/**
 * Well-formedness of Torque's answer: per document an `<?xml version="1.0"?>` line, then one line
 * holding a single balanced `<Data>` root, no stray "<" or "&" in text. Returns the number of documents.
 */
const checkWellFormed = (xml: string): number => {
  const docs = xml.split('<?xml version="1.0"?>\n')
  expect(docs[0]).toBe("")
  for (const doc of docs.slice(1)) {
    expect(doc.endsWith("\n")).toBe(true)
    const body = doc.slice(0, -1)
    expect(body.includes("\n")).toBe(false)
    expect(body.startsWith("<Data>")).toBe(true)
    const stack: Array<string> = []
    const re = /<(\/?)([A-Za-z_][\w.-]*)>|([^<]+)/g
    let consumed = 0
    for (let m = re.exec(body); m !== null; m = re.exec(body)) {
      consumed += m[0].length
      if (m[3] !== undefined) {
        expect(stack.length).toBeGreaterThan(0)
        expect(/&(?!(amp|lt|gt|quot|apos);)/.test(m[3])).toBe(false)
      } else if (m[1] === "/") expect(stack.pop()).toBe(m[2])
      else {
        if (stack.length === 0) expect(consumed).toBe(m[0].length) // one root only
        stack.push(m[2]!)
      }
    }
    expect(consumed).toBe(body.length)
    expect(stack).toEqual([])
  }
  return docs.length - 1
}

const makePbs = (flavor: Flavor) => {
  const root = tempDir()
  const work = path.join(root, "work")
  fs.mkdirSync(work)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${BIN}${path.delimiter}${process.env.PATH}`,
    PBS_EMULATOR_DIR: path.join(root, "state"),
    PBS_EMULATOR_FLAVOR: flavor
  }
  delete env.PBS_EMULATOR_SERVER
  const run = (cmd: string, args: ReadonlyArray<string>, input = "", extraEnv: NodeJS.ProcessEnv = {}): Result => {
    const r = spawnSync(cmd, args, { env: { ...env, ...extraEnv }, input, encoding: "utf8", cwd: work })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const submit = (script: string, args: ReadonlyArray<string> = [], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = run("qsub", args, script, extraEnv)
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^\d+(\[\])?\.pbs-emu\n$/)
    return r.stdout.trim()
  }
  /** Every job and subjob (finished ones included), keyed by id. */
  const jobs = (): Jobs => {
    if (flavor === "pro") {
      const r = run("qstat", ["-f", "-F", "json", "-x", "-t"])
      expect(r.code).toBe(0)
      return (JSON.parse(r.stdout).Jobs ?? {}) as Jobs
    }
    const r = run("qstat", ["-f", "-x", "-t"])
    expect(r.code).toBe(0)
    expect(checkWellFormed(r.stdout)).toBe(1)
    const out: Jobs = {}
    for (const m of r.stdout.matchAll(/<Job>([\s\S]*?)<\/Job>/g)) {
      const j = parseXmlElements(m[1]!)
      out[j.Job_Id as string] = j
    }
    return out
  }
  const job = (id: string): Job => {
    const j = jobs()[id]
    expect(j).toBeDefined()
    return j!
  }
  // A bound, not an expectation: the waits return as soon as the emulator says so (a busy machine is slow).
  const waitFor = async (pred: (jobs: Jobs) => boolean, timeoutMs = 60_000): Promise<Jobs> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const js = jobs()
      if (pred(js)) return js
      if (Date.now() > deadline) throw new Error(`timed out waiting; last jobs: ${JSON.stringify(js, null, 1)}`)
      await pollPause(100)
    }
  }
  const waitForFile = async (file: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs
    while (!fs.existsSync(file) || !fs.readFileSync(file, "utf8").endsWith("\n")) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`)
      await pollPause(50)
    }
    return fs.readFileSync(file, "utf8")
  }
  const done = flavor === "pro" ? "F" : "C"
  const subDone = flavor === "pro" ? "X" : "C"
  const state = (j: Job | undefined) => j?.job_state as string | undefined
  const exitStatus = (j: Job): number | undefined => {
    const v = flavor === "pro" ? j.Exit_status : j.exit_status
    return v === undefined ? undefined : Number(v)
  }
  const isDone = (j: Job | undefined) => state(j) === done || state(j) === subDone
  const waitDone = (ids: ReadonlyArray<string>) => waitFor((js) => ids.every((id) => isDone(js[id])))
  const time = flavor === "pro" ? CTIME : EPOCH
  const seq = (id: string) => id.split(/[.[]/)[0]!
  return { root, work, env, run, submit, jobs, job, waitFor, waitForFile, waitDone, done, subDone, state, exitStatus, time, seq, flavor }
}

/** True while the process exists and is not a zombie. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}

describe("PBS emulator", { timeout: 120_000 }, () => {
  it("needs PBS_EMULATOR_DIR", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}` }
    delete env.PBS_EMULATOR_DIR
    for (const cmd of ["qsub", "qstat", "qdel", "qrls"]) {
      const r = spawnSync(cmd, ["1000"], { env, encoding: "utf8", input: "" })
      expect(r.status).toBe(2)
      expect(r.stderr).toContain("PBS_EMULATOR_DIR")
    }
  })

  it("pro: qstat JSON has the top-level keys, no Jobs when none is listed, and hides finished jobs without -x", async () => {
    const pbs = makePbs("pro")
    const empty = pbs.run("qstat", ["-f", "-F", "json"])
    expect(empty.code).toBe(0)
    expect(empty.stdout).toMatch(/^\{\n {4}"timestamp":\d+,\n {4}"pbs_version":"2022\.1\.0",\n {4}"pbs_server":"pbs-emu"\n\}\n$/)
    expect(Object.keys(JSON.parse(empty.stdout))).toEqual(["timestamp", "pbs_version", "pbs_server"])
    const id = pbs.submit("true\n")
    await pbs.waitDone([id])
    const listed = JSON.parse(pbs.run("qstat", ["-f", "-F", "json"]).stdout)
    expect(listed.Jobs).toBeUndefined()
    const asked = pbs.run("qstat", ["-f", "-F", "json", id])
    expect(asked.code).toBe(35)
    expect(asked.stderr).toBe(`qstat: ${id} Job has finished, use -x or -H to obtain historical job information\n`)
    const history = JSON.parse(pbs.run("qstat", ["-f", "-F", "json", "-x", pbs.seq(id)]).stdout)
    expect(Object.keys(history)).toEqual(["timestamp", "pbs_version", "pbs_server", "Jobs"])
    expect(Object.keys(history.Jobs)).toEqual([id])
    const bad = pbs.run("qstat", ["-Z"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("qstat: invalid option -- 'Z'\nusage:")
  })

  it("pro: qstat JSON prints a value that reads as a number bare, as PBS Pro 2022 does (not always JSON)", () => {
    const pbs = makePbs("pro")
    const id = pbs.submit("true\n", ["-h", "-N", "bare", "-v", "FOO=00,BAR=inf,BAZ=007,QUX=.5,N=12"])
    const r = pbs.run("qstat", ["-f", "-F", "json", id])
    expect(r.code).toBe(0)
    for (const line of [`"FOO":00`, `"BAR":inf`, `"BAZ":"007"`, `"QUX":.5`, `"N":12`]) expect(r.stdout).toContain(line)
    expect(() => JSON.parse(r.stdout)).toThrow()
    const obs = parseStatus("pro")(r.stdout)
    expect(Either.isRight(obs) && obs.right.map((o) => [o.jobId, o.name, o.status, o.held])).toEqual([[id, "bare", "Pending", true]])
    pbs.run("qdel", [id])
  })

  it("torque: qstat -x prints well-formed XML documents with escaped text and keeps completed jobs", async () => {
    const pbs = makePbs("torque")
    const id = pbs.submit("true\n", ["-N", "a&b<c>", "-v", "WEIRD=<x> & y"])
    await pbs.waitDone([id])
    const empty = makePbs("torque").run("qstat", ["-f", "-x"])
    expect(empty).toEqual({ code: 0, stdout: '<?xml version="1.0"?>\n<Data></Data>\n', stderr: "" })
    const r = pbs.run("qstat", ["-x"])
    expect(checkWellFormed(r.stdout)).toBe(1)
    expect(r.stdout).toContain("<Job_Name>a&amp;b&lt;c&gt;</Job_Name>")
    const j = pbs.job(id)
    expect(j.Job_Name).toBe("a&b<c>")
    expect(j.Variable_List).toContain("WEIRD=<x> & y")
    expect(pbs.run("qstat", [id]).stdout).toContain(`${id}`)
    // like Torque 6, one document per job id operand
    const other = pbs.submit("true\n")
    const two = pbs.run("qstat", ["-f", "-x", id, other])
    expect(checkWellFormed(two.stdout)).toBe(2)
    expect([...two.stdout.matchAll(/<Job_Id>(.*?)<\/Job_Id>/g)].map((m) => m[1])).toEqual([id, other])
  })

  it("qsub waits for a script its caller writes to stdin late, as on a busy machine", async () => {
    const pbs = makePbs("pro")
    // stdin: a pipe (a FIFO) open for writing by this test, non-blocking and empty when qsub reads it.
    // It reaches qsub through fd 3 and the shell (Node makes a child's fds 0-2 blocking).
    const fifo = path.join(pbs.root, "stdin")
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0)
    const readEnd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    const writeEnd = fs.openSync(fifo, fs.constants.O_WRONLY)
    const child = spawn("sh", ["-c", "exec qsub -N late <&3 3<&-"], {
      env: pbs.env,
      cwd: pbs.work,
      stdio: ["ignore", "pipe", "pipe", readEnd]
    })
    fs.closeSync(readEnd)
    let out = ""
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()))
    let ended = false
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve((ended = true, code))))
    // Only once qsub has found stdin empty is the script written: it has made its state directory
    // (it reads stdin next) and, where /proc tells, its main thread waits (a futex: it sleeps
    // between two reads). A qsub that fails on the empty pipe has ended by then.
    const jobs = path.join(pbs.env.PBS_EMULATOR_DIR!, "jobs")
    const wchan = `/proc/${child.pid}/wchan`
    const waiting = () => !fs.existsSync(wchan) || fs.readFileSync(wchan, "utf8").includes("futex")
    while (!ended && !(fs.existsSync(jobs) && waiting())) await pollPause(2)
    fs.writeSync(writeEnd, "echo late\n")
    fs.closeSync(writeEnd)
    expect(await exited, out).toBe(0)
    expect(out).toMatch(/^\d+\.pbs-emu\n$/)
    const id = out.trim()
    expect((await pbs.waitDone([id]))[id]!.Job_Name).toBe("late")
    expect(fs.readFileSync(path.join(pbs.work, `late.o${pbs.seq(id)}`), "utf8")).toBe("late\n")
  })

  describe.each(["pro", "torque"] as const)("%s flavour", (flavor) => {
    it("runs a job, shows it running, then finished with its exit status", async () => {
      const pbs = makePbs(flavor)
      const marker = path.join(pbs.root, "go")
      const id = pbs.submit(`#!/bin/bash\n#PBS -N from-directive\n#PBS -l walltime=1:00\nwhile [ ! -e ${marker} ]; do sleep 0.05; done\nexit 3\n`, [
        "-N",
        "e2e-exit",
        "-A",
        "acct1",
        "-l",
        flavor === "pro" ? "select=1:ncpus=1:mem=100mb" : "nodes=1:ppn=1"
      ])
      expect(id).toBe("1000.pbs-emu")
      const running = (await pbs.waitFor((js) => pbs.state(js[id]) === "R"))[id]!
      expect(running).toMatchObject({
        Job_Name: "e2e-exit",
        Job_Owner: `${os.userInfo().username}@${HOST}`,
        job_state: "R",
        queue: flavor === "pro" ? "workq" : "batch",
        server: "pbs-emu",
        Account_Name: "acct1",
        exec_host: `${HOST}/0`,
        Hold_Types: "n",
        Join_Path: "n",
        Output_Path: `${HOST}:${path.join(pbs.work, "e2e-exit.o1000")}`,
        Error_Path: `${HOST}:${path.join(pbs.work, "e2e-exit.e1000")}`
      })
      expect(pbs.exitStatus(running)).toBeUndefined()
      expect(String(running.ctime)).toMatch(pbs.time)
      expect(String(flavor === "pro" ? running.stime : running.start_time)).toMatch(pbs.time)
      expect(obj(running.Resource_List).walltime).toBe("00:01:00")
      expect(obj(running.resources_used).walltime).toMatch(HMS)
      expect(obj(running.resources_used).mem).toMatch(/^\d+kb$/)
      if (flavor === "pro") {
        expect(obj(running.Resource_List)).toMatchObject({ select: "1:ncpus=1:mem=100mb", ncpus: 1 })
        expect(running.exec_vnode).toBe(`(${HOST}:ncpus=1)`)
        expect(running.project).toBe("_pbs_project_default")
        expect(obj(running.resources_used).ncpus).toBe(1)
        // without -x an unfinished job is listed
        expect(Object.keys(JSON.parse(pbs.run("qstat", ["-f", "-F", "json"]).stdout).Jobs)).toEqual([id])
      } else {
        expect(obj(running.Resource_List)).toMatchObject({ nodes: "1:ppn=1" })
      }
      fs.writeFileSync(marker, "")
      const finished = (await pbs.waitDone([id]))[id]!
      expect(finished.job_state).toBe(pbs.done)
      expect(pbs.exitStatus(finished)).toBe(3)
      if (flavor === "pro") {
        expect(finished.Exit_status).toBe(3) // a JSON number
        expect(String(finished.obittime)).toMatch(CTIME)
      } else expect(String(finished.comp_time)).toMatch(EPOCH)
      expect(obj(finished.resources_used).walltime).toMatch(HMS)
    })

    it("writes default and explicit output files, and joins them with -j oe", async () => {
      const pbs = makePbs(flavor)
      const script = "#!/bin/sh\necho out-line\necho err-line >&2\n"
      fs.writeFileSync(path.join(pbs.work, "myjob.sh"), script)
      const a = pbs.submit("", ["myjob.sh"])
      fs.mkdirSync(path.join(pbs.work, "logs"))
      const errAbs = path.join(pbs.root, "explicit.err")
      const b = pbs.submit(script, ["-o", "logs/explicit.out", "-e", `${HOST}:${errAbs}`])
      const c = pbs.submit(script, ["-j", "oe", "-o", path.join(pbs.root, "joined.log"), "-N", "joined"])
      const js = await pbs.waitDone([a, b, c])
      const sa = pbs.seq(a)
      expect(js[a]!.Job_Name).toBe("myjob.sh")
      expect(fs.readFileSync(path.join(pbs.work, `myjob.sh.o${sa}`), "utf8")).toBe("out-line\n")
      expect(fs.readFileSync(path.join(pbs.work, `myjob.sh.e${sa}`), "utf8")).toBe("err-line\n")
      expect(js[b]!.Job_Name).toBe("STDIN")
      expect(js[b]!.Output_Path).toBe(`${HOST}:${path.join(pbs.work, "logs/explicit.out")}`)
      expect(js[b]!.Error_Path).toBe(`${HOST}:${errAbs}`)
      expect(fs.readFileSync(path.join(pbs.work, "logs/explicit.out"), "utf8")).toBe("out-line\n")
      expect(fs.readFileSync(errAbs, "utf8")).toBe("err-line\n")
      expect(js[c]!.Join_Path).toBe("oe")
      expect(fs.readFileSync(path.join(pbs.root, "joined.log"), "utf8")).toBe("out-line\nerr-line\n")
      expect(fs.existsSync(path.join(pbs.work, `joined.e${pbs.seq(c)}`))).toBe(false)
      for (const id of [a, b, c]) expect(pbs.exitStatus(js[id]!)).toBe(0)
    })

    it("runs an array with a failing subjob, within its throttle, and names each subjob's files", async () => {
      const pbs = makePbs(flavor)
      const times = path.join(pbs.root, "times.log")
      const indexVar = flavor === "pro" ? "PBS_ARRAY_INDEX" : "PBS_ARRAYID"
      const arrayOpt = flavor === "pro" ? ["-J", "1-3%2"] : ["-t", "1-3%2"]
      const outPath = flavor === "pro" ? path.join(pbs.root, "arr.^array_index^.out") : path.join(pbs.root, "arr.out")
      const script = [
        "#!/bin/bash",
        `echo "start $(date +%s%N)" >> ${times}`,
        "sleep 0.3",
        `echo "end $(date +%s%N)" >> ${times}`,
        `echo "i=$${indexVar} id=$PBS_JOBID name=$PBS_JOBNAME array=$PBS_ARRAY_ID"`,
        `[ "$${indexVar}" = 2 ] && exit 5`,
        "exit 0",
        ""
      ].join("\n")
      const id = pbs.submit(script, [...arrayOpt, "-N", "arr", "-o", outPath])
      const sq = pbs.seq(id)
      expect(id).toBe(`${sq}[].pbs-emu`)
      const subs = [1, 2, 3].map((i) => `${sq}[${i}].pbs-emu`)
      const js = await pbs.waitDone([id, ...subs])
      expect(subs.map((s) => [pbs.state(js[s]), pbs.exitStatus(js[s]!)])).toEqual([
        [pbs.subDone, 0],
        [pbs.subDone, 5],
        [pbs.subDone, 0]
      ])
      expect(pbs.state(js[id])).toBe(pbs.done)
      for (const i of [1, 2, 3]) {
        const file = flavor === "pro" ? path.join(pbs.root, `arr.${i}.out`) : path.join(pbs.root, `arr.out-${i}`)
        const expected =
          flavor === "pro"
            ? `i=${i} id=${sq}[${i}].pbs-emu name=arr array=${sq}[].pbs-emu\n`
            : `i=${i} id=${sq}[${i}].pbs-emu name=arr-${i} array=\n`
        expect(fs.readFileSync(file, "utf8")).toBe(expected)
        const errFile = path.join(pbs.work, flavor === "pro" ? `arr.e${sq}.${i}` : `arr.e${sq}-${i}`)
        expect(fs.readFileSync(errFile, "utf8")).toBe("")
        expect(js[subs[i - 1]!]!.Output_Path).toBe(`${HOST}:${file}`)
      }
      if (flavor === "pro") {
        expect(js[id]).toMatchObject({
          array: "True",
          array_indices_submitted: "1-3%2".replace("%2", ""),
          array_indices_remaining: "-",
          array_state_count: "Queued:0 Running:0 Exiting:0 Expired:3 ",
          Exit_status: 1
        })
        expect(js[subs[1]!]).toMatchObject({ array_id: id, array_index: 2, Job_Name: "arr" })
      } else {
        expect(js[id]).toMatchObject({ job_array_request: "1-3", Job_Name: "arr" })
        expect(js[subs[1]!]).toMatchObject({ job_array_id: "2", Job_Name: "arr-2" })
      }
      // at most 2 subjobs ran at once
      const events = fs
        .readFileSync(times, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .map(([kind, t]) => ({ kind: kind!, t: BigInt(t!) }))
        .sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : 0))
      let now = 0
      let max = 0
      for (const e of events) {
        now += e.kind === "start" ? 1 : -1
        max = Math.max(max, now)
      }
      expect(events).toHaveLength(6)
      expect(max).toBeLessThanOrEqual(2) // the throttle (that two do run at once is checked by the qdel-of-an-array test)
      // without -t only the parent; a subjob can be asked for directly
      const args = flavor === "pro" ? ["-f", "-F", "json", "-x"] : ["-f", "-x"]
      const parentOnly = pbs.run("qstat", [...args, `${sq}[]`]).stdout
      const subOnly = pbs.run("qstat", [...args, `${sq}[3]`]).stdout
      if (flavor === "pro") {
        expect(Object.keys(JSON.parse(parentOnly).Jobs)).toEqual([id])
        expect(Object.keys(JSON.parse(subOnly).Jobs)).toEqual([subs[2]])
        const history = pbs.run("qstat", ["-f", "-F", "json", "-t", id])
        expect(history.code).toBe(35)
      } else {
        expect([...parentOnly.matchAll(/<Job_Id>(.*?)<\/Job_Id>/g)].map((m) => m[1])).toEqual([id])
        expect([...subOnly.matchAll(/<Job_Id>(.*?)<\/Job_Id>/g)].map((m) => m[1])).toEqual([subs[2]])
      }
      const bad = pbs.run("qsub", flavor === "pro" ? ["-J", "3-1"] : ["-t", "x-y"], "true\n")
      expect(bad).toEqual({ code: 2, stdout: "", stderr: `qsub: illegal -${flavor === "pro" ? "J" : "t"} value\n` })
    })

    it("gives jobs a PBS environment: only basics without -V, everything with -V, and -v variables", async () => {
      const pbs = makePbs(flavor)
      const extra = { SOME_SECRET: "s3cret", FROM_ENV: "fe" }
      const script = "#!/bin/sh\necho \"PWD=$(pwd)\"\nenv | sort\n"
      const plain = pbs.submit(script, ["-N", "plain", "-v", "A=1,FROM_ENV"], extra)
      const all = pbs.submit(script, ["-N", "all", "-V"], extra)
      const withDir = flavor === "torque" ? pbs.submit(script, ["-N", "dir", "-d", pbs.root]) : undefined
      await pbs.waitDone([plain, all, ...(withDir ? [withDir] : [])])
      const read = (name: string, id: string) => {
        const lines = fs.readFileSync(path.join(pbs.work, `${name}.o${pbs.seq(id)}`), "utf8").trim().split("\n")
        return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]))
      }
      const home = os.userInfo().homedir
      const p = read("plain", plain)
      expect(p.PWD).toBe(fs.realpathSync(home))
      expect(p).toMatchObject({
        A: "1",
        FROM_ENV: "fe",
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: home,
        USER: os.userInfo().username,
        PBS_O_WORKDIR: pbs.work,
        PBS_O_HOST: HOST,
        PBS_O_PATH: pbs.env.PATH,
        PBS_JOBID: plain,
        PBS_JOBNAME: "plain",
        PBS_QUEUE: flavor === "pro" ? "workq" : "batch",
        PBS_ENVIRONMENT: "PBS_BATCH"
      })
      expect(p.SOME_SECRET).toBeUndefined()
      expect(fs.readFileSync(p.PBS_NODEFILE!, "utf8")).toBe(`${HOST}\n`)
      const allowed = new Set(["HOME", "USER", "LOGNAME", "SHELL", "PATH", "TMPDIR", "PWD", "SHLVL", "_", "OLDPWD", "A", "FROM_ENV"])
      const extras = Object.keys(p).filter(
        (k) => !allowed.has(k) && !k.startsWith("PBS_") && !["ENVIRONMENT", "NCPUS", "OMP_NUM_THREADS"].includes(k)
      )
      expect(extras).toEqual([])
      const a = read("all", all)
      expect(a).toMatchObject({ SOME_SECRET: "s3cret", PATH: pbs.env.PATH, PBS_JOBNAME: "all", PBS_O_WORKDIR: pbs.work })
      if (withDir) expect(read("dir", withDir).PWD).toBe(fs.realpathSync(pbs.root))
      // Variable_List holds the PBS_O_ variables and the -v ones
      const vl = pbs.job(plain).Variable_List
      // (PBS Pro prints a value that reads as a number bare: A=1 is "A":1.)
      if (flavor === "pro") expect(vl).toMatchObject({ PBS_O_WORKDIR: pbs.work, A: 1, FROM_ENV: "fe" })
      else {
        expect(typeof vl).toBe("string")
        expect((vl as string).split(",")).toEqual(expect.arrayContaining([`PBS_O_WORKDIR=${pbs.work}`, "A=1", "FROM_ENV=fe"]))
      }
    })

    it("releases afterok / afterany dependents and deletes dependents whose dependency can never be met", async () => {
      const pbs = makePbs(flavor)
      const ran = (n: string) => path.join(pbs.root, `ran-${n}`)
      const gate = path.join(pbs.root, "gate")
      const a = pbs.submit(`while [ ! -e ${gate} ]; do sleep 0.05; done\nexit 0\n`, ["-N", "a"])
      const b = pbs.submit(`touch ${ran("b")}\n`, ["-N", "b", "-W", `depend=afterok:${pbs.seq(a)}`])
      const c = pbs.submit("exit 1\n", ["-N", "c"])
      const d = pbs.submit(`touch ${ran("d")}\n`, ["-N", "d", "-W", `depend=afterok:${c}`])
      const e = pbs.submit(`touch ${ran("e")}\n`, ["-N", "e", "-W", `depend=afterany:${c}`])
      const f = pbs.submit(`touch ${ran("f")}\n`, ["-N", "f", "-W", `depend=afterok:${d}`])
      const g = pbs.submit(`touch ${ran("g")}\n`, ["-N", "g", "-W", `depend=afternotok:${a}`])
      const arr = pbs.submit("exit 0\n", ["-N", "arr", ...(flavor === "pro" ? ["-J", "1-2"] : ["-t", "1-2"])])
      const h = pbs.submit(`touch ${ran("h")}\n`, ["-N", "h", "-W", `depend=${flavor === "torque" ? "afterokarray" : "afterok"}:${arr},afterany:${pbs.seq(c)}`])
      await pbs.waitDone([c, d, e, f])
      const held = pbs.job(b)
      // Real PBS names each job of `depend` as id@server.
      expect(held).toMatchObject({ job_state: "H", depend: `afterok:${a}@pbs-emu`, Hold_Types: "s" })
      expect(fs.existsSync(ran("b"))).toBe(false)
      fs.writeFileSync(gate, "")
      const js = await pbs.waitDone([a, b, g, h])
      expect(pbs.exitStatus(js[b]!)).toBe(0)
      expect(fs.existsSync(ran("b"))).toBe(true)
      expect(pbs.exitStatus(js[e]!)).toBe(0)
      expect(fs.existsSync(ran("e"))).toBe(true)
      expect(pbs.exitStatus(js[h]!)).toBe(0)
      expect(fs.existsSync(ran("h"))).toBe(true)
      for (const [dep, target] of [
        [d, c],
        [f, d],
        [g, a]
      ] as const) {
        const j = js[dep]!
        expect(j.job_state).toBe(pbs.done)
        // TORQUE says why in the comment; PBS Pro's server aborts the job without a comment, and
        // its history shows substate 92 (not qdel's 91) with the dependency still in `depend`.
        if (flavor === "torque") expect(j.comment).toBe(`Job deleted as result of dependency on job ${target}`)
        else {
          expect(j.comment).toBeUndefined()
          expect(j.substate).toBe(92)
          expect(j.depend).toContain(`${target}@pbs-emu`)
        }
        expect(pbs.exitStatus(j)).toBeUndefined()
        expect(j.exec_host).toBeUndefined()
      }
      for (const n of ["d", "f", "g"]) expect(fs.existsSync(ran(n))).toBe(false)
      // a dependency on an unknown job is refused and nothing is submitted
      const bad = pbs.run("qsub", ["-W", "depend=afterok:99999"], "true\n")
      expect(bad).toEqual({ code: 153, stdout: "", stderr: "qsub: Unknown Job Id 99999.pbs-emu\n" })
      const next = pbs.submit("true\n")
      expect(pbs.seq(next)).toBe(String(Number(pbs.seq(h)) + 1))
    })

    it("qdel ends a running job (SIGTERM 271, SIGKILL 265) and deletes a queued one; walltime kills", async () => {
      const pbs = makePbs(flavor)
      // the walltime job runs alongside (both cases take the 2 s grace / limit)
      const wt = pbs.submit("#!/bin/bash\necho started\nsleep 30\n", ["-l", "walltime=00:00:02", "-N", "wt"])
      const pidFile = path.join(pbs.root, "pid")
      const stubborn = path.join(pbs.root, "stubborn")
      const never = path.join(pbs.root, "never-written")
      const soft = pbs.submit(`#!/bin/bash\n${heldUntil(never)} &\necho $! > ${pidFile}\nwait\n`)
      const hard = pbs.submit(`#!/bin/bash\ntrap '' TERM\necho go > ${stubborn}\nwhile true; do sleep 0.1; done\n`)
      const queued = pbs.submit(`touch ${path.join(pbs.root, "never")}\n`, ["-h"])
      await pbs.waitForFile(pidFile)
      await pbs.waitForFile(stubborn)
      const child = Number(fs.readFileSync(pidFile, "utf8").trim())
      expect(alive(child)).toBe(true)
      expect(pbs.run("qdel", [soft, pbs.seq(hard), `${pbs.seq(queued)}.pbs-emu`])).toEqual({ code: 0, stdout: "", stderr: "" })
      const js = await pbs.waitDone([soft, hard, queued])
      expect(pbs.exitStatus(js[soft]!)).toBe(271)
      expect(pbs.exitStatus(js[hard]!)).toBe(265)
      expect(js[queued]!.job_state).toBe(pbs.done)
      expect(pbs.exitStatus(js[queued]!)).toBeUndefined()
      expect(js[queued]!.comment).toBe(`Job deleted by ${os.userInfo().username}`)
      if (flavor === "pro") for (const id of [soft, hard, queued]) expect(js[id]!.substate).toBe(91)
      expect(alive(child)).toBe(false)
      expect(fs.existsSync(path.join(pbs.root, "never"))).toBe(false)
      const again = pbs.run("qdel", [soft, "99999"])
      expect(again.code).toBe(153)
      expect(again.stderr).toBe(
        flavor === "pro"
          ? `qdel: Job has finished ${soft}\nqdel: Unknown Job Id 99999.pbs-emu\n`
          : `qdel: invalid state for job - COMPLETE ${soft}\nqdel: nonexistent job id: 99999\n`
      )
      const finishedOnly = pbs.run("qdel", [hard])
      expect(finishedOnly.code).toBe(flavor === "pro" ? 35 : 170)

      const j = (await pbs.waitDone([wt]))[wt]!
      expect(pbs.exitStatus(j)).toBe(flavor === "pro" ? -29 : -11)
      expect(obj(j.Resource_List).walltime).toBe("00:00:02")
      const err = fs.readFileSync(path.join(pbs.work, `wt.e${pbs.seq(wt)}`), "utf8")
      expect(err).toMatch(/^=>> PBS: job killed: walltime \d+ exceeded limit 2\n$/)
      expect(fs.readFileSync(path.join(pbs.work, `wt.o${pbs.seq(wt)}`), "utf8")).toBe("started\n")
      const bad = pbs.run("qsub", ["-l", "walltime=1:xx"], "true\n")
      expect(bad).toEqual({ code: 2, stdout: "", stderr: "qsub: Illegal attribute or resource value Resource_List.walltime\n" })
    })

    it("qdel of an array deletes its unfinished subjobs; a subjob id deletes one", async () => {
      const pbs = makePbs(flavor)
      // The subjobs run until deleted.
      const id = pbs.submit(`${heldUntil(path.join(pbs.root, "never-written"))}\n`, flavor === "pro" ? ["-J", "1-4%2"] : ["-t", "1-4%2"])
      const sq = pbs.seq(id)
      await pbs.waitFor((js) => pbs.state(js[`${sq}[1].pbs-emu`]) === "R" && pbs.state(js[`${sq}[2].pbs-emu`]) === "R")
      if (flavor === "pro") expect(pbs.job(id)).toMatchObject({ job_state: "B", array_indices_remaining: "3-4" })
      else expect(pbs.job(id).job_state).toBe("R")
      expect(pbs.run("qdel", [`${sq}[1]`]).code).toBe(0)
      await pbs.waitFor((js) => pbs.state(js[`${sq}[3].pbs-emu`]) === "R")
      expect(pbs.run("qdel", [`${sq}[]`]).code).toBe(0)
      const js = await pbs.waitDone([id])
      expect([1, 2, 3, 4].map((i) => pbs.exitStatus(js[`${sq}[${i}].pbs-emu`]!))).toEqual([271, 271, 271, undefined])
    })

    it("reports unknown ids on stderr with 153 and still prints the known jobs; rejects unknown options", async () => {
      const pbs = makePbs(flavor)
      const id = pbs.submit(`${heldUntil(path.join(pbs.root, "never-written"))}\n`, ["-N", "known"])
      const args = flavor === "pro" ? ["-f", "-F", "json", "-x"] : ["-f", "-x"]
      const r = pbs.run("qstat", [...args, "4242", pbs.seq(id), "4343.pbs-emu"])
      expect(r.code).toBe(153)
      const unknown = flavor === "pro" ? "qstat: Unknown Job Id" : "qstat: Unknown Job Id Error"
      expect(r.stderr).toBe(`${unknown} 4242.pbs-emu\n${unknown} 4343.pbs-emu\n`)
      if (flavor === "pro") expect(Object.keys(JSON.parse(r.stdout).Jobs)).toEqual([id])
      else {
        expect(checkWellFormed(r.stdout)).toBe(1) // nothing for the unknown ids
        expect([...r.stdout.matchAll(/<Job_Id>(.*?)<\/Job_Id>/g)].map((m) => m[1])).toEqual([id])
      }
      const del = pbs.run("qdel", ["4242"])
      expect(del).toEqual({
        code: 153,
        stdout: "",
        // TORQUE 5 and later: qdel names an unknown id as it was given, without the server's message.
        stderr: flavor === "pro" ? "qdel: Unknown Job Id 4242.pbs-emu\n" : "qdel: nonexistent job id: 4242\n"
      })
      const opt = pbs.run("qsub", ["-Z"], "true\n")
      expect(opt.code).toBe(2)
      expect(opt.stderr).toMatch(/^qsub: invalid option -- 'Z'\nusage: qsub /)
      expect(pbs.run("qdel", [id]).code).toBe(0)
      await pbs.waitDone([id])
    })

    it("holds a job with -h until qrls", async () => {
      const pbs = makePbs(flavor)
      const marker = path.join(pbs.root, "ran")
      const id = pbs.submit(`touch ${marker}\n`, ["-h"])
      // A job submitted after it, not held, runs and ends meanwhile; the held one has not run.
      const later = pbs.submit("true\n")
      await pbs.waitDone([later])
      expect(pbs.job(id)).toMatchObject({ job_state: "H", Hold_Types: "u" })
      expect(fs.existsSync(marker)).toBe(false)
      expect(pbs.run("qrls", ["-h", "u", id])).toEqual({ code: 0, stdout: "", stderr: "" })
      const js = await pbs.waitDone([id])
      expect(js[id]!.Hold_Types).toBe("n")
      expect(pbs.exitStatus(js[id]!)).toBe(0)
      expect(fs.existsSync(marker)).toBe(true)
    })
  })
})
