import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Two `petal init` (or an init and a newchain) on one empty directory at once: each cleared the
// directory and wrote its own genesis and chainparams.json, and the directory ended with one
// chain's chainparams.json beside the other's genesis and index. Now the one that makes the chain
// holds node.lock from before its clearing to after chainparams.json: the other is refused with
// DATA_DIR_BUSY, and the printed `petal status` shows the chain once the first has ended.
describe('init and newchain at once on one empty directory', () => {
  for (const second of ['init', 'newchain'] as const) {
    it(`init held after clearing the directory, then ${second}: refused with DATA_DIR_BUSY, one valid chain`, async () => {
      const dir = join(tmpDir(), 'data dir')
      const pause = join(tmpDir(), 'pause')
      const first = petal(['--dir', dir, 'init'], { PETAL_PAUSE: 'genesis:cleared', PETAL_PAUSE_FILE: pause })
      await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the first init to clear the directory' })
      const args = second === 'init' ? ['init'] : ['newchain', join(process.cwd(), 'genesis', 'local.json')]
      const other = await petal(['--dir', dir, '--json', ...args])
      rmSync(pause)
      const done = await first
      expect(done.code, done.stderr).toBe(0)
      expect(other.code, other.stderr).toBe(4)
      const err = (JSON.parse(other.stdout) as { error: { code: string, message: string, hint: string } }).error
      expect(err.code).toBe('DATA_DIR_BUSY')
      expect(err.message).toContain('node.lock')
      // The hint, run as printed (with the user's --dir put in), shows the first init's chain.
      const cmd = /`(petal [^`]*)`/.exec(err.hint)?.[1]
      expect(cmd).toBe(`petal --dir '${dir}' status`)
      const status = spawnSync('bash', ['-c', `${cmd?.replace(/^petal/, `node ${join(process.cwd(), 'bin', 'petal.js')}`) ?? ''} --json`], { encoding: 'utf8' })
      expect(status.status, status.stderr).toBe(0)
      expect((JSON.parse(status.stdout) as { tip: { height: number } }).tip.height).toBe(0)
      const v = await petal(['--dir', dir, 'verify'])
      expect(v.code, v.stderr + v.stdout).toBe(0)
    }, 120_000)
  }

  it('a newchain checked before an init made the chain, and locked after: refused, and the init\'s chain and key are kept', async () => {
    // The newchain found no directory, then waited for the lock while the init made chain and key;
    // refused once it held it, it removed "its" directory (the init's chain and only key with it).
    const dir = join(tmpDir(), 'fresh')
    const pause = join(tmpDir(), 'pause')
    const second = petal(['--dir', dir, '--json', 'newchain', join(process.cwd(), 'genesis', 'local.json')], { PETAL_PAUSE: 'init:checked', PETAL_PAUSE_FILE: pause })
    await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the newchain to check the directory' })
    const first = await petal(['--dir', dir, 'init'])
    expect(first.code, first.stderr).toBe(0)
    rmSync(pause)
    const refused = await second
    expect(refused.code, refused.stderr).not.toBe(0)
    expect((JSON.parse(refused.stdout) as { error: { code: string } }).error.code).toBe('DATA_DIR_NOT_EMPTY')
    const status = await petal(['--dir', dir, '--json', 'status'])
    expect(status.code, status.stderr).toBe(0)
    const s = JSON.parse(status.stdout) as { tip: { height: number, signer: string }, my_keys: Array<{ id: string, signatory: boolean }> }
    expect(s.my_keys).toEqual([{ id: s.tip.signer, signatory: true }])
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 120_000)

  it('a newchain that fails after another process put a key in the directory it made: that key is kept', async () => {
    // The newchain made the directory, then (waiting for the lock) a `petal keygen` put its key
    // there; the newchain failing (an unknown --key) removed "its" directory, the acknowledged key with it.
    const dir = join(tmpDir(), 'fresh')
    const pause = join(tmpDir(), 'pause')
    const made = petal(['--dir', dir, '--key', 'deadbeef', '--json', 'newchain', join(process.cwd(), 'genesis', 'local.json')], { PETAL_PAUSE: 'init:checked', PETAL_PAUSE_FILE: pause })
    await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the newchain to make the directory' })
    const keygen = await petal(['--dir', dir, '--json', 'keygen'])
    expect(keygen.code, keygen.stderr).toBe(0)
    const id = (JSON.parse(keygen.stdout) as { id: string }).id
    rmSync(pause)
    const refused = await made
    expect((JSON.parse(refused.stdout) as { error: { code: string } }).error.code).toBe('KEY_NOT_FOUND')
    const keys = await petal(['--dir', dir, '--json', 'mykeys'])
    expect((JSON.parse(keys.stdout) as Array<{ id: string }>).map(k => k.id)).toEqual([id])
  }, 120_000)

  it('a newchain that fails in a directory it made alone removes it', async () => {
    const dir = join(tmpDir(), 'fresh')
    const r = await petal(['--dir', dir, '--key', 'deadbeef', 'newchain', join(process.cwd(), 'genesis', 'local.json')])
    expect(r.stderr).toContain('KEY_NOT_FOUND')
    expect(existsSync(dir)).toBe(false)
  }, 60_000)

  it('a second init after the first has made the chain: nothing to do (exit 0), as before', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const again = await petal(['--dir', dir, 'init'])
    expect(again.code, again.stderr).toBe(0)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 60_000)
})
