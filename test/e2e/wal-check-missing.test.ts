import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { petal, type Exit } from '../helpers/cli.js'
import { nativeWalIndexBuilt } from '../helpers/native-build.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * Without the -wal check's SQLite extension (no C compiler at `npm run build`), every checkpoint
 * of chain.db and pending.db would copy the log unchecked: a command that writes them is refused
 * (WAL_CHECK_MISSING, exit 4), read-only ones run. Here a copy of the built CLI lacks the file;
 * putting back what `npm run build` makes (the hint) lets the command through.
 */

const ROOT = join(import.meta.dirname, '..', '..')
const ADDON = join('dist', 'native', 'petal-wal-index.node')

async function run (bin: string, args: string[], stdin: string): Promise<Exit> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(stdin)
  return await new Promise(resolve => { child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
}

describe.runIf(nativeWalIndexBuilt())('a build without the -wal check', () => {
  it('refuses to write chain.db or pending.db (WAL_CHECK_MISSING), reads as before; with the extension back the write goes through', async () => {
    const copy = tmpDir('petal-no-wal-check-')
    for (const d of ['bin', 'dist', 'genesis', 'package.json']) cpSync(join(ROOT, d), join(copy, d), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
    rmSync(join(copy, ADDON))
    const bin = join(copy, 'bin', 'petal.js')
    const dir = join(tmpDir(), 'chain')
    // A refused init removes the key it generated: it must not have named it as made.
    const refusedInit = await run(bin, ['--dir', dir, 'init'], '')
    expect(refusedInit.code).toBe(4)
    expect(refusedInit.stderr).toContain('[WAL_CHECK_MISSING]')
    expect(refusedInit.stderr).not.toContain('generated signing key')
    expect(existsSync(dir)).toBe(false)
    const made = await petal(['--dir', dir, 'init'])
    expect(made.code).toBe(0)
    expect(made.stderr).toContain('generated signing key')

    const refused = await run(bin, ['--dir', dir, 'append', 't'], '{"a": 1}\n')
    expect(refused.code).toBe(4)
    expect(refused.stderr).toContain('[WAL_CHECK_MISSING]')
    expect(refused.stderr).toContain('petal-wal-index.node) is not built')
    expect(refused.stderr).toContain('run `npm run build`')
    expect((await run(bin, ['--dir', dir, 'status'], '')).code).toBe(0)

    copyFileSync(join(ROOT, ADDON), join(copy, ADDON))
    const again = await run(bin, ['--dir', dir, 'append', 't'], '{"a": 1}\n')
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('stored as pending')
  }, 120_000)
})
