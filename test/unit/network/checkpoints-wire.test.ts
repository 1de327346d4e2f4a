import { describe, expect, it } from 'vitest'
import { LIMITS } from '../../../src/network/constants.js'
import { parseCheckpointsReply, parseCheckpointsRequest } from '../../../src/network/wire.js'

// docs/protocol.md, "checkpoints": the shape of the request and of the reply; what the notes say
// is judged by the proof module (test/integration/checkpoints-asked.test.ts).
describe('the checkpoints messages', () => {
  it('a request is a tree size of at least 1', () => {
    expect(parseCheckpointsRequest({ maxSize: 3 })).toEqual({ maxSize: 3 })
    for (const maxSize of [0, -0, -1, 1.5, '3', null, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => parseCheckpointsRequest({ maxSize }), String(maxSize)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    }
    expect(() => parseCheckpointsRequest({})).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('a reply is at most 2 strings of at most 8 KiB of UTF-8', () => {
    expect(parseCheckpointsReply({ notes: [] })).toEqual([])
    expect(parseCheckpointsReply({ notes: ['a', 'b'] })).toEqual(['a', 'b'])
    for (const notes of [undefined, 'a', ['a', 'b', 'c'], [1], [null]]) {
      expect(() => parseCheckpointsReply({ notes }), JSON.stringify(notes)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    }
    // Bytes, not characters: 2,731 three-byte characters are 8,193 bytes.
    expect(parseCheckpointsReply({ notes: ['—'.repeat(Math.floor(LIMITS.checkpoint / 3))] })).toHaveLength(1)
    expect(() => parseCheckpointsReply({ notes: ['—'.repeat(Math.floor(LIMITS.checkpoint / 3) + 1)] })).toThrow(expect.objectContaining({ code: 'OVERSIZED' }))
  })
})
