// A range receive over a real byte stream (@libp2p/utils' streamPair and byteStream): the whole
// quotas a frame brought are taken in one read and written in one write, never past the block,
// and the rate floor still cuts a peer that stops (range-reads.ts).
import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { byteStream, streamPair } from '@libp2p/utils'
import { receiveRangeBlock } from '../../../src/network/protocols/block.js'
import { bufferedBytes, nextRead } from '../../../src/network/protocols/range-reads.js'
import { RangeWrites, type RangeFile } from '../../../src/network/protocols/range-writes.js'
import { Watchdog } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

/** Synchronous writes (never paused to the pool), counted. */
class CountedWrites extends RangeWrites {
  calls = 0
  constructor () { super({ slowMs: 60_000 }) }
  override async write (fh: RangeFile, parts: Uint8Array[], want: number, at: number): Promise<void> {
    this.calls++
    await super.write(fh, parts, want, at)
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
// 100,000 bytes/s over 50 ms windows: the floor's reads are of 5,000 bytes.
const minRate = { bytesPerSecond: 100_000, windowMs: 50 }

describe('range receive reads', () => {
  it('asks for every whole quota held, or the rest of the block once it is all there, never past it', () => {
    const bs = (held: number): object => ({ readBuffer: { byteLength: held } })
    expect(nextRead(bs(0), 5000, 200_000)).toBe(5000)
    expect(nextRead(bs(4999), 5000, 200_000)).toBe(5000)
    expect(nextRead(bs(12_345), 5000, 200_000)).toBe(10_000)
    expect(nextRead(bs(300_000), 5000, 200_000)).toBe(200_000)
    expect(nextRead(bs(3000), 5000, 3000)).toBe(3000)
    expect(nextRead(bs(0), 5000, 3000)).toBe(3000)
    // A stream without the buffer this module knows: one quota a read, as before.
    expect(nextRead({}, 5000, 200_000)).toBe(5000)
    expect(nextRead({ readBuffer: { byteLength: NaN } }, 5000, 200_000)).toBe(5000)
  })

  it('takes two blocks sent in one frame with two writes each (a read of 5,000 bytes each made 40 and 30), bytes in order', async () => {
    const [out, inn] = await streamPair()
    const bs = byteStream(inn)
    const a = randomBytes(200_000)
    const b = randomBytes(150_000)
    const writes = new CountedWrites()
    out.send(Buffer.concat([a, b]))
    for (const [block, most] of [[a, 2], [b, 1]] as const) {
      const dest = join(tmpDir(), 'b.db')
      const w = new Watchdog()
      try {
        const before = writes.calls
        await receiveRangeBlock(bs, dest, { size: block.length, hash: sha(block), watchdog: w, budgetMs: 10_000, minRate, writes })
        expect(readFileSync(dest).equals(block)).toBe(true)
        expect(writes.calls - before).toBeLessThanOrEqual(most)
      } finally {
        w.dispose()
      }
    }
    // The stream held the whole frame once the first read was done: the reads saw it (else one quota a read).
    expect(bufferedBytes(bs)).toBe(0)
    await out.close()
  })

  it('still cuts a peer that stops after a frame of a few quotas', async () => {
    const [out, inn] = await streamPair()
    const bs = byteStream(inn)
    const block = randomBytes(200_000)
    out.send(block.subarray(0, 12_000))
    const w = new Watchdog()
    const writes = new CountedWrites()
    try {
      const err = await receiveRangeBlock(bs, join(tmpDir(), 'b.db'), { size: block.length, hash: sha(block), watchdog: w, budgetMs: 10_000, minRate, writes }).then(() => undefined, (e: unknown) => e)
      expect(err).toMatchObject({ code: 'TOO_SLOW' })
      // 5,000 bytes waited for, then the two whole quotas held in one read; the rest never came.
      expect(writes.calls).toBe(2)
    } finally {
      w.dispose()
      out.abort(new Error('done'))
    }
  })
})
