// A node whose seal.lock this user may not write (a `sudo petal seal` left it root's): NodeLock
// refuses it (PERMISSION_DENIED, since 6048464), and the seal loop logged that at every pass's
// backoff (1 s, doubling to a minute) without the hint, and sealed up to a minute after the fix
// (session 53's left). Now: said once, with a hint whose command fixes it; run, the rows are sealed
// at the next poll, and the node never stopped. The same of a block directory this user may not
// write: its rename's raw EACCES was logged at every retry, uncoded, without a hint (session 54's
// left); and of a chain.db this user may not write, which SQLite opens read-only for good: the
// node refuses to start, `petal seal` refuses before building, each naming it with the fix.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { asRoot, otherUserCanRun } from '../helpers/other-user.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')
const USER = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath, CLI] : [process.execPath, CLI]

/** The CLI run as the user the data directory is for (nobody, when the test runs as root). */
async function asUser (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(USER[0] as string, [...USER.slice(1), ...args], { env: { ...process.env, PETAL_PASSPHRASE: '', PETAL_DIR: '', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise(resolve => { child.on('close', code => { resolve({ code, stdout, stderr }) }) })
}

describe.skipIf(!otherUserCanRun)('a node whose seal.lock this user may not write', () => {
  it('says so once, with a hint whose command fixes it; then seals, having served throughout', async () => {
    const base = tmpDir()
    chmodSync(base, 0o755)
    const dir = join(base, 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(base, 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n{"a":2}\n')
    const appended = await petal(['--dir', dir, '--json', 'append', 't', rows])
    expect(appended.code, appended.stderr).toBe(0)
    const receipt = (JSON.parse(appended.stdout) as { receipts: string[] }).receipts[0] as string
    const lock = join(dir, 'seal.lock')
    writeFileSync(lock, '')
    if (asRoot) {
      // The data directory nobody's, its seal.lock root's (mode 0644), as a `sudo petal seal` leaves it.
      spawnSync('chown', ['-R', 'nobody', dir])
      chownSync(lock, 0, 0)
    } else {
      chmodSync(lock, 0o444)
    }
    const node = spawn(USER[0] as string, [...USER.slice(1), '--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--seal-every', '0'], {
      env: { ...process.env, PETAL_PASSPHRASE: '', PETAL_DIR: '' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    node.stdout.on('data', (d: Buffer) => { out += d.toString() })
    node.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const closed = new Promise<number | null>(resolve => node.on('close', c => { resolve(c) }))
    try {
      const said = (): string[] => out.split('\n').filter(l => l.includes('PERMISSION_DENIED'))
      await waitFor(() => said().length > 0, { what: 'the refusal in the log', timeout: 30_000 })
      // Refused passes look again quietly (250 ms, doubling to 2 s); the old loop logged each retry, after 1 s, then 2 s.
      await new Promise(resolve => setTimeout(resolve, 3_500))
      expect(said(), out).toHaveLength(1)
      const line = said()[0] as string
      expect(line).toContain(`cannot hold the lock ${lock}`)
      const fix = /`((?:chown|chmod) [^`]+)`/.exec(line)?.[1]
      expect(fix, line).toBe(asRoot ? `chown nobody ${lock}` : `chmod u+w ${lock}`)
      // The hint, run (as root here, as it says), lets the node seal at its next pass.
      const ran = spawnSync('sh', ['-c', fix as string], { encoding: 'utf8' })
      expect(ran.status, ran.stderr).toBe(0)
      await waitFor(() => out.includes('sealed pending rows into a block'), { what: 'the seal after the fix', timeout: 30_000 })
      expect(said()).toHaveLength(1)
      const r = await petal(['--dir', dir, '--json', 'receipt', receipt])
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'sealed' })

      // The next block's directory this user may not write: said once, coded, named, with the fix.
      const shard = join(dir, '0000')
      if (asRoot) chownSync(shard, 0, 0)
      else chmodSync(shard, 0o555)
      expect((await asUser(['--dir', dir, 'append', 't', rows])).code).toBe(0)
      const shardSaid = (): string[] => said().filter(l => l.includes(`may not write the block directory ${shard}`))
      await waitFor(() => shardSaid().length > 0, { what: 'the block directory\'s refusal', timeout: 30_000 })
      const shardFix = /`((?:chown|chmod) [^`]+)`/.exec(shardSaid()[0] as string)?.[1]
      expect(shardFix, out).toBe(asRoot ? `chown nobody ${shard}` : `chmod u+w ${shard}`)
      expect(spawnSync('sh', ['-c', shardFix as string]).status).toBe(0)
      await waitFor(() => out.split('sealed pending rows into a block').length === 3, { what: 'the seal after the second fix', timeout: 30_000 })
      expect(shardSaid()).toHaveLength(1)
      // Before session 55: "sealing pending rows failed; retrying … code=EACCES" at each retry.
      expect(out).not.toContain('sealing pending rows failed')
    } finally {
      node.kill('SIGTERM')
      await closed
    }
    const code = await closed
    // runuser, signalled, ends by the signal once its child (the node) has stopped.
    expect(out).toContain('node stopped')
    if (!asRoot) expect(code).toBe(0)

    // chain.db this user may not write: SQLite would open it read-only for the process's life.
    const db = join(dir, 'chain.db')
    if (asRoot) chownSync(db, 0, 0)
    else chmodSync(db, 0o444)
    const more = await asUser(['--dir', dir, 'append', 't', rows])
    expect(more.code, more.stderr).toBe(0)
    const run = await asUser(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off'])
    expect(run.code, run.stderr).toBe(4)
    expect(run.stderr).toContain(`this user may not write the chain index ${db}`)
    const sealed = await asUser(['--dir', dir, 'seal'])
    expect(sealed.code, sealed.stderr).toBe(4)
    expect(sealed.stderr).toContain('[PERMISSION_DENIED]')
    const dbFix = /`((?:chown|chmod) [^`]+)`/.exec(sealed.stderr)?.[1]
    expect(dbFix, sealed.stderr).toBe(asRoot ? `chown nobody ${db}` : `chmod u+w ${db}`)
    expect(spawnSync('sh', ['-c', dbFix as string]).status).toBe(0)
    const after = await asUser(['--dir', dir, '--json', 'seal'])
    expect(after.code, after.stderr).toBe(0)
    expect(JSON.parse(after.stdout)).toMatchObject({ rows: 2 })
  }, 90_000)
})
