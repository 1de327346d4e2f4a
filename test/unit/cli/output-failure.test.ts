import { describe, expect, it } from 'vitest'
import { outputFileFailure } from '../../../src/cli/output-failure.js'

const sysErr = (code: string, message: string): Error => Object.assign(new Error(message), { code })

// An -o PATH that could not be written: the hint says what to do for the reason it failed
// (review33: a FIFO whose reader went away was told to "choose a path in a directory you can write").
describe('outputFileFailure', () => {
  it('a reader of a FIFO that went away (EPIPE): keep a reader on it, the path quoted for the shell', () => {
    const e = outputFileFailure('/tmp/my pipe', sysErr('EPIPE', 'EPIPE: broken pipe, write'), 'choose a path in a directory you can write')
    expect(e.code).toBe('USAGE')
    expect(e.message).toContain('its reader went away before the output ended')
    expect(e.hint).toContain("`cat '/tmp/my pipe'`")
    expect(e.hint).not.toContain('directory you can write')
  })

  it('a full disk or quota (ENOSPC, EDQUOT): free space or another disk', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const e = outputFileFailure('/mnt/x.note', sysErr(code, `${code}: no space left on device, write`), 'choose a path in a directory you can write')
      expect(e.message).toBe(`cannot write /mnt/x.note: ${code}: no space left on device, write`)
      expect(e.hint).toMatch(/is full .*free space there, or choose a path on another disk/)
    }
  })

  it('a path into the data directory: by name, another name of it, a hard link of its file', () => {
    const inside = (extra: object): Error => Object.assign(new Error('inside'), { code: 'EINSIDE', dir: '/d', ...extra })
    expect(outputFileFailure('/d/chain.db', inside({}), 'h').hint).toBe('choose a path outside /d')
    expect(outputFileFailure('/b/chain.db', inside({ alias: '/b' }), 'h').hint).toBe('choose a path outside /b and /d')
    expect(outputFileFailure('/w/k.json', inside({ file: '/d/keystore/k.json' }), 'h').message).toContain('a hard link) of /d/keystore/k.json')
  })

  it('anything else: the command\'s own hint', () => {
    const e = outputFileFailure('/etc/x', sysErr('EACCES', 'EACCES: permission denied, open'), 'choose a path in a directory you can write')
    expect(e.hint).toBe('choose a path in a directory you can write')
    expect(e.message).toBe('cannot write /etc/x: EACCES: permission denied, open')
  })
})
