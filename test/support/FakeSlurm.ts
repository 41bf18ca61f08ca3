/**
 * A scripted Slurm for executor tests: TestCommandRunner rules for sbatch, squeue, sacct, scontrol
 * and scancel that answer in the exact formats recorded from the real Slurm (test/fixtures/slurm).
 * The test says what each command shows for each job id; the rules pick the lines for the ids
 * asked about, and answer as the real commands do when none of them is known. squeue without ids
 * lists this user's jobs (`--me`) or everyone's (jobs of other users are shown with `queueOther`).
 */
import { Effect, Ref } from "effect"
import type { RecordedCall, Reply, Rule } from "../../src/TestCommandRunner.js"

export interface FakeSlurmState {
  /** squeue lines per job id (an array's elements all under the array's id). */
  readonly queue: ReadonlyMap<string, ReadonlyArray<string>>
  /** squeue lines of other users' jobs: shown by id, or listed without `--me`. */
  readonly others: ReadonlyMap<string, ReadonlyArray<string>>
  /** sacct lines per job id (allocation and step rows). */
  readonly accounting: ReadonlyMap<string, ReadonlyArray<string>>
  /** `scontrol show job -o` lines per job id, answered when accounting is disabled. */
  readonly controller: ReadonlyMap<string, ReadonlyArray<string>>
  readonly accountingDisabled: boolean
  /** When set, squeue fails as when the controller is down. */
  readonly controllerDown: boolean
}

const argAfter = (argv: ReadonlyArray<string>, flag: string): string | undefined => {
  const i = argv.indexOf(flag)
  return i === -1 ? undefined : argv[i + 1]
}

export const makeFakeSlurm = (firstId = 1000) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<FakeSlurmState>({
      queue: new Map(),
      others: new Map(),
      accounting: new Map(),
      controller: new Map(),
      accountingDisabled: false,
      controllerDown: false
    })
    let next = firstId
    // Each job's comment, as sbatch was given it (`--comment=`), for `squeue -o %F|%k`.
    const comments = new Map<string, string>()
    const sbatch = (call: RecordedCall): Reply => {
      const id = String(next++)
      const comment = call.argv.find((a) => a.startsWith("--comment="))
      if (comment !== undefined) comments.set(id, comment.slice("--comment=".length))
      return { stdout: `${id}\n` }
    }
    const read = () => Effect.runSync(Ref.get(state))
    const linesFor = (table: ReadonlyMap<string, ReadonlyArray<string>>, ids: ReadonlyArray<string>) =>
      ids.flatMap((id) => table.get(id) ?? [])

    const squeue = (call: RecordedCall): Reply => {
      const s = read()
      if (s.controllerDown) {
        return {
          exitCode: 1,
          stderr:
            "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n"
        }
      }
      const asked = argAfter(call.argv, "-j")
      const ids = (asked ?? "").split(",").filter((x) => x.length > 0)
      if (argAfter(call.argv, "-o") === "%F|%k") {
        // The jobs the controller holds, with their comments ("(null)" when none was given).
        return { stdout: Array.from(s.queue.keys(), (id) => `${id}|${comments.get(id) ?? "(null)"}\n`).join("") }
      }
      if (asked === undefined) {
        // A listing: this user's jobs with --me, everyone's without.
        const tables = call.argv.includes("--me") ? [s.queue] : [s.queue, s.others]
        return { stdout: tables.flatMap((t) => Array.from(t.values()).flat()).map((l) => `${l}\n`).join("") }
      }
      const lines = ids.flatMap((id) => s.queue.get(id) ?? s.others.get(id) ?? [])
      if (lines.length === 0) {
        return { exitCode: 1, stderr: "slurm_load_jobs error: Invalid job id specified\n" }
      }
      return { stdout: lines.map((l) => `${l}\n`).join("") }
    }

    const sacct = (call: RecordedCall): Reply => {
      const s = read()
      if (s.accountingDisabled) {
        return { exitCode: 1, stderr: "Slurm accounting storage is disabled\n" }
      }
      const ids = (argAfter(call.argv, "-j") ?? "").split(",")
      return { stdout: linesFor(s.accounting, ids).map((l) => `${l}\n`).join("") }
    }

    const scontrol = (): Reply => {
      const lines = Array.from(read().controller.values()).flat()
      return { stdout: lines.length === 0 ? "No jobs in the system\n" : lines.map((l) => `${l}\n`).join("") }
    }

    const rules: ReadonlyArray<Rule> = [
      { match: "sbatch", reply: sbatch },
      { match: "squeue", reply: squeue },
      { match: "sacct", reply: sacct },
      { match: "scontrol show job", reply: scontrol },
      { match: "scancel", reply: { stdout: "" } }
    ]

    const update = (f: (s: FakeSlurmState) => Partial<FakeSlurmState>) =>
      Ref.update(state, (s) => ({ ...s, ...f(s) }))
    const withEntry = (
      table: ReadonlyMap<string, ReadonlyArray<string>>,
      id: string,
      lines: ReadonlyArray<string> | undefined
    ) => {
      const m = new Map(table)
      if (lines === undefined) m.delete(id)
      else m.set(id, lines)
      return m
    }

    return {
      rules,
      /** What squeue shows for a job (undefined: it left the queue). */
      queue: (id: string, lines: ReadonlyArray<string> | undefined) =>
        update((s) => ({ queue: withEntry(s.queue, id, lines) })),
      /** What squeue shows for many jobs at once (`queue` for each, in one update). */
      queueMany: (entries: Iterable<readonly [string, ReadonlyArray<string>]>) =>
        update((s) => ({ queue: new Map([...s.queue, ...entries]) })),
      /** What squeue shows for another user's job (undefined: it left the queue). */
      queueOther: (id: string, lines: ReadonlyArray<string> | undefined) =>
        update((s) => ({ others: withEntry(s.others, id, lines) })),
      account: (id: string, lines: ReadonlyArray<string> | undefined) =>
        update((s) => ({ accounting: withEntry(s.accounting, id, lines) })),
      controller: (id: string, lines: ReadonlyArray<string> | undefined) =>
        update((s) => ({ controller: withEntry(s.controller, id, lines) })),
      disableAccounting: update(() => ({ accountingDisabled: true })),
      setControllerDown: (down: boolean) => update(() => ({ controllerDown: down }))
    }
  })
