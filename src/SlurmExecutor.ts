/**
 * The Slurm executor: the shared batch machinery (BatchExecutor) speaking Slurm's dialect
 * (schedulers/Slurm.ts).
 */
import * as BatchExecutor from "./BatchExecutor.js"
import { slurmDialect } from "./schedulers/Slurm.js"

export const make = BatchExecutor.make(slurmDialect)

export const layer = BatchExecutor.layer(slurmDialect)
