/**
 * What the SQLite job store says when something goes wrong, and how it keeps its file private.
 *
 * Errors are classified from SQLite's own result codes (better-sqlite3's `SqliteError.code`,
 * found on the error or on the errors it wraps: @effect/sql's SqlError keeps it as `cause`), so a
 * store is called damaged only when SQLite says so.
 */
import { Duration, Effect, ParseResult } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreErrorReason } from "../Errors.js"
import { StoreError } from "../Errors.js"

/** The SQLite result code carried by an error or by one of its causes (`SQLITE_BUSY`, …). */
export const sqliteCode = (e: unknown): string | undefined => {
  let current: unknown = e
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string" && current.code.startsWith("SQLITE_")) {
      return current.code
    }
    current = "cause" in current ? current.cause : undefined
  }
  return undefined
}

/** What a SQLite result code says about the store (extended codes such as SQLITE_READONLY_DBMOVED included). */
export const reasonOfCode = (code: string | undefined): StoreErrorReason => {
  if (code === undefined) return "Unknown"
  if (/^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)) return "Busy"
  if (/^SQLITE_(READONLY|PERM|AUTH)(_|$)/.test(code)) return "ReadOnly"
  if (code === "SQLITE_FULL") return "Full"
  if (/^SQLITE_(CORRUPT|NOTADB)(_|$)/.test(code)) return "Corrupt"
  if (/^SQLITE_CANTOPEN(_|$)/.test(code)) return "CantOpen"
  if (/^SQLITE_IOERR(_|$)/.test(code)) return "Io"
  return "Unknown"
}

const messageOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && "message" in u ? String(u.message) : u === undefined ? undefined : String(u)

/** The innermost message of an error and its causes (an SqlError says "Failed to execute statement"; SQLite says why). */
const innermostMessage = (e: unknown): string => {
  let current: unknown = e
  let found = messageOf(e) ?? "unknown error"
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null && "cause" in current; depth++) {
    current = current.cause
    const m = messageOf(current)
    if (m !== undefined && m.length > 0) found = m
  }
  return found
}

/** What went wrong, in SQLite's words with its code (`database is locked (SQLITE_BUSY)`). */
export const describeStoreFailure = (e: unknown): string => {
  const code = sqliteCode(e)
  const message = innermostMessage(e)
  return code === undefined ? message : `${message} (${code})`
}

/** better-sqlite3 checks the directory itself and throws a TypeError without a SQLite code. */
const cannotOpen = (e: unknown): boolean => /cannot open database/i.test(innermostMessage(e))

/** A StoreError for a failure of `operation` on the store at `path`, classified by SQLite's code. */
export const storeError = (operation: string, path?: string) => (e: unknown): StoreError => {
  const code = sqliteCode(e)
  const reason = code === undefined && cannotOpen(e) ? "CantOpen" : reasonOfCode(code)
  return new StoreError({
    operation,
    reason,
    detail: describeStoreFailure(e),
    ...(path === undefined ? {} : { path }),
    cause: e
  })
}

/** One program that has the store open, from its `owners` row. */
export interface Holder {
  readonly host: string
  readonly pid: number
  readonly started: number
}

/** A Busy error's detail: how long it waited and which programs have the store open. */
export const busyDetail = (
  waited: Duration.Duration,
  holders: ReadonlyArray<Holder> | undefined,
  said: string
): string => {
  const whom = holders === undefined
    ? ""
    : holders.length === 0
    ? "; no other cluster-api program has it open, so another tool holds it (an sqlite3 shell, a backup)"
    : `; programs that have it open: ${
      holders.map((h) => `pid ${h.pid} on ${h.host} (since ${new Date(h.started).toISOString()})`).join(", ")
    }`
  return `another program held its write lock for longer than the busy timeout (${
    Duration.format(waited)
  })${whom}; SQLite said: ${said}`
}

/** Why a stored record cannot be decoded, on one line (`spec.resources: Expected …; status: …`). */
export const decodeProblem = (e: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(e)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`))
    .join("; ")

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
