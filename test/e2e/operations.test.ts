import { describe, expect, it } from 'vitest'
import { readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

async function chainWith (blocks: number): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  for (let i = 0; i < blocks; i++) expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), `s${i}.db`), 20, i)])).code).toBe(0)
  return dir
}

describe('operating a data directory', () => {
  it('verify says which block file is missing, with a hint', async () => {
    const dir = await chainWith(2)
    rmSync(join(dir, '0000', 'block_00000001.db'))
    const v = await petal(['--dir', dir, '--json', 'verify'])
    expect(v.code).toBe(6)
    expect(JSON.parse(v.stdout.split('\n')[0] as string)).toMatchObject({ ok: false, failure: { height: 1, code: 'BLOCK_FILE_MISSING' } })
  })

  it('verify names the first bad height and exits 6 when a block file is altered', async () => {
    const dir = await chainWith(3)
    const f = join(dir, '0000', 'block_00000002.db')
    const bytes = readFileSync(f)
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0xff
    writeFileSync(f, bytes)
    const v = await petal(['--dir', dir, '--json', 'verify'])
    expect(v.code).toBe(6)
    const r = JSON.parse(v.stdout.split('\n')[0] as string) as { ok: boolean, failure: { height: number, code: string } }
    expect(r.ok).toBe(false)
    expect(r.failure.height).toBe(2)
    expect(v.stderr).toContain('VERIFY_FAILED')
  })

  it('reindex rebuilds a lost chain.db; until then commands say how to fix it', async () => {
    const dir = await chainWith(2)
    const before = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: unknown, signatories: unknown }
    for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
    const broken = await petal(['--dir', dir, 'status'])
    expect(broken.code).toBe(4)
    expect(broken.stderr).toMatch(/INDEX_CORRUPT[\s\S]*`petal --dir \S+ reindex`/)
    const re = await petal(['--dir', dir, '--json', 'reindex'])
    expect(re.code, re.stderr).toBe(0)
    expect(JSON.parse(re.stdout)).toMatchObject({ blocks: 3, tip_height: 2 })
    const after = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: unknown, signatories: unknown }
    expect(after.tip).toEqual(before.tip)
    expect(after.signatories).toEqual(before.signatories)
    const s = JSON.parse((await petal(['--dir', dir, '--json', 'signers', '--height', '0'])).stdout) as { signers: Array<{ added_at: number }> }
    expect(s.signers).toHaveLength(1)
  })

  it('Ctrl-C during a long signimportblock stops cleanly (status 130) and changes nothing', async () => {
    const dir = await chainWith(0)
    const big = makeSqlite(join(tmpDir(), 'big.db'), 300_000, 1)
    const run = spawnPetal(['--dir', dir, 'signimportblock', big])
    // Wait until it is at work (its tmp file exists), then interrupt.
    await waitFor(() => { try { return readdirSync(join(dir, 'tmp')).length > 0 } catch { return false } }, { what: 'import to start' })
    run.child.kill('SIGINT')
    const exit = await run.exit
    expect(exit.code).toBe(130)
    expect(exit.stderr).toMatch(/stopping cleanly|interrupted/)
    expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 0 } })
    expect(readdirSync(join(dir, 'tmp'))).toEqual([])
  })

  it('encrypted keys: signing needs --passphrase-file (or PETAL_PASSPHRASE), and says so', async () => {
    const dir = join(tmpDir(), 'data')
    const pass = join(tmpDir(), 'pass.txt')
    writeFileSync(pass, 'a long passphrase\n')
    expect((await petal(['--dir', dir, '--passphrase-file', pass, 'init'])).code).toBe(0)
    const keys = JSON.parse((await petal(['--dir', dir, '--json', 'mykeys'])).stdout) as Array<{ encrypted: boolean }>
    expect(keys[0]?.encrypted).toBe(true)
    const src = makeSqlite(join(tmpDir(), 'x.db'))
    const noPass = await petal(['--dir', dir, 'signimportblock', src])
    expect(noPass.code).toBe(5)
    expect(noPass.stderr).toMatch(/PASSPHRASE_REQUIRED[\s\S]*--passphrase-file/)
    const wrong = await petal(['--dir', dir, 'signimportblock', src], { env: { PETAL_PASSPHRASE: 'nope' } })
    expect(wrong.code).toBe(5)
    expect(wrong.stderr).toContain('BAD_PASSPHRASE')
    expect((await petal(['--dir', dir, '--passphrase-file', pass, 'signimportblock', src])).code).toBe(0)
    expect((await petal(['--dir', dir, 'signimportblock', src], { env: { PETAL_PASSPHRASE: 'a long passphrase' } })).code).toBe(0)
  })
})
