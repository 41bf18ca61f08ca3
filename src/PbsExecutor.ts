/**
 * The PBS executor: the shared batch machinery (BatchExecutor) speaking PBS's dialect
 * (schedulers/pbs/), PBS Professional / OpenPBS or TORQUE as the config's `pbs_flavor` says.
 */
import { Effect, Layer } from "effect"
import * as BatchExecutor from "./BatchExecutor.js"
import { currentUser } from "./internal/batch/context.js"
import { ClusterConfig } from "./Config.js"
import type { ConfigOptions } from "./Config.js"
import { dialect } from "./schedulers/pbs/dialect.js"

/** The dialect the config asks for: its flavour, reconnecting to this user's jobs unless `poll_all_users`. */
const dialectFor = (options: ConfigOptions) =>
  dialect(options.pbs_flavor, { user: currentUser() }, options)

export const make = Effect.flatMap(ClusterConfig, ({ options }) => BatchExecutor.make(dialectFor(options)))

/** The executor for the configured flavour. */
export const layer = Layer.unwrapEffect(
  Effect.map(ClusterConfig, ({ options }) => BatchExecutor.layer(dialectFor(options)))
)
