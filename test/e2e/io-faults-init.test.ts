import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI } from '../helpers/cli.js'
import { buildDaisyDir } from '../helpers/daisy.js'
import { faultEnv, faultResult, faultShim, type FaultSpec } from '../helpers/fault-shim.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

// A command that makes a chain (init, newchain, adopt-daisy) whose disk fails before it writes
// chainparams.json leaves a directory that holds no chain: the hint must name that command again,
// not `petal reindex`, `petal verify` or `petal status`, which fail NOT_INITIALISED there (mend36).
const withCc = faultShim() !== undefined
const LOCAL = join(import.meta.dirname, '..', '..', 'genesis', 'local.json')

/** The one `petal …` command of the hint line, run as printed by bash with `petal` the built CLI. */
function runHint (stderr: string): { command: string, code: number, stderr: string } {
  const hint = /^ {2}hint: (.*)$/m.exec(stderr)?.[1] ?? ''
  const commands = [...hint.matchAll(/`(petal [^`]+)`/g)].map(m => m[1] as string)
  expect(commands, hint).toHaveLength(1)
  const command = commands[0] as string
  try {
    execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${command}`], { env: { ...process.env, NO_COLOR: '1', PETAL_DIR: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    return { command, code: 0, stderr: '' }
  } catch (err) {
    const e = err as { status: number, stderr: Buffer }
    return { command, code: e.status, stderr: e.stderr.toString() }
  }
}

/** Runs `args` under the fault; when it failed, its hint's command must make the chain, which verifies. */
async function failsThenHintWorks (dir: string, args: string[], spec: Omit<FaultSpec, 'dir'>): Promise<{ injected: number, failed: boolean }> {
  const f = faultEnv({ dir, ...spec })
  const r = await petal(['--dir', dir, ...args], f.env)
  const injected = faultResult(f).injected
  if (r.code === 0) return { injected, failed: false }
  const what = `${args[0] ?? ''} ${JSON.stringify(spec)}`
  expect(r.code, `${what}: ${r.stderr}`).toBe(4)
  expect(r.stderr, what).toMatch(/\[(IO_ERROR|DISK_FULL)\]\n/)
  expect(existsSync(join(dir, 'chainparams.json'))).toBe(false)
  const again = runHint(r.stderr)
  // Before: `petal reindex` (NOT_INITIALISED, exit 4), `petal verify` or `petal status`, which change nothing.
  expect(again.code, `${what}: ${again.command}: ${again.stderr}`).toBe(0)
  expect((await petal(['--dir', dir, 'verify'])).code, what).toBe(0)
  return { injected, failed: true }
}

describe.runIf(withCc)('I/O faults: a chain creation whose disk failed says to run it again', () => {
  it.each([['once', false], ['from then on', true]])('init: each fsync of chain.db failing %s', async (_, sticky) => {
    let failed = 0
    let nth = 1
    for (; nth <= 30; nth++) {
      const dir = join(tmpDir(), `d${nth}`)
      mkdirSync(dir)
      const r = await failsThenHintWorks(dir, ['init'], { ops: ['fsync'], nth, sticky, match: '/chain.db', errno: nth % 2 === 0 ? 'ENOSPC' : 'EIO' })
      if (r.injected === 0) break
      if (r.failed) failed++
    }
    expect(nth).toBeGreaterThan(4)
    // The index's creation (chain.db-journal, chain.db, the -wal's first commit) and the genesis's commit.
    expect(failed).toBeGreaterThanOrEqual(4)
  }, 600_000)

  it('init: the new key\'s fsync fails (keystore/), and an init with --template', async () => {
    const k = join(tmpDir(), 'k')
    mkdirSync(k)
    expect((await failsThenHintWorks(k, ['init'], { ops: ['fsync'], nth: 1, match: '/keystore/' })).failed).toBe(true)
    const dir = join(tmpDir(), 'with template')
    mkdirSync(dir)
    expect((await failsThenHintWorks(dir, ['init', '--template', LOCAL], { ops: ['fsync'], nth: 1, match: '/chain.db' })).failed).toBe(true)
  }, 120_000)

  it('newchain and adopt-daisy: the index\'s first fsync fails', async () => {
    const dir = join(tmpDir(), 'new')
    mkdirSync(dir)
    expect((await failsThenHintWorks(dir, ['newchain', LOCAL], { ops: ['fsync'], nth: 1, match: '/chain.db' })).failed).toBe(true)
    const daisy = buildDaisyDir(join(tmpDir(), 'daisy'))
    const adopted = join(tmpDir(), 'adopted')
    mkdirSync(adopted)
    expect((await petal(['--dir', adopted, 'keys', 'import', join(daisy.root, 'private.db')])).code).toBe(0)
    expect((await failsThenHintWorks(adopted, ['adopt-daisy', daisy.root], { ops: ['fsync'], nth: 1, match: '/adopted/chain.db' })).failed).toBe(true)
  }, 180_000)

  it('init: the disk refuses to create the genesis in tmp/ (SQLITE_CANTOPEN): the hint names the disk, not only permissions; init run again makes the chain', async () => {
    const dir = join(tmpDir(), 'cantopen')
    mkdirSync(dir)
    const f = faultEnv({ dir, ops: ['open'], nth: 1, sticky: true, errno: 'ENOSPC', match: join(dir, 'tmp') + '/', caller: 'better_sqlite3.node' })
    const r = await petal(['--dir', dir, 'init'], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    expect(r.code, r.stderr).toBe(4)
    // Before: "check that the data directory exists and that this user may read and write it" alone (torture, seed 361 init #1).
    expect(r.stderr).toMatch(/\[PERMISSION_DENIED\]\n {2}hint: .*the disk refused to create or open the file \(full or failing\): free space or check the disk/)
    const again = await petal(['--dir', dir, 'init'])
    expect(again.code, again.stderr).toBe(0)
  }, 120_000)

  it('init: a failure after chainparams.json was written (its directory\'s fsync) keeps the key, the made chain\'s only signatory', async () => {
    let after = 0
    let nth = 1
    // Each fsync of the command in turn; the last ones follow chainparams.json's rename.
    for (; nth <= 60; nth++) {
      const dir = join(tmpDir(), `a${nth}`)
      mkdirSync(dir)
      const f = faultEnv({ dir, ops: ['fsync'], nth })
      const r = await petal(['--dir', dir, 'init'], f.env)
      if (faultResult(f).injected === 0) break
      if (r.code === 0 || !existsSync(join(dir, 'chainparams.json'))) continue
      after++
      // Before: the keystore was removed with the failed creation's other files, the chain kept.
      const s = await petal(['--dir', dir, '--json', 'mykeys'])
      expect(s.code, `fsync #${nth}: ${s.stderr}`).toBe(0)
      expect(JSON.parse(s.stdout), `fsync #${nth}`).toEqual([expect.objectContaining({ default: true, signatory: 'yes (since height 0)' })])
    }
    expect(nth).toBeGreaterThan(10)
    expect(after).toBeGreaterThan(0)
  }, 600_000)
})
