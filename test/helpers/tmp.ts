import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

const made: string[] = []
afterAll(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }) })

/** A fresh temporary directory, removed after the test file. */
export function tmpDir (prefix = 'petal-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  made.push(d)
  return d
}
