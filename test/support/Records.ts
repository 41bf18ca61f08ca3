/**
 * A plain job record for tests: a Pending Slurm job `capi-{id}` submitted at 12:00 local time on
 * 2026-11-21; `over` replaces any field.
 */
import type { JobRecord } from "../../src/Domain.js"

export const jobRecord = (jobId: string, over: Partial<JobRecord> = {}): JobRecord => ({
  jobId,
  name: `capi-${jobId}`,
  command: "true",
  executor: "slurm",
  status: "Pending",
  submitTime: new Date(2026, 10, 21, 12, 0, 0),
  lastSeen: new Date(2026, 10, 21, 12, 0, 0),
  metadata: {},
  ...over
})

/** The store's key of the Slurm job `jobId` (what `jobRecord` makes by default). */
export const slurmJob = (jobId: string): { readonly executor: string; readonly jobId: string } => ({
  executor: "slurm",
  jobId
})
