import { beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { Chain } from '../../src/chain/index.js'
import { fixtureKey, extendChain, makeSqlite, newTestChain, plantBlock } from '../helpers/chain.js'
import { petal } from '../helpers/cli.js'
import { disguisedRtree } from '../helpers/hostile-schemas.js'
import { forge } from '../fixtures/forge.js'
import { tmpDir } from '../helpers/tmp.js'

const alice = fixtureKey('alice')
let dir: string

// A data directory an older Petal filled: block 2 holds an rtree table whose CREATE text was
// disguised (its text check missed it). Today's rules refuse that block wherever it shows up.
beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  dir = t.dir
  await extendChain(t.chain, alice, 1)
  const tip = t.chain.tip()
  const badFile = join(tmpDir(), 'old.db')
  const forged = await forge({ out: badFile, key: alice, chainId: t.chain.chainId, height: 2, previousHash: tip.hash, timestamp: new Date(Date.parse(tip.timestamp) + 1000).toISOString(), legacySchema: disguisedRtree })
  await plantBlock(t.chain, badFile, forged.seal, forged.header)
  await extendChain(t.chain, alice, 1)
  t.chain.close()
  // The key is needed by the CLI for signimportblock.
  const ks = join(dir, 'keystore')
  const { Keystore } = await import('../../src/storage/index.js')
  const { privateKeyToPem } = await import('../../src/crypto/index.js')
  new Keystore(ks).import(privateKeyToPem(alice))
})

describe('a hostile schema in a data directory, at the command line', () => {
  it('verify and verify --deep report the block with its code (exit 6)', async () => {
    for (const args of [['verify'], ['verify', '--deep']]) {
      const r = await petal(['--dir', dir, '--json', ...args])
      expect(r.code, r.stderr).toBe(6)
      expect(JSON.parse(r.stdout.split('\n')[0] as string)).toMatchObject({ ok: false, failure: { height: 2, code: 'SCHEMA_NOT_ALLOWED' } })
    }
  })

  it('query leaves the block out with a coded note and answers over the others', async () => {
    const r = await petal(['--dir', dir, 'query', 'SELECT _height, count(*) AS n FROM t GROUP BY _height ORDER BY _height'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n').map(l => (JSON.parse(l) as { _height: number })._height)).toEqual([1, 3])
    expect(r.stderr).toMatch(/block 2 .* is left out of the query mirror.*\[SCHEMA_NOT_ALLOWED\]/)
    expect(r.stderr).toContain(`hint: \`petal --dir ${dir} verify\` reports the block`)
  })

  it('reindex stops at the block with its code and leaves the old index in place', async () => {
    const r = await petal(['--dir', dir, 'reindex'])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/block 2 \(.*block_00000002\.db\): virtual tables are not allowed in a block \("rt" USING rtree\); chain\.db is left as it was \[SCHEMA_NOT_ALLOWED\]/)
    const s = await petal(['--dir', dir, '--json', 'status'])
    expect((JSON.parse(s.stdout) as { tip: { height: number } }).tip.height).toBe(3)
  })

  it('signimportblock and import refuse it (exit 3), and nothing changes', async () => {
    const input = makeSqlite(join(tmpDir(), 'in.db'), 2)
    const db = new Database(input)
    disguisedRtree(db)
    db.close()
    const s = await petal(['--dir', dir, 'signimportblock', input])
    expect(s.code).toBe(3)
    expect(s.stderr).toMatch(/virtual tables are not allowed in a block \("rt" USING rtree\) \[SCHEMA_NOT_ALLOWED\]/)
    // The same block file, offered again as an import into a fresh copy of the chain before it.
    const fresh = await newTestChain({ key: alice })
    await extendChain(fresh.chain, alice, 1)
    const tip = fresh.chain.tip()
    const file = join(tmpDir(), 'again.db')
    const f = await forge({ out: file, key: alice, chainId: fresh.chain.chainId, height: 2, previousHash: tip.hash, timestamp: new Date(Date.parse(tip.timestamp) + 1000).toISOString(), legacySchema: disguisedRtree })
    fresh.chain.close()
    const i = await petal(['--dir', fresh.dir, 'import', file, '--seal', f.seal])
    expect(i.code).toBe(3)
    expect(i.stderr).toMatch(/\[SCHEMA_NOT_ALLOWED\]/)
    const c = Chain.open(fresh.dir)
    expect(c.tip().height).toBe(1)
    c.close()
  })
})
