import Database from 'better-sqlite3'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCellValue, encodeCellValue, openCell, readBlockFile, sealCell, type SqlValue } from '../../../src/block/index.js'
import { signImport, type Chain } from '../../../src/chain/index.js'
import { generateSigningKey, importPrivateKey, privateKeyToPkcs8, unwrapDataKey, type SigningKey } from '../../../src/crypto/index.js'
import { exportTable, QuerySandbox } from '../../../src/query/index.js'
import { Keystore } from '../../../src/storage/index.js'
import { fromHex } from '../../../src/util/index.js'
import { confidentialVectors } from '../../helpers/confidential-vectors.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { failure, referenceRows, rowsOf, sqliteFile } from '../../helpers/query.js'
import { tmpDir } from '../../helpers/tmp.js'

// The vectors are read from docs/confidential.md itself, so the document cannot drift.
const doc = readFileSync(join(import.meta.dirname, '../../../docs/confidential.md'), 'utf8')
const documented = JSON.parse(/<!-- vectors:confidential -->\s*```json\n([\s\S]*?)\n```/.exec(doc)?.[1] ?? 'null') as ReturnType<typeof confidentialVectors> & {
  chain_id: string
  data_key: string
  cells: Array<{ table: string, column: string, row: number, sealed: string, value: string | number | null }>
  wrap: { wrapped: string }
}

describe('docs/confidential.md test vectors', () => {
  it('are what the code computes from the documented inputs', () => {
    expect(documented).toEqual(confidentialVectors())
  })

  it('open with the data key and bob\'s private key, and only in their own cell', () => {
    const key = fromHex(documented.data_key) as Uint8Array
    for (const c of documented.cells) {
      const sealed = fromHex(c.sealed) as Uint8Array
      const v = openCell(key, documented.chain_id, c.table, c.column, c.row, sealed)
      expect(typeof v === 'bigint' ? Number(v) : v).toEqual(c.value)
      expect(openCell(key, documented.chain_id, c.table, c.column, c.row + 1, sealed)).toBeUndefined()
      expect(openCell(key, '', c.table, c.column, c.row, sealed)).toBeUndefined()
    }
    const bob = fixtureKey('bob')
    expect(unwrapDataKey(fromHex(documented.wrap.wrapped) as Uint8Array, bob, documented.chain_id)).toEqual(key)
    expect(() => unwrapDataKey(fromHex(documented.wrap.wrapped) as Uint8Array, fixtureKey('carol'), documented.chain_id)).toThrow(expect.objectContaining({ code: 'UNWRAP_FAILED' }))
    expect(() => unwrapDataKey(fromHex(documented.wrap.wrapped) as Uint8Array, bob, 'another chain')).toThrow(expect.objectContaining({ code: 'UNWRAP_FAILED' }))
  })

  it('encode every storage class losslessly', () => {
    const values: SqlValue[] = [null, 0n, -(2n ** 63n), 2n ** 63n - 1n, 1.5, -0, 1e300, '', 'é 🌸', new Uint8Array(0), new Uint8Array([0, 255])]
    for (const v of values) expect(decodeCellValue(encodeCellValue(v))).toEqual(v)
    const k = new Uint8Array(32)
    expect(openCell(k, 'c', 't', 'x', 0, sealCell(k, 'c', 't', 'x', 0, 'a'))).toBe('a')
  })
})

// A patient table with two encrypted columns, sealed for two recipients; the same rows in one
// plain SQLite file are the reference every query on the decrypted columns must agree with.
const PATIENTS: SqlValue[][] = [
  [1n, 'ann', 'flu', 31n, 'é 🌸'],
  [2n, 'bob', 'cold', null, ''],
  [3n, 'cem', 'flu', 58n, null],
  [4n, 'dee', null, 44n, 'x'.repeat(3000)],
  [5n, 'eve', 'asthma', 23n, 'line\nbreak'],
  [6n, 'fay', 'cold', 67n, '"quoted"']
]
const DDL = 'CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, diagnosis TEXT, age INTEGER, note TEXT)'
const CODES: SqlValue[][] = [['flu', 'Influenza'], ['cold', 'Common cold'], ['asthma', 'Asthma']]

