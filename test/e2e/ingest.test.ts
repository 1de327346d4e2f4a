import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, petal, petalInProcess, type Exit } from '../helpers/cli.js'
import { spawnNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Records from the command line, as a user would write them: petal append / seal / receipt, and
// signimportblock of a CSV file, in separate processes on one data directory.

async function withStdin (args: string[], input: string): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(input)
  return await new Promise<Exit>(resolve => { child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
}

async function initDir (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  // In this process: a set-up, not what the tests check.
  const r = await petalInProcess(['--dir', dir, 'init'])
  expect(r.code, r.stderr).toBe(0)
  return dir
}

const json = <T>(r: Exit): T => {
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as T
}

describe('petal append / seal / receipt', () => {
  it('appends CSV, NDJSON and stdin, prints receipts, seals them, and answers receipts; the rows read back exactly', async () => {
    const dir = await initDir()
    const work = tmpDir()
    writeFileSync(join(work, 'r.csv'), 'sensor,value,at\r\nA,9223372036854775807,1.5\r\n"B, west",-3,2.0\r\n')
    const a = await petal(['--dir', dir, 'append', 'readings', join(work, 'r.csv')])
    expect(a.code, a.stderr).toBe(0)
    const receipts = a.stdout.trim().split('\n')
    expect(receipts).toHaveLength(2)
    expect(a.stderr).toMatch(/2 row\(s\) of CSV .*\(new table\)[\s\S]*seal them with `petal --dir \S+ seal`/)
    const b = json<{ receipts: string[], added_columns: string[] }>(await withStdin(['--dir', dir, '--json', 'append', 'readings', '-'], '{"sensor": "C", "value": 7, "note": "new field"}\n'))
    expect(b.added_columns).toEqual(['note'])
    receipts.push(...b.receipts)

    const pending = json<{ state: string, table: string }>(await petal(['--dir', dir, '--json', 'receipt', receipts[0] as string]))
    expect(pending).toMatchObject({ state: 'pending', table: 'readings' })

    // The hint said `petal seal`: it works.
    const s = await petal(['--dir', dir, 'seal'])
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/^block 1 [0-9a-f]{64}: 3 row\(s\)$/m)
    const sealed = json<{ state: string, sealed: { height: number, rowid: string, table: string } }>(await petal(['--dir', dir, '--json', 'receipt', receipts[2] as string]))
    expect(sealed).toMatchObject({ state: 'sealed', sealed: { height: 1, rowid: '3', table: 'readings' } })
    expect((await petal(['--dir', dir, 'receipt', receipts[0] as string])).stdout).toMatch(/sealed in block 1 [0-9a-f]{64}, table readings, rowid 1/)

    const q = await petal(['--dir', dir, 'query', '-f', 'csv', 'SELECT sensor, value, at, note FROM readings'])
    expect(q.stdout).toBe('sensor,value,at,note\r\nA,9223372036854775807,1.5,\r\n"B, west",-3,2.0,\r\nC,7,,new field\r\n')
    expect((await petal(['--dir', dir, '--json', 'seal'])).stdout.trim()).toBe('{"rows":0,"blocks":[]}')
  })

  it('signimportblock seals a CSV file as a table: `petal query -f csv` output read back is identical', async () => {
    const dir = await initDir()
    const work = tmpDir()
    // (-0.0 is left out: SQLite itself stores an integral REAL as an integer, so it reads back as 0.0.)
    const csv = 'id,name,score,raw\r\n1,"",0.1,\\x00ff\r\n2,,1e999,\r\n3,\\\\x00,-2.5e-300,\\x\r\n4,007,1.0,\r\n'
    writeFileSync(join(work, 'in.csv'), csv)
    const imp = json<{ height: number, tables: Array<{ name: string, rows: number, sql: string }> }>(await petal(['--dir', dir, '--json', 'signimportblock', join(work, 'in.csv'), '--table', 'people']))
    expect(imp.tables).toMatchObject([{ name: 'people', rows: 4, sql: 'CREATE TABLE "people" ("id" INTEGER, "name" TEXT, "score" REAL, "raw" BLOB)' }])
    const q = await petal(['--dir', dir, 'query', '-f', 'csv', 'SELECT id, name, score, raw FROM people'])
    expect(q.stdout).toBe(csv)
    writeFileSync(join(work, 'out.csv'), q.stdout)
    const noTable = await petal(['--dir', dir, 'signimportblock', join(work, 'out.csv')])
    expect(noTable.code).toBe(2)
    expect(noTable.stderr).toMatch(/--table NAME/)
    // And through append into a table of the same name: typed by its columns, the same rows.
    expect((await petal(['--dir', dir, 'append', 'people', join(work, 'out.csv')])).code).toBe(0)
    expect((await petal(['--dir', dir, 'seal'])).code).toBe(0)
    const again = await petal(['--dir', dir, 'query', '-f', 'csv', 'SELECT id, name, score, raw FROM people WHERE _height = 2'])
    expect(again.stdout).toBe(csv)
  })

  it('declares a table with --schema and refuses bad records with a coded error and a true hint, storing nothing', async () => {
    const dir = await initDir()
    const work = tmpDir()
    const decl = await petal(['--dir', dir, 'append', 'orders', '--schema', 'CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL CHECK (amount >= 0))'])
    expect(decl.code, decl.stderr).toBe(0)
    expect(decl.stdout).toMatch(/declared/)
    writeFileSync(join(work, 'bad.json'), '[{"customer": "a", "amount": 1}, {"customer": "b", "amount": "x"}]')
    const bad = await petal(['--dir', dir, 'append', 'orders', join(work, 'bad.json')])
    expect(bad.code).toBe(3)
    expect(bad.stderr).toMatch(/row 1, field "amount": expected a number, got text \[INGEST_TYPE_MISMATCH\]\n {2}hint: .*as declared/)
    writeFileSync(join(work, 'worse.ndjson'), '{"customer": "a"}\n{"customer": "b",}\n')
    const worse = await petal(['--dir', dir, '--json', 'append', 'orders', join(work, 'worse.ndjson')])
    expect(worse.code).toBe(3)
    expect(JSON.parse(worse.stdout)).toMatchObject({ error: { code: 'INGEST_MALFORMED', row: 1, line: 2 } })
    const conflict = await petal(['--dir', dir, 'append', 'orders', '--schema', 'CREATE TABLE orders (id INTEGER)'])
    expect(conflict.stderr).toMatch(/INGEST_TABLE_CONFLICT[\s\S]*hint: it was declared as: CREATE TABLE orders/)
    const injection = await petal(['--dir', dir, 'append', 'x"; DROP TABLE y; --', join(work, 'bad.json')])
    expect(injection.stderr).toMatch(/INGEST_BAD_TABLE/)
    const unknown = await petal(['--dir', dir, 'receipt', 'abcdefgh-1'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/INGEST_UNKNOWN_RECEIPT/)
    expect(json<{ rows: number }>(await petal(['--dir', dir, '--json', 'seal'])).rows).toBe(0)
  })

  it('refuses writes without a signatory key (exit 5), before storing anything', async () => {
    const dir = await initDir()
    const other = join(tmpDir(), 'other')
    const o = await petal(['--dir', other, 'keygen', '--plain'])
    expect(o.code, o.stderr).toBe(0)
    // A second key that is not a signatory, chosen with --key.
    const k = await petal(['--dir', dir, '--json', 'keygen', '--plain'])
    const id = (JSON.parse(k.stdout) as { id: string }).id
    const r = await withStdin(['--dir', dir, '--key', id, 'append', 't', '-'], '{"a": 1}\n')
    expect(r.code).toBe(5)
    expect(r.stderr).toMatch(/is not a signatory at height 0 \[INGEST_NOT_SIGNATORY\]\n {2}hint: .*signkey/)
    const status = json<{ rows: number }>(await petal(['--dir', dir, '--json', 'seal']))
    expect(status.rows).toBe(0)
  })

  it('beside a running node: the node seals appended rows by itself and announces them; `petal seal` waits its turn', async () => {
    const dir = await initDir()
    const node = await spawnNode(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--seal-every', '0.2'])
    try {
      const r = await withStdin(['--dir', dir, 'append', 'events', '-'], '{"n": 1}\n{"n": 2}\n')
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/The running node seals them/)
      const id = r.stdout.trim().split('\n')[1] as string
      await waitFor(async () => (await petal(['--dir', dir, '--json', 'receipt', id])).stdout.includes('"state":"sealed"'), { what: 'the node to seal the rows', timeout: 30_000, interval: 200 })
      expect(json<{ rows: number }>(await petal(['--dir', dir, '--json', 'seal'])).rows).toBe(0)
      const tip = json<{ tip: { height: number } }>(await petal(['--dir', dir, '--json', 'status']))
      expect(tip.tip.height).toBe(1)
      // The block is canonical: nothing to re-seal (NOT_ORPHANED; orphaned, it is INGEST_BLOCK_OWNED: reseal-ingest.test.ts).
      const hash = (JSON.parse((await petal(['--dir', dir, '--json', 'receipt', id])).stdout) as { sealed: { block_hash: string } }).sealed.block_hash
      const re = await petal(['--dir', dir, 'reseal', hash])
      expect(re.code).toBe(2)
      expect(re.stderr).toMatch(/NOT_ORPHANED/)
    } finally {
      expect(await node.stop()).toBe(0)
    }
    expect(readFileSync(join(dir, 'pending.db')).subarray(0, 15).toString()).toBe('SQLite format 3')
  }, 90_000)
})

describe('petal append - on a terminal', () => {
  // A real terminal (a pseudo-terminal from util-linux's `script`), so Ctrl-C is the byte 0x03 that
  // the terminal turns into SIGINT, as a user would press it.
  it('says how to end the input, and Ctrl-C stops it while it waits, appending nothing', async () => {
    const dir = await initDir()
    const cmd = [process.execPath, CLI, '--dir', dir, 'append', 'readings', '-'].map(a => `'${a}'`).join(' ')
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const exit = new Promise<number | null>(resolve => { child.on('close', code => { resolve(code) }) })
    await waitFor(() => out.includes('reading records from the terminal'), { what: 'append to wait for records' })
    child.stdin.write('{"sensor": "A", "value": 1}\n\u0003')
    expect(await exit, out).toBe(130)
    expect(out).toContain('petal: interrupted')
    expect(out).not.toMatch(/stored as pending/)
    expect(json<{ rows: number }>(await petal(['--dir', dir, '--json', 'seal']))).toMatchObject({ rows: 0 })
  })
})
