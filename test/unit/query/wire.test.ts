// The frames between the query sandbox and its parent (src/query/sandbox/wire.ts).
import { describe, expect, it } from 'vitest'
import { encodeFrame as encode, FrameReader } from '../../../src/query/sandbox/wire.js'
import type { ChildMessage } from '../../../src/query/sandbox/protocol.js'

/** Any object as a message: the frames carry what they are given. */
const encodeFrame = (m: object): Buffer => encode(m as ChildMessage)

describe('the sandbox\'s frames', () => {
  it('carry every message whole and in order, whatever the chunks the socket delivers', () => {
    const messages = [
      { type: 'ready' },
      { type: 'run', mode: 'mirror', sql: 'SELECT \'é\', "x"', dataDir: '/d', format: 'ndjson', maxRows: 3 },
      { type: 'text', text: 'ü'.repeat(70_000) + '\n' },
      // Raw rows keep their types: bigint, BLOB bytes, NULL, a REAL that JSON would turn into null.
      { type: 'rows', rows: [[1n, new Uint8Array([0, 255]), null, Infinity, 'k']] },
      { type: 'run', mode: 'mirror', sql: 'SELECT 1', dataDir: '/d', format: 'rows', decrypt: { keys: [new Uint8Array([7])] } },
      { type: 'done', summary: { rowCount: 1, tip: { height: 4, hash: 'ab' } } }
    ]
    const bytes = Buffer.concat(messages.map(m => encodeFrame(m)))
    for (const size of [1, 3, 5, 4096, bytes.length]) {
      const reader = new FrameReader()
      const got: unknown[] = []
      for (let at = 0; at < bytes.length; at += size) got.push(...reader.push(bytes.subarray(at, at + size)))
      expect(got, `chunks of ${size}`).toEqual(messages)
      expect(reader.pending).toBe(0)
    }
  })

  it('a text answer goes as JSON, raw rows and decryption keys through V8\'s serializer', () => {
    expect(String.fromCharCode(encodeFrame({ type: 'text', text: 'a' })[4] ?? 0)).toBe('J')
    expect(String.fromCharCode(encodeFrame({ type: 'run', mode: 'mirror', sql: 's', dataDir: '/d', format: 'csv' })[4] ?? 0)).toBe('J')
    expect(String.fromCharCode(encodeFrame({ type: 'rows', rows: [[1n]] })[4] ?? 0)).toBe('V')
    expect(String.fromCharCode(encodeFrame({ type: 'run', decrypt: { keys: [new Uint8Array([7])] } })[4] ?? 0)).toBe('V')
  })

  it('a run that asks decryption with no key to give goes as JSON, and arrives as it was sent', () => {
    // What every `petal query` sends from a keystore without encryption keys (cli/confidential.ts,
    // decryptKeys): through V8's serializer, the sandbox loaded node:v8 and node:stream to read it.
    const run = { type: 'run', mode: 'mirror', sql: 'SELECT 1', dataDir: '/d', format: 'ndjson', decrypt: { keys: [] } }
    const frame = encodeFrame(run)
    expect(String.fromCharCode(frame[4] ?? 0)).toBe('J')
    expect(new FrameReader().push(frame)).toEqual([run])
  })

  it('refuses what is not a frame instead of waiting for gigabytes', () => {
    expect(() => new FrameReader().push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x4a]))).toThrow(/frame of/)
    const unknownKind = Buffer.from([0, 0, 0, 1, 0x51, 0x30])
    expect(() => new FrameReader().push(unknownKind)).toThrow(/unknown frame kind/)
  })
})
