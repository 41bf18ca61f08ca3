/**
 * What the SQLite job store says when something goes wrong.
 *
 * Errors are classified from SQLite's own result codes (better-sqlite3's `SqliteError.code`,
 * found on the error or on the errors it wraps: @effect/sql's SqlError keeps it as `cause`), so a
 * store is called damaged only when SQLite says so.
 */
import { Duration, ParseResult } from "effect"
import type { StoreErrorReason } from "../../Errors.js"
import { StoreError } from "../../Errors.js"
import type { Holder } from "./identity.js"

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
