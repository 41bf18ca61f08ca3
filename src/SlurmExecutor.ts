/**
 * The Slurm executor: the shared batch machinery (BatchExecutor) speaking Slurm's dialect
 * (schedulers/slurm/).
 */
import * as BatchExecutor from "./BatchExecutor.js"
import { slurmDialect } from "./schedulers/slurm/dialect.js"

export const make = BatchExecutor.make(slurmDialect)

export const layer = BatchExecutor.layer(slurmDialect)
