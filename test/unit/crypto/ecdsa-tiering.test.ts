import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'

// derToP1363 runs twice per block in each verify worker, and TurboFan compiles it there. A
// signature whose s begins with n/2's first byte (1 in 128) or whose r begins with a zero byte
// (1 in 256) must not throw that optimised code away: it did when the range checks returned at
// the first byte that differed, leaving the rest of their loop without type feedback, and each
// worker compiled derToP1363 again (docs/performance/verify.md, "Session 19: plain verify").
describe('derToP1363 under TurboFan', () => {
  // DER of (r, s), each given as its 32 bytes (minimal encoding: leading zeros dropped, 0x00 before a high bit).
  const der = (r: Buffer, s: Buffer): Buffer => {
    const int = (v: Buffer): Buffer => {
      let i = 0
      while (i < v.length - 1 && v[i] === 0) i++
      const body = (v[i] ?? 0) >= 0x80 ? Buffer.concat([Buffer.from([0]), v.subarray(i)]) : v.subarray(i)
      return Buffer.concat([Buffer.from([0x02, body.length]), body])
    }
    const seq = Buffer.concat([int(r), int(s)])
    return Buffer.concat([Buffer.from([0x30, seq.length]), seq])
  }
  const typical = der(Buffer.alloc(32, 0x12), Buffer.alloc(32, 0x34))
  // s = 0x7f 00 … 01: its first byte is n/2's (0x7fffffff80…), the second below it.
  const sAtBound = der(Buffer.alloc(32, 0x12), Buffer.concat([Buffer.from([0x7f]), Buffer.alloc(30), Buffer.from([1])]))
  // r = 0x00 12 … 12 (31 bytes in DER).
  const rLeadingZero = der(Buffer.concat([Buffer.alloc(1), Buffer.alloc(31, 0x12)]), Buffer.alloc(32, 0x34))

  // fn: derToP1363, or isStrictLowS (verifyV2's check, which reads the DER in place and compares
  // only a 32-byte value with its bound; a shorter r or s, 1 in 256 and 1 in 128, skips that).
  const stillOptimised = (rare: Buffer, fn = 'derToP1363'): { before: boolean, after: boolean, verdicts: boolean[] } => {
    // ecdsa.ts's bundle (src-entry.ts): the child compiles no TypeScript, and V8 sees the same function.
    const ecdsa = entryOf(join(import.meta.dirname, '..', '..', '..', 'src', 'crypto', 'ecdsa.ts'))
    const code = `const { ${fn}: derToP1363 } = await import(${JSON.stringify(ecdsa)})
      const prepare = new Function('f', '%PrepareFunctionForOptimization(f)')
      const optimiseNext = new Function('f', '%OptimizeFunctionOnNextCall(f)')
      // V8's status bits: 16 = optimised (TurboFan).
      const optimised = new Function('f', 'return (%GetOptimizationStatus(f) & 16) !== 0')
      const typical = Buffer.from(${JSON.stringify(typical.toString('hex'))}, 'hex')
      const rare = Buffer.from(${JSON.stringify(rare.toString('hex'))}, 'hex')
      const into = Buffer.alloc(64)
      // A verdict: derToP1363's buffer or undefined, isStrictLowS's boolean.
      const ok = v => v !== undefined && v !== false
      prepare(derToP1363)
      const verdicts = []
      for (let i = 0; i < 3; i++) verdicts.push(ok(derToP1363(typical, into)))
      optimiseNext(derToP1363)
      verdicts.push(ok(derToP1363(typical, into)))
      const before = optimised(derToP1363)
      verdicts.push(ok(derToP1363(rare, into)))
      console.log(JSON.stringify({ before, after: optimised(derToP1363), verdicts }))`
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-lazy-feedback-allocation', ...loaderFor(ecdsa), '--input-type=module', '-e', code], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    return JSON.parse(r.stdout) as { before: boolean, after: boolean, verdicts: boolean[] }
  }

  it('keeps its optimised code for an s that begins as n/2 does', () => {
    expect(stillOptimised(sAtBound)).toEqual({ before: true, after: true, verdicts: [true, true, true, true, true] })
  })

  it('keeps its optimised code for an r that begins with a zero byte', () => {
    expect(stillOptimised(rLeadingZero)).toEqual({ before: true, after: true, verdicts: [true, true, true, true, true] })
  })

  it('isStrictLowS keeps its optimised code for the same signatures', () => {
    for (const rare of [sAtBound, rLeadingZero]) {
      expect(stillOptimised(rare, 'isStrictLowS')).toEqual({ before: true, after: true, verdicts: [true, true, true, true, true] })
    }
  })
})
