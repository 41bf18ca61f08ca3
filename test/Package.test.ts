/**
 * The package as a user gets it: `npm pack`ed, installed into a fresh folder without the network,
 * and used by the README's first program, compiled (strict) against the installed package's types
 * and run with node. The program is read from README.md's first ```ts block and its output checked
 * against the block after "It prints:", so that the README and the package cannot drift apart.
 *
 * The pack holds the dist/ that test/globalSetup.ts keeps fresh (it runs before any test file);
 * `--ignore-scripts` keeps `npm pack` from building into that shared dist while other tests read it.
 * The installed package's dependencies are links to this repository's node_modules.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { tempDirs } from "./support/TempDirs.js"

const repoRoot = fileURLToPath(new URL("..", import.meta.url))
const modules = fs.realpathSync(path.join(repoRoot, "node_modules"))
const tempDir = tempDirs("cluster-api-package-")

/** Runs `command`, failing the test with its output unless it exits 0. */
const run = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) => {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: "utf8",
    // A bound for a hung child, not a wait: every step normally ends long before it.
    timeout: 150_000
  })
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} ended ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`
    )
  }
  return result.stdout
}

/** README.md's first ```ts block (the program) and the ``` block after "It prints:" (its output). */
const readmeProgram = (): { readonly program: string; readonly prints: string } => {
  const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
  const program = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  const prints = /It prints:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1]
  if (program === undefined || prints === undefined) throw new Error("README.md has no first program and its output")
  return { program, prints }
}

/** Installs the packed tarball into `app/node_modules/cluster-api`, its dependencies linked. */
const install = (tarball: string, app: string): void => {
  const target = path.join(app, "node_modules", "cluster-api")
  fs.mkdirSync(target, { recursive: true })
  run("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"], { cwd: app })
  const manifest = JSON.parse(fs.readFileSync(path.join(target, "package.json"), "utf8")) as {
    readonly dependencies: Record<string, string>
  }
  // The program's own imports (effect, @effect/platform-node) are dependencies of the package;
  // @types/node is what a user's TypeScript project has.
  for (const name of [...Object.keys(manifest.dependencies), "@types/node"]) {
    const link = path.join(app, "node_modules", name)
    fs.mkdirSync(path.dirname(link), { recursive: true })
    fs.symlinkSync(path.join(modules, name), link, "dir")
  }
}

describe("the packed package", () => {
  it("installs offline, and the README's first program compiles against it and runs", () => {
    const dir = tempDir()
    const packs = path.join(dir, "pack")
    const app = path.join(dir, "app")
    fs.mkdirSync(packs)
    fs.mkdirSync(app)

    const offline = { ...process.env, npm_config_offline: "true", npm_config_audit: "false", npm_config_fund: "false" }
    run("npm", ["pack", "--ignore-scripts", "--pack-destination", packs], { cwd: repoRoot, env: offline })
    const [tarball] = fs.readdirSync(packs).filter((f) => f.endsWith(".tgz"))
    expect(tarball).toBeDefined()
    install(path.join(packs, tarball!), app)
    // Only the built sources, never the internal machinery as an entry point.
    const installed = JSON.parse(fs.readFileSync(path.join(app, "node_modules", "cluster-api", "package.json"), "utf8"))
    expect(installed.exports["./internal/*"]).toBeNull()
    expect(fs.existsSync(path.join(app, "node_modules", "cluster-api", "dist", "src", "index.d.ts"))).toBe(true)

    const { prints, program } = readmeProgram()
    fs.writeFileSync(path.join(app, "main.ts"), program)
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ type: "module", private: true }))
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          target: "ES2022",
          lib: ["ES2022"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          skipLibCheck: true,
          outDir: "out"
        },
        files: ["main.ts"]
      })
    )
    run(process.execPath, [path.join(modules, "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: app })

    // No config file anywhere it looks, the user's store in this folder.
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: app, XDG_STATE_HOME: path.join(app, "state") }
    delete env.CLUSTER_API_CONFIG
    delete env.CLUSTER_API_STATE
    const output = run(process.execPath, [path.join("out", "main.js")], { cwd: app, env })

    expect(output).toBe(prints)
    expect(output).toContain("capi-hello: Done, exit code 0\n")
    expect(output).toContain("capi-broken: Failed (NonZeroExit: exit code 3)\n")
    expect(fs.existsSync(path.join(app, "state", "cluster-api", "jobs.db"))).toBe(true)
  }, 300_000)
})
