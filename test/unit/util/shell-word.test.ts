import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { shellWord } from '../../../src/util/index.js'

// Each word, as printed, is read back by a real shell as exactly the name it stands for (bash:
// the shell the printed commands are tested with). `a=~/d` was printed bare, and bash expands a
// tilde after the `=` of an argument that looks like an assignment (review34).
describe('shellWord', () => {
  const names = ['plain', 'my d', 'a=~/d', 'x:~/d', '~/d', 'd~', "it's", '$HOME', '`id`', 'a\nb', '*', '[ab]', 'é ✓', '', '-x', 'a,b', 'u@h:p/x', '50%+1', '=ls']
  it('is read back by bash as the very name', () => {
    const script = names.map(n => `printf '%s\\0' ${shellWord(n)}`).join('\n')
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent-home' } })
    expect(out.split('\0').slice(0, -1)).toEqual(names)
  })

  it('leaves plain names bare', () => {
    expect(['plain', '-x', 'a,b', 'u@h:p/x', '50%+1', '/srv/petal/data'].map(shellWord)).toEqual(['plain', '-x', 'a,b', 'u@h:p/x', '50%+1', '/srv/petal/data'])
  })
})
