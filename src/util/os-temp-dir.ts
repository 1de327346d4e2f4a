import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nameNamespace, tempAbandoned } from './stale-temps.js'

// A private directory in the system's temporary directory, for where no data directory can be
// written (a snapshot of a read-only one, the API's export of one): `<kind>-<pid>-n<ns>-XXXXXX`,
// named by its writer as tmp/'s files are, so that the next one of the same kind removes what a
// killed writer left (tempAbandoned's rule: by pid in this PID namespace, by a day's age in
// another or an unknown one, n0). Before session 44 it was `<kind>-XXXXXX`, which nothing removed
// after a kill; session 44 named it `<kind>-<pid>-XXXXXX` where the namespace cannot be read.

/** Make one for `kind` (`petal-snapshot`, …), first removing those of dead writers of that kind. */
export function ownTempDir (kind: string): string {
  removeDeadTempDirs(kind)
  return mkdtempSync(join(tmpdir(), `${kind}-${process.pid}-n${nameNamespace()}-`))
}

/**
 * Remove `kind`'s directories whose writer is gone: this user's own directories only (the system's
 * temporary directory is shared), never a symbolic link. A name without a pid (before session 44)
 * is judged as another namespace's: by age. Returns the names removed. Best effort.
 */
export function removeDeadTempDirs (kind: string): string[] {
  const base = tmpdir()
  const own = new RegExp(`^${kind}-([0-9]+)(?:-n([0-9]+))?-[A-Za-z0-9]{6}$`)
  const old = new RegExp(`^${kind}-[A-Za-z0-9]{6}$`)
  let names: string[]
  try { names = readdirSync(base) } catch { return [] }
  const removed: string[] = []
  for (const name of names) {
    if (!name.startsWith(kind)) continue
    const m = own.exec(name)
    if (m === null && !old.test(name)) continue
    const path = join(base, name)
    try {
      const st = lstatSync(path)
      if (!st.isDirectory() || st.uid !== process.getuid?.()) continue
      // An old name has no writer in it: the age rule of a name of another namespace ('x' is none).
      if (!tempAbandoned(m === null ? 0 : Number(m[1]), m === null ? 'x' : m[2] ?? '', path)) continue
      rmSync(path, { recursive: true, force: true })
      removed.push(name)
    } catch {}
  }
  return removed
}
