/**
 * The directory relative paths start from: where `./cluster-api.yaml` is looked for, and what a
 * relative `state_path`, `log_directory` or job working directory is relative to. It is the
 * process's current directory unless a program provides another (an application serving several
 * projects, or the command line run in-process), so nothing has to change the process's own.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

export class WorkingDirectory extends Context.Reference<WorkingDirectory>()("cluster-api/WorkingDirectory", {
  defaultValue: (): { readonly path: string | undefined } => ({ path: undefined })
}) {}

/** The working directory to use: the one provided, or the process's current directory. */
export const current: Effect.Effect<string> = Effect.map(WorkingDirectory, (w) => w.path ?? process.cwd())
