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
    expect(parseCheckpointsReply({ notes: [] })).toEqual({ notes: [] })
    expect(parseCheckpointsReply({ notes: ['a', 'b'] })).toEqual({ notes: ['a', 'b'] })
    for (const notes of [undefined, 'a', ['a', 'b', 'c'], [1], [null]]) {
      expect(() => parseCheckpointsReply({ notes }), JSON.stringify(notes)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
    }
    // Bytes, not characters: 2,731 three-byte characters are 8,193 bytes.
    expect(parseCheckpointsReply({ notes: ['—'.repeat(Math.floor(LIMITS.checkpoint / 3))] }).notes).toHaveLength(1)
    expect(() => parseCheckpointsReply({ notes: ['—'.repeat(Math.floor(LIMITS.checkpoint / 3) + 1)] })).toThrow(expect.objectContaining({ code: 'OVERSIZED' }))
  })

  it('a reply says why a size asked for was not signed (session 56), with a code (session 57): advice, dropped when of another shape', () => {
    expect(parseCheckpointsReply({ notes: [], unsigned: 'size 4 not signed: why', unsignedCode: 'budget' })).toEqual({ notes: [], unsigned: { text: 'size 4 not signed: why', code: 'budget' } })
    // A session 56 node sends no code: its words alone.
    expect(parseCheckpointsReply({ notes: [], unsigned: 'size 4 not signed: why' })).toEqual({ notes: [], unsigned: { text: 'size 4 not signed: why' } })
    expect(parseCheckpointsReply({ notes: [], unsigned: 'why', unsignedCode: 'Not A Code\n' })).toEqual({ notes: [], unsigned: { text: 'why' } })
    for (const unsigned of [1, null, 'x'.repeat(201)]) expect(parseCheckpointsReply({ notes: ['a'], unsigned, unsignedCode: 'busy' })).toEqual({ notes: ['a'] })
  })
})
