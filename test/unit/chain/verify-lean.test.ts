// Plain verify's workers read ordinary small blocks with the lean reader (block/read-lean.ts):
// a block damaged in any way is still caught, at its height, with the code it had before.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readBlockLean, readBlockPages } from '../../../src/block/index.js'
import { signImport, type VerifyReport } from '../../../src/chain/index.js'
import { newTestChain, verifyDamagedCopy } from '../../helpers/chain.js'

const BAD = 5

/** `find` in the file of block BAD replaced by `by` (same length): a _meta value changed in place. */
function replace (dir: string, find: string, by: string): void {
  const p = join(dir, '0000', `block_${BAD.toString(16).padStart(8, '0')}.db`)
  const bytes = readFileSync(p)
  const at = bytes.indexOf(find)
  expect(at, find).toBeGreaterThan(0)
  expect(bytes.indexOf(find, at + 1), find).toBe(-1)
  bytes.write(by, at, 'latin1')
  writeFileSync(p, bytes)
}

describe('plain verify through the lean reader', () => {
  it('catches a changed _meta value, another block\'s signature or seal, a changed byte and a truncated file, with the same codes', async () => {
    const t = await newTestChain()
    for (let i = 0; i < 9; i++) await signImport(t.chain, undefined, t.key)
    const header = (h: number): { hash: string, seal: string } => {
      const m = t.chain.get(h)
      if (m === undefined) throw new Error(`no block ${h}`)
      return { hash: m.hash, seal: m.seal }
    }
    const prev = header(BAD - 1)
    const own = header(BAD)
    const chainId = t.chain.chainId
    t.chain.close()
    const path = (dir: string, h: number, ext = 'db'): string => join(dir, '0000', `block_${h.toString(16).padStart(8, '0')}.${ext}`)
    // The blocks are ones the lean reader reads (after the one before them, as in a worker).
    readBlockPages(path(t.dir, BAD - 1), 1 << 26, readFileSync(path(t.dir, BAD - 1)))
    const lean = readBlockLean(path(t.dir, BAD), 1 << 26, readFileSync(path(t.dir, BAD)))
    expect(lean).toBeDefined()
    const h = lean?.header
    if (h === undefined) return
    const flip = (hex: string): string => hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0')
    // A byte of _meta's page between its cell pointers and its cells: in no row, yet hashed and sealed.
    const freeByte = (dir: string): void => {
      const p = path(dir, BAD)
      const db = new Database(p, { readonly: true })
      const root = db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name = '_meta'").pluck().get() ?? 0
      db.close()
      const b = readFileSync(p)
      const page = (root - 1) * b.readUInt16BE(16)
      const from = page + 8 + 2 * b.readUInt16BE(page + 3)
      const to = page + b.readUInt16BE(page + 5)
      expect(to - from).toBeGreaterThan(10)
      const at = (from + to) >> 1
      b[at] = (b[at] ?? 0) ^ 0x55
      writeFileSync(p, b)
    }
    // One worker, as in verify-files.test.ts: the second would have read every damaged block anyway.
    const run = async (damage: (dir: string) => void): Promise<VerifyReport['failure']> => await verifyDamagedCopy(t.dir, damage, 1)
    expect(await run(() => {})).toBeUndefined()
    const cases: Array<[string, (dir: string) => void, string]> = [
      ['Height', dir => { replace(dir, `Height${BAD}`, `Height${BAD + 1}`) }, 'HEIGHT_MISMATCH'],
      ['Height not a number', dir => { replace(dir, `Height${BAD}`, 'Heightx') }, 'BAD_META'],
      ['Version', dir => { replace(dir, 'Version2', 'Version3') }, 'UNSUPPORTED_VERSION'],
      ['PreviousBlockHash', dir => { replace(dir, `PreviousBlockHash${prev.hash}`, `PreviousBlockHash${flip(prev.hash)}`) }, 'PARENT_UNKNOWN'],
      ['ChainId', dir => { replace(dir, `ChainId${chainId}`, `ChainId${flip(chainId)}`) }, 'CHAIN_ID_MISMATCH'],
      ['a key name', dir => { replace(dir, `CreatorPublicKey${h.creator}`, `CreatorPublicKez${h.creator}`) }, 'BAD_META'],
      ['Timestamp', dir => { replace(dir, `Timestamp${h.timestamp}`, `Timestamp2126${h.timestamp.slice(4)}`) }, 'BAD_SEAL'],
      ['Timestamp not UTC', dir => { replace(dir, `Timestamp${h.timestamp}`, `Timestamp${h.timestamp.slice(0, -1)}+`) }, 'BAD_META'],
      ['RowsRoot', dir => { replace(dir, `RowsRoot${h.rowsRoot}`, `RowsRoot${flip(h.rowsRoot)}`) }, 'ROWS_ROOT_MISMATCH'],
      ['PreviousBlockHashSignature', dir => { replace(dir, `PreviousBlockHashSignature${h.previousHashSignature}`, `PreviousBlockHashSignature${flip(h.previousHashSignature)}`) }, 'BAD_PREV_SIGNATURE'],
      ['the seal of the block before', dir => { copyFileSync(path(dir, BAD - 1, 'sig'), path(dir, BAD, 'sig')) }, 'BAD_SEAL'],
      ['a seal that is not lower-case hex', dir => { writeFileSync(path(dir, BAD, 'sig'), own.seal.toUpperCase() + '\n') }, 'BAD_SEAL'],
      ['the file of the block before', dir => { copyFileSync(path(dir, BAD - 1), path(dir, BAD)) }, 'PARENT_UNKNOWN'],
      ['a byte of free space', freeByte, 'BAD_SEAL'],
      ['a truncated file', dir => { truncateSync(path(dir, BAD), 1000) }, 'CORRUPT']
    ]
    for (const [what, damage, code] of cases) expect({ what, failure: await run(damage) }).toMatchObject({ what, failure: { height: BAD, code } })
  })
})
