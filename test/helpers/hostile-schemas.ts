import type Database from 'better-sqlite3'

/**
 * Hostile schemas: virtual tables in every disguise (written straight into sqlite_schema with
 * writable_schema, as SQLite's own CREATE never would: comments, odd case and whitespace), real
 * virtual tables with their shadow tables, views, triggers, and rows that disagree with their own
 * statement. `edit` changes a writable database that already holds an ordinary table `t`; `code`
 * is what every entry point (signimportblock, import, a peer, verify, reindex) must refuse it with.
 */
export interface HostileSchema {
  name: string
  code: 'SCHEMA_NOT_ALLOWED' | 'CORRUPT'
  edit: (db: Database.Database) => void
}

/** Insert rows into sqlite_schema directly (what `PRAGMA writable_schema` lets anyone do). */
function writeSchema (db: Database.Database, rows: Array<[string, string, string, number, string | null]>): void {
  db.unsafeMode(true)
  db.pragma('writable_schema = ON')
  const ins = db.prepare('INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES (?, ?, ?, ?, ?)')
  for (const r of rows) ins.run(...r)
  db.pragma('writable_schema = OFF')
  db.unsafeMode(false)
}

/** Give an existing object's CREATE text another spelling, straight in sqlite_schema. */
function respell (db: Database.Database, name: string, sql: string): void {
  db.unsafeMode(true)
  db.pragma('writable_schema = ON')
  db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(sql, name)
  db.pragma('writable_schema = OFF')
  db.unsafeMode(false)
}

/**
 * A real rtree table (with its shadow tables and a row) whose CREATE text is disguised. Petal's
 * old text check missed it and hashed its rows like any table's, so an older Petal sealed and
 * accepted such blocks (deterministically: rtree content reads the same every time).
 */
export function disguisedRtree (db: Database.Database): void {
  db.unsafeMode(true)
  db.exec('CREATE VIRTUAL TABLE rt USING rtree(id, a, b); INSERT INTO rt VALUES (1, 0.5, 2.5)')
  db.unsafeMode(false)
  respell(db, 'rt', 'create/**/VIRTUAL table rt USING rtree(id, a, b)')
}

const vt = (name: string, sql: string): HostileSchema['edit'] => db => { writeSchema(db, [['table', name, name, 0, sql]]) }

