import { spawnSync } from 'node:child_process'
import { constants, openSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { systemFailure } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

// A symbolic link loop (a `witnesses` link to itself, a lock file's): ELOOP was said to be "a file
// where a directory belongs, or the other way round", and the hint to move "what is in the way"
// (locks54's audit of the locks).
describe('systemFailure: a symbolic link loop', () => {
  it('is said as one, and the hint\'s command shows the loop', () => {
    const path = join(tmpDir(), 'witnesses')
    symlinkSync('witnesses', path)
    let err: unknown
    try { statSync(path) } catch (e) { err = e }
    const e = systemFailure(err)
    expect(e?.code).toBe('PATH_CONFLICT')
    // Before: 'a path is not what it should be (a file where a directory belongs, or the other way round)'.
    expect(e?.message).toMatch(/^a symbolic link loop/)
    const cmd = /`(namei [^`]+)`/.exec(e?.hint ?? '')?.[1]
    expect(cmd).toBe(`namei ${path}`)
    const shown = spawnSync('sh', ['-c', cmd as string], { encoding: 'utf8' })
    // namei (util-linux) exits 1 at a loop, having shown the links it followed.
    if (spawnSync('namei', ['/']).status === 0) expect(shown.stdout + shown.stderr).toContain('witnesses -> witnesses')
  })

  it('a link that resolves, opened without following links (O_NOFOLLOW: ELOOP too), is no loop', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'file'), '')
    symlinkSync('file', join(dir, 'link'))
    let err: unknown
    try { openSync(join(dir, 'link'), constants.O_RDONLY | constants.O_NOFOLLOW) } catch (e) { err = e }
    expect(systemFailure(err)).toMatchObject({ code: 'PATH_CONFLICT', message: expect.stringMatching(/^a path is not what it should be \(a symbolic link where a file belongs\)/) })
  })
})
