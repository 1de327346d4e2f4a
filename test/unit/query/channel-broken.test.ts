// A sandbox process that breaks the frame protocol on its socket (src/query/sandbox/channel.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { forkSandbox } from '../../../src/query/sandbox/fork.js'

const dir = mkdtempSync(join(tmpdir(), 'petal-channel-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('the parent\'s end of the sandbox socket', () => {
  it('kills a process that sends what is not a frame, rather than waiting for its next read, write or the time limit', async () => {
    // A frame of an unknown kind on descriptor 3, then the process stays alive doing nothing.
    const file = join(dir, 'bad-child.cjs')
    writeFileSync(file, "require('node:fs').writeSync(3, Buffer.from([0, 0, 0, 1, 0x51, 0x30])); setInterval(() => {}, 1000)\n")
    const { child, channel } = forkSandbox(file, [], undefined, 'watchdog')
    const exit = new Promise<NodeJS.Signals | null>(resolve => child.once('exit', (_code, signal) => { resolve(signal) }))
    try {
      // Waits on the exit itself: on the old code the process was only cut off and never ended.
      expect(await exit).toBe('SIGKILL')
      expect(channel.broken?.message).toMatch(/unknown frame kind/)
      expect(channel.connected).toBe(false)
    } finally {
      child.kill('SIGKILL')
    }
  })
})
