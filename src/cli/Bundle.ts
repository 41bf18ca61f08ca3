/**
 * The program bundled (dist/src/cli/cluster-api.cjs: main.ts and everything it imports, in one
 * file, built by scripts/build-bin.mjs) and V8's code cache for it (cluster-api.cjs.cache). Run
 * through node:vm with its cache, a start skips parsing and compiling the bundle, which is most of
 * what loading it costs.
 *
 * The cache begins with the SHA-256 of the bundle it was made from and is used only with that
 * bundle; V8 refuses, by itself, data from another V8 version or other V8 flags (the bundle then
 * runs compiled as usual). Plain Node only: this runs before anything else is loaded.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { Script } from "node:vm"

const here = path.dirname(fileURLToPath(import.meta.url))

/** The bundle, next to this module once built. */
export const bundlePath = path.join(here, "cluster-api.cjs")

/** Its code cache. */
export const cachePath = `${bundlePath}.cache`

/** The unbundled program, as tsc emits it. */
const programPath = path.join(here, "main.js")

const digestLength = 32

/**
 * How much a function runs before V8 considers optimizing it: 15 times V8's default (67,584). Most
 * runs of the command line are short, and there V8's optimizing compiler spends more than it saves
 * on functions that run a few hundred times (a fifth of `--help`'s CPU time); a long-running command
 * still gets its hot code optimized, a little later. Set before the bundle is compiled, for its
 * code cache too: V8 uses a cache only under the flags it was made with.
 */
const interruptBudget = "--interrupt-budget=1000000"

/** Whether the bundle was compiled from its code cache: none found (or not for this bundle), or V8 refused it. */
export type CacheUse = "used" | "refused by V8" | "none"

export interface Bundle {
  readonly cache: CacheUse
  /** Runs the program (it reads `process.argv`). */
  readonly run: () => void
  /** Writes the code cache: the functions compiled so far, for this bundle. */
  readonly writeCache: () => void
}

const mtimeOf = (file: string): number | undefined => fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs

/**
 * The bundle, compiled (from its cache when `useCache` and there is one for it), or undefined when
 * there is none or it is older than main.js (sources built again without the bundle step).
 */
export const load = (useCache = true): Bundle | undefined => {
  const built = mtimeOf(bundlePath)
  if (built === undefined || (mtimeOf(programPath) ?? -Infinity) > built) return undefined
  setFlagsFromString(interruptBudget)
  const source = fs.readFileSync(bundlePath)
  const digest = createHash("sha256").update(source).digest()
  const cached = useCache ? readCache(digest) : undefined
  // The same wrapper Node gives a CommonJS module.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source.toString("utf8")}\n})`, {
    filename: bundlePath,
    ...(cached === undefined ? {} : { cachedData: cached })
  })
  return {
    cache: cached === undefined ? "none" : script.cachedDataRejected === true ? "refused by V8" : "used",
    run: () => {
      const start = script.runInThisContext() as (
        exports: unknown,
        require: NodeJS.Require,
        module: { exports: unknown },
        filename: string,
        dirname: string
      ) => void
      const module = { exports: {} }
      start.call(module.exports, module.exports, createRequire(bundlePath), module, bundlePath, here)
    },
    writeCache: () => {
      const partial = `${cachePath}.${process.pid}`
      fs.writeFileSync(partial, Buffer.concat([digest, script.createCachedData()]))
      fs.renameSync(partial, cachePath)
    }
  }
}

/** The V8 data of the code cache, if the cache was made from the bundle whose digest is `digest`. */
const readCache = (digest: Buffer): Buffer | undefined => {
  let cache: Buffer
  try {
    cache = fs.readFileSync(cachePath)
  } catch {
    return undefined
  }
  return cache.length > digestLength && cache.subarray(0, digestLength).equals(digest)
    ? cache.subarray(digestLength)
    : undefined
}
