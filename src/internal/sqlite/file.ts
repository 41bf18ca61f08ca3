/**
 * The SQLite job store's file: kept private (it holds the jobs' environment values), and why
 * SQLite could not open it when its directory is the reason.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const otherBits = 0o077

/**
 * Makes the store's file private before SQLite opens it: a new file is created 0600 (SQLite gives
 * its -wal and -shm files the database file's mode), and an existing one that other users may
 * read (it holds the jobs' environment values) is made 0600, with a warning; if that is not
 * allowed, the warning says how to do it. Other problems are left for SQLite to report.
 */
export const privateStoreFile = (file: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    const warnings: Array<string> = []
    try {
      fs.writeFileSync(file, "", { flag: "wx", mode: 0o600 })
      return Effect.void
    } catch {
      // It exists (or cannot be created: SQLite says why when it opens it).
    }
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      let mode: number
      try {
        mode = fs.statSync(f).mode & 0o777
      } catch {
        continue
      }
      if ((mode & otherBits) === 0) continue
      const shown = mode.toString(8).padStart(4, "0")
      try {
        fs.chmodSync(f, mode & 0o700)
        warnings.push(
          `the job store file ${f} was readable by other users (mode ${shown}); made it private (${
            (mode & 0o700).toString(8).padStart(4, "0")
          }): it holds the jobs' environment values`
        )
      } catch {
        warnings.push(
          `the job store file ${f} is readable by other users (mode ${shown}) and holds the jobs' environment values; make it private: chmod 600 ${f}`
        )
      }
    }
    return Effect.forEach(warnings, (w) => Effect.logWarning(w), { discard: true })
  })

/** Why SQLite could not open the store, when its directory is the reason. */
export const directoryProblem = (file: string): string | undefined => {
  const dir = path.dirname(file)
  try {
    fs.accessSync(dir, fs.constants.W_OK)
    return undefined
  } catch {
    return fs.existsSync(dir)
      ? `its directory ${dir} is not writable by this user, and SQLite must create its -wal and -shm files there to read a store that no other program has open`
      : `its directory ${dir} does not exist`
  }
}
