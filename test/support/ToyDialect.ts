/**
 * A deliberately tiny scheduler dialect for testing the machinery every batch scheduler shares
 * (BatchExecutor, Monitor) without any one scheduler's syntax. Its commands are `toysub`,
 * `toystat` and `toyacct`, `toykill`; its outputs are lines `ID|STATE|EXIT` with STATE one of
 * PD, R, CD, F, CA, or the named failures TO (timeout), OOM, PR (preempted), NF (node
 * failure). It stands for no real scheduler: real dialects are tested against outputs
 * recorded from the real thing.
 */
import { Effect, Either, Ref } from "effect"
import type { Dialect } from "../../src/Scheduler.js"
import { layer } from "../../src/BatchExecutor.js"
import type { FailureReason, JobStatus, Observation } from "../../src/Domain.js"
import type { RecordedCall, Rule } from "../../src/TestCommandRunner.js"

const states: Record<string, JobStatus> = {
  PD: "Pending",
  R: "Running",
  CD: "Done",
  F: "Failed",
  CA: "Killed",
  TO: "Failed",
  OOM: "Failed",
  PR: "Failed",
  NF: "Failed"
}
/** The failures the scheduler names (F is a plain non-zero exit). */
const reasons: Record<string, FailureReason> = {
  TO: { _tag: "Timeout" },
  OOM: { _tag: "OutOfMemory" },
  PR: { _tag: "Preempted" },
  NF: { _tag: "NodeFailure" }
}

const parseLines = (stdout: string): Either.Either<ReadonlyArray<Observation>, string> => {
  const out: Array<Observation> = []
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue
    const [id, state, exit] = line.split("|")
    const status = state === undefined ? undefined : states[state]
    if (id === undefined || id === "" || status === undefined) return Either.left(`bad line ${JSON.stringify(line)}`)
    const exitCode = exit === undefined || exit === "" ? undefined : Number(exit)
    const reason = state === undefined ? undefined : reasons[state]
    out.push({ jobId: id, status, exitCode, ...(reason === undefined ? {} : { reason }) })
  }
  return Either.right(out)
}

export const toyDialect: Dialect = {
  kind: "toy",
  logFileName: (stream, isArray) => `${stream}.%j${isArray ? ".%a" : ""}.log`,
  directives: (job, paths) => [`#TOY -J ${job.name}`, `#TOY -o ${paths.stdout}`],
  submit: (request) => ({ argv: ["toysub", ...request.job.resources.extraArgs, request.scriptPath] }),
  parseSubmit: (stdout) => {
    const m = /^(\d+)\s*$/.exec(stdout)
    return m?.[1] !== undefined ? Either.right(m[1]) : Either.left(`no job id in ${JSON.stringify(stdout)}`)
  },
  status: (jobs) => ({ argv: ["toystat", ...jobs.map((j) => j.jobId)] }),
  parseStatus: parseLines,
  accounting: {
    command: (jobs) => ({ argv: ["toyacct", ...jobs.map((j) => j.jobId)] }),
    parse: parseLines
  },
  cancel: (ids) => ({ argv: ["toykill", ...ids] }),
  cancelOutcome: (ids, answer) =>
    answer.exitCode === 0
      ? Either.right({ ended: [], refused: [] })
      : answer.stderr.includes("already finished")
      ? Either.right({ ended: ids, refused: [] })
      : Either.left(answer.stderr.trim())
}

export const toyExecutorLayer = layer(toyDialect)

/**
 * Rules for a toy scheduler whose jobs are never in the live queue: ids from 100, and each job
 * ends when the test says so (`end(id, "F|1")`, read by the accounting command). `idOf(step)` is
 * the id of the last job whose script name holds `_step.` (a pipeline step's job).
 */
export const toyAccountingScheduler = Effect.gen(function*() {
  const accounting = yield* Ref.make(new Map<string, string>())
  const byScript = new Map<string, string>()
  let next = 100
  const rules: ReadonlyArray<Rule> = [
    {
      match: "toysub",
      reply: (call: RecordedCall) => {
        const id = String(next++)
        byScript.set(call.argv.at(-1) ?? "", id)
        return { stdout: `${id}\n` }
      }
    },
    { match: "toystat", reply: { stdout: "" } },
    {
      match: "toyacct",
      reply: (call) => {
        const t = Effect.runSync(Ref.get(accounting))
        return { stdout: call.argv.slice(1).flatMap((id) => t.has(id) ? [`${id}|${t.get(id)}`] : []).join("\n") }
      }
    },
    { match: "toykill", reply: { stdout: "" } }
  ]
  const end = (id: string, state: string) => Ref.update(accounting, (m) => new Map(m).set(id, state))
  const idOf = (step: string) => [...byScript].filter(([script]) => script.includes(`_${step}.`)).at(-1)?.[1]
  return { rules, end, idOf }
})

/**
 * Lets fibers that do real I/O (a retry or a pipeline step writing its script) catch up under
 * TestClock: waits real milliseconds until `done` holds, failing the test after 5 s.
 */
export const eventually = <E, R>(done: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (yield* done) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    throw new Error("the condition never held")
  })
