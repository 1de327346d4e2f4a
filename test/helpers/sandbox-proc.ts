import { readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { entryKeepingMeta, entryOf, loaderFor } from './src-entry.js'

/**
 * Whether process `pid` (a query sandbox) has the query mirror open: it is inside a statement then
 * (Linux, /proc). Its CPU time says nothing of that: its start-up alone costs more than a test
 * waits for, and a sandbox whose parent died before sending the statement just ends (review40).
 */
export function holdsMirror (pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some(fd => {
      try { return readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith('/query.db') } catch { return false }
    })
  } catch {
    return false
  }
}

/**
 * node's arguments (its options, then the script's) to run test/helpers/sandbox-parent.ts on `dir`: the
 * suite's bundle of it, each src module keeping its own import.meta, and the bundle of the
 * sandbox's child.ts for it to run; or, without the suite's bundler, the source through tsx.
 */
export async function sandboxParentArgs (dir: string, parentDeath: 'auto' | 'watchdog'): Promise<string[]> {
  const helpers = import.meta.dirname
  const parent = await entryKeepingMeta(join(helpers, 'sandbox-parent.ts'))
  const child = entryOf(join(helpers, '..', '..', 'src', 'query', 'sandbox', 'child.ts'))
  return [...loaderFor(parent, child), parent, dir, parentDeath, ...(child.endsWith('.ts') ? [] : [child])]
}
