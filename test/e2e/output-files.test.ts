// Files the user names for a command's output (`checkpoint -o`, `prove -o`, `query --prove`,
// `signkey -o`) through the built CLI: what they may not be (review32).
import { spawnSync } from 'node:child_process'
import { linkSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal, petalInProcess } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

describe('output files', () => {
  it('refuses a path into the data directory, by its name, `..` or a symlink: the note went over the signing key (its only copy), chain.db or a block (review32)', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const keyFile = join(dir, 'keystore', readdirSync(join(dir, 'keystore')).find(n => n.endsWith('.json')) ?? '')
    const key = readFileSync(keyFile, 'utf8')
    const block = join(dir, '0000', 'block_00000000.db')
    const blockBytes = readFileSync(block)
    const work = tmpDir()
    symlinkSync(join(dir, 'chain.db'), join(work, 'index-link'))
    symlinkSync(join(dir, 'keystore'), join(work, 'keys')) // keys/.. is the data directory to the kernel
    for (const out of [keyFile, join(dir, 'chain.db'), block, join(work, 'index-link'), `${join(work, 'keys')}/../chainparams.json`, join(dir, 'proof.txt')]) {
      const r = await petal(['--dir', dir, 'checkpoint', '-o', out])
      expect({ out, code: r.code }).toEqual({ out, code: 2 })
      expect(r.stderr).toContain(`cannot write ${out}: it is in the data directory`)
      expect(r.stderr).toContain('[USAGE]')
      expect(r.stderr).toContain('hint: choose a path outside')
    }
    expect(readFileSync(keyFile, 'utf8')).toBe(key)
    expect(readFileSync(block).equals(blockBytes)).toBe(true)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
    // As the hint says: outside it, the note is written.
    const note = join(work, 'checkpoint.note')
    expect((await petal(['--dir', dir, 'checkpoint', '-o', note])).code).toBe(0)
    expect(readFileSync(note, 'utf8')).toContain('\n— ')
  })

  it('refuses a hard link made outside the data directory to one of its files: the note replaced the signing key through it (review33)', async () => {
    // A file of several links is written in place (every name sees the new content), so the
    // data directory's name saw it too: `ln DIR/keystore/KEY.json key-backup.json` (or a `cp -al`
    // backup), then `checkpoint -o key-backup.json`, exited 0 and `status` said KEY_FILE_INVALID.
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const keyFile = join(dir, 'keystore', readdirSync(join(dir, 'keystore')).find(n => n.endsWith('.json')) ?? '')
    const key = readFileSync(keyFile, 'utf8')
    const work = tmpDir()
    const backup = join(work, 'key-backup.json')
    linkSync(keyFile, backup)
    const index = join(work, 'index.db')
    linkSync(join(dir, 'chain.db'), index)
    for (const out of [backup, index]) {
      const r = await petal(['--dir', dir, 'checkpoint', '-o', out])
      expect({ out, code: r.code }).toEqual({ out, code: 2 })
      expect(r.stderr).toContain(`cannot write ${out}: it is another name (a hard link) of ${out === backup ? keyFile : join(dir, 'chain.db')}, in the data directory`)
      expect(r.stderr).toContain(`hint: choose another path, or remove ${out} first`)
    }
    expect(readFileSync(keyFile, 'utf8')).toBe(key)
    expect((await petal(['--dir', dir, 'status'])).code).toBe(0)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
    // As the hint says: the link removed, the note is written there and the key stays.
    rmSync(backup)
    expect((await petal(['--dir', dir, 'checkpoint', '-o', backup])).code).toBe(0)
    expect(readFileSync(backup, 'utf8')).toContain('\n— ')
    expect(readFileSync(keyFile, 'utf8')).toBe(key)
  })

  it('signkey -o goes as the other commands\' -o: never into the data directory, nor into a descriptor it was not given (review32)', async () => {
    // It wrote with writeFileSync: `-o /dev/fd/18` truncated chain.db to the endorsement
    // (INDEX_CORRUPT), /dev/fd/20 (chain.db-shm, mapped) ended it with SIGBUS, -o DIR/chain.db
    // replaced the index, and a missing descriptor was an internal error.
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petal(['--dir', dir, 'keys', 'generate'])).code).toBe(0)
    const keys = JSON.parse((await petal(['--dir', dir, '--json', 'keys', 'list'])).stdout) as Array<{ public_key: string, default: boolean }>
    const newcomer = keys.find(k => !k.default)?.public_key ?? ''
    for (const out of [join(dir, 'chain.db'), ...[16, 17, 18, 19, 20, 21, 22].map(n => `/dev/fd/${n}`)]) {
      const r = await petal(['--dir', dir, 'signkey', newcomer, '--op', 'add', '-o', out])
      expect({ out, code: r.code, signal: r.signal }).toEqual({ out, code: 2, signal: null })
      expect(r.stderr).toContain(`cannot write ${out}`)
    }
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
    const endorsement = join(tmpDir(), 'e.json')
    expect((await petal(['--dir', dir, 'signkey', newcomer, '--op', 'add', '-o', endorsement])).code).toBe(0)
    expect(JSON.parse(readFileSync(endorsement, 'utf8'))).toHaveProperty('signature')
  })

  it('removes the temporary a killed output write left beside the file (its pid dead) when it next writes that file, and nothing else', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const work = tmpDir()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout
    // What `checkpoint -o cp.note` killed by SIGKILL in its atomic replace leaves: cp.note.PID.NONCE.tmp.
    const stale = `cp.note.${dead}.0badc0de.tmp`
    const kept = [`cp.note.${process.pid}.0badc0de.tmp`, `cp.note.${dead}.0BADC0DE.tmp`, `cp.note.${dead}.tmp`, `cp.note.${dead}.0badc0de.tmp.bak`, `mine.${dead}.0badc0.tmp`, `other.note.${dead}.0badc0de.tmp`]
    for (const n of [stale, ...kept]) writeFileSync(join(work, n), 'half')
    // Another file's (other.note's) is not touched: the directory is the user's, the name may be another program's.
    expect((await petal(['--dir', dir, 'checkpoint', '-o', join(work, 'cp.note')])).code).toBe(0)
    expect(readdirSync(work).sort()).toEqual(['cp.note', ...kept].sort())
  })
})
