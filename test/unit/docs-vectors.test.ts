import Database from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  buildBlock, computeManifest, CONSENSUS_BOUNDS, encodeRow, GENESIS_PREVIOUS_HASH, inspectSchema, KEYS_DDL, MAX_USER_TABLES,
  META_DDL, readBlockFile, readBlockPages, rowsRootOf, sealMessage, TABLES_DDL, verifySeal, type SqlValue
} from '../../src/block/index.js'
import { EMPTY_TREE_ROOT, leafHash, merkleRoot, parsePublicKey, sha256Hex } from '../../src/crypto/index.js'
import { toHex } from '../../src/util/index.js'
import { fixtureKey } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'

// docs/block-format.md's test vectors and constants, read from the document as it is written and
// checked against the code that encodes, hashes and builds blocks: the document cannot drift from
// the code, nor the code from the document. (The signed-message vectors of its `vectors:v2` block
// are test/unit/block/vectors.test.ts's; Daisy's v1 vectors, genesis/daisy-default.json, are
// test/unit/crypto/daisy-vectors.test.ts's.)
const doc = readFileSync(resolve(import.meta.dirname, '../../docs/block-format.md'), 'utf8')

/** The rows of the markdown table that follows `after` in the document: cells, trimmed. */
function tableAfter (after: string): string[][] {
  const at = doc.indexOf(after)
  expect(at, `docs/block-format.md has "${after}"`).toBeGreaterThanOrEqual(0)
  const lines = doc.slice(at).split('\n')
  const start = lines.findIndex(l => l.startsWith('|'))
  const rows: string[][] = []
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break
    rows.push(l.split('|').slice(1, -1).map(c => c.trim()))
  }
  return rows
}
const code = (cell: string): string => /^`([^`]*)`$/.exec(cell)?.[1] ?? cell

/**
 * A row as the doc writes it, `(1, 'ann', NULL, x'dead')`, evaluated by SQLite itself: each value
 * comes back with the storage class SQLite gives the literal (integers as bigints).
 */
function sqlRow (db: Database.Database, literal: string): SqlValue[] {
  const inner = /^\((.*)\)$/.exec(literal)?.[1]
  if (inner === undefined) throw new Error(`not a row: ${literal}`)
  if (inner.trim() === '') return []
  const row = db.prepare(`SELECT ${inner}`).raw().safeIntegers().get() as unknown[]
  return row.map(v => v instanceof Buffer ? new Uint8Array(v) : v) as SqlValue[]
}

describe('docs/block-format.md, "Test vectors"', () => {
  it('row encoding: every row of the table encodes to its bytes (NULL, INTEGER, REAL, TEXT, BLOB)', () => {
    const rows = tableAfter('\nRow encoding:')
    expect(rows.length).toBeGreaterThanOrEqual(8)
    const db = new Database(':memory:')
    const tags = new Set<string>()
    for (const [literal = '', bytes = ''] of rows) {
      const hex = code(bytes).replace(/\s/g, '')
      expect(toHex(encodeRow(sqlRow(db, code(literal)))), literal).toBe(hex)
      if (hex.length > 8) tags.add(hex.slice(8, 10))
    }
    db.close()
    // Each tag of the "Row encoding" table has a vector.
    const documented = tableAfter('**Row encoding.**').map(r => code(r[0] ?? ''))
    expect([...tags].sort()).toEqual(documented.sort())
  })

  const people = /The table `(CREATE TABLE [^`]+)` with rows\s+([\s\S]*?):\n/.exec(doc)
  const values = new Map(tableAfter('The table `CREATE TABLE people').map(([k = '', v = '']) => [k, code(v)]))
  const literals = [...(people?.[2] ?? '').matchAll(/`(\([^`]*\))`/g)].map(m => m[1] ?? '')

  it('the example table: each leaf, the table root and RowsRoot, from a real SQLite table', () => {
    expect(people, 'the example table').not.toBeNull()
    expect(literals).toHaveLength(3)
    const sql = people?.[1] ?? ''
    const db = new Database(join(tmpDir(), 'people.db'))
    db.exec(sql)
    // Inserted last row first: the leaves are in rowid order, not insertion order.
    for (const l of [...literals].reverse()) db.exec(`INSERT INTO people VALUES ${l}`)
    const leaves = literals.map(l => leafHash(encodeRow(sqlRow(db, l))))
    literals.forEach((l, i) => expect(toHex(leaves[i] as Uint8Array), `leaf ${i + 1} ${l}`).toBe(values.get(`leaf ${i + 1}`)))
    expect(toHex(merkleRoot(leaves))).toBe(values.get('table root'))
    const m = computeManifest(db, inspectSchema(db, 'input').userTables)
    db.close()
    expect(m.tables).toEqual([{ name: 'people', sql, rows: 3, root: values.get('table root') }])
    expect(m.rowsRoot).toBe(values.get('RowsRoot of a block holding only that table'))
  })

  it('the example table: a UTF-16 database gives the same roots (TEXT is hashed as UTF-8)', () => {
    const db = new Database(join(tmpDir(), 'people16.db'))
    db.pragma('encoding = "UTF-16le"')
    db.exec(people?.[1] ?? '')
    for (const l of literals) db.exec(`INSERT INTO people VALUES ${l}`)
    expect(db.pragma('encoding', { simple: true })).toBe('UTF-16le')
    const m = computeManifest(db, inspectSchema(db, 'input').userTables)
    db.close()
    expect(m.tables[0]?.root).toBe(values.get('table root'))
    expect(m.rowsRoot).toBe(values.get('RowsRoot of a block holding only that table'))
  })

  it('the example table: a block built from it carries that RowsRoot and manifest, and its seal verifies', async () => {
    const dir = tmpDir()
    const src = join(dir, 'people.db')
    const db = new Database(src)
    db.exec(people?.[1] ?? '')
    for (const l of literals) db.exec(`INSERT INTO people VALUES ${l}`)
    db.close()
    const key = fixtureKey('alice')
    const chainId = '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b78d89ba5ba1d'
    const maxBytes = 1 << 20
    const built = await buildBlock({ source: src, output: join(dir, 'block.db'), key, chainId, height: 5, previousHash: 'ab'.repeat(32), timestamp: '2026-01-02T03:04:05Z', maxBytes })
    const rowsRoot = values.get('RowsRoot of a block holding only that table')
    const tables = [{ name: 'people', sql: people?.[1], rows: 3, root: values.get('table root') }]
    // Read back through SQLite (every root recomputed) and through the page reader.
    const read = await readBlockFile(built.path, { maxBytes })
    expect(read.header.rowsRoot).toBe(rowsRoot)
    expect(read.tables).toEqual(tables)
    const pages = readBlockPages(built.path, maxBytes)
    expect(pages?.header.rowsRoot).toBe(rowsRoot)
    expect(pages?.tables).toEqual(tables)
    expect(sealMessage(chainId, 5, built.hash, rowsRoot ?? '')).toBe(`petal/v2/seal\n${chainId}\n5\n${built.hash}\n${rowsRoot ?? ''}`)
    expect(verifySeal(key.publicKey, read.header, built.hash, built.seal)).toBe(true)
    expect(sha256Hex(readFileSync(built.path))).toBe(built.hash)
  })
})

describe('docs/block-format.md, constants in its prose', () => {
  it('the empty tree and a block without user tables: `e3b0c442…b855` = SHA-256("")', () => {
    const cited = [...doc.matchAll(/(?<![0-9a-f])([0-9a-f]{8})…([0-9a-f]{4})(?![0-9a-f])/g)]
    expect(cited.length).toBeGreaterThanOrEqual(2)
    for (const [, head = '', tail = ''] of cited) {
      for (const root of [toHex(EMPTY_TREE_ROOT), toHex(merkleRoot([])), rowsRootOf([]), sha256Hex('')]) {
        expect(root.startsWith(head) && root.endsWith(tail), `${head}…${tail} against ${root}`).toBe(true)
      }
    }
  })

  it('the genesis PreviousBlockHash: `1000…0001` with N zeros between', () => {
    const m = /`1000…0001` \((\d+) zeros between\)/.exec(doc)
    expect(m, 'the constant and its count of zeros').not.toBeNull()
    expect(GENESIS_PREVIOUS_HASH).toBe(`1${'0'.repeat(Number(m?.[1]))}1`)
    expect(GENESIS_PREVIOUS_HASH).toHaveLength(64)
  })

  it('the reserved tables\' exact DDL', () => {
    const block = /```sql\n(CREATE TABLE _meta[\s\S]*?)\n```/.exec(doc)?.[1]?.split('\n')
    expect(block).toEqual([META_DDL, KEYS_DDL, TABLES_DDL])
  })

  it('the one accepted public-key encoding: the 91-byte SPKI prefix ‖ 04 ‖ X ‖ Y', () => {
    const prefix = /the 91-byte SPKI DER\s+`([0-9a-f]+)` ‖ `04` ‖ X ‖ Y/.exec(doc)?.[1]
    expect(prefix, 'the SPKI prefix').toBeDefined()
    const spki = toHex(fixtureKey('alice').publicKey.spki)
    expect(spki).toHaveLength(182)
    expect(spki.startsWith(`${prefix ?? ''}04`)).toBe(true)
    expect(parsePublicKey(spki).id).toBe(`1:${sha256Hex(fixtureKey('alice').publicKey.spki)}`)
  })

  it('the limits: genesis parameters\' bounds and the user-table count', () => {
    const meta = new Map(tableAfter('| key | format | present |').map(([k = '', f = '']) => [code(k), f]))
    expect(meta.get('MaxBlockBytes')).toBe(`decimal, ${CONSENSUS_BOUNDS.maxBlockBytes.min} … 2^${Math.log2(CONSENSUS_BOUNDS.maxBlockBytes.max)}`)
    expect(meta.get('MaxReorgDepth')).toBe(`decimal, ${CONSENSUS_BOUNDS.maxReorgDepth.min} … 2^${Math.log2(CONSENSUS_BOUNDS.maxReorgDepth.max)}`)
    expect(doc).toContain(`at most ${MAX_USER_TABLES} user tables`)
  })
})
