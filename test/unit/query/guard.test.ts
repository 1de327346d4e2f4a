import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { checkCompiled, checkStatementText, explainedPart } from '../../../src/query/sandbox/guard.js'
import { tokenize } from '../../../src/query/sandbox/tokenize.js'

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

describe('statement guard', () => {
  it('tokenizes strings, quoted names and comments without being fooled by them', () => {
    const t = tokenize("SELECT 'a''--b', \"x\"\"y\" /* c */ FROM [t] -- tail\n;")
    expect(t.map(x => x.kind)).toEqual(['word', 'string', 'punct', 'quoted', 'word', 'quoted', 'punct'])
    expect(t[1]?.text).toBe("'a''--b'")
  })

  it('refuses ATTACH and DETACH with their own code, however they are written', () => {
    for (const sql of ["ATTACH 'x.db' AS x", "  /* hi */ attach database 'x.db' as y", 'DETACH x', "EXPLAIN ATTACH 'x' AS y"]) {
      expect(codeOf(() => checkStatementText(sql)), sql).toBe('QUERY_ATTACH_REFUSED')
    }
  })

  it('refuses PRAGMAs that set anything and allows read-only introspection', () => {
    for (const sql of ['PRAGMA query_only = 0', 'PRAGMA journal_mode=DELETE', 'pragma main.writable_schema = 1', 'PRAGMA cache_size(5)', 'PRAGMA trusted_schema=ON',
      'PRAGMA optimize', 'PRAGMA wal_checkpoint', 'PRAGMA hard_heap_limit = 1', 'PRAGMA "query_only" = false']) {
      expect(codeOf(() => checkStatementText(sql)), sql).toBe('QUERY_PRAGMA_REFUSED')
    }
    for (const sql of ['PRAGMA table_info(t)', 'pragma main.index_list("t")', 'PRAGMA compile_options', 'PRAGMA table_list;', 'SELECT * FROM pragma_table_info(\'t\')']) {
      expect(codeOf(() => checkStatementText(sql)), sql).toBeUndefined()
    }
  })

  it('sees the statement behind leading empty statements, as SQLite does', () => {
    expect(codeOf(() => checkStatementText('; PRAGMA mmap_size=268435456'))).toBe('QUERY_PRAGMA_REFUSED')
    expect(codeOf(() => checkStatementText(" ;; ATTACH '/tmp/evil.db' AS e"))).toBe('QUERY_ATTACH_REFUSED')
    expect(codeOf(() => checkStatementText('; ; DELETE FROM t'))).toBe('QUERY_NOT_READONLY')
    expect(explainedPart('; EXPLAIN QUERY PLAN SELECT 1')).toBe('SELECT 1')
  })

  it('refuses load_extension as a function, but not the word in a string', () => {
    expect(codeOf(() => checkStatementText("SELECT load_extension('/tmp/x.so')"))).toBe('QUERY_EXTENSION_REFUSED')
    expect(codeOf(() => checkStatementText("SELECT \"LOAD_EXTENSION\" ('/tmp/x.so')"))).toBe('QUERY_EXTENSION_REFUSED')
    expect(codeOf(() => checkStatementText("SELECT 'load_extension(1)' AS s"))).toBeUndefined()
  })

  it('refuses database_list however its table is named, a string literal included (SQLite takes one as a name)', () => {
    const db = new Database(':memory:')
    for (const sql of ['PRAGMA database_list', 'SELECT file FROM pragma_database_list', 'SELECT * FROM "PRAGMA_DATABASE_LIST"', "SELECT file FROM 'pragma_database_list'",
      "SELECT file FROM main.'Pragma_Database_List'()", "SELECT 1 FROM t, 'pragma_database_list'"]) {
      if (!sql.includes(' t,')) expect(db.prepare(sql).all().length, sql).toBe(1) // SQLite reads each form
      expect(codeOf(() => checkStatementText(sql)), sql).toBe('QUERY_PRAGMA_REFUSED')
    }
    expect(codeOf(() => checkStatementText("SELECT x'00', 'pragma_table_list' FROM t"))).toBeUndefined()
    db.close()
  })

  it('refuses an empty statement', () => {
    for (const sql of ['', '   ', '-- nothing', ';']) expect(codeOf(() => checkStatementText(sql)), sql).toBe('QUERY_EMPTY')
  })

  it('finds the statement under an EXPLAIN prefix', () => {
    expect(explainedPart('EXPLAIN QUERY PLAN SELECT 1')).toBe('SELECT 1')
    expect(explainedPart(' explain select 2')).toBe('select 2')
    expect(explainedPart('SELECT 3')).toBe('SELECT 3')
  })

  it('lets only statements that read and return rows run', () => {
    const db = new Database(':memory:')
    db.exec('CREATE TABLE t (a)')
    const verdict = (sql: string): string | undefined => codeOf(() => { checkCompiled(db.prepare(sql)) })
    for (const sql of ['INSERT INTO t VALUES (1)', 'UPDATE t SET a = 2', 'DELETE FROM t', 'CREATE TABLE u (b)', 'DROP TABLE t', 'CREATE TEMP TABLE v (c)',
      "VACUUM INTO '/tmp/never.db'", 'ANALYZE', 'PRAGMA user_version = 3', 'EXPLAIN INSERT INTO t VALUES (1)']) {
      expect(verdict(sql), sql).toBe('QUERY_NOT_READONLY')
    }
    for (const sql of ['BEGIN', 'SAVEPOINT s', 'REINDEX', "ATTACH 'x' AS x"]) expect(verdict(sql), sql).toBe('QUERY_NOT_A_QUERY')
    for (const sql of ['SELECT * FROM t', 'WITH x AS (SELECT 1) SELECT * FROM x', 'VALUES (1)', 'EXPLAIN QUERY PLAN SELECT * FROM t']) expect(verdict(sql), sql).toBeUndefined()
    db.close()
  })
})
