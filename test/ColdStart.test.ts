/**
 * What the `cluster-api` executable loads before it prints anything: the bundle of the program
 * (dist/src/cli/cluster-api.cjs, built by scripts/build-bin.mjs) compiled from its code cache, and
 * in that bundle only what the program uses. A barrel import that keeps a whole package
 * (`@effect/platform-node`'s index brings in undici, ws and @effect/cluster; `effect`'s Schema
 * namespace through the index brings in fast-check), or a module the bundle loads as a file at
 * start, fails here: each costs the command line's start-up time. Speed itself is measured in
 * bench/, not here.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { bin, bundle, distIsFresh } from "./globalSetup.js"
import { isolatedEnv, runBin } from "./support/RunBin.js"
import { tempDirs } from "./support/TempDirs.js"

const repoRoot = fileURLToPath(new URL("..", import.meta.url))
const freshDir = tempDirs("cluster-api-cold-start-")

interface Metafile {
  readonly outputs: Record<string, { readonly inputs: Record<string, { readonly bytesInOutput: number }> }>
}

/** The bundle's inputs (paths relative to the repository) that put code into it. */
const bundledInputs = (): ReadonlyArray<string> => {
  const meta = JSON.parse(fs.readFileSync(path.join(repoRoot, "dist", "cli-bundle.json"), "utf8")) as Metafile
  const output = Object.entries(meta.outputs).find(([file]) => path.resolve(repoRoot, file) === bundle)
  if (output === undefined) throw new Error(`no ${bundle} in dist/cli-bundle.json`)
  return Object.entries(output[1].inputs).filter(([, input]) => input.bytesInOutput > 0).map(([file]) => file)
}

/** The package an input comes from (`@effect/cli`, `effect`), or undefined for the project's own sources. */
const packageOf = (input: string): string | undefined => {
  const parts = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)
  return parts?.[1]
}

describe("cold start", { timeout: 60_000 }, () => {
  it("the bundle holds no package a barrel import would bring in, and a bounded number of modules", () => {
    expect(distIsFresh()).toBe(true)
    const inputs = bundledInputs()
    const packages = new Set(inputs.map(packageOf).filter((p) => p !== undefined))
    for (const heavy of ["fast-check", "pure-rand", "undici", "ws", "@effect/cluster", "@effect/rpc", "@effect/workflow"]) {
      expect(packages, heavy).not.toContain(heavy)
    }
    // No package's index: each module is reached by its own path.
    expect(inputs.filter((i) => packageOf(i) !== undefined && /\/dist\/(esm|cjs)\/index\.js$/.test(i))).toEqual([])
    // 560 modules when this was written; the unbundled program loads 1,241 files.
    expect(inputs.length).toBeLessThan(700)
    expect(inputs).toContain("src/cli/main.ts")
  })

  it("--help runs the bundle from its code cache and loads no other file as a module", async () => {
    const cwd = freshDir()
    // The cache is made by a plain `node` (V8 uses it only under the flags it was made with).
    const env: NodeJS.ProcessEnv = { ...isolatedEnv(cwd), NODE_DEBUG: "cluster-api,module" }
    delete env.NODE_OPTIONS
    const r = await runBin(bin, ["--help"], { cwd, env, killAfterMs: 45_000 })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/- list\b/)
    expect(r.stderr).toContain("starting the bundle; code cache: used")
    // NODE_DEBUG=module reports each file require() loads (the bundle's own requires are of
    // Node's built-in modules); better-sqlite3 waits for a command that opens the job store.
    expect(r.stderr.split("\n").filter((line) => /\bload "/.test(line))).toEqual([])
  })

  it("list --json loads better-sqlite3 when it opens the job store, and prints the same as before", async () => {
    const cwd = freshDir()
    const env = { ...isolatedEnv(cwd), NODE_DEBUG: "module" }
    const empty = await runBin(bin, ["list", "--json"], { cwd, env, killAfterMs: 45_000 })
    expect(empty.code).toBe(0)
    expect(JSON.parse(empty.stdout)).toEqual([])
    const submitted = await runBin(bin, ["submit", "--wait", "--json", "--name", "cold", "--", "true"], {
      cwd,
      env,
      killAfterMs: 45_000
    })
    expect(submitted.code).toBe(0)
    expect(submitted.stderr).toMatch(/load "[^"]*better-sqlite3[^"]*"/)
    const listed = await runBin(bin, ["list", "--json"], { cwd, env, killAfterMs: 45_000 })
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout)).toMatchObject([{ name: "capi-cold", status: "Done", exitCode: 0 }])
  })
})
