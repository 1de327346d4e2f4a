import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { generateSigningKey, privateKeyToPkcs8 } from '../../../src/crypto/index.js'
import { Ingest, parseRecords } from '../../../src/ingest/index.js'
import { QuerySandbox } from '../../../src/query/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { rowsOf } from '../../helpers/query.js'
import { ingestRefusal } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

const refusal = ingestRefusal

describe('record API: a table\'s encrypt policy', () => {
  it('seals the declared columns encrypted for its recipients; another table for other recipients is refused (one data key per block); a recipient reads plaintext; recipients change for later blocks', async () => {
    const { chain } = await newTestChain({ key: alice })
    const ingest = Ingest.open({ chain, key: alice })
    const sandbox = new QuerySandbox(chain.dir.root)
    open.push(chain, ingest, sandbox)
    const r1 = generateSigningKey()
    const r2 = generateSigningKey()
    const put = await ingest.putTable('visits', 'CREATE TABLE visits (id INTEGER PRIMARY KEY, patient TEXT, diagnosis TEXT)', { columns: ['diagnosis'], recipients: [r1.publicKey.hex] })
    expect(put).toMatchObject({ created: true, encrypt: { columns: ['diagnosis'], recipients: [r1.publicKey.hex] } })
    // Another table for other recipients is refused: one block has one data key.
    expect((await refusal(ingest.putTable('labs', 'CREATE TABLE labs (id INTEGER PRIMARY KEY, result TEXT)', { columns: ['result'], recipients: [r2.publicKey.hex] }))).code).toBe('INGEST_BAD_ENCRYPT')
    for (const [columns, why] of [[['id'], 'rowid'], [['nope'], 'unknown'], [[], 'empty']] as const) {
      expect((await refusal(ingest.putTable('visits', 'CREATE TABLE visits (id INTEGER PRIMARY KEY, patient TEXT, diagnosis TEXT)', { columns: [...columns], recipients: [r1.publicKey.hex] }))).code, why).toBe('INGEST_BAD_ENCRYPT')
    }
    expect((await refusal(ingest.putTable('visits', 'CREATE TABLE visits (id INTEGER PRIMARY KEY, patient TEXT, diagnosis TEXT)', { columns: ['diagnosis'], recipients: ['not a key'] }))).code).toBe('INGEST_BAD_ENCRYPT')
    await ingest.append('visits', parseRecords('[{"patient": "ann", "diagnosis": "flu"}, {"patient": "bob", "diagnosis": null}]', 'json'))
    await ingest.append('plain', parseRecords('[{"k": "x"}]', 'json'))
    const { blocks } = await ingest.sealNow()
    expect(blocks.length).toBeGreaterThanOrEqual(1)
    const file = chain.dir.blockPath(blocks[0]?.height ?? 1)
    const db = new Database(file, { readonly: true })
    expect(db.prepare('SELECT typeof(diagnosis), typeof(patient) FROM visits ORDER BY id').raw(true).all()).toEqual([['blob', 'text'], ['blob', 'text']])
    expect(db.prepare('SELECT recipient FROM _recipients').pluck().all()).toEqual([r1.id])
    db.close()
    const got = await rowsOf(chain, sandbox, 'SELECT patient, diagnosis FROM visits ORDER BY id', { decrypt: { keys: [privateKeyToPkcs8(r1)] } })
    expect(got.rows).toEqual([['ann', 'flu'], ['bob', null]])
    expect((await rowsOf(chain, sandbox, 'SELECT k FROM plain')).rows).toEqual([['x']])

    // Changing the recipients (r2 instead of r1) applies to later blocks; null drops the policy.
    await ingest.putTable('visits', 'CREATE TABLE visits (id INTEGER PRIMARY KEY, patient TEXT, diagnosis TEXT)', { columns: ['diagnosis'], recipients: [r2.publicKey.hex] })
    await ingest.append('visits', parseRecords('[{"patient": "cem", "diagnosis": "cold"}]', 'json'))
    const second = (await ingest.sealNow()).blocks[0]?.height ?? 0
    const both = { decrypt: { keys: [privateKeyToPkcs8(r1), privateKeyToPkcs8(r2)] } }
    expect((await rowsOf(chain, sandbox, `SELECT diagnosis FROM visits WHERE _height = ${second}`, both)).rows).toEqual([['cold']])
    expect((await rowsOf(chain, sandbox, `SELECT typeof(diagnosis) FROM visits WHERE _height = ${second}`, { decrypt: { keys: [privateKeyToPkcs8(r1)] } })).rows).toEqual([['blob']])
    expect(await ingest.putTable('visits', 'CREATE TABLE visits (id INTEGER PRIMARY KEY, patient TEXT, diagnosis TEXT)', null)).toEqual({ created: false, sql: expect.any(String) })
    await ingest.append('visits', parseRecords('[{"patient": "dee", "diagnosis": "ok"}]', 'json'))
    const third = (await ingest.sealNow()).blocks[0]?.height ?? 0
    expect((await rowsOf(chain, sandbox, `SELECT typeof(diagnosis) FROM visits WHERE _height = ${third}`)).rows).toEqual([['text']])
  }, 60_000)
})
