/**
 * What the executor tests against a scripted scheduler (FakeSlurm, FakeLsf) share: the services
 * on a TestCommandRunner that answers with the fake's rules, and readers of what was run and
 * recorded.
 */
import type { Scope } from "effect"
import { Effect, Option } from "effect"
import * as ClusterApi from "../../src/ClusterApi.js"
import type { ConfigOptions } from "../../src/Config.js"
import { Executor } from "../../src/Executor.js"
import { JobStore } from "../../src/JobStore.js"
import type { JobKey } from "../../src/JobStore.js"
import type { Rule } from "../../src/TestCommandRunner.js"
import { TestCommandRunner } from "../../src/TestCommandRunner.js"
import { tempDirs } from "./TempDirs.js"

/**
 * Runs test bodies on a fresh fake (from `makeFake`) with the config `defaults` (and a fresh log
 * directory) under each test's own `config`.
 */
export const withFakeScheduler = <F extends { readonly rules: ReadonlyArray<Rule> }>(
  makeFake: Effect.Effect<F>,
  defaults: Partial<ConfigOptions>,
  tempPrefix: string
) => {
  const tempDir = tempDirs(tempPrefix)
  return <A, E>(
    body: (fake: F) => Effect.Effect<A, E, ClusterApi.Services | TestCommandRunner | Scope.Scope>,
    config: Partial<ConfigOptions> = {}
  ) =>
    Effect.gen(function*() {
      const fake = yield* makeFake
      return yield* body(fake).pipe(
        Effect.scoped,
        Effect.provide(
          ClusterApi.layerTest({
            config: { poll_interval: 10, log_directory: tempDir(), ...defaults, ...config },
            rules: fake.rules
          })
        )
      )
    })
}

/** The commands run so far whose argv starts with `prefix`. */
export const callsOf = (prefix: string) => Effect.flatMap(TestCommandRunner, (t) => t.callsMatching(prefix))

/** How many commands run so far start with `prefix`. */
export const calls = (prefix: string) => callsOf(prefix).pipe(Effect.map((c) => c.length))

/** A job's record in the store (the test fails when there is none). */
export const getRecord = (job: JobKey) =>
  Effect.flatMap(JobStore, (s) => s.get(job)).pipe(Effect.map(Option.getOrThrow))

/** Submits `count` trivial jobs named `j0`, `j1`, …, in order. */
export const submitMany = (count: number) =>
  Effect.flatMap(Executor, (executor) =>
    Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => executor.submit({ name: `j${i}`, command: "true" })
    ))
