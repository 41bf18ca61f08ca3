/**
 * Temporary directories for one test file, all removed when the file's tests are done.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"

/** A maker of fresh directories named `{prefix}XXXXXX` under the system's temp directory. */
export const tempDirs = (prefix: string): () => string => {
  const dirs: Array<string> = []
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix))
    dirs.push(d)
    return d
  }
}
