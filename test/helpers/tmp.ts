import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made: string[] = []

/** A fresh temporary directory, removed after the test file (test/helpers/setup.ts). */
export function tmpDir (prefix = 'petal-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  made.push(d)
  return d
}

/** Remove the directories tmpDir made. */
export function removeTmpDirs (): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
}
