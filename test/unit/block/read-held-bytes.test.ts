// readBlockFile's `bytes`: the whole file as the caller read and hashed it (verify --deep's worker
// reads a block of up to 8 MiB once). The manifest's rows are read from those bytes, not from the
// file a third time; with the held-bytes addon built (src/block/held-db.ts), SQLite's checks read
// them too, in place. Shown with a row changed in one place only (a same-length TEXT value, which
// quick_check does not look into), and with a page damaged in one place only (which it does): the
// verdict follows the bytes given, and tampered bytes are refused as a tampered file is.
import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { readBlockFile } from '../../../src/block/index.js'
import { loadHeldExtension, openHeld, releaseHeld } from '../../../src/block/held-db.js'
import { MAX_BLOCK_BYTES, sensorBlock } from '../../helpers/block-read.js'
import { nativeHeldDbBuilt } from '../../helpers/native-build.js'


/** `bytes` with the page that holds row 1234 made an invalid b-tree page (its type byte): quick_check refuses it. */
function damaged (bytes: Buffer): Buffer {
  const out = Buffer.from(bytes)
  const size = out.readUInt16BE(16)
  const at = out.indexOf('row 1234 of the test')
  expect(at).toBeGreaterThan(size)
  out[at - at % size] = 0xff
  return out
}

/** `bytes` with the note of row 1234 changed, same length: a different row, the same valid file. */
function tampered (bytes: Buffer): Buffer {
  const out = Buffer.from(bytes)
  const at = out.indexOf('row 1234 of the test')
  expect(at).toBeGreaterThan(0)
  out.write('row 1234 of the TEST', at)
  return out
}

/**
 * A block whose file is changed by `change` after its bytes were read: refused from the file with
 * `code`, accepted (all 3,000 rows) from the bytes the caller holds.
 */
async function changedInFileOnly (change: (b: Buffer) => Buffer, code: string): Promise<void> {
  const path = await sensorBlock(3000)
  const bytes = readFileSync(path)
  writeFileSync(path, change(bytes))
  await expect(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES })).rejects.toMatchObject({ code })
  const file = await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: { bytes, size: bytes.length }, bytes })
  expect(file.tables.map(t => t.rows)).toEqual([3000])
}

describe('readBlockFile with the bytes the caller hashed', () => {
  it('reads the tables\' rows from them: the same manifest as from the file', async () => {
    const path = await sensorBlock(3000)
    const bytes = readFileSync(path)
    const fromFile = await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES })
    const fromBytes = await readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: { bytes, size: bytes.length }, bytes })
    expect(fromBytes.tables).toEqual(fromFile.tables)
  })

  it('a row changed in the file only: accepted from the honest bytes, refused from the file', async () => {
    await changedInFileOnly(tampered, 'MANIFEST_MISMATCH')
  })

  it('a row changed in the bytes: MANIFEST_MISMATCH, as for a changed file', async () => {
    const path = await sensorBlock(3000)
    const bytes = tampered(readFileSync(path))
    await expect(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: { bytes, size: bytes.length }, bytes })).rejects.toMatchObject({ code: 'MANIFEST_MISMATCH', message: expect.stringContaining('rows of "t" do not hash to its recorded root') })
  })
})

describe.skipIf(!nativeHeldDbBuilt())('SQLite\'s checks over the held bytes (held-db.ts)', () => {
  it('a page damaged in the file only: accepted from the honest bytes; refused from the file', async () => {
    await changedInFileOnly(damaged, 'CORRUPT')
  })

  it('a page damaged in the bytes only: CORRUPT, as for a damaged file', async () => {
    const path = await sensorBlock(3000)
    const bytes = damaged(readFileSync(path))
    await expect(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: { bytes, size: bytes.length }, bytes })).rejects.toMatchObject({ code: 'CORRUPT' })
  })

  it('the connection is the bytes, read-only, and bytes held are taken by one load only', async () => {
    const path = await sensorBlock(300)
    const held = openHeld(readFileSync(path))
    expect(held).toBeDefined()
    const db = held?.db
    try {
      expect(db?.prepare('SELECT count(*) FROM t').pluck().get()).toBe(300)
      expect(() => db?.exec('CREATE TABLE x (a)')).toThrow(/readonly/i)
      // Nothing is held any more on this thread: a second load of the extension is refused.
      const other = new Database(':memory:')
      try {
        expect(() => { loadHeldExtension(other) }).toThrow(/no bytes held/)
      } finally {
        other.close()
      }
    } finally {
      if (db !== undefined) releaseHeld(db)
    }
  })
})
