/**
 * What the scheduler dialect tests share: recorded outputs by name, a prepared job to render, and
 * readers for the pure parsers' results.
 */
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Observation } from "../../src/Domain.js"
import type { PreparedJob } from "../../src/Executor.js"

/** Reads a recorded output from `test/fixtures/{scheduler}/`. */
export const fixtures = (scheduler: string) => (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../fixtures/${scheduler}/${name}`, import.meta.url)), "utf8")

/** A prepared job named `capi-align`; `over` replaces any field. */
export const preparedJob = (over: Partial<PreparedJob> = {}): PreparedJob => ({
  spec: { name: "align", command: "bwa mem ref.fa reads.fq" },
  name: "capi-align",
  resources: { extraDirectives: [], extraArgs: [] },
  inheritEnv: true,
  ...over
})

/** A parser's result, or the test fails with what the parser said was wrong. */
export const right = <A>(e: Either.Either<A, string>): A => {
  if (Either.isLeft(e)) throw new Error(e.left)
  return e.right
}

/** Observations by job id. */
export const byId = (obs: ReadonlyArray<Observation>) => new Map(obs.map((o) => [o.jobId, o] as const))
