/**
 * What every example needs when run directly: the real stack from `ClusterApi.layer` (config file
 * if any, real processes) with logs in a temporary directory removed at the end and a short poll
 * interval, plus Node's file system; and a way to run only when the file is the program itself.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import type { Effect } from "effect"
import { Effect as E, Layer } from "effect"
import { pathToFileURL } from "node:url"
import { ClusterApi } from "cluster-api"

export const ExampleLayer = Layer.unwrapScoped(
  E.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Removed when the layer's scope closes, after the job services are shut down.
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-api-example-" })
    return ClusterApi.layer({ overrides: { log_directory: dir, poll_interval: 0.2 } })
  })
).pipe(Layer.provideMerge(NodeContext.layer))

/** Runs `main` with NodeRuntime when the module at `moduleUrl` is the script node was started with. */
export const runIfMain = <A, Err>(moduleUrl: string, main: Effect.Effect<A, Err>): void => {
  const entry = process.argv[1]
  if (entry !== undefined && moduleUrl === pathToFileURL(entry).href) NodeRuntime.runMain(main)
}
