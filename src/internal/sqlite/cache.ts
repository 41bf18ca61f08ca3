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
  /** Whether the entries were read at `version`. */
  readonly validAt: (version: number) => boolean
  /** The record of a job (by `keyString`), as last read. */
  readonly get: (key: string) => JobRecord | undefined
  /** Keeps a record just read from its row (a terminal one is not kept). */
  readonly keep: (record: JobRecord) => void
  /** Drops the entries of jobs about to be written or deleted. */
  readonly forget: (keys: Iterable<JobKey>) => void
  readonly clear: () => void
  readonly size: () => number
}

export const makeRecordCache = (): RecordCache => {
  const records = new Map<string, JobRecord>()
  let version: number | undefined
  return {
    sync: (v) => {
      if (v === version) return
      records.clear()
      version = v
    },
    validAt: (v) => v === version,
    get: (key) => records.get(key),
    keep: (record) => {
      if (isTerminal(record)) records.delete(keyString(record))
      else records.set(keyString(record), record)
    },
    forget: (keys) => {
      for (const key of keys) records.delete(keyString(key))
    },
    clear: () => {
      records.clear()
      version = undefined
    },
    size: () => records.size
  }
}
