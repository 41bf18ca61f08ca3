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

/**
 * Resolves once `pattern` matches what a running command printed (checked whenever `listeners`
 * are told of new output); rejects when it ended first (`ended()`), or after `timeoutMs`.
 */
export const whenPrinted = (
  listeners: Set<() => void>,
  output: () => { readonly stdout: string; readonly stderr: string },
  ended: () => boolean,
  pattern: RegExp,
  timeoutMs = 60_000
): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const check = () => {
      const { stderr, stdout } = output()
      if (pattern.test(stdout) || pattern.test(stderr)) done(resolve)
      else if (ended()) done(() => reject(new Error(`it ended before printing ${pattern}:\n${stdout}\n${stderr}`)))
    }
    const giveUp = setTimeout(() => {
      const { stderr, stdout } = output()
      done(() => reject(new Error(`nothing matched ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`)))
    }, timeoutMs)
    const done = (then: () => void) => {
      clearTimeout(giveUp)
      listeners.delete(check)
      then()
    }
    listeners.add(check)
    check()
  })