describe('encrypted columns on a chain', () => {
  let chain: Chain
  let sandbox: QuerySandbox
  let signer: SigningKey
  const r1 = generateSigningKey()
  const r2 = generateSigningKey()
  const outsider = generateSigningKey()
  const ref = new Database(':memory:')
  let work: string
  let block1: string

  const asRecipient = (k: SigningKey): { keys: Uint8Array[] } => ({ keys: [privateKeyToPkcs8(k)] })

  beforeAll(async () => {
    signer = fixtureKey('alice')
    ;({ chain } = await newTestChain({ key: signer }))
    sandbox = new QuerySandbox(chain.dir.root)
    work = tmpDir()
    const src = sqliteFile(join(work, 'p.db'), db => {
      db.exec(DDL)
      const ins = db.prepare('INSERT INTO patients VALUES (?, ?, ?, ?, ?)')
      for (const r of PATIENTS) ins.run(...r)
      db.exec('CREATE TABLE codes (code TEXT, label TEXT)')
      for (const r of CODES) db.prepare('INSERT INTO codes VALUES (?, ?)').run(...r)
    })
    const r = await signImport(chain, src, signer, { encrypt: { columns: [['patients', 'diagnosis'], ['patients', 'note']], recipients: [r1.publicKey, r2.publicKey] } })
    block1 = chain.dir.blockPath(r.block.height)
    ref.exec(DDL.replace('id INTEGER PRIMARY KEY', '_height INTEGER, id INTEGER'))
    for (const p of PATIENTS) ref.prepare('INSERT INTO patients VALUES (1, ?, ?, ?, ?, ?)').run(...p)
    ref.exec('CREATE TABLE codes (_height INTEGER, code TEXT, label TEXT)')
    for (const c of CODES) ref.prepare('INSERT INTO codes VALUES (1, ?, ?)').run(...c)
  }, 60_000)

  afterAll(async () => {
    await sandbox?.close()
    chain?.close()
    ref.close()
  })

  it('stores ciphertext only, and the block verifies without a key', async () => {
    const db = new Database(block1, { readonly: true })
    const vals = db.prepare('SELECT diagnosis, note, name FROM patients ORDER BY rowid').raw(true).all() as SqlValue[][]
    const recipients = db.prepare('SELECT block, recipient FROM _recipients ORDER BY recipient').raw(true).all()
    db.close()
    for (const [d, n, name] of vals) {
      expect(d).toBeInstanceOf(Uint8Array)
      expect(n).toBeInstanceOf(Uint8Array)
      expect(typeof name).toBe('string')
    }
    expect(recipients).toEqual([['', r1.id], ['', r2.id]].sort((a, b) => String(a[1]).localeCompare(String(b[1]))))
    for (const secret of ['line\nbreak', '"quoted"', 'é 🌸']) expect(readFileSync(block1).includes(Buffer.from(secret)), secret).toBe(false)
    const f = await readBlockFile(block1, { maxBytes: chain.params.maxBlockBytes })
    expect(f.recipients).toHaveLength(2)
  })

  it('a row with encrypted columns is proven and verified without any key: the proof carries the ciphertext', async () => {
    const { signTipCheckpoints, proveRows, parseTrustFile, verifyProof } = await import('../../../src/proof/index.js')
    const { publicKeyToPem } = await import('../../../src/crypto/index.js')
    await signTipCheckpoints(chain, signer)
    const doc = await proveRows(chain, { height: 1, table: 'patients', rows: [{ rowid: 5n }] })
    const text = JSON.stringify(doc)
    expect(text).not.toContain('asthma')
    const trust = await parseTrustFile(publicKeyToPem(signer.publicKey))
    if (typeof trust === 'string') throw new Error(trust)
    const report = await verifyProof(text, trust)
    expect(report.failure).toBeUndefined()
  })

  const QUERIES = [
    "SELECT id, name FROM patients WHERE diagnosis = 'flu' ORDER BY id",
    'SELECT diagnosis, count(*), sum(age) FROM patients GROUP BY diagnosis ORDER BY diagnosis',
    'SELECT p.name, c.label FROM patients p JOIN codes c ON c.code = p.diagnosis ORDER BY p.id',
    'SELECT id, length(note), note FROM patients ORDER BY id',
    'SELECT * FROM patients ORDER BY _height, id'
  ]

  for (const sql of QUERIES) {
    it(`a recipient's query equals the plaintext table: ${sql}`, async () => {
      for (const k of [r1, r2]) {
        const got = await rowsOf(chain, sandbox, sql, { decrypt: asRecipient(k) })
        const want = referenceRows(ref, sql)
        expect(got.columns).toEqual(want.columns)
        expect(got.rows).toEqual(want.rows)
        expect(got.rows.length).toBeGreaterThan(0)
      }
    })
  }

  it('a node without the key sees ciphertext BLOBs and a note; so does --no-decrypt', async () => {
    for (const decrypt of [asRecipient(outsider), undefined]) {
      const got = await rowsOf(chain, sandbox, 'SELECT typeof(diagnosis), typeof(note), name FROM patients ORDER BY id', { decrypt })
      expect(got.rows.every(r => r[0] === 'blob' && r[1] === 'blob')).toBe(true)
    }
  })

  it('export gives the rows back, decrypted for a recipient', async () => {
    let csv = ''
    const r = await exportTable(chain, { table: 'patients', format: 'csv', decrypt: asRecipient(r2), sandbox, onText: t => { csv += t } })
    expect(r.rowCount).toBe(PATIENTS.length)
    expect(csv.split('\r\n')[0]).toBe('id,name,diagnosis,age,note')
    expect(csv).toContain('1,ann,flu,31,é 🌸\r\n2,bob,cold,,""\r\n')
    const file = join(work, 'export.db')
    await exportTable(chain, { table: 'patients', format: 'sqlite', sqlitePath: file, decrypt: asRecipient(r1), sandbox })
    const db = new Database(file, { readonly: true })
    expect(db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'patients'").pluck().get()).toBe(DDL)
    expect(db.prepare('SELECT * FROM patients ORDER BY id').raw(true).safeIntegers(true).all()).toEqual(PATIENTS)
    db.close()
  })

  /** Seal a copy of block 1's content, changed by `edit`, as the next block (its _recipients kept). */
  async function tamperedBlock (edit: (db: Database.Database) => void): Promise<number> {
    const f = join(work, `t${chain.tip().height + 1}.db`)
    copyFileSync(block1, f)
    const db = new Database(f)
    edit(db)
    db.close()
    return (await signImport(chain, f, signer)).block.height
  }

  it('a ciphertext moved to another row, or another column, or with a changed tag: DECRYPT_FAILED naming the cell', async () => {
    const moved = await tamperedBlock(db => { db.exec('UPDATE patients SET diagnosis = (SELECT diagnosis FROM patients WHERE id = 1) WHERE id = 3') })
    const column = await tamperedBlock(db => { db.exec('UPDATE patients SET note = diagnosis WHERE id = 2') })
    const tag = await tamperedBlock(db => {
      const v = db.prepare('SELECT diagnosis FROM patients WHERE id = 5').pluck().get() as Buffer
      v[v.length - 1] = (v[v.length - 1] ?? 0) ^ 1
      db.prepare('UPDATE patients SET diagnosis = ? WHERE id = 5').run(v)
    })
    const cases: Array<[number, string, number]> = [[moved, 'diagnosis', 2], [column, 'note', 1], [tag, 'diagnosis', 4]]
    for (const [h, col, row] of cases) {
      const err = await failure(rowsOf(chain, sandbox, `SELECT ${col} FROM patients WHERE _height = ${h}`, { decrypt: asRecipient(r1) }))
      expect(err.code).toBe('DECRYPT_FAILED')
      expect(err.details).toMatchObject({ height: h, table: 'patients', column: col, row })
    }
    // Everyone can still read the ciphertext; the untouched block still decrypts.
    expect((await rowsOf(chain, sandbox, `SELECT count(*) FROM patients WHERE _height = ${moved}`)).rows).toEqual([[6n]])
    expect((await rowsOf(chain, sandbox, "SELECT count(*) FROM patients WHERE _height = 1 AND diagnosis = 'flu'", { decrypt: asRecipient(r1) })).rows).toEqual([[2n]])
  })

  it('a wrapped key for the wrong recipient: UNWRAP_FAILED', async () => {
    const h = await tamperedBlock(db => {
      const other = db.prepare('SELECT wrapped FROM _recipients WHERE recipient = ?').pluck().get(r2.id)
      db.prepare('UPDATE _recipients SET wrapped = ? WHERE recipient = ?').run(other, r1.id)
    })
    const err = await failure(rowsOf(chain, sandbox, `SELECT diagnosis FROM patients WHERE _height = ${h}`, { decrypt: asRecipient(r1) }))
    expect(err.code).toBe('UNWRAP_FAILED')
    expect(err.details).toMatchObject({ recipient: r1.id })
  })

  it('validation without keys: a wrong _recipients schema, a malformed row or a plaintext value is refused with a code', async () => {
    const variant = async (name: string, edit: (db: Database.Database) => void): Promise<string | undefined> => {
      const f = join(work, `${name}.db`)
      copyFileSync(block1, f)
      const db = new Database(f)
      edit(db)
      db.close()
      return (await failure(readBlockFile(f, { maxBytes: chain.params.maxBlockBytes }))).code
    }
    expect(await variant('schema', db => { db.exec('ALTER TABLE _recipients ADD COLUMN extra TEXT') })).toBe('RESERVED_SCHEMA')
    expect(await variant('schema2', db => { db.exec('DROP TABLE _recipients; CREATE TABLE _recipients (block TEXT, recipient TEXT, pubkey TEXT, wrapped BLOB, columns TEXT)') })).toBe('RESERVED_SCHEMA')
    expect(await variant('pubkey', db => { db.prepare('UPDATE _recipients SET pubkey = ? WHERE recipient = ?').run(outsider.publicKey.hex, r1.id) })).toBe('RECIPIENTS_MALFORMED')
    expect(await variant('wrapped', db => { db.exec("UPDATE _recipients SET wrapped = x'00'") })).toBe('RECIPIENTS_MALFORMED')
    expect(await variant('columns', db => { db.exec('UPDATE _recipients SET columns = \'[["patients","nope"]]\'') })).toBe('RECIPIENTS_MALFORMED')
    expect(await variant('plain', db => { db.exec("UPDATE patients SET diagnosis = 'flu' WHERE id = 1") })).toBe('CIPHERTEXT_MALFORMED')
    // And a signatory cannot seal such a block either: the same validation runs on its own blocks.
    const f = join(work, 'plain-input.db')
    copyFileSync(block1, f)
    const db = new Database(f)
    db.exec("UPDATE patients SET note = 'secret' WHERE id = 1")
    db.close()
    expect((await failure(signImport(chain, f, signer))).code).toBe('CIPHERTEXT_MALFORMED')
  })

  it('refuses what cannot be encrypted: ENCRYPT_REFUSED', async () => {
    const src = sqliteFile(join(work, 'bad.db'), db => { db.exec(DDL); db.exec("INSERT INTO patients VALUES (1, 'a', 'b', 1, 'c')"); db.exec('CREATE TABLE w (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID') })
    for (const columns of [[['patients', 'nope']], [['nope', 'x']], [['patients', 'id']], [['w', 'v']]] as Array<Array<[string, string]>>) {
      expect((await failure(signImport(chain, src, signer, { encrypt: { columns, recipients: [r1.publicKey] } }))).code).toBe('ENCRYPT_REFUSED')
    }
    expect((await failure(signImport(chain, src, signer, { encrypt: { columns: [['patients', 'name']], recipients: [] } }))).code).toBe('ENCRYPT_REFUSED')
  })

  it('adding a recipient later: a block that re-wraps block 1\'s data key lets the new recipient read block 1', async () => {
    const late = generateSigningKey()
    expect((await rowsOf(chain, sandbox, "SELECT count(*) FROM patients WHERE _height = 1 AND diagnosis = 'flu'", { decrypt: asRecipient(late) })).rows).toEqual([[0n]])
    const db = new Database(block1, { readonly: true })
    const row = db.prepare('SELECT wrapped, columns FROM _recipients WHERE recipient = ?').get(r1.id) as { wrapped: Uint8Array, columns: string }
    db.close()
    const dataKey = unwrapDataKey(row.wrapped, r1, chain.chainId)
    const hash = chain.index.byHeight(1)?.hash ?? ''
    await signImport(chain, undefined, signer, { rewrap: [{ block: hash, columns: JSON.parse(row.columns), dataKey, recipients: [late.publicKey] }] })
    expect((await rowsOf(chain, sandbox, "SELECT count(*) FROM patients WHERE _height = 1 AND diagnosis = 'flu'", { decrypt: asRecipient(late) })).rows).toEqual([[2n]])
  })
})

describe('a query mirror of the layout before _recipients', () => {
  it('is read as one without encrypted columns (a read-only directory cannot rebuild it)', async () => {
    const { chain } = await newTestChain({ key: fixtureKey('alice') })
    const sandbox = new QuerySandbox(chain.dir.root)
    try {
      expect((await rowsOf(chain, sandbox, 'SELECT count(*) FROM _blocks')).rows).toEqual([[1n]])
      const db = new Database(chain.dir.queryDb)
      db.exec('DROP TABLE _recipients')
      db.close()
      expect((await rowsOf(chain, sandbox, 'SELECT count(*) FROM _blocks', { sync: false, decrypt: { keys: [privateKeyToPkcs8(generateSigningKey())] } })).rows).toEqual([[1n]])
    } finally {
      await sandbox.close()
      chain.close()
    }
  })
})

describe('keystore: encryption keys are kept apart from signing keys', () => {
  it('never picks an encryption key to sign, and loads encryption keys to decrypt', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const e = ks.generate({ purpose: 'encrypt' })
    expect(e.purpose).toBe('encrypt')
    expect(() => ks.load()).toThrow(expect.objectContaining({ code: 'NO_KEYS' }))
    expect(() => ks.load(e.id)).toThrow(expect.objectContaining({ code: 'KEY_WRONG_PURPOSE' }))
    const s = ks.generate()
    expect(ks.load().id).toBe(s.id)
    expect(ks.loadEncryptionKeys().keys.map(k => k.id)).toEqual([e.id])
    expect(() => ks.setDefault(e.id)).toThrow(expect.objectContaining({ code: 'KEY_WRONG_PURPOSE' }))
    expect(importPrivateKey(ks.exportPrivate(e.id)).id).toBe(e.id)
  })
})
