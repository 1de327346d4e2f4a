import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// `tokens create` printed "Revoke it with `petal tokens revoke NAME`" without the user's --dir:
// run as printed, it looked for the token in $PETAL_DIR or ~/.petal (review33's leftover).
describe('tokens create: the revoke command it prints names the --dir given', () => {
  it('run as printed (a --dir with a space), it revokes that directory\'s token', async () => {
    const home = tmpDir()
    const dir = join(tmpDir(), 'my node')
    expect((await petal(['--dir', dir, 'init'], { env: { HOME: home } })).code).toBe(0)
    const made = await petal(['--dir', dir, 'tokens', 'create', '--name', 'ci bot'], { env: { HOME: home } })
    expect(made.code, made.stderr).toBe(0)
    const cmd = /`(petal [^`]*)`/.exec(made.stderr)?.[1]
    expect(cmd).toBe(`petal --dir '${dir}' tokens revoke 'ci bot'`)
    execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${cmd ?? ''}`], { env: { ...process.env, HOME: home, PETAL_DIR: '' }, stdio: 'ignore' })
    const list = await petal(['--dir', dir, 'tokens', 'list'], { env: { HOME: home } })
    expect(list.stdout).toContain(`no tokens (create one with \`petal --dir '${dir}' tokens create\`)`)
    expect(existsSync(join(home, '.petal'))).toBe(false)
  }, 60_000)

  it('a name taken for an option (-x) is revoked by id: run as printed, it works', async () => {
    // `petal tokens revoke -x` stopped with "unknown option '-x'" (review34).
    const home = tmpDir()
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'], { env: { HOME: home } })).code).toBe(0)
    const made = await petal(['--dir', dir, 'tokens', 'create', '--name', '-x'], { env: { HOME: home } })
    expect(made.code, made.stderr).toBe(0)
    const id = /^petal_([0-9a-f]{12})_/.exec(made.stdout)?.[1] ?? 'no id'
    const cmd = /`(petal [^`]*)`/.exec(made.stderr)?.[1]
    expect(cmd).toBe(`petal --dir ${dir} tokens revoke ${id}`)
    execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${cmd ?? ''}`], { env: { ...process.env, HOME: home, PETAL_DIR: '' }, stdio: 'ignore' })
    const list = await petal(['--dir', dir, '--json', 'tokens', 'list'], { env: { HOME: home } })
    expect((JSON.parse(list.stdout) as { tokens: unknown[] }).tokens).toEqual([])
  }, 60_000)
})
