/**
 * Waiting on a condition rather than on a timer: a test that waits for a file, a line printed or a
 * store change checks it every 50 ms until it holds, however slow the machine.
 */

/** Resolves once `predicate` holds (checked every 50 ms); rejects after `ms`, naming `what`. */
export const until = (what: string, predicate: () => boolean, ms = 30_000): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const check = () => {
      if (predicate()) resolve()
      else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${what}`))
      else setTimeout(check, 50)
    }
    check()
  })
