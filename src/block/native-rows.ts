/**
 * The native row walker (native/rows.c, built by scripts/build-native.ts into
 * dist/native/petal-rows.node): a table's row count and Merkle root from the b-tree pages of a file
 * held in memory, in one call without JavaScript per row (docs/performance/pull.md, "Session 57:
 * the native row walker (walker57)"). fast-rows.ts's JavaScript walker is its reference and its
 * fallback: the addon gives that walker's answer or declines, and on a decline the caller runs the
 * JavaScript walker, which then gives its own answer (a root, or its BtreeUnsupported): so a file
 * gets the same verdict with or without the addon. Used by fastTableRoot's 'native' mode (tests),
 * and first on held bytes unless PETAL_NATIVE_ROWS=0 (`nativeRowsFirst`). Loaded at first use, in each thread; absent
 * (PETAL_NATIVE_BUILD=0, no compiler or headers), not loadable, failing its known answer at load,
 * or PETAL_NATIVE_ROWS=0: `nativeRows()` is undefined and the JavaScript walker runs.
 */
import { join } from 'node:path'
import type { FileHeader } from './page-file.js'

export interface NativeRows {
  /** Rows and root (32 bytes written to `out`), or a negative decline code (rows.c's DECLINE_*). */
  tableRoot: (bytes: Uint8Array, pageSize: number, usable: number, pages: number, encoding: number, root: number, index: number, fields: Int32Array, flags: Uint8Array, out: Uint8Array) => number
  /** 4 when leaves are hashed four at a time with SHA-NI. */
  lanes: number
}

/** Why rows.c declined, by code (for tests and diagnostics; the caller's fallback is the same for all). */
export const DECLINES = ['', 'page out of range', 'page reached twice', 'page header', 'b-tree too deep', 'cell overflows its page', 'overflow chain', 'row too large', 'varint out of range', 'record', 'short record for a column with a DEFAULT', 'value', 'memory', 'arguments'] as const

// Once per thread (held-db.ts's reasoning: the join per block was measurable).
const ROWS_PATH = join(import.meta.dirname, '../../dist/native/petal-rows.node')

let loaded: { rows: NativeRows | undefined, why: string } | undefined

// A known answer at load: a two-page file of 512-byte pages whose page 2 is a table leaf with one
// row (rowid 1, one column holding the integer 42), and the root the JavaScript walker gives it:
// SHA-256(00 00000001 01 000000000000002a). A stale or foreign addon file is not used.
const PROBE_ROOT = '9c0f550e705db65a2a6d9554f612d6c1e5a00c359db1cf5a5eeed0151839b6b3'

function knownAnswer (r: NativeRows): boolean {
  const file = new Uint8Array(1024)
  const page = 512
  file.set([0x0d, 0, 0, 0, 1, 0x01, 0xf4, 0, 0x01, 0xf4], page)
  file.set([0x03, 0x01, 0x02, 0x01, 0x2a], page + 500)
  const out = new Uint8Array(32)
  const rows = r.tableRoot(file, 512, 512, 2, 1, 2, 0, Int32Array.of(0), Uint8Array.of(0), out)
  return rows === 1 && Buffer.from(out).toString('hex') === PROBE_ROOT
}

/** The addon at `path` as this thread would use it, or why not. */
export function loadNativeRows (path = ROWS_PATH): { rows: NativeRows | undefined, why: string } {
  if (process.env.PETAL_NATIVE_ROWS === '0') return { rows: undefined, why: 'PETAL_NATIVE_ROWS=0' }
  const m: { exports: Partial<NativeRows> } = { exports: {} }
  try {
    process.dlopen(m, path)
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)
    return { rows: undefined, why: msg.includes('ENOENT') || msg.includes('No such file') ? 'not built (dist/native/build.json says why)' : `not loadable: ${msg}` }
  }
  const { tableRoot, lanes } = m.exports
  if (typeof tableRoot !== 'function' || typeof lanes !== 'number') return { rows: undefined, why: 'exports missing' }
  const rows = { tableRoot, lanes }
  try {
    if (!knownAnswer(rows)) return { rows: undefined, why: 'wrong root at load' }
  } catch (err) {
    return { rows: undefined, why: `not usable: ${err instanceof Error ? err.message : String(err)}` }
  }
  return { rows, why: `native row walker, dist/native/petal-rows.node (${lanes} lanes)` }
}

/** This thread's native row walker, or undefined (then `nativeRowsStatus().why` says why). */
export function nativeRows (): NativeRows | undefined {
  return (loaded ??= loadNativeRows()).rows
}

export function nativeRowsStatus (): { used: boolean, why: string } {
  const l = loaded ??= loadNativeRows()
  return { used: l.rows !== undefined, why: l.why }
}

let first: boolean | undefined

/**
 * Whether fastTableRoot asks the native walker first where the file's bytes are held: yes unless
 * PETAL_NATIVE_ROWS=0 (read once per thread; then the addon is not loaded either). On by default
 * since the lead's quiet pulls showed it: the pulling process's CPU a block 5.92–6.01 ms against
 * 6.58–6.81 without it (docs/performance/pull.md, "Session 57: the walker weighed in quiet pulls (lead)").
 */
export function nativeRowsFirst (): boolean {
  return first ??= process.env.PETAL_NATIVE_ROWS !== '0'
}

/** Forget the loaded state (tests that change PETAL_NATIVE_ROWS). */
export function resetNativeRows (): void {
  loaded = undefined
  first = undefined
}

/** A plan's columns as rows.c takes them: record fields, and FLAG_REAL | FLAG_DEFAULT per column. */
export interface NativePlan { fields: Int32Array, flags: Uint8Array }

/**
 * The table at `root` of the file whose bytes are `bytes` (header `h`, as PageFile read it): rows
 * and root, or a decline code (a number) where the JavaScript walker must answer.
 */
export function nativeTableRoot (r: NativeRows, bytes: Uint8Array, h: FileHeader, root: number, index: boolean, plan: NativePlan): { rows: number, root: Uint8Array } | number {
  const out = new Uint8Array(32)
  const rows = r.tableRoot(bytes, h.pageSize, h.usable, h.pages, h.encoding, root, index ? 1 : 0, plan.fields, plan.flags, out)
  return rows < 0 ? -rows : { rows, root: out }
}
