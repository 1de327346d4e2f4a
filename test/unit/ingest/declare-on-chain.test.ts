import { afterEach, describe, expect, it } from 'vitest'
import { Ingest, type IngestError } from '../../../src/ingest/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { ingestRefusal } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

// Declaring a table the chain has already (`PUT /api/v1/tables`, `petal append --schema`) on a
// node whose pending.db does not have it took any definition (user49): rows written to it were
// then refused against the chain's definition, or sealed into a block whose table differs from
// the chain's. Since session 48 a first write takes the chain's; a declaration now does the same.
describe('declaring a table the chain has', () => {
  it('refuses another definition, naming the chain\'s and its block; takes the same one', async () => {
    const { chain } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 2)
    const ingest = Ingest.open({ chain, key: alice })
    open.push(chain, ingest)
    const onChain = chain.index.latestTable('t')
    expect(onChain?.height).toBe(2)
    const e: IngestError = await ingestRefusal(ingest.putTable('t', 'CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL)'))
    expect(e.code).toBe('INGEST_TABLE_CONFLICT')
    expect(e.message).toContain('by block 2')
    expect(e.details).toEqual({ table: 't', sql: onChain?.sql, height: 2 })
    expect(e.hint).toContain(onChain?.sql)
    // Nothing was declared: the table is still the chain's.
    expect(ingest.store.tables().get('t')).toBeUndefined()
    expect(await ingest.putTable('t', onChain?.sql ?? '')).toMatchObject({ created: true, sql: onChain?.sql })
    expect(await ingest.putTable('t', onChain?.sql ?? '')).toMatchObject({ created: false, sql: onChain?.sql })
  })
})
