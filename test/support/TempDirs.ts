/**
 * Temporary directories for one test file, all removed when the file's tests are done.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"

/**
 * Removes a directory tree that an emulator's background runner may still be writing into: the
 * runner exits once its state directory is gone, so a file it wrote between the removal's steps
 * (ENOTEMPTY) is removed on the next try.
 */
export const removeDir = (dir: string): void =>
  rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })

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
