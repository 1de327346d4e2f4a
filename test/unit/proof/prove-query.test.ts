import { describe, expect, it } from 'vitest'
import { QueryMirror } from '../../../src/query/index.js'
import { parseTrustFile, proveQueryAnswer, signatoryVkey, signTipCheckpoints, verifyProof } from '../../../src/proof/index.js'
import { openSqliteReadonly } from '../../../src/storage/index.js'
import { provableChain } from '../../helpers/proof.js'

describe('proofs of a query answer', () => {
  it('proves whole rows of one table from the mirror (typed values, WITHOUT ROWID, several blocks), and refuses anything else', async () => {
    const { chain, key, typedHeight } = await provableChain()
    await signTipCheckpoints(chain, key)
    const mirror = QueryMirror.open(chain)
    await mirror.sync()
    mirror.close()
    const db = openSqliteReadonly(chain.dir.queryDb)
    const trust = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chain.chainId, key)))
    if (typeof trust === 'string') throw new Error(trust)
    try {
      const check = async (sql: string, n: number): Promise<Awaited<ReturnType<typeof verifyProof>>> => {
        const r = await proveQueryAnswer(chain, db, sql)
        expect(r.rows).toBe(n)
        const report = await verifyProof(JSON.stringify(r.doc), trust)
        expect(report.ok, report.failure?.message).toBe(true)
        expect(report.rows).toHaveLength(n)
        return report
      }
      const people = await check('SELECT * FROM people WHERE id >= 3 ORDER BY id DESC', 3)
      expect(people.rows.map(r => r.rowid)).toEqual(['3', '4', '5'])
      expect(people.rows[0]?.values[4]).toEqual({ integer: '9223372036854775807' })
      const tags = await check('SELECT * FROM tags WHERE n IS NOT NULL', 2)
      expect(tags.rows.map(r => [r.rowid, r.index])).toEqual([[null, 0], [null, 1]])
      // Rows of table t from several blocks, against one checkpoint.
      const t = await check('SELECT * FROM t', 20)
      expect(new Set(t.rows.map(r => r.height)).size).toBeGreaterThan(1)
      expect(t.rows.every(r => r.height !== typedHeight)).toBe(true)

      for (const sql of ['SELECT name FROM people', 'SELECT *, 1 FROM people', 'SELECT count(*) FROM people', 'SELECT * FROM people JOIN tags', 'SELECT * FROM _blocks', 'SELECT * FROM people WHERE id > 99']) {
        await expect(proveQueryAnswer(chain, db, sql), sql).rejects.toMatchObject({ code: 'PROOF_QUERY_NOT_PROVABLE' })
      }
    } finally {
      db.close()
      chain.close()
    }
  })
})
