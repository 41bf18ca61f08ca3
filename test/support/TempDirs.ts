/**
 * Temporary directories for one test file, all removed when the file's tests are done.
 */
import { mkdtempSync, renameSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"

/**
 * Removes a directory tree that an emulator's background runner may still be writing into. The
 * tree is first moved aside (a rename in the same parent, atomic): from then on every path the
 * runner holds names nothing, so it can neither write a file into the tree while it is removed
 * nor put back the job file it exits without; what it wrote just before the move is removed on
 * the next try (ENOTEMPTY).
 */
export const removeDir = (dir: string): void => {
  const aside = `${dir}.removing-${process.pid}-${Math.random().toString(36).slice(2)}`
  try {
    renameSync(dir, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return
    rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })
    return
  }
  rmSync(aside, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })
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
