import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { GENESIS_PREVIOUS_HASH } from '../../src/block/index.js'
import { importPrivateKey, privateKeyToPem, signV1, type SigningKey } from '../../src/crypto/index.js'
import { fromHex, toHex } from '../../src/util/index.js'

// The fixture keys, read here rather than through helpers/chain.ts so that scripts can build a
// Daisy directory outside vitest.
function fixtureKey (name: 'alice' | 'bob'): SigningKey {
  return importPrivateKey(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', `${name}.pem`), 'utf8'))
}

// Daisy data directories built from Daisy's documented format (reference/daisy-spec.md §1–4, §7):
// its DDL (VARCHAR columns, comments), version-1 _meta (RFC 3339 timestamps with an offset, the
// duplicate CreatorPubKey of a newchain genesis), signatures over raw digests, daisy.db and
// private.db with Daisy's schemas, and the sharded blocks/ layout. Nothing is copied from Daisy.

const META_DDL = `CREATE TABLE _meta (
    key         VARCHAR NOT NULL PRIMARY KEY, -- the key
    value       VARCHAR
)`
const KEYS_DDL = `CREATE TABLE _keys (
    op              CHAR NOT NULL,      -- 'A' add, 'R' revoke
    pubkey_hash     VARCHAR NOT NULL,
    pubkey          VARCHAR NOT NULL,
    sigkey_hash     VARCHAR NOT NULL,
    signature       VARCHAR NOT NULL,
    metadata        VARCHAR,
    PRIMARY KEY (pubkey_hash, sigkey_hash)
)`
const DAISY_DB_DDL = `
CREATE TABLE blockchain (height INTEGER NOT NULL UNIQUE, sigkey_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL PRIMARY KEY,
  hash_signature VARCHAR NOT NULL, prev_hash VARCHAR NOT NULL, prev_hash_signature VARCHAR NOT NULL,
  time_accepted INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE INDEX blockchain_sigkey_hash ON blockchain(sigkey_hash);
CREATE TABLE pubkeys (pubkey_hash VARCHAR NOT NULL PRIMARY KEY, pubkey VARCHAR NOT NULL, state CHAR NOT NULL,
  time_added INTEGER NOT NULL, time_revoked INTEGER, block_height INTEGER NOT NULL, metadata VARCHAR);
CREATE TABLE config (key VARCHAR NOT NULL PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE peers (address VARCHAR NOT NULL PRIMARY KEY, time_added INTEGER NOT NULL, permanent BOOLEAN NOT NULL DEFAULT 0);`

const sign = (key: SigningKey, hexDigest: string): string => toHex(signV1(key, fromHex(hexDigest) as Uint8Array))
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Daisy's block path: blocks/%04x/block_%08x.db */
export function daisyBlockPath (root: string, height: number): string {
  return join(root, 'blocks', Math.floor(height / 65536).toString(16).padStart(4, '0'), `block_${height.toString(16).padStart(8, '0')}.db`)
}

export interface DaisyKeyOp { op: 'A' | 'R', target: SigningKey, signers: SigningKey[] }

export interface DaisyBlockSpec {
  signer: SigningKey
  /** rows of the user table `pages` (title, views) */
  pages?: Array<[string, number]>
  keyOps?: DaisyKeyOp[]
  /** _keys without its PRIMARY KEY (Daisy never checked it), for a signer counted twice */
  keysWithoutPk?: boolean
  timestamp?: string
}

export interface DaisyFixture {
  root: string
  genesisHash: string
  hashes: string[]
  alice: SigningKey
  bob: SigningKey
}

/** Write one block file the way Daisy's signimportblock leaves it; returns its hash. */
function writeBlock (path: string, meta: Array<[string, string]>, keyRows: string[][], b: Pick<DaisyBlockSpec, 'pages' | 'keysWithoutPk'>, pageSize: number): string {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  db.pragma(`page_size = ${pageSize}`)
  db.pragma('journal_mode = DELETE')
  db.exec(META_DDL)
  db.exec(b.keysWithoutPk === true ? KEYS_DDL.replace(',\n    PRIMARY KEY (pubkey_hash, sigkey_hash)', '') : KEYS_DDL)
  if (b.pages !== undefined) {
    db.exec('CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT, views INTEGER)')
    const ins = db.prepare('INSERT INTO pages (title, views) VALUES (?, ?)')
    for (const [t, v] of b.pages) ins.run(t, v)
  }
  const setMeta = db.prepare('INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)')
  for (const [k, v] of meta) setMeta.run(k, v)
  const addKey = db.prepare('INSERT INTO _keys (op, pubkey_hash, pubkey, sigkey_hash, signature, metadata) VALUES (?, ?, ?, ?, ?, NULL)')
  for (const r of keyRows) addKey.run(...r)
  db.close()
  return sha256(readFileSync(path))
}

/**
 * A custom Daisy chain (as `daisy newchain` then `signimportblock` make it): alice's genesis, then
 * `blocks`; by default three blocks of pages, the second also adding bob (a key operation), the
 * third signed by bob. chainparams.json, daisy.db and private.db (alice's key) as Daisy writes them.
 */
export function buildDaisyDir (root: string, blocks?: DaisyBlockSpec[]): DaisyFixture {
  const alice = fixtureKey('alice')
  const bob = fixtureKey('bob')
  const specs = blocks ?? [
    { signer: alice, pages: [['Main Page', 10], ['Daisy', 3]] },
    { signer: alice, pages: [['Main Page', 12]], keyOps: [{ op: 'A', target: bob, signers: [alice] }] },
    { signer: bob, pages: [['Petal', 1], ['SQLite', 7]] }
  ] satisfies DaisyBlockSpec[]
  mkdirSync(root, { recursive: true })
  const genesisTs = '2019-02-11T10:00:00+01:00'
  const gMeta: Array<[string, string]> = [
    ['Version', '1'], ['PreviousBlockHash', GENESIS_PREVIOUS_HASH], ['Creator', 'Test Org'], ['Timestamp', genesisTs],
    ['Description', 'a Daisy chain for tests'], ['CreatorPublicKey', alice.id],
    ['PreviousBlockHashSignature', sign(alice, GENESIS_PREVIOUS_HASH)], ['CreatorPubKey', alice.id]
  ]
  const genesisHash = writeBlock(daisyBlockPath(root, 0), gMeta, [['A', alice.id, alice.publicKey.hex, alice.id, sign(alice, alice.id.slice(2))]], {}, 512)
  const hashes = [genesisHash]
  const seals = [sign(alice, genesisHash)]
  const signers = [alice.id]
  const prevSigs = [gMeta[6]?.[1] ?? '']
  for (const [i, b] of specs.entries()) {
    const h = i + 1
    const prev = hashes[i] as string
    const prevSig = sign(b.signer, prev)
    const meta: Array<[string, string]> = [['Version', '1'], ['PreviousBlockHash', prev], ['PreviousBlockHashSignature', prevSig],
      ['Timestamp', b.timestamp ?? `2019-02-1${1 + Math.min(h, 8)}T10:00:00+01:00`], ['CreatorPublicKey', b.signer.id]]
    const rows = (b.keyOps ?? []).flatMap(k => k.signers.map(s => [k.op, k.target.id, k.target.publicKey.hex, s.id, sign(s, k.target.id.slice(2))]))
    const hash = writeBlock(daisyBlockPath(root, h), meta, rows, b, 4096)
    hashes.push(hash)
    seals.push(sign(b.signer, hash))
    signers.push(b.signer.id)
    prevSigs.push(prevSig)
  }
  writeFileSync(join(root, 'chainparams.json'), JSON.stringify({
    genesis_block_hash: genesisHash, genesis_block_hash_signature: seals[0], genesis_block_timestamp: genesisTs, creator: 'Test Org',
    creator_public_key: alice.id, bootstrap_peers: null, consensus_type: 'PoA', description: 'a Daisy chain for tests'
  }))
  const db = new Database(join(root, 'daisy.db'))
  db.exec(DAISY_DB_DDL)
  const ins = db.prepare('INSERT INTO blockchain VALUES (?, ?, ?, ?, ?, ?, ?, 1)')
  for (const [h, hash] of hashes.entries()) {
    ins.run(h, signers[h], hash, seals[h], h === 0 ? GENESIS_PREVIOUS_HASH : hashes[h - 1], prevSigs[h], 1549875600 + h * 86400)
  }
  db.prepare('INSERT INTO pubkeys VALUES (?, ?, ?, ?, NULL, 0, NULL)').run(alice.id, alice.publicKey.hex, 'A', 1549875600)
  db.close()
  const priv = new Database(join(root, 'private.db'))
  priv.exec('CREATE TABLE privkeys (pubkey_hash VARCHAR NOT NULL PRIMARY KEY, privkey VARCHAR NOT NULL, time_added INTEGER NOT NULL)')
  priv.prepare('INSERT INTO privkeys VALUES (?, ?, ?)').run(alice.id, sec1Hex(alice), 1549875600)
  priv.close()
  return { root, genesisHash, hashes, alice, bob }
}

/** A key as Daisy's private.db stores it: hex of its SEC1 (RFC 5915) DER. */
export function sec1Hex (key: SigningKey): string {
  const pem = privateKeyToPem(key, 'sec1')
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64').toString('hex')
}

/** sha256 of every file under `root`, by relative path: what "nothing was written" is checked against. */
export function hashTree (root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else out[relative(root, p)] = sha256(readFileSync(p))
    }
  }
  walk(root)
  return out
}

