import Database from 'better-sqlite3'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
import { decodePendingRow, PendingRowEncoder } from '../../../src/ingest/row-codec.js'
import type { TableSchema } from '../../../src/ingest/schema.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { canonicalRows } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

/**
 * test/fixtures/ingest/pending-layout1.db: written by Petal at c127f02 (layout 1, whose rows name
 * their fields), nine rows pending: table t created from rows and widened (column e), through
 * append() and the JSON lane, with a BLOB, nulls, fields in another order and missing ones; table
 * d declared with a DEFAULT, one row leaving it out. Its instance id is dglknxvf.
 */
const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'ingest', 'pending-layout1.db')
const RECEIPTS = Array.from({ length: 9 }, (_, i) => `dglknxvf-${i + 1}`)
const T_ROWS = [
  { a: 1n, b: 'x', c: 2.5, é: new Uint8Array([0, 1, 255]), e: null },
  { a: -2n, b: null, c: -1.5, é: null, e: null },
  { a: null, b: 'ünï 😀', c: null, é: null, e: null },
  { a: 3n, b: 'lane', c: null, é: null, e: null },
  { a: null, b: 'second', c: 0.25, é: null, e: null },
  { a: 4n, b: null, c: null, é: null, e: 'a new column' },
  { a: 5n, b: null, c: null, é: null, e: 'ndjson' }
]
const D_ROWS = [{ k: 1n, v: 'dflt', w: null }, { k: 2n, v: null, w: 1 }]

async function chainWithFixture (): Promise<Awaited<ReturnType<typeof newTestChain>>> {
  const c = await newTestChain({ key: alice })
  cleanup.push(() => { c.chain.close() })
  copyFileSync(FIXTURE, c.chain.dir.pendingDb)
  return c
}

const layoutOf = (path: string): string => {
  const db = new Database(path, { readonly: true })
  try { return (db.prepare("SELECT value FROM meta WHERE key = 'layout'").get() as { value: string }).value } finally { db.close() }
}

const values = (rows: Array<{ values: Record<string, unknown> }>): unknown[] => rows.map(r => ({ ...r.values, ...(r.values.é instanceof Uint8Array ? { é: new Uint8Array(r.values.é) } : {}) }))

describe('pending.db layout 2 (rows name their fields by column index)', () => {
  it('seals every row acknowledged under layout 1 after the upgrade, with exact values, beside rows of layout 2', async () => {
    const { chain } = await chainWithFixture()
    // A read-only opening (receipts) reads layout 1 as it is, and changes nothing.
    const reader = Ingest.open({ chain, readonly: true })
    expect(reader.receipt(RECEIPTS[0] as string)?.state).toBe('pending')
    await reader.close()
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')

    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe('2')
    for (const id of RECEIPTS) expect(ingest.receipt(id)?.state).toBe('pending')
    // New rows (the lane, the typed path, a new column) in the same blocks as the old ones.
    const lane = await ingest.appendRecords('t', Buffer.from('[{"b": "after", "a": 6}]'), 'json')
    const typed = await ingest.append('t', [{ f: 7n, a: 7n }])
    const declared = await ingest.append('d', [{ w: 2.5, k: 3n }])
    const sealed = await ingest.sealNow()
    expect(sealed.blocks.length).toBeGreaterThan(0)
    expect(values(canonicalRows(chain, 't'))).toEqual([
      ...T_ROWS.map(r => ({ ...r, f: null })),
      { a: 6n, b: 'after', c: null, é: null, e: null, f: null },
      { a: 7n, b: null, c: null, é: null, e: null, f: 7n }
    ])
    expect(values(canonicalRows(chain, 'd'))).toEqual([...D_ROWS, { k: 3n, v: 'dflt', w: 2.5 }])
    for (const id of [...RECEIPTS, ...lane.receipts, ...typed.receipts, ...declared.receipts]) expect(ingest.receipt(id)?.state).toBe('sealed')
  })

  it('a store of a layout this Petal does not know is refused, not read', async () => {
    const { chain } = await chainWithFixture()
    const db = new Database(chain.dir.pendingDb)
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'layout'").run()
    db.close()
    expect(() => Ingest.open({ chain, key: alice })).toThrow(expect.objectContaining({ code: 'INGEST_STORE_UNAVAILABLE', message: expect.stringContaining('layout version 3') }))
  })
})

describe('the pending row encoding', () => {
  const table: TableSchema = { name: 't', sql: '', columns: ['a', 'b', '__proto__', 'ü'].map(name => ({ name, kind: 'ANY' as const })) }
  const wide: TableSchema = { name: 't', sql: '', columns: Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, kind: 'ANY' as const })) }

  it('round-trips every kind of value, the field order, absent fields and column indexes over one byte', () => {
    const enc = new PendingRowEncoder()
    const proto = {}
    Object.defineProperty(proto, '__proto__', { value: 'own', enumerable: true })
    const rows = [
      { b: 'x'.repeat(200), a: -(2n ** 63n) },
      { a: 2n ** 63n - 1n, b: -0.0, ü: new Uint8Array(70_000).fill(7) },
      { ü: null },
      {},
      proto
    ]
    for (const r of rows) {
      const d = decodePendingRow(enc.encode(r, table), table.columns)
      expect(Object.keys(d)).toEqual(Object.keys(r))
      expect(d).toEqual(r)
    }
    const far = { c299: 'last', c0: 1n, c128: 2.5 }
    expect(decodePendingRow(enc.encode(far, wide), wide.columns)).toEqual(far)
    // Per field a byte for its column (layout 1 wrote the name and a 4-byte length), a tag, the value.
    expect(enc.encode({ a: 1n, b: 'x' }, table).byteLength).toBe(1 + (1 + 1 + 8) + (1 + 1 + 1 + 1))
  })

  it('refuses a row naming a column its table does not have, cut short, or of an unknown layout', () => {
    const d = new PendingRowEncoder().encode({ a: 1n, ü: 'text' }, table)
    expect(() => decodePendingRow(d, table.columns.slice(0, 2))).toThrow(/column 3 of a table with 2 columns/)
    expect(() => decodePendingRow(d.subarray(0, d.length - 1), table.columns)).toThrow(/cut short/)
    expect(() => decodePendingRow(Buffer.from([7, 0, 0]), table.columns)).toThrow(/unknown layout/)
    expect(() => new PendingRowEncoder().encode({ zz: 1n }, table)).toThrow(/not a column/)
  })
})
