import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { buildInput } from '../../../src/ingest/build-input.js'
import type { PendingRow } from '../../../src/ingest/pending-schema.js'
import { PendingRowEncoder } from '../../../src/ingest/row-codec.js'
import { declareTable } from '../../../src/ingest/schema.js'
import { openSqliteReadonly } from '../../../src/storage/index.js'
import { AbortError } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const table = declareTable('t', 'CREATE TABLE t (n INTEGER, pad TEXT)')
const tables = new Map([['t', table]])

/**
 * `n` pending rows of t. After the first 300 the generator holds its thread for 30 ms, so the
 * build has run past its turn (YIELD_EVERY_NS) by the next chunk's end, whatever the machine's speed.
 */
function * rows (n: number): Generator<PendingRow> {
  const enc = new PendingRowEncoder()
  const t0 = performance.now()
  for (let i = 1; i <= n; i++) {
    if (i === 300) while (performance.now() - t0 < 30) { /* a slow stretch of the build */ }
    const data = enc.encode({ n: BigInt(i), pad: 'x'.repeat(20) }, table)
    yield { id: i, table: 't', data, bytes: data.length, at: 0 }
  }
}

describe('buildInput: the seal\'s input file', () => {
  it('gives the event loop a turn during a long build, so that a stop (an abort from a signal handler) ends it there: AbortError, not a whole file built first', async () => {
    const path = join(tmpDir(), 'in.db')
    const controller = new AbortController()
    // What a SIGTERM's handler does (start.ts): it runs only in a turn of the event loop.
    setImmediate(() => { controller.abort() })
    // Until session 42 the build never yielded: it returned all 5,000 rows before the handler ran.
    const build = (async () => await buildInput(path, rows(5_000), tables, 64 << 20, controller.signal))()
    await expect(build).rejects.toBeInstanceOf(AbortError)
    rmSync(path, { force: true })
  })

  it('gives those turns also when the wall clock is stepped back during the build (an NTP step): the stop still ends it', async () => {
    const path = join(tmpDir(), 'in.db')
    const controller = new AbortController()
    setImmediate(() => { controller.abort() })
    // From its first row on, the build sees the wall clock an hour back and standing there: until
    // review43 its turns were timed by Date.now(), which then never got 20 ms past the last turn, so
    // it built every row before the stop was seen.
    const stepped = Date.now() - 3_600_000
    const now = vi.spyOn(Date, 'now').mockReturnValue(stepped)
    try {
      const build = (async () => await buildInput(path, rows(5_000), tables, 64 << 20, controller.signal))()
      await expect(build).rejects.toBeInstanceOf(AbortError)
    } finally { now.mockRestore() }
    rmSync(path, { force: true })
  })

  it('without a stop, builds every row in order, also across its turns', async () => {
    const path = join(tmpDir(), 'in.db')
    const built = await buildInput(path, rows(5_000), tables, 64 << 20)
    expect(built.rowids).toHaveLength(5_000)
    expect(built.lastRow).toBe(5_000)
    expect(existsSync(path)).toBe(true)
    const db = openSqliteReadonly(path)
    try {
      expect(db.prepare('SELECT count(*) AS c, sum(n) AS s FROM t').get()).toEqual({ c: 5_000, s: 5_000 * 5_001 / 2 })
    } finally { db.close() }
  })
})
