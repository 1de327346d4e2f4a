/**
 * SQLite over a block's bytes as the caller holds them (verify --deep's worker reads a block of up
 * to 8 MiB once, hashes it, and reads its tables' rows from those bytes): the addon
 * native/held-db.c, built by scripts/build-native.ts into dist/native/petal-held-db.node, is both a
 * Node addon (`hold`) and an SQLite extension that makes the held bytes a fresh connection's main
 * database, read-only and without a copy. SQLite's checks then read the very bytes that were hashed,
 * in place, instead of the file again page by page (docs/performance/verify.md, "Session 30: verify
 * --deep"). Without the addon (not built, not loadable, or PETAL_HELD_DB=0) `openHeld` answers
 * undefined and the caller opens the file as before.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Db } from './sqlite.js'

interface HeldDbAddon {
  hold: (bytes: Uint8Array, keep?: boolean) => void
  swap: (bytes: Uint8Array) => boolean
  forget: () => boolean
}

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
    const { hold, swap, forget } = m.exports
    if (typeof hold === 'function' && typeof swap === 'function' && typeof forget === 'function') addon = { hold, swap, forget }
  } catch {}
  return addon
}

/**
 * This thread's kept connection (one block at a time): opened, hardened and its modules
 * neutralised once (openBlockReadonly), then given each next block's bytes by the addon's `swap`
 * (sqlite3_deserialize again: the previous block's btree and schema are closed with it, and every
 * statement prepared on it is expired, so that it is prepared again on the new block's schema
 * rather than run with the old one's root pages). What it keeps across blocks is what the connection itself holds, nothing read
 * from a block: the settings of hardenReadonly (connection-wide flags), the inert modules, the
 * default mmap_size. A refused block's connection is closed, not kept. A fresh connection cost a catch-up's load thread ~0.2 M instructions a small
 * block (open, extension load, settings, modules, close: docs/performance/catchup.md, "Session 35:
 * catch-up").
 */
interface Kept { db: Db, busy: boolean, mmap: number, statements: Map<string, unknown> }

/** The file header names UTF-8 as the text encoding (offset 56: 1; 0 is a file without a schema yet). */
function isUtf8File (bytes: Buffer): boolean {
  return bytes.length >= 60 && bytes.readUInt32BE(56) <= 1
}
let kept: Kept | undefined

// Statements a kept connection keeps for the next blocks (heldStatement): a small block's checks run four.
const KEPT_STATEMENTS = 16

/**
 * The statement `make` prepares on `db`, for `key` (its text and modes): where `db` is this
 * thread's kept connection, made once and run again block after block; elsewhere a new one. Each
 * swap expires it with every other statement of the connection, so SQLite prepares it again on
 * the new block's schema at its next step (an error the new schema gives, such as a missing
 * column, comes from that step instead of a prepare: the same SqliteError). Why: the swap's
 * expiry walks every statement the connection still has, and a statement better-sqlite3 prepared
 * lives until V8's collector finalizes it: block after block, thousands of past blocks'
 * statements (6 % of a catch-up's load thread in that walk, docs/performance/catchup.md, "Session 38:
 * catch-up"). Beyond KEPT_STATEMENTS keys, new ones are not kept.
 */
export function heldStatement<S> (db: Db, key: string, make: () => S): S {
  const k = kept
  if (k === undefined || k.db !== db) return make()
  let s = k.statements.get(key) as S | undefined
  if (s === undefined) {
    s = make()
    if (k.statements.size < KEPT_STATEMENTS) k.statements.set(key, s)
  }
  return s
}

/**
 * The bytes each held connection reads in place, referenced for as long as the connection object
 * lives (until the next swap gives it others), so that SQLite never holds a pointer to freed
 * memory: nothing reads them between blocks, but a connection that a statement still stepping
 * kept from closing (releaseHeld's ROLLBACK and dropKept's close are both refused then) is dropped
 * open, and that statement's next step read bytes the caller may have let go (review36).
 */
const bytesOf = new WeakMap<Db, Buffer>()

/** A held connection: `db`, and whether it is the kept one given new bytes (already hardened: openBlockReadonly skips its settings). */
export interface Held { db: Db, reused: boolean }

