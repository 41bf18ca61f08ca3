/**
 * The local "scheduler": jobs are processes on this machine, each started through a small wrapper
 * that leaves a pid file and an exit file beside the job script (files.ts). Its pure parts: the
 * script and environment a job gets (script.ts), the wrapper and its files (files.ts), how a
 * process's end and state read (status.ts). The executor that runs them is in executor/.
 */
import type { Scheduler } from "../../Scheduler.js"
import { layer } from "./executor/make.js"
import { statusFiles } from "./files.js"

/** The local executor: `make`, its `layer`, and what it records when a job is cancelled or its program ends. */
export { killGrace, layer, make, programEnded } from "./executor/make.js"

/** The local scheduler: always here, so it detects nothing; its jobs end with the program. */
export const local: Scheduler<"local"> = {
  name: "local",
  capabilities: { outlivesProgram: false, hostBound: true, cheapPoll: true, nativeDependencies: false },
  jobFiles: statusFiles,
  layer
}