export const HOSTILE_SCHEMAS: HostileSchema[] = [
  { name: 'a real rtree table, its CREATE text disguised', code: 'SCHEMA_NOT_ALLOWED', edit: disguisedRtree },
  {
    name: 'a real fts5 table, its CREATE text disguised (CREATE/**/VIRTUAL)',
    code: 'SCHEMA_NOT_ALLOWED',
    edit: db => {
      db.unsafeMode(true)
      db.exec("CREATE VIRTUAL TABLE vv USING fts5(x); INSERT INTO vv (x) VALUES ('hello')")
      db.unsafeMode(false)
      respell(db, 'vv', 'CREATE/**/VIRTUAL TABLE vv USING fts5(x)')
    }
  },
  { name: 'a bare fts5 row behind a comment', code: 'SCHEMA_NOT_ALLOWED', edit: vt('vb', 'CREATE/**/VIRTUAL TABLE vb USING fts5(x)') },
  { name: 'fts5 with a comment between VIRTUAL and TABLE', code: 'SCHEMA_NOT_ALLOWED', edit: vt('vc', 'CREATE VIRTUAL/* */TABLE vc USING fts5(x)') },
  { name: 'rtree behind a line comment', code: 'SCHEMA_NOT_ALLOWED', edit: vt('rl', 'CREATE--\nVIRTUAL TABLE rl USING rtree(id, a, b)') },
  { name: 'fts4 in lower case with tabs and newlines', code: 'SCHEMA_NOT_ALLOWED', edit: vt('v4', 'create\tvirtual\n  table v4 using fts4(x)') },
  { name: 'rtree in mixed case with a comment before the name', code: 'SCHEMA_NOT_ALLOWED', edit: vt('rt', 'cReAtE VirTual TABLE/*x*/rt USING rtree(id, a, b)') },
  { name: 'rtree_i32', code: 'SCHEMA_NOT_ALLOWED', edit: vt('ri', 'CREATE VIRTUAL TABLE ri USING rtree_i32(id, a, b)') },
  { name: 'geopoly', code: 'SCHEMA_NOT_ALLOWED', edit: vt('gp', 'CREATE VIRTUAL TABLE gp USING geopoly(a)') },
  { name: 'fts3 with -- comment and trailing spaces', code: 'SCHEMA_NOT_ALLOWED', edit: vt('v3', 'CREATE -- a comment\nVIRTUAL TABLE v3 USING fts3(x)   ') },
  { name: 'fts5vocab', code: 'SCHEMA_NOT_ALLOWED', edit: vt('vocab', "CREATE VIRTUAL TABLE vocab USING fts5vocab('t', 'row')") },
  { name: 'dbstat', code: 'SCHEMA_NOT_ALLOWED', edit: vt('ds', 'CREATE VIRTUAL TABLE ds USING dbstat') },
  { name: 'json_each (a module SQLite does not list)', code: 'SCHEMA_NOT_ALLOWED', edit: vt('je', 'CREATE VIRTUAL TABLE je USING json_each') },
  { name: 'a module nobody has', code: 'SCHEMA_NOT_ALLOWED', edit: vt('nm', 'CREATE VIRTUAL TABLE nm USING no_such_module(x)') },
  { name: 'a real fts5 table with its shadow tables', code: 'SCHEMA_NOT_ALLOWED', edit: db => { db.unsafeMode(true); db.exec("CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs (body) VALUES ('hello world')"); db.unsafeMode(false) } },
  { name: 'a virtual table whose row names it in another case', code: 'SCHEMA_NOT_ALLOWED', edit: db => { writeSchema(db, [['table', 'VV', 'VV', 0, 'CREATE VIRTUAL TABLE vv USING fts5(x)']]) } },
  { name: 'an ordinary table whose row names it in another case', code: 'SCHEMA_NOT_ALLOWED', edit: db => { db.exec('CREATE TABLE u (x)'); db.unsafeMode(true); db.pragma('writable_schema = ON'); db.exec("UPDATE sqlite_schema SET name = 'U', tbl_name = 'U' WHERE name = 'u'"); db.pragma('writable_schema = OFF'); db.unsafeMode(false) } },
  { name: 'a view in odd whitespace', code: 'SCHEMA_NOT_ALLOWED', edit: db => { writeSchema(db, [['view', 'vw', 'vw', 0, 'create\n\tview   vw as select 1 as one']]) } },
  { name: 'a trigger in odd case', code: 'SCHEMA_NOT_ALLOWED', edit: db => { writeSchema(db, [['trigger', 'tr', 't', 0, 'Create Trigger tr After Insert On t Begin Select 1; End']]) } },
  { name: 'a view that calls itself a table', code: 'CORRUPT', edit: db => { writeSchema(db, [['table', 'vw', 'vw', 0, 'CREATE VIEW vw AS SELECT 1']]) } },
  { name: 'a virtual table that calls itself an index', code: 'CORRUPT', edit: db => { writeSchema(db, [['index', 'vx', 'vx', 0, 'CREATE VIRTUAL TABLE vx USING fts5(x)']]) } },
  { name: 'a trigger that calls itself a table', code: 'CORRUPT', edit: db => { writeSchema(db, [['table', 'tr', 't', 0, 'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END']]) } },
  { name: 'a virtual table under another name', code: 'CORRUPT', edit: db => { writeSchema(db, [['table', 'innocent', 'innocent', 0, 'CREATE VIRTUAL TABLE vv USING fts5(x)']]) } },
  { name: 'a virtual table with leading whitespace', code: 'CORRUPT', edit: vt('lw', '  CREATE VIRTUAL TABLE lw USING fts5(x)') }
]
