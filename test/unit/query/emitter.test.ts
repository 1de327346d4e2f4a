// The sandbox's result stream (src/query/sandbox/emitter.ts): chunks stay small whatever the rows.
import { describe, expect, it } from 'vitest'
import { Emitter } from '../../../src/query/sandbox/emitter.js'
import { CHUNK_CHARS, type ChildMessage } from '../../../src/query/sandbox/protocol.js'
import { exportTable, QuerySandbox } from '../../../src/query/index.js'
import type { Chain } from '../../../src/chain/index.js'

describe('the sandbox\'s result chunks', () => {
  it('raw rows (export\'s format) are cut by size as text is: 100 rows of 100 KB are not one 10 MB message', async () => {
    const sent: ChildMessage[] = []
    const e: Emitter = new Emitter(m => { sent.push(m); queueMicrotask(() => { e.ack() }) }, 'rows', undefined)
    await e.setColumns(['i', 'v', 'b'])
    const text = 'a'.repeat(100_000)
    for (let i = 0; i < 100; i++) await e.push([BigInt(i), text, i % 2 === 0 ? new Uint8Array(1000) : null])
    await e.end({})
    const chunks = sent.flatMap(m => m.type === 'rows' ? [m.rows] : [])
    // Every row arrives, in order, in chunks of at most CHUNK_CHARS and one row.
    expect(chunks.flat().map(r => r[0])).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)))
    for (const c of chunks) expect(c.length * 100_000).toBeLessThanOrEqual(CHUNK_CHARS + 101_000)
    expect(chunks.length).toBeGreaterThanOrEqual(30)
    // Narrow rows still go 2,048 to a chunk.
    const narrow: ChildMessage[] = []
    const n: Emitter = new Emitter(m => { narrow.push(m); queueMicrotask(() => { n.ack() }) }, 'rows', undefined)
    await n.setColumns(['i'])
    for (let i = 0; i < 4096; i++) await n.push([BigInt(i)])
    await n.end({})
    expect(narrow.flatMap(m => m.type === 'rows' ? [m.rows.length] : [])).toEqual([2048, 2048])
  })

  it('a BLOB too large to print (256 MiB: its hex is longer than a string can be) is QUERY_VALUE_TOO_LARGE, in the sandbox and in an export', async () => {
    // Zeroed pages (calloc): the value costs address space, not memory.
    const blob = Buffer.alloc(0x10000000)
    const e = new Emitter(() => {}, 'csv', undefined)
    await e.setColumns(['b'])
    await expect(e.push([blob])).rejects.toMatchObject({ code: 'QUERY_VALUE_TOO_LARGE' })
    // An export formats in the parent the raw rows the sandbox sends: here a sandbox that sends
    // the one row (its process never started).
    const sandbox = new QuerySandbox('/nonexistent')
    sandbox.start = (() => undefined) as unknown as typeof sandbox.start
    sandbox.run = async o => {
      o.onColumns?.(['b'])
      await o.onRows?.([[blob]])
      return { rowCount: 1, skipped: [] }
    }
    const chain = {} as unknown as Chain
    await expect(exportTable(chain, { table: 't', format: 'csv', sync: false, sandbox, onText: () => {} })).rejects.toMatchObject({ code: 'QUERY_VALUE_TOO_LARGE', hint: expect.stringMatching(/--format sqlite/) })
  })
})
