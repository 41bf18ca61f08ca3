/**
 * Every executor a test can run a job on without a real scheduler: the four batch schedulers'
 * scripted fakes (PBS in both flavours) and local processes, with the config that selects each.
 */
import { Effect } from "effect"
import type { ConfigOptions } from "../../src/Config.js"
import { makeFakeLsf } from "./FakeLsf.js"
import { makeFakePbs } from "./FakePbs.js"
import { makeFakeSge } from "./FakeSge.js"
import { makeFakeSlurm } from "./FakeSlurm.js"

export type Scheduler = "slurm" | "lsf" | "sge" | "pbs-pro" | "pbs-torque" | "local"

export const schedulers: ReadonlyArray<Scheduler> = ["slurm", "lsf", "sge", "pbs-pro", "pbs-torque", "local"]

/** The scripted scheduler's rules for a TestCommandRunner (none for local processes). */
export const fakeFor = (scheduler: Scheduler) =>
  scheduler === "slurm"
    ? makeFakeSlurm()
    : scheduler === "lsf"
    ? makeFakeLsf()
    : scheduler === "sge"
    ? makeFakeSge()
    : scheduler === "pbs-pro"
    ? makeFakePbs("pro")
    : scheduler === "pbs-torque"
    ? makeFakePbs("torque")
    : Effect.succeed({ rules: [] })

/** The config keys that select the scheduler. */
export const configFor = (scheduler: Scheduler): Pick<ConfigOptions, "executor"> & Partial<ConfigOptions> =>
  scheduler === "pbs-pro"
    ? { executor: "pbs", pbs_flavor: "pro" }
    : scheduler === "pbs-torque"
    ? { executor: "pbs", pbs_flavor: "torque" }
    : { executor: scheduler }
