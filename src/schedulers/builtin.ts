/**
 * The schedulers built into cluster-api: the ONE list. Its order is the precedence of
 * `executor: auto` (local detects nothing: it is what auto falls back to). Adding a scheduler is
 * one folder beside these and one line here, or a program passes its own list to ClusterApi.
 */
import type { availableExecutors } from "../Config.js"
import type { Scheduler } from "../Scheduler.js"
import { local } from "./local/index.js"
import { lsf } from "./lsf/index.js"
import { pbs } from "./pbs/index.js"
import { sge } from "./sge/index.js"
import { slurm } from "./slurm/index.js"

/** Every built-in scheduler. */
export const builtin = [local, slurm, lsf, sge, pbs] as const satisfies ReadonlyArray<Scheduler>

/** The built-in schedulers' names, in the list's order. */
export type BuiltinName = (typeof builtin)[number]["name"]

type Names<List extends ReadonlyArray<Scheduler>> = { readonly [K in keyof List]: List[K]["name"] }

/**
 * Config.ts, below this list, knows the built-in names to check a config loaded on its own: the
 * compiler holds them to this list's, name for name.
 */
const sameNames: [Names<typeof builtin>, typeof availableExecutors] extends [typeof availableExecutors, Names<typeof builtin>]
  ? true
  : never = true
void sameNames

/** The names of the schedulers in `registry`, as the CLI and error messages list them. */
export const namesOf = (registry: ReadonlyArray<Scheduler>): ReadonlyArray<string> => registry.map((s) => s.name)
