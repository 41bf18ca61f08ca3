/**
 * Runs once before any test file: builds dist/ when a source file is newer than its output, so
 * that the tests that run built programs (the `cluster-api` bin and its bundle, the restart and
 * store programs in test/support) find them fresh, and never build them twice at once.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoRoot = fileURLToPath(new URL("..", import.meta.url))
export const bin = path.join(repoRoot, "dist", "src", "cli", "bin.js")

/** The program bin.js starts, bundled by scripts/build-bin.mjs (bin.js falls back to main.js without it). */
export const bundle = path.join(repoRoot, "dist", "src", "cli", "cluster-api.cjs")

/**
 * Whether every source file under src/ and test/support/ (the programs some tests run as child
 * processes) has an emitted .js in dist/ at least as new, and the bundle is as new as those.
 */
export const distIsFresh = (): boolean => {
  const walk = (dir: string): Array<string> =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
    )
  const sources = ["src", path.join("test", "support")].flatMap((d) => walk(path.join(repoRoot, d)))
  const bundled = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : -Infinity
  return sources.every((ts) => {
    const js = path.join(repoRoot, "dist", path.relative(repoRoot, ts)).replace(/\.ts$/, ".js")
    return fs.existsSync(js) && fs.statSync(js).mtimeMs >= fs.statSync(ts).mtimeMs && bundled >= fs.statSync(js).mtimeMs
  })
}

export default function setup(): void {
  if (distIsFresh()) return
  // Type errors elsewhere in the project do not stop tsc from emitting; a missing output does.
  const build = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: repoRoot, encoding: "utf8" })
  const bundling = spawnSync(process.execPath, [path.join("scripts", "build-bin.mjs")], { cwd: repoRoot, encoding: "utf8" })
  if (!fs.existsSync(bin) || !distIsFresh()) {
    throw new Error(
      `the build did not produce a fresh ${bin}:\n${build.stdout}\n${build.stderr}\n${bundling.stdout}\n${bundling.stderr}`
    )
  }
}
