// readBlockFile's manifest check: a table whose `_tables` entry claims WASM_AFTER_ROWS rows or more
// is encoded by the WebAssembly leaf encoder from its first row (in 'auto' its first 1,024 rows went
// through the JavaScript encoder, which every fresh verify --deep worker then had to compile); a
// smaller table keeps 'auto'. The choice must not change a verdict, so the roots are checked too.
import { afterEach, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { inspectSchema, rowsRootOf, tableRoot } from '../../../src/block/index.js'
import { MAX_BLOCK_BYTES, sensorBlock } from '../../helpers/block-read.js'


/**
 * Rows the WebAssembly leaf encoder encoded while the block was read with its manifest checked, in
 * modules loaded afresh: building the block left this thread a WebAssembly instance, with which
 * 'auto' starts in WebAssembly whatever the table's size (merkle-batch.ts), as a verify worker
 * does from its second block on.
 */
async function wasmRowsOf (path: string): Promise<number> {
  vi.resetModules()
  const { readBlockFile } = await import('../../../src/block/index.js')
  const { WasmLeafEncoder } = await import('../../../src/block/leaf-wasm.js')
  let rows = 0
  const encode = WasmLeafEncoder.prototype.encode
  vi.spyOn(WasmLeafEncoder.prototype, 'encode').mockImplementation(function (this: InstanceType<typeof WasmLeafEncoder>, h: number, from: number, to: number, usable: number): number {
    const next = Reflect.apply(encode, this, [h, from, to, usable]) as number
    rows += next - from
    return next
  })
  const file = await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES })
  expect(file.tables.map(t => t.name)).toEqual(['t'])
  return rows
}

afterEach(() => { vi.restoreAllMocks() })

describe('the leaf encoder a manifest check starts with', () => {
  it('is WebAssembly from the first row for a table that claims 1,024 rows or more', async () => {
    expect(await wasmRowsOf(await sensorBlock(3000))).toBe(3000)
  })

  it('stays JavaScript for a smaller table', async () => {
    expect(await wasmRowsOf(await sensorBlock(600))).toBe(0)
  })
})

/**
 * The block at `path` with `_tables` claiming `rows` for t (and `_meta.RowsRoot` over that claim,
 * so that the cheap checks pass and the rows are what decides), keeping `keep` of its real rows.
 */
function claim (path: string, rows: number, keep?: number): void {
  const db = new Database(path)
  if (keep !== undefined) db.prepare('DELETE FROM t WHERE id > ?').run(keep)
  db.prepare('UPDATE _tables SET rows = ? WHERE name = ?').run(BigInt(rows), 't')
  const tables = db.prepare<[], { name: string, sql: string, rows: number, root: string }>('SELECT name, sql, rows, root FROM _tables ORDER BY name').all()
  db.prepare("UPDATE _meta SET value = ? WHERE key = 'RowsRoot'").run(rowsRootOf(tables))
  db.close()
}

// The claim picks the encoder; whatever it claims, the rows decide: a hostile count never passes,
// and the root of honest rows is the reference path's (SQLite's rows, manifest.ts).
describe('a hostile row count in _tables', () => {
  it('1,024 claimed over no rows, fewer claimed than there are, more, or 2^53 - 1: MANIFEST_MISMATCH', async () => {
    const { readBlockFile } = await import('../../../src/block/index.js')
    for (const [real, claimed, keep] of [[3000, 1024, 0], [3000, 1023, undefined], [600, 1024, undefined], [3000, 3001, undefined], [1500, 1024, 1023], [3000, Number.MAX_SAFE_INTEGER, undefined]] as const) {
      const path = await sensorBlock(real)
      claim(path, claimed, keep)
      await expect(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES }), `${claimed} claimed`).rejects.toMatchObject({ code: 'MANIFEST_MISMATCH', message: expect.stringContaining('rows of "t" do not hash to its recorded root') })
    }
  })

  it('2^62 claimed: a malformed _tables row', async () => {
    const { readBlockFile } = await import('../../../src/block/index.js')
    const path = await sensorBlock(1100)
    const db = new Database(path)
    db.prepare('UPDATE _tables SET rows = ? WHERE name = ?').run(1n << 62n, 't')
    db.close()
    await expect(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES })).rejects.toMatchObject({ code: 'MANIFEST_MISMATCH', message: '_tables has a malformed row' })
  })

  it('an honest count: the root the WebAssembly encoder gives is the reference path\'s', async () => {
    const { readBlockFile } = await import('../../../src/block/index.js')
    for (const rows of [1024, 3000]) {
      const path = await sensorBlock(rows)
      const file = await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES })
      const db = new Database(path, { readonly: true })
      const t = inspectSchema(db, 2).userTables[0]
      if (t === undefined) throw new Error('no table')
      expect(file.tables).toEqual([{ name: 't', sql: t.sql, ...tableRoot(db, t) }])
      db.close()
    }
  })
})
