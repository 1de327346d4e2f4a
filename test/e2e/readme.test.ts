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
