import { describe, expect, it } from 'vitest'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain } from '../../src/chain/index.js'
import { petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { makeSqlite } from '../helpers/chain.js'
import { aliceOrphan } from '../helpers/orphan.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// A Ctrl-C while a command brings the query mirror up to date after its commit (user52): the
// command said only "petal: interrupted" (exit 130), its result unprinted, though the block was
// committed. It now prints the block, says the mirror was left for the next query, and exits 0.

const NOTE = 'interrupted while updating the query mirror: what this command wrote is committed; the next query brings the mirror up to date'

/** Run `args` on `dir`, stopped at the mirror's update (or pause point `at`) and sent SIGINT there. */
async function interruptedAtMirror (dir: string, args: string[], at = 'cli:mirror-sync'): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const pause = join(tmpDir(), 'pause')
  const run = spawnPetal(['--dir', dir, ...args], { env: { PETAL_PAUSE: at, PETAL_PAUSE_FILE: pause } })
  let ended = false
  void run.exit.then(() => { ended = true })
  await waitFor(() => { if (ended) throw new Error(`ended before ${at}`); return existsSync(pause) }, { what: at })
  run.child.kill('SIGINT')
  return await run.exit
}

function canonicalAt (dir: string, height: number): string | undefined {
  const c = Chain.open(dir, { readonly: true })
  try { return c.get(height)?.hash } finally { c.close() }
}

describe('Ctrl-C during the query mirror\'s update after a commit', () => {
  it('signimportblock prints the committed block, says the mirror catches up, and exits 0; the next query sees the rows', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const r = await interruptedAtMirror(dir, ['signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 7)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^block 1 [0-9a-f]{64}\n/)
    expect(r.stderr).toContain(NOTE)
    expect(r.stdout).toContain(canonicalAt(dir, 1) ?? 'no block 1')
    const q = await petal(['--dir', dir, 'query', '--format', 'csv', 'SELECT count(*) AS n FROM t'])
    expect(q.stdout.trim().split(/\r?\n/)).toEqual(['n', '7'])
  })

  it('reseal prints the re-sealed block the same way', async () => {
    const { dir, m } = await aliceOrphan(async args => await petal(args))
    const r = await interruptedAtMirror(dir, ['reseal', m])
    expect(r.code, r.stderr).toBe(0)
    const [, height, hash] = /^re-sealed [0-9a-f]{12} as block (\d+) ([0-9a-f]{64})\n$/.exec(r.stdout) ?? []
    expect(hash, r.stdout).toMatch(/^[0-9a-f]{64}$/)
    expect(canonicalAt(dir, Number(height))).toBe(hash)
    expect(r.stderr).toContain(NOTE)
  })

  // seal signs the tip's checkpoints between its result and the mirror's update, under the write
  // lock (another process may hold it a while): a Ctrl-C there said only "petal: interrupted" (130)
  // after the printed blocks (review52b). It now says they are committed and how to sign, exit 0.
  it('seal interrupted while signing the tip\'s checkpoints: the blocks printed and committed, exit 0, and the hint\'s `petal checkpoint --sign` signs them', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.json')
    writeFileSync(rows, '[{"a":1}]')
    expect((await petal(['--dir', dir, 'append', 't', rows])).code).toBe(0)
    const r = await interruptedAtMirror(dir, ['seal'], 'cli:seal-sign')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^block 1 [0-9a-f]{64}: 1 row\(s\)\n$/)
    expect(r.stdout).toContain(canonicalAt(dir, 1) ?? 'no block 1')
    expect(r.stderr).toContain('interrupted before signing the tip\'s checkpoints: the sealed blocks are committed')
    const cmd = /`(petal [^`]*checkpoint --sign)`/.exec(r.stderr)?.[1]
    expect(cmd, r.stderr).toBe(`petal --dir ${dir} checkpoint --sign`)
    const c = await petal([...(cmd ?? '').split(' ').slice(1)])
    expect(c.code, c.stderr).toBe(0)
    expect(c.stdout).toContain('\n2\n')
  })

  // Sealed with --key, a signatory key that is not the keystore's default: the printed command
  // signed with the default key, no signatory, and was refused (review53).
  it('petal --key K seal, interrupted while signing: the printed `petal checkpoint --sign` names K, and signs them', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const key = (JSON.parse((await petal(['--dir', dir, '--json', 'mykeys'])).stdout) as Array<{ id: string }>)[0]?.id ?? ''
    expect((await petal(['--dir', dir, 'keygen', '--default'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.json')
    writeFileSync(rows, '[{"a":1}]')
    expect((await petal(['--dir', dir, '--key', key, 'append', 't', rows])).code).toBe(0)
    const r = await interruptedAtMirror(dir, ['--key', key, 'seal'], 'cli:seal-sign')
    expect(r.code, r.stderr).toBe(0)
    const cmd = /`(petal [^`]*checkpoint --sign[^`]*)`/.exec(r.stderr)?.[1]
    expect(cmd, r.stderr).toBe(`petal --dir ${dir} checkpoint --sign --key ${key}`)
    const c = await petal([...(cmd ?? '').split(' ').slice(1)])
    expect(c.code, c.stderr).toBe(0)
    expect(c.stdout).toContain('\n2\n')
  })
})
