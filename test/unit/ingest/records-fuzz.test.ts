// The record readers' seeded fuzz (test/helpers/records-fuzz.ts says what is compared; the long
// run: scripts/wire-fuzz.ts --records): rows of every kind as `petal query` writes them read back
// exactly from JSON, NDJSON and CSV; CSV mutants are read as the reference RFC 4180 reader reads
// them or refused with its code; and through the ingest service (pending.db on disk), a refused
// body leaves pending.db as it was, an accepted one adds exactly its rows.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { Ingest, IngestError, type AppendResult } from '../../../src/ingest/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { rng } from '../../helpers/fuzz-rng.js'
import { csvMutant, newRecordCounts, readRecords, runRecordsMutant, seedTable, written } from '../../helpers/records-fuzz.js'

const SEEDS = 10
const MUTANTS = 200
const open: Array<{ close: () => unknown }> = []
afterAll(async () => { for (const x of open.splice(0).reverse()) await x.close() })

/** Every row of every table of pending.db, hashed (read by a connection of its own). */
function digest (dir: string): string {
  const db = new Database(join(dir, 'pending.db'), { readonly: true })
  try {
    db.defaultSafeIntegers(true)
    const h = createHash('sha256')
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]
    for (const t of tables) h.update(t + JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).raw().all(), (_k, v: unknown) => typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))
    return h.digest('hex')
  } finally {
    db.close()
  }
}

describe('the record readers on hostile bytes', () => {
  it('read back what petal query writes, and read CSV mutants as the reference does or refuse them with its code', () => {
    const counts = newRecordCounts()
    const found: string[] = []
    for (let seed = 1; seed <= SEEDS; seed++) {
      for (let i = 0; i < MUTANTS; i++) {
        const m = runRecordsMutant(seed, i, counts)
        // Replay: node --import tsx scripts/wire-fuzz.ts --records --seed SEED --seeds 1 --only I
        if (m.found.length > 0) found.push(`--records --seed ${seed} --seeds 1 --only ${i} (${m.what}): ${m.found.join('; ')}`)
      }
    }
    expect(found).toEqual([])
    expect(counts.accepted).toMatchObject({ 'json written': SEEDS, 'ndjson written': SEEDS, 'csv written': SEEDS })
    expect(counts.accepted['csv mutant']).toBeGreaterThan(SEEDS * MUTANTS / 10)
    expect(counts.codes.INGEST_MALFORMED).toBeGreaterThan(SEEDS * MUTANTS / 10)
  })

  it('through the service: a refused body leaves pending.db unchanged, an accepted one adds exactly its rows', async () => {
    const { chain, dir } = await newTestChain({ key: fixtureKey('alice') })
    const ingest = Ingest.open({ chain, key: fixtureKey('alice') })
    open.push(chain, ingest)
    const r = rng(46)
    const seen = { accepted: 0, refused: 0 }
    for (let i = 0; i < 40; i++) {
      const format = (['json', 'ndjson', 'csv'] as const)[i % 3] ?? 'csv'
      let bytes: Uint8Array = Buffer.from(written(seedTable(rng(1000 + i)), format))
      for (let k = r.int(3); k > 0; k--) bytes = csvMutant(r, bytes).bytes
      const parsed = readRecords(bytes, format)
      const before = digest(dir)
      const pending = ingest.stats().pendingRows
      // A table per body: the bodies' columns and types differ.
      let result: AppendResult | undefined
      let error: unknown
      try { result = await ingest.appendRecords(`t${i}`, bytes, format) } catch (err) { error = err }
      if (result === undefined) {
        expect(error, `body ${i} (${format})`).toBeInstanceOf(IngestError)
        expect(digest(dir), `body ${i} (${format}): ${(error as Error).message}`).toBe(before)
        expect(ingest.stats().pendingRows).toBe(pending)
        seen.refused++
      } else {
        expect(parsed.ok, `body ${i} (${format}) was stored; the reader refuses it`).toBe(true)
        expect(result.receipts).toHaveLength(parsed.ok ? parsed.rows.length : -1)
        expect(ingest.stats().pendingRows).toBe(pending + result.receipts.length)
        seen.accepted++
      }
    }
    expect(seen.accepted).toBeGreaterThan(2) // (most valid bodies mix kinds in a column: 422)
    expect(seen.refused).toBeGreaterThan(5)
  })
})
