import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signImport } from '../../src/chain/index.js'
import { QueryMirror, runQuery } from '../../src/query/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')

async function count (node: PetalNode): Promise<number> {
  let rows = ''
  await runQuery(node.chain, { sql: 'SELECT COUNT(*) AS n FROM t', format: 'ndjson', sync: false, onText: (s: string) => { rows += s } })
  return (JSON.parse(rows.trim()) as { n: number }).n
}

function mirrorTip (node: PetalNode): string | undefined {
  const m = QueryMirror.open(node.chain)
  try { return m.tip()?.hash } finally { m.close() }
}

describe('a running node keeps query.db at its tip', () => {
  it('answers queries over blocks it received from a peer, without any CLI step', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    for (let i = 1; i <= 4; i++) await signImport(chain, makeSqlite(join(tmpDir(), `b${i}.db`), 10, i), alice)
    chain.close()
    const fresh = await cloneGenesis({ params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') })
    const a = await startNode(dir, { name: 'A', key: alice })
    const b = await startNode(fresh, { name: 'B', bootstrap: [addrOf(a)] })
    const tip = await waitConverged([a, b], { height: 4 })
    await waitFor(() => mirrorTip(b) === tip.hash, { what: 'B\'s query mirror to reach the tip' })
    expect(await count(b)).toBe(40)
    // A new block published by A reaches B's mirror too.
    await a.publish(makeSqlite(join(tmpDir(), 'b5.db'), 5, 5))
    const tip2 = await waitConverged([a, b], { height: 5 })
    await waitFor(() => mirrorTip(b) === tip2.hash, { what: 'B\'s mirror to follow the new block' })
    expect(await count(b)).toBe(45)
  }, 120_000)
})
