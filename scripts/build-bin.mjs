#!/usr/bin/env node
/**
 * Builds the `cluster-api` executable's bundle (run after `tsc -p tsconfig.build.json`, which
 * emits the library and the launcher dist/src/cli/bin.js):
 *
 *   dist/src/cli/cluster-api.cjs        src/cli/main.ts and everything it imports, in one file:
 *                                       tree-shaken and minified, better-sqlite3 (native) left out
 *   dist/src/cli/cluster-api.cjs.cache  V8's code cache for it, written by a `--help` run, so a
 *                                       start skips compiling (src/cli/Bundle.ts)
 *   dist/cli-bundle.json                esbuild's metafile: which inputs went into the bundle
 *                                       (test/ColdStart.test.ts reads it; not packed)
 *
 * Barrel imports (`import { Effect, Schema } from "effect"`) are read as the modules they name
 * (`import * as Effect from "effect/Effect"`): through a package's index a bundler keeps every
 * export of every namespace used (effect/Schema's brings in fast-check), through the module itself
 * only what is used.
 */
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const outDir = path.join(root, "dist", "src", "cli")
const bundle = path.join(outDir, "cluster-api.cjs")
const metafile = path.join(root, "dist", "cli-bundle.json")
const require = createRequire(path.join(root, "package.json"))

/** The packages whose index only re-exports their modules, as `effect` and the `@effect/*` do. */
const barrel = /^(effect|@effect\/[a-z-]+)$/

/**
 * What a package's index re-exports: namespace name → subpath (`Schema` → `effect/Schema`), and
 * plain names → subpath (`pipe` → `effect/Function`). Read from the index itself.
 */
const barrelCache = new Map()
const barrelOf = (pkg) => {
  let names = barrelCache.get(pkg)
  if (names !== undefined) return names
  const index = fs.readFileSync(require.resolve(pkg).replace(/\/dist\/cjs\/index\.js$/, "/dist/esm/index.js"), "utf8")
    .replace(/\/\*\*[\s\S]*?\*\//g, "")
  names = { namespaces: new Map(), values: new Map() }
  for (const [, name, file] of index.matchAll(/export \* as (\w+) from "\.\/([\w/]+)\.js"/g)) {
    names.namespaces.set(name, `${pkg}/${file}`)
  }
  for (const [, list, file] of index.matchAll(/export \{([^}]*)\} from "\.\/([\w/]+)\.js"/g)) {
    for (const name of list.split(",").map((s) => s.trim()).filter(Boolean)) names.values.set(name, `${pkg}/${file}`)
  }
  barrelCache.set(pkg, names)
  return names
}

/** `import { A, B as C, type D } from "pkg"` rewritten to one import per module; null if it cannot be. */
const rewriteImport = (specifiers, pkg) => {
  const { namespaces, values } = barrelOf(pkg)
  const lines = []
  for (const spec of specifiers.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (spec.startsWith("type ")) continue
    const [, name, alias = name] = /^(\w+)(?:\s+as\s+(\w+))?$/.exec(spec) ?? []
    if (name === undefined) return null
    if (namespaces.has(name)) lines.push(`import * as ${alias} from "${namespaces.get(name)}"`)
    else if (values.has(name)) lines.push(`import { ${name} as ${alias} } from "${values.get(name)}"`)
    else return null
  }
  return lines.join("; ")
}

const deepImports = {
  name: "deep-imports",
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, "utf8")
      const contents = source.replace(
        /^import\s+\{([^}]*)\}\s+from\s+"([^"]+)"/gm,
        (whole, specifiers, pkg) => (barrel.test(pkg) ? rewriteImport(specifiers, pkg) ?? whole : whole)
      )
      return { contents, loader: "ts" }
    })
  }
}

/**
 * better-sqlite3 required when the first store is opened rather than when the bundle starts, so
 * that commands that never open one (`--help`) do not load it. @effect/sql-sqlite-node only
 * constructs it (`new Sqlite(filename, options)`).
 */
const lazySqlite = {
  name: "lazy-better-sqlite3",
  setup(b) {
    b.onResolve({ filter: /^better-sqlite3$/ }, (args) =>
      args.namespace === "lazy" ? { path: "better-sqlite3", external: true } : { path: "better-sqlite3", namespace: "lazy" })
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: `export default function Database(filename, options) { return new (require("better-sqlite3"))(filename, options) }`,
      loader: "js"
    }))
  }
}

const result = await build({
  entryPoints: [path.join(root, "src", "cli", "main.ts")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  // Classes and functions keep their names: in stack traces and in what util.inspect prints.
  keepNames: true,
  legalComments: "none",
  // A native addon: loaded from node_modules, only by the commands that open the job store.
  external: ["better-sqlite3"],
  plugins: [deepImports, lazySqlite],
  metafile: true,
  logLevel: "warning"
})
fs.writeFileSync(metafile, JSON.stringify(result.metafile))

// The code cache: the bundle run once with `--help` (no config, an empty home), then every
// function that run compiled (the runtime, the command tree, the help) written down at its exit.
const home = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? "/tmp"), "cluster-api-build-"))
try {
  const env = { ...process.env, HOME: home }
  for (const name of ["CLUSTER_API_CONFIG", "CLUSTER_API_STATE", "XDG_STATE_HOME", "NODE_OPTIONS"]) delete env[name]
  const writer = `
    const Bundle = await import(${JSON.stringify(pathToFileURL(path.join(outDir, "Bundle.js")).href)})
    const bundle = Bundle.load(false)
    if (bundle === undefined) throw new Error("no bundle to run")
    process.argv = [process.execPath, ${JSON.stringify(path.join(outDir, "bin.js"))}, "--help"]
    process.on("exit", () => bundle.writeCache())
    bundle.run()`
  fs.rmSync(`${bundle}.cache`, { force: true })
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", writer], { cwd: home, env, encoding: "utf8" })
  if (run.status !== 0 || !fs.existsSync(`${bundle}.cache`)) {
    throw new Error(`the code cache was not written:\n${run.stdout}\n${run.stderr}`)
  }
} finally {
  fs.rmSync(home, { recursive: true, force: true })
}
