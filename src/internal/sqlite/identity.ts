/**
 * Who has a SQLite job store open: a program's owner id, how often it shows a sign of life, and
 * when its silence makes it dead. What the store's other parts share about owners, with no
 * dependency of its own.
 */
import { Duration } from "effect"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"

/** One program that has the store open, from its `owners` row. */
export interface Holder {
  readonly host: string
  readonly pid: number
  readonly started: number
}

/** How often an open store renews its owner row, and how old a heartbeat makes its owner dead. */
export const heartbeatEvery = Duration.seconds(15)
export const ownerDeadAfter = Duration.minutes(1)

/** A new owner id for this program (`host:pid:random`), and its host. */
export const ownerId = (): { readonly host: string; readonly me: string } => {
  const host = hostname()
  return { host, me: `${host}:${process.pid}:${randomBytes(4).toString("hex")}` }
}

