import { describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { sha256File } from '../../src/crypto/index.js'

// The README walkthrough, run as a user would: separate `petal` processes on one data directory.
describe('petal CLI walkthrough', () => {
  it('init → signimportblock → blocks → block → verify → status, with --json for scripts', async () => {
    const dir = join(tmpDir(), 'data')
    const init = await petal(['--dir', dir, 'init'])
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toMatch(/tip\s+height 0/)
    // init is idempotent.
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)

    const src = makeSqlite(join(tmpDir(), 'readings.db'), 100, 1, 'readings')
    const before = await sha256File(src)
    const imp = await petal(['--dir', dir, '--json', 'signimportblock', src])
    expect(imp.code, imp.stderr).toBe(0)
    const r = JSON.parse(imp.stdout) as { status: string, height: number, hash: string, tables: Array<{ name: string, rows: number }> }
    expect(r).toMatchObject({ status: 'extended', height: 1 })
    expect(r.tables).toEqual([expect.objectContaining({ name: 'readings', rows: 100 })])
    expect(await sha256File(src), 'the user\'s file is not modified').toBe(before)

    const blocks = await petal(['--dir', dir, '--json', 'blocks'])
    expect(blocks.stdout.trim().split('\n').map(l => (JSON.parse(l) as { height: number }).height)).toEqual([1, 0])
    const one = await petal(['--dir', dir, 'block', r.hash.slice(0, 10)])
    expect(one.stdout).toContain('readings')
    expect(one.stdout).toContain(r.hash)

    const v = await petal(['--dir', dir, '--json', 'verify'])
    expect(v.code, v.stderr).toBe(0)
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, blocks: 2, tip_height: 1 })

    const st = await petal(['--dir', dir, '--json', 'status'])
    const s = JSON.parse(st.stdout) as { tip: { height: number, hash: string }, signatories: { active: number }, my_keys: Array<{ signatory: boolean }> }
    expect(s.tip).toMatchObject({ height: 1, hash: r.hash })
    expect(s.signatories.active).toBe(1)
    expect(s.my_keys[0]?.signatory).toBe(true)
  })

  it('adds a second signatory with signkey + signimportblock --keyops; the newcomer can then sign', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const other = join(tmpDir(), 'other')
    const gen = await petal(['--dir', other, '--json', 'keygen'])
    const newcomer = JSON.parse(gen.stdout) as { id: string, public_key: string }
    const endorsement = join(tmpDir(), 'e.json')
    const sk = await petal(['--dir', dir, 'signkey', newcomer.public_key, '--op', 'add', '--out', endorsement])
    expect(sk.code, sk.stderr).toBe(0)
    const add = await petal(['--dir', dir, '--json', 'signimportblock', makeSqlite(join(tmpDir(), 'x.db')), '--keyops', endorsement])
    expect(add.code, add.stderr).toBe(0)
    expect((JSON.parse(add.stdout) as { key_ops: number }).key_ops).toBe(1)
    // The newcomer's key, imported into this node's keystore, now signs.
    const exported = await petal(['--dir', other, 'keys', 'export', '--private'])
    const pem = join(tmpDir(), 'k.pem')
    writeFileSync(pem, exported.stdout)
    expect((await petal(['--dir', dir, 'keys', 'import', pem])).code).toBe(0)
    const signed = await petal(['--dir', dir, '--key', newcomer.id.slice(0, 12), 'signimportblock', makeSqlite(join(tmpDir(), 'y.db'))])
    expect(signed.code, signed.stderr).toBe(0)
    const mk = await petal(['--dir', dir, '--json', 'mykeys'])
    expect((JSON.parse(mk.stdout) as Array<{ id: string, signatory: string }>).find(k => k.id === newcomer.id)?.signatory).toMatch(/^yes/)
  })

  it('gives coded errors with hints and distinct exit statuses, never a default action', async () => {
    const dir = join(tmpDir(), 'data')
    const cases: Array<[string[], number, RegExp]> = [
      [['qurey'], 2, /unknown command/],
      [[], 2, /Usage: petal/],
      [['verify', '--bogus'], 2, /unknown option '--bogus'/],
      [['--dir', dir, 'status'], 4, /NOT_INITIALISED[\s\S]*hint: create one/],
      [['--dir', dir, 'newchain', join(dir, 'missing.json')], 2, /chain parameters file .*missing.json does not exist/],
      [['--dir', dir, 'verify', '--workers', '0'], 2, /--workers must be an integer from 1 to 64/],
      [['--dir', dir, 'signimportblock'], 2, /give the SQLite file to seal, or --keyops/],
      [['--dir', CLI, 'status'], 4, /is not a directory[\s\S]*hint: --dir/]
    ]
    for (const [args, status, pattern] of cases) {
      const r = await petal(args)
      expect(r.code, args.join(' ')).toBe(status)
      expect(r.stderr, args.join(' ')).toMatch(pattern)
    }
    const bad = await petal(['--json', 'verify', '--bogus'])
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'USAGE', message: "unknown option '--bogus'" } })
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const nosuch = await petal(['--dir', dir, 'block', '999'])
    expect(nosuch.code).toBe(2)
    expect(nosuch.stderr).toMatch(/BLOCK_NOT_FOUND[\s\S]*hint: /)
    const missing = await petal(['--dir', dir, '--json', 'signimportblock', join(dir, 'nope.db')])
    expect(missing.code).toBe(3)
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'FILE_NOT_FOUND' } })
    const wal = join(tmpDir(), 'wal.db')
    makeSqlite(wal)
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(wal)
    db.pragma('journal_mode = WAL')
    db.close()
    const w = await petal(['--dir', dir, 'signimportblock', wal])
    expect(w.code).toBe(3)
    expect(w.stderr).toMatch(/WAL_MODE[\s\S]*hint: /)
    // Nothing changed.
    expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 0 } })
  })

  it('newchain refuses a data directory that already holds a chain', async () => {
    const dir = join(tmpDir(), 'data')
    const params = join(tmpDir(), 'p.json')
    writeFileSync(params, JSON.stringify({ creator: 'me', description: 'mine', quorum_rule: 'majority' }))
    const made = await petal(['--dir', dir, '--json', 'newchain', params])
    expect(made.code, made.stderr).toBe(0)
    expect(JSON.parse(made.stdout)).toMatchObject({ quorum_rule: 'majority' })
    const again = await petal(['--dir', dir, 'newchain', params])
    expect(again.code).toBe(4)
    expect(again.stderr).toContain('DATA_DIR_NOT_EMPTY')
  })

  it('newchain that refuses changes nothing: no key generated, no directory left behind', async () => {
    const params = join(tmpDir(), 'p.json')
    writeFileSync(params, JSON.stringify({ creator: 'me', description: 'mine' }))
    const busy = join(tmpDir(), 'busy')
    mkdirSync(busy)
    writeFileSync(join(busy, 'notes.txt'), 'mine')
    const r = await petal(['--dir', busy, 'newchain', params])
    expect(r.code).toBe(4)
    expect(r.stderr).not.toContain('generated')
    expect(readdirSync(busy)).toEqual(['notes.txt'])
    // A genesis in the future would freeze the chain: no block could follow it.
    const future = join(tmpDir(), 'future.json')
    writeFileSync(future, JSON.stringify({ creator: 'me', description: 'mine', genesis_block_timestamp: '2999-01-01T00:00:00Z' }))
    const fresh = join(tmpDir(), 'fresh')
    const f = await petal(['--dir', fresh, 'newchain', future])
    expect(f.code).toBe(4)
    expect(f.stderr).toMatch(/CHAINPARAMS_INVALID[\s\S]*hint: /)
    expect(existsSync(fresh)).toBe(false)
  })

  it('keys: an empty passphrase file is refused, not taken as "no encryption"; export never overwrites', async () => {
    const dir = join(tmpDir(), 'keys')
    const empty = join(tmpDir(), 'empty-pass')
    writeFileSync(empty, '')
    const r = await petal(['--dir', dir, '--passphrase-file', empty, 'keygen'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/passphrase-file .* is empty[\s\S]*hint: /)
    expect(existsSync(join(dir, 'keystore'))).toBe(false)
    const plain = await petal(['--dir', dir, 'keygen'], { env: { PETAL_PASSPHRASE: '' } })
    expect(plain.stdout).toContain('(unencrypted)')
    const notes = join(tmpDir(), 'notes.txt')
    writeFileSync(notes, 'mine', { mode: 0o644 })
    const x = await petal(['--dir', dir, 'keys', 'export', '--private', '-o', notes], { env: { PETAL_PASSPHRASE: '' } })
    expect(x.code).toBe(2)
    expect(x.stderr).toContain('already exists')
    expect(readFileSync(notes, 'utf8')).toBe('mine')
  })
})
