/**
 * The LSF executor: the shared batch machinery (BatchExecutor) speaking LSF's dialect
 * (schedulers/Lsf.ts).
 */
import type { FileSystem, Path } from "@effect/platform"
import { Layer } from "effect"
import { make as makeBatch } from "./BatchExecutor.js"
import type { CommandRunner } from "./CommandRunner.js"
import type { ClusterConfig } from "./Config.js"
import { Executor } from "./Executor.js"
import type { JobStore } from "./JobStore.js"
import { dialect } from "./schedulers/Lsf.js"

export const make = makeBatch(dialect)

export const layer: Layer.Layer<
  Executor,
  never,
  ClusterConfig | CommandRunner | JobStore | FileSystem.FileSystem | Path.Path
> = Layer.effect(Executor, make)
