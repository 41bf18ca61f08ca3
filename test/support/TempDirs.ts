/**
 * Temporary directories for one test file, all removed when the file's tests are done.
 */
import { mkdtempSync, renameSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"

/** Waits `ms` milliseconds, blocking (cleanup runs in synchronous hooks). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Removes a directory tree that an emulator's background runner may still be writing into. The
 * tree is first moved aside (a rename in the same parent, atomic), so that no path naming the
 * directory leads into it any more; a runner then ends at its next look (its state directory is
 * gone). What it was writing at that moment may still appear in the moved tree (ENOTEMPTY), so the
 * removal is tried again, for up to 30 seconds on a loaded machine, before it fails.
 */
export const removeDir = (dir: string): void => {
  const aside = `${dir}.removing-${process.pid}-${Math.random().toString(36).slice(2)}`
  let target = aside
  try {
    renameSync(dir, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return
    target = dir
  }
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      rmSync(target, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
      return
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if ((code !== "ENOTEMPTY" && code !== "EBUSY") || Date.now() > deadline) throw e
      pause(200)
    }
  }
}

/** A maker of fresh directories named `{prefix}XXXXXX` under the system's temp directory. */
export const tempDirs = (prefix: string): () => string => {
  const dirs: Array<string> = []
  afterAll(() => dirs.forEach(removeDir))
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix))
    dirs.push(d)
    return d
  }
}
