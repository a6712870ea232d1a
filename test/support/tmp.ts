/**
 * Temporary directories for a test file, removed after its tests
 * (`afterAll` of the file that imports this module).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { afterAll } from "vitest"

const made: Array<string> = []

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** a new directory under the system's temporary directory, removed after the file's tests */
export const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
