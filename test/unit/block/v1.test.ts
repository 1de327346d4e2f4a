import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { GENESIS_PREVIOUS_HASH, readBlockFile, verifyKeyOp, verifyPrevious, verifySeal } from '../../../src/block/index.js'
import { sha256, sha256File, signV1 } from '../../../src/crypto/index.js'
import { fromHex, toHex } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

// A block laid out exactly as Daisy writes one (reference/daisy-spec.md §1.2–1.6): its DDL with
// comments, VARCHAR columns, an RFC 3339 timestamp with an offset, the duplicate CreatorPubKey key,
// signatures over raw digests.
describe('reading v1 (Daisy) blocks', () => {
  it('parses Daisy\'s reserved tables and verifies its three signatures', async () => {
    const key = fixtureKey('carol')
    const path = join(tmpDir(), 'daisy.db')
    const db = new Database(path)
    db.pragma('page_size = 512')
    db.exec(`CREATE TABLE _meta (
        key         VARCHAR NOT NULL PRIMARY KEY, -- the key
        value       VARCHAR
      );
      CREATE TABLE _keys (
        op CHAR NOT NULL, pubkey_hash VARCHAR NOT NULL, pubkey VARCHAR NOT NULL, sigkey_hash VARCHAR NOT NULL,
        signature VARCHAR NOT NULL, metadata VARCHAR, PRIMARY KEY (pubkey_hash, sigkey_hash));
      CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT)`)
    const prevSig = toHex(signV1(key, fromHex(GENESIS_PREVIOUS_HASH) as Uint8Array))
    const meta: Record<string, string> = {
      Version: '1', PreviousBlockHash: GENESIS_PREVIOUS_HASH, PreviousBlockHashSignature: prevSig, CreatorPublicKey: key.id,
      CreatorPubKey: key.id, Timestamp: '2019-02-11T10:00:00+01:00', Creator: 'someone', Description: 'old chain'
    }
    for (const [k, v] of Object.entries(meta)) db.prepare('INSERT INTO _meta VALUES (?, ?)').run(k, v)
    db.prepare('INSERT INTO _keys VALUES (?, ?, ?, ?, ?, NULL)').run('A', key.id, key.publicKey.hex, key.id, toHex(signV1(key, fromHex(key.id.slice(2)) as Uint8Array)))
    db.exec("INSERT INTO pages (title) VALUES ('Main Page')")
    db.close()

    const r = await readBlockFile(path, { maxBytes: 1 << 20 })
    expect(r.header).toMatchObject({ version: 1, height: -1, previousHash: GENESIS_PREVIOUS_HASH, creator: key.id, timestamp: '2019-02-11T10:00:00+01:00' })
    expect(r.header.time).toBe(Date.parse('2019-02-11T09:00:00Z'))
    expect(r.userTables.map(t => t.name)).toEqual(['pages'])
    expect(verifyPrevious(key.publicKey, r.header)).toBe(true)
    expect(verifyKeyOp(key.publicKey, '', r.keyOps[0] as never, 1)).toBe(true)
    const hash = await sha256File(path)
    expect(verifySeal(key.publicKey, r.header, hash, toHex(signV1(key, fromHex(hash) as Uint8Array)))).toBe(true)
    expect(verifySeal(key.publicKey, r.header, hash, toHex(signV1(key, sha256('other'))))).toBe(false)
  })
})
