/**
 * SQLite over a block's bytes as the caller holds them (verify --deep's worker reads a block of up
 * to 8 MiB once, hashes it, and reads its tables' rows from those bytes): the addon
 * native/held-db.c, built by scripts/build-native.ts into dist/native/petal-held-db.node, is both a
 * Node addon (`hold`) and an SQLite extension that makes the held bytes a fresh connection's main
 * database, read-only and without a copy. SQLite's checks then read the very bytes that were hashed,
 * in place, instead of the file again page by page (docs/performance.md, "Session 30: verify
 * --deep"). Without the addon (not built, not loadable, or PETAL_HELD_DB=0) `openHeld` answers
 * undefined and the caller opens the file as before.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Db } from './sqlite.js'

interface HeldDbAddon { hold: (bytes: Uint8Array) => void }

// Once per thread, not per block: `import.meta.dirname` and the join were ~0.03 ms of each 1 MB block's check.
const HELD_DB_PATH = join(import.meta.dirname, '../../dist/native/petal-held-db.node')

/** The addon's path: dist/native beside dist/<module>, dist/fast and dist/bundle, and from src/block (sha256-native.ts's reasoning). */
export function heldDbPath (): string {
  return HELD_DB_PATH
}

// Per thread: the addon, or null once it is known not to be usable here.
let addon: HeldDbAddon | null | undefined

function load (): HeldDbAddon | null {
  if (addon !== undefined) return addon
  addon = null
  if (process.env.PETAL_HELD_DB === '0') return addon
  try {
    const m: { exports: Partial<HeldDbAddon> } = { exports: {} }
    process.dlopen(m, heldDbPath())
    const hold = m.exports.hold
    if (typeof hold === 'function') addon = { hold }
  } catch {}
  return addon
}

/**
 * A connection whose main database is `bytes` (read-only, read in place: the caller keeps `bytes`
 * alive and unchanged until it closes the connection), or undefined where the addon is not usable.
 * A failure to load the extension disables the path for this thread, so that bytes held for a
 * load that did not happen are never taken by a later one.
 */
export function openHeld (bytes: Buffer): Db | undefined {
  const a = load()
  if (a === null || bytes.length === 0) return undefined
  const db = new Database(':memory:')
  try {
    a.hold(bytes)
    loadHeldExtension(db)
    return db
  } catch {
    addon = null
    db.close()
    return undefined
  }
}

/**
 * Load the extension into `db`: its entry point makes the bytes this thread holds `db`'s main
 * database (and forgets them), or fails when none are held. @types/better-sqlite3 knows
 * loadExtension(path) only; better-sqlite3 takes the entry point's name second.
 */
export function loadHeldExtension (db: Db): void {
  Reflect.apply(db.loadExtension, db, [heldDbPath(), 'sqlite3_petalheld_init'])
}
