/**
 * The LSF executor: the shared batch machinery (BatchExecutor) speaking LSF's dialect
 * (schedulers/lsf/).
 */
import * as BatchExecutor from "./BatchExecutor.js"
import { dialect } from "./schedulers/lsf/dialect.js"

export const make = BatchExecutor.make(dialect)

export const layer = BatchExecutor.layer(dialect)
