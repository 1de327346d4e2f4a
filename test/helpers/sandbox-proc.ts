import { readdirSync, readlinkSync } from 'node:fs'

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
