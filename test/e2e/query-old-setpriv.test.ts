import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI, petal, type Exit } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// util-linux's setpriv takes --pdeathsig only since 2.33: RHEL 8 and its rebuilds (where Node 20
// runs) ship 2.32, and busybox's applet has no such option. Since 096bae9 the query sandbox ran
// under `setpriv --pdeathsig KILL` wherever a setpriv was installed, and there it never started:
// every `petal query` failed QUERY_SANDBOX_FAILED ("unrecognized option '--pdeathsig'") with a hint
// to reinstall (review40). Here an older setpriv is stood in for the system's (a copy that does not
// know the option), bind-mounted over it in a mount namespace of the command's own (needs root).

const SETPRIV = '/usr/bin/setpriv'
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find(p => existsSync(p))

/** `petal ARGS` with an older setpriv at SETPRIV, in a mount namespace of its own; undefined where one cannot be made. */
async function underOldSetpriv (args: string[]): Promise<Exit | undefined> {
  const old = join(tmpDir(), 'setpriv')
  writeFileSync(old, Buffer.from(readFileSync(SETPRIV).toString('latin1').replaceAll('pdeathsig', 'xdeathsig'), 'latin1'))
  chmodSync(old, 0o755)
  const probe = spawnSync(UNSHARE as string, ['--mount', 'sh', '-c', `mount --bind "$0" ${SETPRIV} && ! ${SETPRIV} --pdeathsig KILL -- true`, old], { encoding: 'utf8' })
  if (probe.status !== 0) return undefined
  const child = spawn(UNSHARE as string, ['--mount', 'sh', '-c', `mount --bind "$0" ${SETPRIV} && exec "$@"`, old, process.execPath, CLI, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise(resolve => { child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
}

describe.runIf(process.platform === 'linux' && process.getuid?.() === 0 && existsSync(SETPRIV) && UNSHARE !== undefined)('petal query beside a setpriv without --pdeathsig', () => {
  it('runs the statement (its sandbox with the watchdog thread instead; failed on the old code: QUERY_SANDBOX_FAILED)', async () => {
    const dir = join(tmpDir(), 'chain')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const r = await underOldSetpriv(['--dir', dir, 'query', 'SELECT 41 + 1 AS x'])
    if (r === undefined) return // no mount namespace here (no CAP_SYS_ADMIN): nothing to stand in
    expect(r.stderr).not.toContain('QUERY_SANDBOX_FAILED')
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe('{"x":42}')
  })
})
