// A large block's upload goes out in messages of UPLOAD_CHUNK, each one yamux frame that noise
// encrypts in whole transport messages: four full ones, never a fifth of a few bytes (each costs
// a decryption, a length-prefix decode and a yamux read on the receiver, an encryption here).
// The first message carries the block's reply frame within the same size.
import { describe, expect, it } from 'vitest'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { sendFile } from '../../../src/network/protocols/send-file.js'
import { NOISE_MAX_PLAINTEXT, UPLOAD_CHUNK, YAMUX_HEADER_BYTES } from '../../../src/network/constants.js'
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
