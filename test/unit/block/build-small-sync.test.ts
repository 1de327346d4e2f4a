// A small source is copied, checked and hashed with synchronous file calls (no thread-pool round
// trips, none of Node's promisified callback functions compiled: a 100-row signimportblock's cost),
// a large one still with the asynchronous ones; both give the block of the same bytes.
import { createHook } from 'node:async_hooks'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildBlock, type BuildBlockOptions } from '../../../src/block/index.js'
import { fixtureKey, makeSqlite } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const key = fixtureKey('alice')
const dir = tmpDir()

function opts (source: string, output: string): BuildBlockOptions {
  return { source, output, key, chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 28 }
}

/** The file requests Petal's own code sent to libuv's thread pool while `fn` ran. */
async function poolFileRequests (fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = []
  const hook = createHook({
    init (_id, type) {
      if (type !== 'FSREQCALLBACK') return
      const stack = new Error().stack ?? ''
      if (stack.includes('/src/')) seen.push(stack.split('\n').slice(2, 5).join(' < '))
    }
  }).enable()
  try {
    await fn()
  } finally {
    hook.disable()
  }
  return seen
}

describe('buildBlock and the size of its source', () => {
  it('builds a small source (100 rows) without one thread-pool file request', async () => {
    const src = makeSqlite(join(dir, 'small.db'), 100, 1)
    let built: Awaited<ReturnType<typeof buildBlock>> | undefined
    const requests = await poolFileRequests(async () => { built = await buildBlock(opts(src, join(dir, 'small-out.db'))) })
    expect(requests).toEqual([])
    expect(built?.hash).toBe(createHash('sha256').update(readFileSync(join(dir, 'small-out.db'))).digest('hex'))
  })

  it('builds a source above 256 KiB through the thread pool, to the same hash as its bytes', async () => {
    const src = makeSqlite(join(dir, 'large.db'), 20_000, 2)
    expect(readFileSync(src).length).toBeGreaterThan(256 * 1024)
    let built: Awaited<ReturnType<typeof buildBlock>> | undefined
    const requests = await poolFileRequests(async () => { built = await buildBlock(opts(src, join(dir, 'large-out.db'))) })
    expect(requests.length).toBeGreaterThan(0)
    expect(built?.hash).toBe(createHash('sha256').update(readFileSync(join(dir, 'large-out.db'))).digest('hex'))
  })
})