/**
 * A connection whose main database is `bytes` (read-only, read in place: the caller keeps `bytes`
 * alive and unchanged until it releases the connection with releaseHeld), or undefined where the
 * addon is not usable. With `prepare` (openBlockReadonly's settings), a fresh connection is
 * prepared by it and may become the thread's kept one, which later calls with `prepare` get
 * again with their bytes swapped in (`reused`); without it the connection is never kept. A
 * failure to load the extension disables the path for this thread, so that bytes held for a load
 * that did not happen are never taken by a later one; `prepare`'s own failure is thrown.
 */
export function openHeld (bytes: Buffer, prepare?: (db: Db) => void): Held | undefined {
  const a = load()
  if (a === null || bytes.length === 0) return undefined
  // Only UTF-8 blocks are swapped into the kept connection or make one: SQLite refused a UTF-16
  // block swapped in ("attached databases must use the same text encoding as main database",
  // after a UTF-8 block or a UTF-16 one alike), on this path alone, and againIfCorrupt, seeing the
  // file pass, called it the disk's failure: a pull's load thread stopped at a valid block (fuzz45).
  // Any other encoding gets a connection of its own, closed on release; the kept one waits.
  const keepable = prepare !== undefined && isUtf8File(bytes)
  if (keepable && kept !== undefined && !kept.busy) {
    let swapped = false
    try {
      swapped = a.swap(bytes)
    } catch {}
    if (swapped) {
      kept.busy = true
      bytesOf.set(kept.db, bytes)
      return { db: kept.db, reused: true }
    }
    dropKept()
  }
  const db = new Database(':memory:')
  // Kept: the first prepared connection of the thread (or the one after a kept one was dropped), not one opened while it is busy.
  const keep = keepable && kept === undefined
  try {
    a.hold(bytes, keep)
    loadHeldExtension(db)
  } catch {
    addon = null
    if (keep) a.forget()
    db.close()
    return undefined
  }
  bytesOf.set(db, bytes)
  if (prepare !== undefined) {
    try {
      prepare(db)
    } catch (err) {
      if (keep) a.forget()
      db.close()
      throw err
    }
  }
  if (keep) kept = { db, busy: true, mmap: 0, statements: new Map() }
  return { db, reused: false }
}

/**
 * A held connection's `PRAGMA mmap_size` at the bytes' length: SQLite then reads their pages in
 * place (memdb's xFetch) instead of copying them into a page cache. On the kept connection it is
 * set only when it changes: it is the connection's default, which each swap's new btree takes.
 */
export function heldMmap (db: Db, size: number): void {
  if (kept?.db === db && kept.mmap === size) return
  db.exec(`PRAGMA mmap_size = ${size}`)
  if (kept?.db === db) kept.mmap = size
}

/**
 * Give back a connection from openHeld: the kept one ends its read transaction and waits for the
 * next block (closed instead if that fails, or if `failed`: the next block then opens a fresh
 * one); any other is closed.
 */
export function releaseHeld (db: Db, failed = false): void {
  if (kept?.db !== db) { db.close(); return }
  try {
    if (failed) throw new Error('dropped')
    if (db.inTransaction) db.exec('ROLLBACK')
    kept.busy = false
  } catch {
    dropKept()
  }
}

/** Close this thread's kept connection, if any (tests: the next held connection is a fresh one, whatever ran before). */
export function dropKeptHeld (): void {
  if (kept?.busy === false) dropKept()
}

function dropKept (): void {
  const k = kept
  kept = undefined
  if (k === undefined) return
  // The addon forgets the connection before it is closed: swap never reaches a closed one.
  addon?.forget()
  try {
    k.db.close()
  } catch {}
}

/**
 * Load the extension into `db`: its entry point makes the bytes this thread holds `db`'s main
 * database (and forgets them), or fails when none are held. @types/better-sqlite3 knows
 * loadExtension(path) only; better-sqlite3 takes the entry point's name second.
 */
export function loadHeldExtension (db: Db): void {
  Reflect.apply(db.loadExtension, db, [heldDbPath(), 'sqlite3_petalheld_init'])
}
