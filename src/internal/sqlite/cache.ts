/**
 * The decoded records of active jobs as the store last read them, so that a Monitor tick that
 * finds nothing changed decodes nothing (decoding a record — JSON and Schema — is most of what
 * reading it costs).
 *
 * An entry is the record its row held when read. It stays right as long as nobody writes the row:
 * - another program's write changes `PRAGMA data_version` (it counts commits by other
 *   connections), and a changed version drops every entry (`sync`);
 * - this program's writes drop the entries of the jobs they write (`forget`), so those are read
 *   again, from the row as written.
 * Only active jobs are kept: the ones the Monitor reads every tick, as many as it watches.
 */
import type { JobRecord } from "../../Domain.js"
import { isTerminal } from "../../Domain.js"
import type { JobKey } from "../store.js"
import { keyString } from "../store.js"

export interface RecordCache {
  /** Drops every entry when `version` (the connection's `data_version`) is not the one they were read at. */
  readonly sync: (version: number) => void
  /** The record of a job (by `keyString`), as last read. */
  readonly get: (key: string) => JobRecord | undefined
  /** Whether `key` is the very record kept for its job (the Monitor passes `modify` what `list` returned). */
  readonly holds: (key: JobKey) => boolean
  /** The record of the row `rowid` of `jobs`, as last read. */
  readonly byRowid: (rowid: number) => JobRecord | undefined
  /** Keeps a record just read from row `rowid` (a terminal one is not kept). */
  readonly keep: (rowid: number, record: JobRecord) => void
  /** Drops the entries of jobs about to be written or deleted. */
  readonly forget: (keys: Iterable<JobKey>) => void
  readonly clear: () => void
}

interface Entry {
  readonly rowid: number
  readonly record: JobRecord
}

export const makeRecordCache = (): RecordCache => {
  // The same entries by key and by rowid (the Monitor's list asks SQLite for rowids only).
  const byKey = new Map<string, Entry>()
  const byRowid = new Map<number, Entry>()
  const kept = new Set<JobKey>()
  let version: number | undefined
  const drop = (key: string) => {
    const entry = byKey.get(key)
    if (entry === undefined) return
    byKey.delete(key)
    byRowid.delete(entry.rowid)
    kept.delete(entry.record)
  }
  const clear = () => {
    byKey.clear()
    byRowid.clear()
    kept.clear()
  }
  return {
    sync: (v) => {
      if (v === version) return
      clear()
      version = v
    },
    get: (key) => byKey.get(key)?.record,
    holds: (key) => kept.has(key),
    byRowid: (rowid) => byRowid.get(rowid)?.record,
    keep: (rowid, record) => {
      const key = keyString(record)
      drop(key)
      if (isTerminal(record)) return
      const entry = { rowid, record }
      byKey.set(key, entry)
      byRowid.set(rowid, entry)
      kept.add(record)
    },
    forget: (keys) => {
      for (const key of keys) drop(keyString(key))
    },
    clear: () => {
      clear()
      version = undefined
    }
  }
}
