// The native batched SHA-256's four lanes (src/crypto/native/sha256-ni.c, from sha256-batch.c's
// leaves and pairs) on random inputs against node:crypto: every message length 0..300 bytes in
// shuffled batches whose sizes are not multiples of four, at unaligned offsets of buffers sized
// exactly (nothing after the last byte); groups of four whose lanes differ in length (the longer
// lanes finish through OpenSSL from the lanes' state), a long message in each lane position; a
// message past the end after a ragged group (the digests before it written, none after); pairs
// elsewhere and in place at every count 0..41. Review of session 52's own changes (review52b):
// sha256-native.test.ts's messages run in length order, so most groups of four have equal lengths.
// Without SHA-NI (lanes 1) the same cases check OpenSSL's one-at-a-time path.
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { padMessage } from '../../../src/crypto/sha256-wasm.js'
import { rng } from '../../helpers/fuzz-rng.js'
import { nativeAddon, nativeBuild } from '../../helpers/native-build.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const framed = (len: number): number => 4 + (Math.floor((len + 8) / 64) + 1) * 64

/** `msgs` framed from `lead` in a buffer of exactly their bytes then `n` digests (or `outBytes`). */
function layout (msgs: Buffer[], lead: number, outBytes = 32 * msgs.length): { buf: Buffer, out: number } {
  const size = msgs.reduce((a, m) => a + framed(m.length), 0)
  const buf = Buffer.alloc(lead + size + outBytes)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let at = lead
  for (const m of msgs) {
    buf.set(m, at + 4)
    at = padMessage(buf, view, at, m.length)
  }
  return { buf, out: at }
}

const digests = (buf: Buffer, out: number, n: number): string[] => Array.from({ length: n }, (_, i) => buf.toString('hex', out + 32 * i, out + 32 * i + 32))

const built = nativeBuild()

describe.skipIf(!built.built)('native batched SHA-256 in four lanes, on random inputs', () => {
  it('gives node:crypto\'s digest of every message length 0..300 in shuffled batches not a multiple of four, at unaligned offsets', () => {
    const h = nativeAddon()
    const r = rng(5270)
    for (let round = 0; round < 3; round++) {
      const lens = Array.from({ length: 301 }, (_, i) => i)
      for (let i = lens.length - 1; i > 0; i--) {
        const j = r.int(i + 1)
        ;[lens[i], lens[j]] = [lens[j] ?? 0, lens[i] ?? 0]
      }
      let batches = 0
      while (lens.length > 0) {
        let k = 1 + r.int(23)
        if (k % 4 === 0) k++
        const msgs = lens.splice(0, k).map(n => Buffer.from(Array.from({ length: n }, () => r.int(256))))
        const { buf, out } = layout(msgs, r.int(17))
        h.leaves(buf, out - msgs.reduce((a, m) => a + framed(m.length), 0), msgs.length, out)
        expect(digests(buf, out, msgs.length), `round ${round}, batch ${batches}: lengths ${msgs.map(m => m.length).join(',')}`).toEqual(msgs.map(sha))
        batches++
      }
    }
  })

  it('gives node:crypto\'s digests when one lane of a group is much longer than the others, in each lane position', () => {
    const h = nativeAddon()
    const r = rng(5271)
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => r.int(256)))
    for (const long of [64, 119, 1000, 65_537]) {
      for (let pos = 0; pos < 4; pos++) {
        // Two groups and a ragged tail: the long message in group 1 at lane `pos`, the others 0-130 bytes.
        const msgs = Array.from({ length: 11 }, (_, i) => bytes(i === 4 + pos ? long : r.int(131)))
        const { buf, out } = layout(msgs, 1 + pos)
        h.leaves(buf, 1 + pos, msgs.length, out)
        expect(digests(buf, out, msgs.length), `long ${long} at lane ${pos}`).toEqual(msgs.map(sha))
      }
    }
  })

  it('writes the digests before a message past the end (a ragged group\'s too) and none after, then throws', () => {
    const h = nativeAddon()
    const r = rng(5272)
    for (const good of [1, 3, 4, 5, 7, 8, 9]) {
      const msgs = Array.from({ length: good }, () => Buffer.from(Array.from({ length: r.int(200) }, () => r.int(256))))
      // The next message's count says 1,000 blocks: past the end of the buffer.
      const { buf, out } = layout(msgs, 0, 4 + 32 * (good + 1))
      buf.writeUInt32LE(1000, out)
      const after = out + 4
      const fill = 0xa5
      buf.fill(fill, after)
      expect(() => { h.leaves(buf, 0, good + 1, after) }, `${good} good`).toThrow(RangeError)
      expect(digests(buf, after, good), `${good} good`).toEqual(msgs.map(sha))
      expect(buf.subarray(after + 32 * good).every(b => b === fill), `${good} good: nothing after`).toBe(true)
    }
  })

  it('hashes every count of pairs 0..41 elsewhere and in place at unaligned offsets, as node:crypto does', () => {
    const h = nativeAddon()
    const r = rng(5273)
    for (let n = 0; n <= 41; n++) {
      const at = r.int(9)
      const data = Buffer.from(Array.from({ length: 64 * n }, () => r.int(256)))
      const want = Array.from({ length: n }, (_, i) => sha(Buffer.concat([Buffer.from([1]), data.subarray(64 * i, 64 * i + 64)])))
      const buf = Buffer.alloc(at + 64 * n + 32 * n)
      data.copy(buf, at)
      h.pairs(buf, at, n, at + 64 * n)
      expect(digests(buf, at + 64 * n, n), `${n} pairs elsewhere`).toEqual(want)
      h.pairs(buf, at, n, at)
      expect(digests(buf, at, n), `${n} pairs in place`).toEqual(want)
    }
  })
})
