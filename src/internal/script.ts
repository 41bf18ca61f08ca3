/**
 * Job scripts: names, quoting, rendering and writing.
 *
 * A script is `shebang`, the scheduler's directive lines, the job's environment as `export` lines,
 * the prologue, the command, and the epilogue. The command and the prologue/epilogue lines are the
 * user's own shell, written as given; every other user value (names, environment values, paths)
 * is quoted or refused so that it can never run as shell or open a new directive line.
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either } from "effect"
import { InvalidJobSpec } from "../Errors.js"
import * as JobName from "../JobName.js"

/** Whether a value is one word that needs no quoting, in a shell or on a directive line. */
export const isPlainWord = (value: string): boolean => /^[\w@%+=:,./-]+$/.test(value)

/** Quotes a value for POSIX shells: the result is always one word with no expansion. */
export const shellQuote = (value: string): string =>
  isPlainWord(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`

/** Quotes a value for a directive line: double quotes, backslash-escaped. */
export const directiveQuote = (value: string): string => `"${value.replace(/(["\\$`])/g, "\\$1")}"`

/** A value on a directive line: as it is when it is one plain word, else quoted. */
export const directiveValue = (value: string): string => isPlainWord(value) ? value : directiveQuote(value)

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * What is wrong with a value that goes on a line of a script or a directive: a control character
 * (`\x00`–`\x1f`, `\x7f`: a line break would start a new line, so a new command or directive,
 * and the others have no business in a name or a path). Undefined when there is none.
 */
export const controlCharacterProblem = (value: string): string | undefined => {
  const found = /[\x00-\x1f\x7f]/.exec(value)
  if (found === null) return undefined
  const code = found[0].charCodeAt(0).toString(16).padStart(2, "0")
  return `holds a control character (\\x${code} at position ${found.index}) in ${JSON.stringify(value)}; use a value without line breaks, tabs or other control characters`
}

/**
 * What is wrong with a whole directive line (the config's `extra_directives`): a control
 * character, or a line that is no comment, which would run as a command and end the directives.
 */
export const directiveLineProblem = (line: string): string | undefined =>
  controlCharacterProblem(line) ?? (line.startsWith("#")
    ? undefined
    : `${JSON.stringify(line)} is not a directive line, which starts with # (such as "#SBATCH --qos=high"); put commands in script_prologue`)

/** What is wrong with a shebang line: a control character, or a first line that is no `#!`, which would run as a command. */
export const shebangProblem = (line: string): string | undefined =>
  controlCharacterProblem(line) ?? (line.startsWith("#!")
    ? undefined
    : `${JSON.stringify(line)} is not a shebang, which starts with #! (such as "#!/bin/bash")`)

/** Fails, naming the field, when a value holds a control character (see `controlCharacterProblem`). */
export const requireNoControlCharacters = (
  jobName: string,
  field: string,
  value: string | undefined
): Effect.Effect<void, InvalidJobSpec> => {
  const problem = value === undefined ? undefined : controlCharacterProblem(value)
  return problem === undefined ? Effect.void : Effect.fail(new InvalidJobSpec({ name: jobName, field, problem }))
}

/** Checks environment variable names (values may hold anything: they are quoted). */
export const validateEnv = (
  jobName: string,
  env: Readonly<Record<string, string>> | undefined
): Effect.Effect<void, InvalidJobSpec> => {
  // `__proto__` is a shell name, but an object built from it would take it as its prototype: lost.
  const bad = Object.keys(env ?? {}).filter((k) => !envName.test(k) || k === "__proto__")
  return bad.length === 0 ? Effect.void : Effect.fail(
    new InvalidJobSpec({
      name: jobName,
      field: "env",
      problem: `has names that are not shell variable names: ${
        bad.map((b) => JSON.stringify(b)).join(", ")
      }; use letters, digits and _ (not starting with a digit)`
    })
  )
}

/** How a script asks for a login shell: its shebang with `-l`, and the shell's path. */
export interface LoginShell {
  readonly shebang: string
  readonly shell: string
}

/**
 * The login form of a shebang: `#!/bin/bash` becomes `#!/bin/bash -l`, `#!/bin/bash -e` becomes
 * `#!/bin/bash -el`; one that already says `-l` or `--login` stays. Fails (saying why) for a
 * shebang that names no shell's path, such as `#!/usr/bin/env bash`, where the kernel would hand
 * `bash -l` to env as one word.
 */
export const loginShebang = (shebang: string): Either.Either<LoginShell, string> => {
  const m = /^#!\s*(\S+)(?:\s+(.*?))?\s*$/.exec(shebang)
  const shell = m?.[1]
  if (m === null || shell === undefined || !shell.startsWith("/")) {
    return Either.left(`the shebang ${JSON.stringify(shebang)} names no shell by its path; use one such as "#!/bin/bash"`)
  }
  if (/(^|\/)env$/.test(shell)) {
    return Either.left(
      `the shebang ${JSON.stringify(shebang)} runs the shell through env, which cannot also take -l; name the shell's path, such as "#!/bin/bash"`
    )
  }
  const args = m[2]
  if (args === undefined || args === "") return Either.right({ shebang: `#!${shell} -l`, shell })
  if (/^(?:-\w*l\w*|--login)$/.test(args)) return Either.right({ shebang: `#!${shell} ${args}`, shell })
  if (/^-[A-Za-z]+$/.test(args)) return Either.right({ shebang: `#!${shell} ${args}l`, shell })
  return Either.left(
    `the shebang ${JSON.stringify(shebang)} already passes ${JSON.stringify(args)} to the shell, and a shebang takes one argument; add -l to it yourself`
  )
}

/**
 * The shell a job script runs in, by its path (`#!/bin/bash -l` → `/bin/bash`): the login
 * shell's when the job asked for one, else the shebang's; undefined for a shebang that names no
 * shell by its path (`#!/usr/bin/env bash`). For schedulers that run scripts with a shell they
 * are told (SGE, PBS `-S`) rather than the shebang.
 */
export const scriptShell = (shebang: string, loginShell: LoginShell | undefined): string | undefined => {
  if (loginShell !== undefined) return loginShell.shell
  const shell = /^#!\s*(\S+)/.exec(shebang)?.[1]
  return shell !== undefined && shell.startsWith("/") && !/(^|\/)env$/.test(shell) ? shell : undefined
}

/** Keeps directive lines that contain none of the `directives_skip` substrings. */
export const skipDirectives = (lines: ReadonlyArray<string>, skip: ReadonlyArray<string>): Array<string> =>
  lines.filter((line) => !skip.some((s) => s.length > 0 && line.includes(s)))

export interface ScriptParts {
  readonly shebang: string
  /** Complete directive lines, already prefixed (`#SBATCH -J x`); comments are fine too. */
  readonly header: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly prologue: ReadonlyArray<string>
  readonly command: string
  readonly epilogue: ReadonlyArray<string>
}

export const renderScript = (parts: ScriptParts): string => {
  const exports = Object.entries(parts.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`)
  const lines = [parts.shebang, ...parts.header, ...exports, ...parts.prologue, parts.command, ...parts.epilogue]
  return `${lines.join("\n")}\n`
}

/** A script's text, or the text for the file stem it gets (`{name}.{n}`, which some logs are named after). */
export type ScriptContent = string | ((stem: string) => string)

/**
 * Writes a script as `{dir}/{name}.{n}.sh`, mode 0700, taking the first `n` (from `from`) whose
 * file does not exist yet: a script from an earlier run, which may still be running, is never
 * overwritten. Returns the path, the `n` used and the text written.
 */
export const writeScript = Effect.fn("Script.write")(function*(
  dir: string,
  name: string,
  content: ScriptContent,
  from = 1
): Effect.fn.Return<
  { readonly path: string; readonly n: number; readonly content: string },
  PlatformError,
  FileSystem.FileSystem | Path.Path
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  yield* fs.makeDirectory(dir, { recursive: true })
  const safe = JobName.sanitize(name)
  for (let n = from;; n++) {
    const file = path.join(dir, `${safe}.${n}.sh`)
    const text = typeof content === "string" ? content : content(`${safe}.${n}`)
    const written = yield* fs.writeFileString(file, text, { flag: "wx", mode: 0o700 }).pipe(
      Effect.as(true),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.succeed(false))
    )
    if (written) {
      yield* fs.chmod(file, 0o700)
      return { path: file, n, content: text }
    }
  }
})

/**
 * A script writer that remembers the next free number of each name in each directory, so that
 * many jobs of one name cost one directory listing, not one failed create per earlier script.
 */
export const makeScriptWriter = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const next = new Map<string, number>()
  return Effect.fn("Script.writeNext")(function*(dir: string, name: string, content: ScriptContent) {
    const safe = JobName.sanitize(name)
    const key = `${dir}\0${safe}`
    let from = next.get(key)
    if (from === undefined) {
      const entries = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
      from = 1
      for (const entry of entries) {
        if (!entry.startsWith(`${safe}.`) || !entry.endsWith(".sh")) continue
        const n = Number(entry.slice(safe.length + 1, -3))
        if (Number.isInteger(n) && n >= from) from = n + 1
      }
    }
    const written = yield* writeScript(dir, name, content, from)
    next.set(key, written.n + 1)
    return written
  })
})
