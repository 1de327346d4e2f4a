import { lstatSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { errorCode } from './narrow.js'

// writeFileAtomic(Async) writes `<file>.<pid>.<hex>.tmp` beside its target; writeWriterRecord
// `<file>.<pid>.tmp`. A crash between the create and the rename leaves one that nothing renames.
// The random part is matched at its exact length first: eight hex digits that happen to be all
// decimal would otherwise read as the pid, and a live writer's file would look stale.
const ATOMIC_TEMP = /^(.+)\.([0-9]+)\.[0-9a-f]{8}\.tmp$/
const RECORD_TEMP = /^(.+)\.([0-9]+)\.tmp$/

/** Whether a process with this id exists here (EPERM: it does, under another user). */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return errorCode(err) === 'EPERM'
  }
}

/**
 * Delete the temporary files of atomic writes in `dir` that a crash cut short. A file whose
 * writer's process still exists is kept (it may be writing now; a reused pid only delays the
 * removal), except for the targets in `owned`: files only the caller writes and has not written
 * yet (a node that has just taken node.lock and its node-state.json), whose temps are all stale.
 * Best effort: a file that cannot be removed now is tried again by the next caller. Returns the
 * names removed.
 */
export function removeStaleTemps (dir: string, owned: ReadonlySet<string> = new Set()): string[] {
  return removeTemps(dir, name => ATOMIC_TEMP.exec(name) ?? RECORD_TEMP.exec(name), owned)
}

/**
 * Delete, beside an output file the user names (`-o FILE`), the temporaries of writeOutputFile's
 * atomic replace of that same FILE that a killed process left (`FILE.<pid>.<8 hex>.tmp`, nothing
 * else: a regular file of exactly that name, whose pid names no process). Only FILE's own: the
 * directory is the user's, and another name of that pattern may be another program's. Returns the
 * names removed.
 */
export function removeDeadWritersTemps (dir: string, file: string): string[] {
  return removeTemps(dir, name => {
    const m = ATOMIC_TEMP.exec(name)
    try {
      return m !== null && m[1] === file && lstatSync(`${dir}/${name}`, { throwIfNoEntry: false })?.isFile() === true ? m : null
    } catch { return null }
  })
}

function removeTemps (dir: string, match: (name: string) => RegExpExecArray | null, owned: ReadonlySet<string> = new Set()): string[] {
  let names: string[]
  try { names = readdirSync(dir) } catch { return [] }
  const removed: string[] = []
  for (const name of names) {
    const m = match(name)
    if (m === null) continue
    const pid = Number(m[2])
    if (!owned.has(m[1] ?? '') && (pid === process.pid || processAlive(pid))) continue
    try {
      rmSync(join(dir, name), { force: true })
      removed.push(name)
    } catch {}
  }
  return removed
}
