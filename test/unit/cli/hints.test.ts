import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { petalInProcess, initInProcess, hintOf } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'
import { Keystore } from '../../../src/storage/index.js'

// Each hint Petal prints is true: following it gets the user further. Commander's hints are
// checked in usage.test.ts; here, hints that name a command outside petal, and usage errors that
// had none.

let dir: string
let work: string

beforeAll(async () => { ({ work, dir: dir } = await initInProcess('data')) }, 60_000)

/** Run `sqlite3 FILE 'SQL'` as a hint gives it: with the sqlite3 shell if installed, else the same SQL through SQLite. */
function runSqliteHint (hint: string, file: string): void {
  const m = /sqlite3 FILE '([^']+)'/.exec(hint)
  expect(m, `the hint gives a runnable sqlite3 command: ${hint}`).not.toBeNull()
  const sql = (m as RegExpExecArray)[1] as string
  if (spawnSync('sqlite3', ['--version']).status === 0) {
    expect(spawnSync('sqlite3', [file, sql]).status).toBe(0)
  } else {
    const db = new Database(file)
    db.prepare(sql).all()
    db.close()
  }
}

describe('hints are true', () => {
  it('a hot -journal: the command in the hint rolls it back, and the file can then be sealed', async () => {
    const file = join(work, 'hot.db')
    const db = new Database(file)
    db.exec('CREATE TABLE t (a TEXT)')
    db.close()
    // A process that dies in the middle of a large transaction leaves a hot journal behind.
    const writer = spawnSync(process.execPath, ['-e', `
      const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))})
      const d = new Database(${JSON.stringify(file)}); d.pragma('cache_size = 1'); d.exec('BEGIN')
      const ins = d.prepare('INSERT INTO t VALUES (?)'); for (let i = 0; i < 20000; i++) ins.run('x'.repeat(100))
      process.kill(process.pid, 'SIGKILL')`])
    expect(writer.signal).toBe('SIGKILL')
    expect(existsSync(file + '-journal')).toBe(true)

    const refused = await petalInProcess(['--dir', dir, 'signimportblock', file])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('[CORRUPT]')
    runSqliteHint(hintOf(refused.stderr), file)
    const sealed = await petalInProcess(['--dir', dir, '--json', 'signimportblock', file])
    expect(sealed.code, sealed.stderr).toBe(0)
  }, 60_000)

  it('a key that is not a signatory: the hint names the commands that make it one', async () => {
    const other = tmpDir()
    const k = new Keystore(join(other, 'keystore')).generate()
    // A newcomer's key, imported into this node's keystore.
    const pem = join(other, 'k.pem')
    writeFileSync(pem, (await petalInProcess(['--dir', other, 'keys', 'export', k.id, '--private'])).stdout)
    expect((await petalInProcess(['--dir', dir, 'keys', 'import', pem])).code).toBe(0)
    const src = join(work, 'x.db')
    new Database(src).exec('CREATE TABLE x (a)')
    const notYet = await petalInProcess(['--dir', dir, '--key', k.id, 'signimportblock', src])
    expect(notYet.stderr).toContain('[SIGNER_NOT_AUTHORISED]')
    const hint = hintOf(notYet.stderr)
    expect(hint).toContain(`\`petal --dir ${dir} mykeys\``) // this node's key: the user's --dir (hints32)
    expect(hint).toContain('`petal signkey PUBKEY --op add') // run by the signatories, on their nodes
    // Following it: the public key from mykeys, endorsed by the (only) signatory, sealed with --keyops.
    const mine = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'mykeys'])).stdout) as Array<{ id: string, public_key: string, default: boolean }>
    const pub = mine.find(m => m.id === k.id)?.public_key as string
    const signer = mine.find(m => m.default)?.id as string
    const e1 = join(work, 'e1.json')
    expect((await petalInProcess(['--dir', dir, '--key', signer, 'signkey', pub, '--op', 'add', '-o', e1])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, '--key', signer, 'signimportblock', '--keyops', e1])).code).toBe(0)
    const now = await petalInProcess(['--dir', dir, '--key', k.id, 'signimportblock', src])
    expect(now.code, now.stderr).toBe(0)
  }, 60_000)

  it('every usage error says what to do', async () => {
    const cases: string[][] = [
      ['pull', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '--genesis', 'abc'],
      ['import', 'a.db', '--from', work],
      ['import', '--from', work],
      ['import', 'a.db', 'b.db', '--seal', 'ab'],
      ['reseal', 'ffffffffffff'],
      ['keys', 'import', join(work, 'missing.pem')],
      ['keys', 'export', '-o', join(work, 'no', 'such', 'dir', 'k.pem')],
      ['signimportblock', '--keyops', join(work, 'missing.json')],
      ['signkey', 'ab', '--op', 'promote'],
      ['signkey', 'ab', '--op', 'add', '--meta', 'novalue'],
      ['--passphrase-file', join(work, 'missing.txt'), 'keygen']
    ]
    for (const args of cases) {
      const r = await petalInProcess(['--dir', dir, ...args])
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(hintOf(r.stderr), `${args.join(' ')} gives a hint: ${r.stderr}`).not.toBe('')
    }
  }, 60_000)
})
