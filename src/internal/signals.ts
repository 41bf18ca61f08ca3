/**
 * Signal numbers and their names on this platform, for reading how a job ended.
 */
import { constants } from "node:os"

// The first name of each number (SIGABRT rather than SIGIOT, SIGIO rather than SIGPOLL).
const names: ReadonlyMap<number, string> = (() => {
  const byNumber = new Map<number, string>()
  for (const [name, n] of Object.entries(constants.signals)) if (!byNumber.has(n)) byNumber.set(n, name)
  return byNumber
})()

/**
 * The name of signal `n` (`SIGKILL`), or its number (`53`) when this platform has no name for it:
 * what a reason says reads "killed by signal SIGKILL" or "killed by signal 53".
 */
export const signalName = (n: number): string => names.get(n) ?? String(n)

/**
 * The signal a shell-style exit status reports: 128+N for a process killed by signal N (137 is
 * SIGKILL, 143 SIGTERM). Undefined for statuses that name no signal this platform knows.
 */
export const signalOfStatus = (status: number): string | undefined => status > 128 ? names.get(status - 128) : undefined
