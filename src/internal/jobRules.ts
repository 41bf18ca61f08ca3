/**
 * Two rules about a job that the Monitor's gate, pipelines, the local executor and the check of
 * a job that ended Done share: whether a dependency is met, and whether a spec asks for checks.
 */
import type { Dependency, JobSpec, JobStatus } from "../Domain.js"
import { isTerminalStatus } from "../Domain.js"

/**
 * Whether a dependency of `type` on a job now in `status` is met, must still wait, can never be
 * met, or cannot be judged (`status` undefined: the job is not known).
 */
export const dependencyVerdict = (
  type: Dependency["type"],
  status: JobStatus | undefined
): "met" | "wait" | "never" | "unknown" => {
  if (status === undefined) return "unknown"
  if (!isTerminalStatus(status)) return "wait"
  switch (type) {
    case "afterok":
      return status === "Done" ? "met" : "never"
    case "afternotok":
      return status === "Done" ? "never" : "met"
    case "afterany":
      return "met"
  }
}

/** Whether a job's spec asks for checks once it ends Done (expected outputs, log errors). */
export const hasDoneChecks = (spec: JobSpec | undefined): boolean =>
  (spec?.expectedOutputs?.length ?? 0) > 0 || spec?.logCheck !== undefined
