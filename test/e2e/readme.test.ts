import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// The README's walkthrough, run as written in a fresh directory. `npx petal` is resolved to the
// built CLI by a shim, as npx resolves it inside the repository.
const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8')
const start = readme.indexOf('## Walkthrough')
const walkthrough = readme.slice(start, readme.indexOf('\n## ', start + 1))
const scripts = [...walkthrough.matchAll(/```sh\n([\s\S]*?)```/g)].map(m => m[1] as string)

describe('README walkthrough', () => {
  it('has the shell blocks this test runs', () => { expect(scripts.length).toBe(2) })

  it('runs from start to end, and ends with two signatories and three blocks', () => {
    const work = tmpDir()
    const bin = join(work, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'npx'), `#!/bin/sh\n[ "$1" = petal ] && shift && exec "${process.execPath}" "${CLI}" "$@"\necho "unexpected npx $*" >&2; exit 99\n`)
    chmodSync(join(bin, 'npx'), 0o755)
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', scripts.join('\n') + '\nnpx petal --json status'], {
      cwd: work, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, PETAL_DIR: '', NO_COLOR: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000
    })
    const last = JSON.parse(out.trim().split('\n').at(-1) as string) as { tip: { height: number }, signatories: { active: number } }
    expect(last.tip.height).toBe(2)
    expect(last.signatories.active).toBe(2)
    expect(out).toMatch(/"sensor":"s0","n":334/)
  })
})

// "Write records over HTTP", run as written, on a free port instead of 2018.
describe('README: Write records over HTTP', () => {
  it('starts a node, posts rows with a token, waits for the receipt to be sealed, proves the row and reads the rows back', async () => {
    const section = readme.slice(readme.indexOf('## Write records over HTTP'), readme.indexOf('\n## ', readme.indexOf('## Write records over HTTP') + 1))
    const script = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map(m => m[1] as string)
    expect(script.length).toBe(1)
    const { createServer } = await import('node:net')
    const port = await new Promise<number>(resolve => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => { resolve(p) }) }) })
    const work = tmpDir()
    const bin = join(work, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'npx'), `#!/bin/sh\n[ "$1" = petal ] && shift && exec "${process.execPath}" "${CLI}" "$@"\necho "unexpected npx $*" >&2; exit 99\n`)
    chmodSync(join(bin, 'npx'), 0o755)
    const { execFile } = await import('node:child_process')
    const out = await new Promise<string>((resolve, reject) => {
      // The node itself starts as `node bin/petal.js` (its pid is the one the script kills): the built CLI.
      const text = (script[0] ?? '').replaceAll('127.0.0.1:2018', `127.0.0.1:${port}`).replaceAll('node bin/petal.js ', `"${process.execPath}" "${CLI}" `)
      execFile('bash', ['-euo', 'pipefail', '-c', text], {
        cwd: work, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NO_COLOR: '1' }, encoding: 'utf8', timeout: 120_000
      }, (err, stdout, stderr) => { if (err !== null) reject(new Error(`${err.message}\n${stderr}\n${readFileSync(join(work, 'http-demo.log'), 'utf8')}`)); else resolve(stdout) })
    })
    expect(out).toMatch(/"receipts":\["[^"]+","[^"]+"\]/)
    expect(out).toMatch(/"state":"sealed","accepted_at":"[^"]+","sealed":\{"height":1,/)
    // The row proven to a third party: its proof checked offline against the exported key (user50).
    expect(out).toMatch(/^VERIFIED: 1 row proven in chain [0-9a-f]{64}$/m)
    expect(out).toMatch(/\{"sensor":"s1","value":21\.5,"_height":1\}\n\{"sensor":"s2","value":19\.25,"_height":1\}\n$/)
    // `kill $NODE && wait $NODE` reached the node, which stopped cleanly.
    expect(readFileSync(join(work, 'http-demo.log'), 'utf8')).toMatch(/node stopped/)
  }, 180_000)
})

// "Confidential columns and export", run as written on one node (the recipient's and the publisher's
// in one), ID being the key id `keys generate` printed. Its last line exported to patients.csv, the
// file just imported: `patients.csv already exists` (hints32).
describe('README: Confidential columns and export', () => {
  it('runs as written: the plaintext reads back and the export is written', () => {
    const section = readme.slice(readme.indexOf('## Confidential columns and export'), readme.indexOf('\n## ', readme.indexOf('## Confidential columns and export') + 1))
    const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
    expect(block).toContain('petal export patients')
    const work = tmpDir()
    writeFileSync(join(work, 'patients.csv'), 'name,diagnosis\nann,flu\nbob,cold\nbea,flu\n')
    const env = { ...process.env, PETAL_DIR: join(work, 'chain'), NO_COLOR: '1' }
    const petal = `petal () { "${process.execPath}" "${CLI}" "$@"; }\n`
    execFileSync('bash', ['-euo', 'pipefail', '-c', `${petal}petal init > /dev/null`], { cwd: work, env })
    const lines = block.split('\n').filter(l => l.startsWith('petal '))
    const generated = execFileSync('bash', ['-euo', 'pipefail', '-c', petal + (lines[0] ?? '')], { cwd: work, env, encoding: 'utf8' })
    const id = /^generated encryption key 1:([0-9a-f]{12})/m.exec(generated)?.[1] ?? ''
    expect(id).not.toBe('')
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', petal + lines.slice(1).join('\n').replace(' ID ', ` ${id} `)], { cwd: work, env, encoding: 'utf8' })
    expect(out).toContain('{"diagnosis":"flu","count(*)":2}')
    expect(out).toMatch(/exported 3 row\(s\) of patients to \S+/)
  }, 120_000)
})
