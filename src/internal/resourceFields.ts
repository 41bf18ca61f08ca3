/**
 * The resources a job may ask for that the config can give defaults for: the same Schema fields
 * in a job's ResourceSpec and in the config's options.
 */
import { Schema } from "effect"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/** Resources a job may ask for that the config can give defaults for (same names in both). */
export const resourceDefaultFields = {
  cpus: Schema.optional(PositiveInt),
  gpus: Schema.optional(NonNegativeInt),
  nodes: Schema.optional(PositiveInt),
  memory: Schema.optional(Schema.String),
  walltime: Schema.optional(Schema.String),
  queue: Schema.optional(Schema.String),
  account: Schema.optional(Schema.String)
}
