import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BlockError } from '../../../src/block/index.js'
import { parseSqliteHeader } from '../../../src/block/sqlite-header.js'

// The header parser before it read bytes directly (Buffer views and readers): the reference.
function reference (h: Uint8Array, fileSize: number, input = false): unknown {
  const b = Buffer.from(h.buffer, h.byteOffset, h.byteLength)
  if (b.length < 100 || !b.subarray(0, 16).equals(Buffer.from('SQLite format 3\0', 'latin1'))) return 'NOT_SQLITE magic'
  const raw = b.readUInt16BE(16)
  const pageSize = raw === 1 ? 65536 : raw
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return 'NOT_SQLITE page size'
  const writeVersion = b.readUInt8(18)
  const readVersion = b.readUInt8(19)
  if (writeVersion === 2 || readVersion === 2) return 'WAL_MODE'
  if (writeVersion !== 1 || readVersion !== 1) return 'NOT_SQLITE version'
  if (b[21] !== 64 || b[22] !== 32 || b[23] !== 32) return 'NOT_SQLITE fractions'
  if (b[20] !== 0) return 'NOT_SQLITE reserved'
  const textEncoding = b.readUInt32BE(56)
  if ((textEncoding === 0 && !input) || textEncoding > 3) return 'NOT_SQLITE encoding'
  const pageCount = b.readUInt32BE(28)
  const sizeValid = b.readUInt32BE(92) === b.readUInt32BE(24) && pageCount > 0
  if (fileSize % pageSize !== 0 || (sizeValid && pageCount * pageSize !== fileSize)) return 'CORRUPT'
  return { pageSize, pageCount: fileSize / pageSize, writeVersion, readVersion, textEncoding, userVersion: b.readUInt32BE(60), sqliteVersion: b.readUInt32BE(96) }
}

function parsed (h: Uint8Array, fileSize: number, input = false): unknown {
  try {
    return parseSqliteHeader(h, fileSize, { input })
  } catch (err) {
    if (!(err instanceof BlockError)) throw err
    const why = err.code !== 'NOT_SQLITE' ? '' : / magic/.test(err.message) ? ' magic' : /page size/.test(err.message) ? ' page size' : /format version/.test(err.message) ? ' version' : /fractions/.test(err.message) ? ' fractions' : /reserved/.test(err.message) ? ' reserved' : ' encoding'
    return err.code + why
  }
}

describe('parseSqliteHeader', () => {
  const dir = join(import.meta.dirname, '../../fixtures/blocks')
  const heads = readdirSync(dir).filter(f => f.endsWith('.db')).map(f => readFileSync(join(dir, f)))

  it('gives the reference verdict on every fixture and on every byte of the header set to telling values', () => {
    let checked = 0
    for (const file of heads) {
      const size = file.length
      for (const fileSize of [size, size + 4096, size - 1]) {
        expect(parsed(file, fileSize)).toEqual(reference(file, fileSize))
        expect(parsed(file.subarray(0, 100), fileSize)).toEqual(reference(file.subarray(0, 100), fileSize))
      }
      expect(parsed(file.subarray(0, 99), size)).toEqual(reference(file.subarray(0, 99), size))
      for (let i = 0; i < 100; i++) {
        for (const v of [0, 1, 2, 3, 4, 16, 32, 64, 0x7f, 0x80, 0xff]) {
          const h = Uint8Array.from(file.subarray(0, 100))
          h[i] = v
          expect([i, v, parsed(h, size)]).toEqual([i, v, reference(h, size)])
          expect([i, v, parsed(h, size, true)]).toEqual([i, v, reference(h, size, true)])
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThan(1000)
  })
})
