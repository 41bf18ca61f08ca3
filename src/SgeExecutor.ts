/**
 * The Grid Engine executor: the shared batch machinery (BatchExecutor) speaking SGE's dialect
 * (schedulers/sge/).
 */
import * as BatchExecutor from "./BatchExecutor.js"
import { dialect } from "./schedulers/sge/dialect.js"

export const make = BatchExecutor.make(dialect)

export const layer = BatchExecutor.layer(dialect)
