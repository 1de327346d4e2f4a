import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pausepoint } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

afterEach(() => {
  delete process.env.PETAL_PAUSE
  delete process.env.PETAL_PAUSE_FILE
})

describe('pausepoint', () => {
  it('name@at holds a point passed many times at that place only, until the file is removed', async () => {
    const file = join(tmpDir(), 'pause')
    process.env.PETAL_PAUSE = 'sync:check@3'
    process.env.PETAL_PAUSE_FILE = file
    await pausepoint('sync:check', undefined, 2)
    await pausepoint('sync:check')
    await pausepoint('other', undefined, 3)
    expect(existsSync(file)).toBe(false)
    let released = false
    const held = pausepoint('sync:check', undefined, 3).then(() => { released = true })
    await waitFor(() => existsSync(file), { what: 'the pause file' })
    expect(released).toBe(false)
    rmSync(file)
    await held
    expect(released).toBe(true)
  })

  it('a plain name holds every pass', async () => {
    const file = join(tmpDir(), 'pause')
    process.env.PETAL_PAUSE = 'reindex:locked'
    process.env.PETAL_PAUSE_FILE = file
    const held = pausepoint('reindex:locked', undefined, 7)
    await waitFor(() => existsSync(file), { what: 'the pause file' })
    rmSync(file)
    await held
  })
})
