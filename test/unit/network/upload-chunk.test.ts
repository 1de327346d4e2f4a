// A large block's upload goes out in messages of UPLOAD_CHUNK, each one yamux frame that noise
// encrypts in whole transport messages: four full ones, never a fifth of a few bytes (each costs
// a decryption, a length-prefix decode and a yamux read on the receiver, an encryption here).
// The first message carries the block's reply frame within the same size. A range's large blocks
// follow one another in full messages: a block's last bytes share a message with the next one's.
import { describe, expect, it } from 'vitest'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { sendFile } from '../../../src/network/protocols/send-file.js'
import { NOISE_MAX_PLAINTEXT, UPLOAD_CHUNK, YAMUX_HEADER_BYTES } from '../../../src/network/constants.js'
import { serveRange } from '../../helpers/send-batch.js'
import { tmpDir } from '../../helpers/tmp.js'

/** Noise transport messages for one yamux frame of `bytes` bytes of data (when the window allows it whole). */
const noiseMessages = (bytes: number): number => Math.ceil((YAMUX_HEADER_BYTES + bytes) / NOISE_MAX_PLAINTEXT)

describe('upload chunks', () => {
  it('a 1 MB block with its reply frame goes out in frames of four full noise messages, and arrives whole', async () => {
    const size = 1_048_576
    const path = join(tmpDir(), 'block.db')
    const bytes = Buffer.alloc(size)
    for (let i = 0; i < size; i++) bytes[i] = i % 251
    writeFileSync(path, bytes)
    const head = Buffer.alloc(57, 7)
    const sent: Uint8Array[] = []
    const stream = { send: (b: Uint8Array) => { sent.push(Buffer.from(b)); return true } }
    const fd = openSync(path, 'r')
    try {
      await sendFile(stream as unknown as Stream, { fd, size, seal: '' }, new AbortController().signal, head)
    } finally {
      closeSync(fd)
    }
    expect(Buffer.concat(sent).equals(Buffer.concat([head, bytes]))).toBe(true)
    for (const m of sent.slice(0, -1)) expect(m.byteLength).toBe(UPLOAD_CHUNK)
    expect(sent.slice(0, -1).map(m => noiseMessages(m.byteLength))).toEqual(sent.slice(0, -1).map(() => 4))
    // 1 MB and 57 bytes in the fewest messages noise allows for five frames.
    expect(sent.reduce((n, m) => n + noiseMessages(m.byteLength), 0)).toBe(17)
  })
})

describe('a range of large blocks', () => {
  const file = (size: number, seed: number): { path: string, bytes: Buffer } => {
    const path = join(tmpDir(), `block-${seed}.db`)
    const bytes = Buffer.alloc(size)
    for (let i = 0; i < size; i++) bytes[i] = (i + seed) % 251
    writeFileSync(path, bytes)
    return { path, bytes }
  }

  it('goes out as one run of full messages of four noise messages each: a block\'s tail shares the next block\'s first message', async () => {
    const blocks = [1_056_768, 1_056_768, 1_056_768].map((size, i) => ({ ...file(size, i), head: Buffer.alloc(57, i + 1) }))
    const sent = await serveRange(blocks)
    const whole = Buffer.concat(blocks.flatMap(b => [b.head, b.bytes]))
    expect(Buffer.concat(sent).equals(whole)).toBe(true)
    for (const m of sent.slice(0, -1)) expect(m.byteLength).toBe(UPLOAD_CHUNK)
    // 13 frames and 49 noise messages, where a message of its own for each block's ~8.6 KB tail made 15 and 51.
    expect(sent.length).toBe(Math.ceil(whole.length / UPLOAD_CHUNK))
    expect(sent.length).toBe(13)
    expect(sent.reduce((n, m) => n + noiseMessages(m.byteLength), 0)).toBe(49)
  })

  it('keeps the order and the bytes of small and large blocks mixed, a large one starting in a message of small ones', async () => {
    const blocks = [1_000, 600_000, 40_000, UPLOAD_CHUNK - 100, 1_056_768, 5].map((size, i) => ({ ...file(size, i), head: Buffer.alloc(40 + i, i + 1) }))
    const sent = await serveRange(blocks)
    expect(Buffer.concat(sent).equals(Buffer.concat(blocks.flatMap(b => [b.head, b.bytes])))).toBe(true)
    for (const m of sent) expect(m.byteLength).toBeLessThanOrEqual(UPLOAD_CHUNK)
    // The first message: the small block, then the large one's head and first bytes, filled to the end.
    expect(sent[0]?.byteLength).toBe(UPLOAD_CHUNK)
  })
})
