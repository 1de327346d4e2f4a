import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { neutraliseModules, openBlockReadonly, readBlockFile, readSchemaObjects, affinityOf } from '../../../src/block/index.js'
import { importBlock, signImport, type Chain } from '../../../src/chain/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { forge } from '../../fixtures/forge.js'
import { makeSqlite, newTestChain } from '../../helpers/chain.js'
import { disguisedRtree, HOSTILE_SCHEMAS } from '../../helpers/hostile-schemas.js'
import { tmpDir } from '../../helpers/tmp.js'

async function codeOf (p: Promise<unknown>): Promise<string> {
  try { await p; return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

let chain: Chain
let key: Awaited<ReturnType<typeof newTestChain>>['key']
let work: string

beforeAll(async () => {
  ({ chain, key } = await newTestChain())
  work = tmpDir()
})
afterAll(() => { chain.close() })

/** A block on the tip, valid but for `edit` applied to it last (after its manifest and _meta). */
async function hostileBlock (file: string, edit: (db: Database.Database) => void): Promise<{ path: string, seal: string }> {
  const tip = chain.tip()
  const path = join(work, file)
  const r = await forge({ out: path, key, chainId: chain.chainId, height: tip.height + 1, previousHash: tip.hash, timestamp: new Date().toISOString(), after: edit })
  return { path, seal: r.seal }
}

describe('hostile schemas are refused, by what SQLite reads, at every entry point', () => {
  for (const [i, h] of HOSTILE_SCHEMAS.entries()) {
    it(`${h.name}: signimportblock and import refuse it with ${h.code}, nothing changes`, async () => {
      const before = chain.tip()
      const input = makeSqlite(join(work, `in${i}.db`), 3, i)
      const db = new Database(input)
      h.edit(db)
      db.close()
      expect(await codeOf(signImport(chain, input, key)), 'signimportblock').toBe(h.code)
      const b = await hostileBlock(`b${i}.db`, h.edit)
      expect(await codeOf(importBlock(chain, b.path, b.seal)), 'import').toBe(h.code)
      expect(await codeOf(readBlockFile(b.path, { maxBytes: 1 << 26, quickCheck: false, checkManifest: false })), 'verify (shallow read)').toBe(h.code)
      expect(chain.tip()).toEqual(before)
    })
  }

  it('a block an older Petal accepted (a disguised rtree table hashed as an ordinary one) is refused', async () => {
    const tip = chain.tip()
    const path = join(work, 'old-accepted.db')
    const r = await forge({ out: path, key, chainId: chain.chainId, height: tip.height + 1, previousHash: tip.hash, timestamp: new Date().toISOString(), legacySchema: disguisedRtree })
    expect(await codeOf(importBlock(chain, path, r.seal))).toBe('SCHEMA_NOT_ALLOWED')
    expect(chain.tip()).toEqual(tip)
  })

  it('a virtual table named _meta is refused before anything reads it', async () => {
    const b = await hostileBlock('vmeta.db', db => {
      db.exec('DROP TABLE _meta')
      db.exec('CREATE VIRTUAL TABLE _meta USING fts5(key, value)')
    })
    expect(await codeOf(importBlock(chain, b.path, b.seal))).toBe('SCHEMA_NOT_ALLOWED')
  })

  it('inspecting a real fts5 table runs none of fts5: its module is inert on block connections, and the verdict names it', () => {
    const path = join(work, 'fts.db')
    const db = new Database(path)
    db.exec("CREATE TABLE t (x); CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs (body) VALUES ('hello')")
    // fts5's hidden rank column, read through the real module, is what made manifests differ.
    expect(db.prepare("SELECT count(*) AS n FROM docs WHERE docs MATCH 'hello'").get()).toEqual({ n: 1 })
    db.close()
    const ro = openBlockReadonly(path)
    try {
      expect(() => readSchemaObjects(ro)).toThrow(/virtual tables are not allowed in a block \("docs" USING fts5\)/)
      expect(() => ro.prepare('SELECT * FROM docs').all()).toThrow(/disabled on block connections/)
    } finally {
      ro.close()
    }
  })

  it('shadow tables left behind without their virtual table are ordinary tables (the same verdict on every node)', async () => {
    const input = join(work, 'orphan-shadow.db')
    const db = new Database(input)
    db.exec("CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs (body) VALUES ('hello')")
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    db.exec("DELETE FROM sqlite_schema WHERE name = 'docs'")
    db.close()
    const r = await signImport(chain, input, key)
    expect(chain.index.tablesOf(r.block.hash).map(t => t.name)).toEqual(['docs_config', 'docs_content', 'docs_data', 'docs_docsize', 'docs_idx'])
  })

  it('SQLite checks each sqlite_schema row against its own statement (the rule the verdicts rely on)', () => {
    // If a build of SQLite stopped checking, rows could lie about what they create.
    const path = join(work, 'lie.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (x)')
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    db.prepare("INSERT INTO sqlite_schema VALUES ('table', 'x', 'x', 0, 'CREATE VIEW y AS SELECT 1')").run()
    db.close()
    const ro = new Database(path, { readonly: true })
    neutraliseModules(ro)
    expect(() => ro.prepare('SELECT * FROM sqlite_schema').all()).toThrow(/malformed database schema/)
    ro.close()
  })

  it('affinity of a declared type follows SQLite, folding ASCII case only', () => {
    const db = new Database(':memory:')
    for (const t of ['INT', 'varchar(10)', 'FLOATBLOB', 'BLOBFLOAT', 'DOUBLECHAR', 'ınt', 'ſtring', 'ﬂoat', 'ﬂoatint', 'NUMBER', '', 'CLOB', 'charint']) {
      db.exec(`CREATE TABLE c (x ${t})`)
      // What SQLite does with the text '12' in such a column tells its affinity.
      db.prepare('INSERT INTO c VALUES (?)').run('12')
      const stored = db.prepare('SELECT typeof(x) AS t FROM c').get() as { t: string }
      const want = { INTEGER: 'integer', NUMERIC: 'integer', TEXT: 'text', BLOB: 'text', REAL: 'real' }[affinityOf(t)]
      expect(stored.t, t).toBe(want)
      db.exec('DROP TABLE c')
    }
    db.close()
  })
})
