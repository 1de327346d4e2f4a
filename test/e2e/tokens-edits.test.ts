import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { petal, spawnPetal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// `petal tokens create` twice at the same time (user52 found it beside the witnesses file's): each
// read tokens.json, added its token and put the file in place by rename, so the second rename
// dropped the first's token, which had been printed to its user as working. They now take
// tokens.lock around the read and the rename.

describe('petal tokens: creates at the same time', () => {
  it('two creates in two processes both keep their token: the second waits for the first, and says so', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const pause = join(tmpDir(), 'pause')
    // The first stops between its read of the file and its rename (a test-only pause point).
    const first = spawnPetal(['--dir', dir, 'tokens', 'create', '--name', 'one'], { env: { PETAL_PAUSE: 'tokens:read', PETAL_PAUSE_FILE: pause } })
    await waitFor(() => existsSync(pause), { what: 'the first create to read the file' })
    const second = spawnPetal(['--dir', dir, 'tokens', 'create', '--name', 'two'])
    let secondDone = false
    void second.exit.then(() => { secondDone = true })
    let err = ''
    second.child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    await waitFor(() => err.includes('waiting for another `petal tokens` command') || secondDone, { what: 'the second create to wait' })
    expect(secondDone, err).toBe(false)
    expect(err).toContain(`(pid ${first.child.pid ?? '?'})`)
    rmSync(pause)
    const [a, b] = [await first.exit, await second.exit]
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const names = (JSON.parse(readFileSync(join(dir, 'api', 'tokens.json'), 'utf8')) as { tokens: Array<{ name: string }> }).tokens.map(t => t.name)
    expect(names.sort()).toEqual(['one', 'two'])
    const list = await petal(['--dir', dir, '--json', 'tokens', 'list'])
    expect((JSON.parse(list.stdout) as { tokens: unknown[] }).tokens).toHaveLength(2)
  })
})
