// A node whose seal.lock this user may not write (a `sudo petal seal` left it root's): NodeLock
// refuses it (PERMISSION_DENIED, since 6048464), and the seal loop logged that at every pass's
// backoff (1 s, doubling to a minute) without the hint, and sealed up to a minute after the fix
// (session 53's left). Now: said once, with a hint whose command fixes it; run, the rows are sealed
// at the next poll, and the node never stopped.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { asRoot, otherUserCanRun } from '../helpers/other-user.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')

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
    const cmd = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath, CLI] : [process.execPath, CLI]
    const node = spawn(cmd[0] as string, [...cmd.slice(1), '--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--seal-every', '0'], {
      env: { ...process.env, PETAL_PASSPHRASE: '', PETAL_DIR: '' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    node.stdout.on('data', (d: Buffer) => { out += d.toString() })
    node.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const closed = new Promise<number | null>(resolve => node.on('close', c => { resolve(c) }))
    try {
      const said = (): string[] => out.split('\n').filter(l => l.includes('PERMISSION_DENIED'))
      await waitFor(() => said().length > 0, { what: 'the refusal in the log', timeout: 30_000 })
      // Passes go on every poll (250 ms); the old loop's retries came after 1 s, then 2 s.
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
    } finally {
      node.kill('SIGTERM')
      await closed
    }
    const code = await closed
    // runuser, signalled, ends by the signal once its child (the node) has stopped.
    expect(out).toContain('node stopped')
    if (!asRoot) expect(code).toBe(0)
  }, 90_000)
})
