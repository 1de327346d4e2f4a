import { describe, expect, it } from 'vitest'
import { decodeJson, encodeJson, LIMITS, parseBlockMeta, parseHeader, parseHeadersReply, parseHeadersRequest, type WireHeader } from '../../../src/network/index.js'
import { parseBlocksRequest, parseStatus } from '../../../src/network/wire.js'

const h = (height: number, parent: string, hash: string): WireHeader => ({
  hash, height, parent, version: 2, signer: '1:' + 'c'.repeat(64), timestamp: '2026-01-01T00:00:00.000Z',
  rowsRoot: 'd'.repeat(64), prevSig: '3045' + 'ab'.repeat(20), seal: '3046' + 'cd'.repeat(20), size: 4096
})

describe('wire format', () => {
  it('accepts a well-formed header and rejects every malformed field', () => {
    const good = h(5, 'a'.repeat(64), 'b'.repeat(64))
    expect(parseHeader(JSON.parse(JSON.stringify(good)))).toEqual(good)
    const bad: Array<Partial<Record<keyof WireHeader, unknown>>> = [
      { hash: 'B'.repeat(64) }, { hash: 'b'.repeat(63) }, { parent: 7 }, { height: -1 }, { height: 1.5 }, { height: 2 ** 60 },
      { version: 3 }, { signer: '2:' + 'c'.repeat(64) }, { timestamp: 'x'.repeat(65) }, { rowsRoot: 'zz' },
      { prevSig: '' }, { seal: 'abc' }, { seal: 'ab'.repeat(100) }, { size: '4096' }
    ]
    for (const b of bad) expect(() => parseHeader({ ...good, ...b }), JSON.stringify(b)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    expect(() => parseHeader([good])).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    expect(() => parseHeader(null)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('decodes only JSON objects within the size limit', () => {
    expect(decodeJson(encodeJson({ a: 1 }), 100, 'x')).toEqual({ a: 1 })
    expect(() => decodeJson(encodeJson({ a: 'x'.repeat(200) }), 100, 'x')).toThrow(expect.objectContaining({ code: 'OVERSIZED' }))
    expect(() => decodeJson(new TextEncoder().encode('{"a":'), 100, 'x')).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    expect(() => decodeJson(new TextEncoder().encode('[1]'), 100, 'x')).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    expect(() => decodeJson(new Uint8Array([0x7b, 0xff, 0x7d]), 100, 'x')).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('checks a headers request and that a reply is the requested, linked range', () => {
    expect(parseHeadersRequest({ from: 3, count: 2 })).toEqual({ from: 3, count: 2 })
    expect(() => parseHeadersRequest({ from: 3, count: LIMITS.maxHeaders + 1 })).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    expect(() => parseHeadersRequest({ from: 3, count: 0 })).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    const h3 = h(3, 'a'.repeat(64), '3'.repeat(64))
    const h4 = h(4, h3.hash, '4'.repeat(64))
    const req = { from: 3, count: 2 }
    expect(parseHeadersReply({ headers: [h3, h4] }, req)).toEqual([h3, h4])
    expect(parseHeadersReply({ headers: [h3] }, req)).toEqual([h3])
    expect(() => parseHeadersReply({ headers: [h4] }, req)).toThrow(/wrong heights/)
    expect(() => parseHeadersReply({ headers: [h3, { ...h4, parent: 'e'.repeat(64) }] }, req)).toThrow(/not linked/)
    expect(() => parseHeadersReply({ headers: [h3, h4, h(5, h4.hash, '5'.repeat(64))] }, req)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('checks a blocks (range) request: 1 to maxRangeBlocks distinct hashes, nothing else', () => {
    const hashes = Array.from({ length: LIMITS.maxRangeBlocks }, (_, i) => i.toString(16).padStart(64, '0'))
    expect(parseBlocksRequest({ hashes })).toEqual({ hashes })
    // The largest request fits in its frame limit.
    expect(encodeJson({ hashes }).byteLength).toBeLessThanOrEqual(LIMITS.blocksRequest)
    const bad: unknown[] = [undefined, [], [...hashes, 'f'.repeat(64)], ['a'.repeat(64), 'a'.repeat(64)], ['A'.repeat(64)], ['a'.repeat(63)], [7], 'a'.repeat(64), { 0: 'a'.repeat(64) }]
    for (const b of bad) expect(() => parseBlocksRequest({ hashes: b }), JSON.stringify(b)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('parses block reply frames strictly', () => {
    expect(parseBlockMeta({ ok: true, size: 10, seal: 'abcd' })).toEqual({ ok: true, size: 10, seal: 'abcd' })
    expect(parseBlockMeta({ ok: false, error: 'NOT_FOUND' })).toEqual({ ok: false, error: 'NOT_FOUND' })
    expect(() => parseBlockMeta({ ok: false, error: 'nope' })).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    expect(() => parseBlockMeta({ ok: true, size: -1, seal: 'ab' })).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('refuses negative zero in every height, size and count, as the JSON on the wire spells it (read as 0 before session 47)', () => {
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
    const malformed = expect.objectContaining({ code: 'MALFORMED' })
    const good = h(0, 'a'.repeat(64), 'b'.repeat(64))
    const header = (field: 'height' | 'size', spelling: string): string => JSON.stringify({ ...good, [field]: 7 }).replace(`"${field}":7`, `"${field}":${spelling}`)
    for (const spelling of ['-0', '-0.0', '-0e3', '-0E-2']) {
      // The spellings parse to a number that passes every other check (an integer, >= 0).
      expect(Object.is(JSON.parse(spelling), -0)).toBe(true)
      for (const field of ['height', 'size'] as const) {
        const text = header(field, spelling)
        // An announcement (gossip) and a status reply's tip.
        expect(() => parseHeader(decodeJson(bytes(text), LIMITS.announcement, 'announcement'), 'announcement'), `${field} ${spelling}`).toThrow(malformed)
        expect(() => parseStatus(decodeJson(bytes(`{"genesis":"${'a'.repeat(64)}","tip":${text}}`), LIMITS.statusResponse, 'status')), `${field} ${spelling}`).toThrow(malformed)
        // A headers reply from height 0.
        expect(() => parseHeadersReply(decodeJson(bytes(`{"headers":[${text}]}`), LIMITS.headersResponse, 'headers reply'), { from: 0, count: 1 }), `${field} ${spelling}`).toThrow(malformed)
      }
      expect(() => parseHeadersRequest(decodeJson(bytes(`{"from":${spelling},"count":1}`), LIMITS.headersRequest, 'headers request'))).toThrow(malformed)
      expect(() => parseHeadersRequest(decodeJson(bytes(`{"from":0,"count":${spelling}}`), LIMITS.headersRequest, 'headers request'))).toThrow(malformed)
      expect(() => parseBlockMeta(decodeJson(bytes(`{"ok":true,"size":${spelling},"seal":"abcd"}`), LIMITS.blockResponseMeta, 'block reply'))).toThrow(malformed)
    }
    // 0 itself, however spelled, is a height of 0.
    for (const spelling of ['0', '0.0', '0e3']) {
      expect(parseHeader(decodeJson(bytes(header('height', spelling)), LIMITS.announcement, 'announcement')).height).toBe(0)
      expect(parseHeadersRequest(decodeJson(bytes(`{"from":${spelling},"count":1}`), LIMITS.headersRequest, 'headers request'))).toEqual({ from: 0, count: 1 })
    }
  })
})
