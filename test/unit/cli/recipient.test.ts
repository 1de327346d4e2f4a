import Database from 'better-sqlite3'
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petalInProcess } from '../../helpers/cli.js'
import { asRoot, otherUserCanRun, runAsOtherUserWith } from '../../helpers/other-user.js'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

// An encryption recipient named by its id is looked up in the query mirror's _recipients. A mirror
// that cannot be read is not "no such recipient": the user would go looking for a wrong id.

async function ok (args: string[]): Promise<string> {
  const r = await petalInProcess(args)
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0)
  return r.stdout
}

describe('resolving a recipient through the query mirror', () => {
  it('a damaged query.db gives MIRROR_UNAVAILABLE and its hint, not "no recipient"; after `petal reindex --query` the recipient resolves', async () => {
    const dir = join(tmpDir(), 'data')
    const other = join(tmpDir(), 'other')
    await ok(['--dir', dir, 'init'])
    const id = (JSON.parse(await ok(['--dir', other, '--json', 'keys', 'generate', '--purpose', 'encrypt'])) as { id: string }).id
    const pem = join(tmpDir(), 'r.pem')
    await ok(['--dir', other, 'keys', 'export', id, '-o', pem])
    const csv = join(tmpDir(), 'p.csv')
    writeFileSync(csv, 'id,secret\n1,alpha\n')
    await ok(['--dir', dir, 'signimportblock', csv, '--table', 'p', '--encrypt', 'p.secret', '--recipient', pem])
    const byId = ['--dir', dir, 'signimportblock', csv, '--table', 'p', '--encrypt', 'p.secret', '--recipient', id.slice(0, 12)]
    await ok(byId)

    const queryDb = join(dir, 'query.db')
    for (const f of ['-wal', '-shm']) rmSync(queryDb + f, { force: true })
    writeFileSync(queryDb, Buffer.alloc(8192, 0x5a))
    const damaged = await petalInProcess(byId)
    expect(damaged.stderr).not.toContain('no recipient')
    expect(damaged.stderr).toContain('MIRROR_UNAVAILABLE')
    expect(damaged.stderr).toContain(`\`petal --dir ${dir} reindex --query\``)
    // The hint holds.
    await ok(['--dir', dir, 'reindex', '--query'])
    await ok(byId)
    // No mirror at all is the true absence.
    rmSync(queryDb)
    const none = await petalInProcess(byId)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain(`no recipient ${id.slice(0, 12)}`)
  }, 60_000)

  it.skipIf(!otherUserCanRun)('a query.db with a killed writer\'s journal, for a user who cannot roll it back: WRITE_INTERRUPTED, not "no recipient"', () => {
    const base = tmpDir()
    chmodSync(base, 0o755)
    const dir = join(base, 'data')
    mkdirSync(dir)
    const queryDb = join(dir, 'query.db')
    // A mirror naming a recipient, then a writer killed mid-transaction (its pages spilled into the file).
    const src = join(base, 'src.db')
    const db = new Database(src)
    db.exec('CREATE TABLE _recipients (_height INTEGER NOT NULL, block TEXT NOT NULL, recipient TEXT NOT NULL, pubkey TEXT NOT NULL, wrapped BLOB NOT NULL, columns TEXT NOT NULL)')
    db.prepare('INSERT INTO _recipients VALUES (1, ?, ?, ?, x\'00\', ?)').run('b'.repeat(64), '1:' + 'c'.repeat(64), 'pk', '["p.secret"]')
    db.pragma('cache_size = 2')
    db.exec('BEGIN')
    const insert = db.prepare('INSERT INTO _recipients VALUES (2, ?, ?, ?, ?, ?)')
    for (let i = 0; i < 2_000; i++) insert.run('b'.repeat(64), '1:' + 'd'.repeat(64), 'pk', Buffer.alloc(200), '[]')
    copyFileSync(src, queryDb)
    copyFileSync(`${src}-journal`, `${queryDb}-journal`)
    db.exec('ROLLBACK')
    db.close()
    // The suite's bundle of what the child imports (test/helpers/recipient-entry.ts), not src through tsx.
    const entry = entryOf(join(import.meta.dirname, '..', '..', 'helpers', 'recipient-entry.ts'))
    try {
      chmodSync(dir, asRoot ? 0o755 : 0o555)
      if (!asRoot) for (const f of ['query.db', 'query.db-journal']) chmodSync(join(dir, f), 0o444)
      const r = runAsOtherUserWith(loaderFor(entry), `const { resolveRecipient, StorageError } = await import(${JSON.stringify(entry)})
        const ctx = { signal: new AbortController().signal, keystore: () => ({ resolve: () => { throw new StorageError('NO_KEYS', 'no keys') } }) }
        try { await resolveRecipient(ctx, { dir: { queryDb: process.argv[1] } }, 'cccccccc'); console.log('resolved') }
        catch (e) { console.log(e.code + ': ' + e.message.slice(0, 40)) }`, queryDb)
      expect(r.stderr).toBe('')
      expect(r.stdout).toMatch(/^WRITE_INTERRUPTED: /)
    } finally {
      chmodSync(dir, 0o755)
    }
  })
})
