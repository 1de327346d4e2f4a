import { describe, expect, it } from 'vitest'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { petal } from '../helpers/node-process.js'
import { buildDaisyDir } from '../helpers/daisy.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

interface Refusal { error: { code: string, message: string, hint: string } }

// adopt-daisy makes a chain as init and newchain do, but did it without node.lock: an adoption and
// an init (or a second adoption) on one directory each cleared it and wrote their genesis and
// chainparams.json, both said "created chain …", and the directory kept the last one's (an init's
// genesis beside the Daisy history it does not continue). Now adopt-daisy holds node.lock from
// before its clearing to after chainparams.json, as init does: the other is refused (DATA_DIR_BUSY).
describe('adopt-daisy beside another creation of a chain in its directory', () => {
  async function setup (): Promise<{ dir: string, daisy: string, pause: string }> {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const dir = join(tmpDir(), 'adopted')
    const imported = await petal(['--dir', dir, 'keys', 'import', join(f.root, 'private.db')])
    expect(imported.code, imported.stderr).toBe(0)
    return { dir, daisy: f.root, pause: join(tmpDir(), 'pause') }
  }

  async function chainOf (dir: string): Promise<{ chain_id: string, continues_daisy?: unknown }> {
    const s = await petal(['--dir', dir, '--json', 'status'])
    expect(s.code, s.stderr).toBe(0)
    return JSON.parse(s.stdout) as { chain_id: string, continues_daisy?: unknown }
  }

  for (const second of ['adopt-daisy', 'init'] as const) {
    it(`an adoption held after clearing the directory, then ${second}: refused with DATA_DIR_BUSY, the adoption's chain stands`, async () => {
      const { dir, daisy, pause } = await setup()
      const first = petal(['--dir', dir, '--json', 'adopt-daisy', daisy], { PETAL_PAUSE: 'genesis:cleared', PETAL_PAUSE_FILE: pause })
      await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the adoption to clear the directory' })
      const other = await petal(['--dir', dir, '--json', ...(second === 'init' ? ['init'] : ['adopt-daisy', daisy])])
      rmSync(pause)
      const done = await first
      expect(done.code, done.stderr).toBe(0)
      expect(other.code, other.stdout + other.stderr).toBe(4)
      expect((JSON.parse(other.stdout) as Refusal).error.code).toBe('DATA_DIR_BUSY')
      const made = JSON.parse(done.stdout) as { chain_id: string }
      const s = await chainOf(dir)
      expect(s.chain_id).toBe(made.chain_id)
      expect(s.continues_daisy).toMatchObject({ daisy_tip_height: 3 })
      const v = await petal(['--dir', dir, 'verify'])
      expect(v.code, v.stderr + v.stdout).toBe(0)
    }, 120_000)
  }

  it('an init held after clearing the directory, then adopt-daisy: refused with DATA_DIR_BUSY, the init\'s chain whole', async () => {
    const { dir, daisy, pause } = await setup()
    const first = petal(['--dir', dir, 'init'], { PETAL_PAUSE: 'genesis:cleared', PETAL_PAUSE_FILE: pause })
    await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the init to clear the directory' })
    const other = await petal(['--dir', dir, '--json', 'adopt-daisy', daisy])
    rmSync(pause)
    const done = await first
    expect(done.code, done.stderr).toBe(0)
    expect(other.code, other.stdout + other.stderr).toBe(4)
    const err = (JSON.parse(other.stdout) as Refusal).error
    expect(err.code).toBe('DATA_DIR_BUSY')
    expect(err.hint).toContain(`petal --dir ${dir} status`)
    // The init's chain, whole: no Daisy history was copied beside it.
    const s = await chainOf(dir)
    expect(s.continues_daisy).toBeUndefined()
    expect(existsSync(join(dir, 'daisy'))).toBe(false)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 120_000)

  it('an adoption checked before an init made the chain, and locked after: refused with DATA_DIR_NOT_EMPTY, the init\'s chain kept', async () => {
    const { dir, daisy, pause } = await setup()
    const second = petal(['--dir', dir, '--json', 'adopt-daisy', daisy], { PETAL_PAUSE: 'adopt:checked', PETAL_PAUSE_FILE: pause })
    await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the adoption to check the directory' })
    const init = await petal(['--dir', dir, 'init'])
    expect(init.code, init.stderr).toBe(0)
    const before = await chainOf(dir)
    rmSync(pause)
    const refused = await second
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0)
    expect((JSON.parse(refused.stdout) as Refusal).error.code).toBe('DATA_DIR_NOT_EMPTY')
    expect((await chainOf(dir)).chain_id).toBe(before.chain_id)
    expect(existsSync(join(dir, 'daisy'))).toBe(false)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 120_000)
})