/** Flip one byte of a user row inside a block file (the file stays a sound SQLite database). */
export function tamperBlock (path: string, from: string, to: string): void {
  const bytes = readFileSync(path)
  const at = bytes.indexOf(Buffer.from(from))
  if (at < 0 || from.length !== to.length) throw new Error(`${from} not found in ${path}`)
  bytes.write(to, at)
  writeFileSync(path, bytes)
}

/**
 * A Daisy directory of the default chain (no chainparams.json) whose genesis holds the default
 * genesis's `_meta` and `_keys` values (reference/daisy-spec.md §1.6, genesis/daisy-default.json).
 * The file is rebuilt, so it cannot hash to 9a0f…; its two in-file signatures are Daisy's own.
 */
export function buildDefaultVectorsDir (root: string): { root: string, hash: string, vectors: Record<string, string> } {
  const v = JSON.parse(readFileSync(join(import.meta.dirname, '../../genesis/daisy-default.json'), 'utf8')) as Record<string, string>
  const at = (k: string): string => v[k] as string
  const meta: Array<[string, string]> = [
    ['GenesisNatureHeadline', at('genesis_nature_headline')], ['PreviousBlockHash', at('previous_block_hash')], ['Creator', at('creator')],
    ['PreviousBlockHashSignature', at('previous_block_hash_signature')], ['CreatorPublicKey', at('creator_public_key')], ['Version', '1']
  ]
  const hash = writeBlock(daisyBlockPath(root, 0), meta, [['A', at('creator_public_key'), at('creator_public_key_spki'), at('creator_public_key'), at('keyop_signature')]], {}, 512)
  const db = new Database(join(root, 'daisy.db'))
  db.exec(DAISY_DB_DDL)
  db.prepare('INSERT INTO blockchain VALUES (0, ?, ?, ?, ?, ?, ?, 1)').run(at('creator_public_key'), hash, at('genesis_block_hash_signature'), at('previous_block_hash'), at('previous_block_hash_signature'), 1494059930)
  db.close()
  return { root, hash, vectors: v }
}
