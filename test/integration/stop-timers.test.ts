import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { entryOf, loaderFor } from '../helpers/src-entry.js'

// An idle `petal run` took ~1.05 s from SIGTERM to exit while its stop took ~20 ms: libp2p left a
// gossipsub heartbeat and the address manager's debounced update behind, and the process waited
// for them (src/network/stop-timers.ts). A stopped node must leave nothing that keeps its process
// alive: the condition, not the time, is checked here, in a process of its own (this one has
// timers of its own).
describe('a stopped node leaves nothing running', () => {
  it('two connected nodes, one with an SSE client: after both stop, no timer, socket or server is left', async () => {
    // The helper's bundle (src-entry.ts): its two nodes' code compiled through tsx was ~5 s of CPU.
    const entry = entryOf(join(import.meta.dirname, '..', 'helpers', 'stopped-node.ts'))
    const child = spawn(process.execPath, [...loaderFor(entry), entry], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    expect(code, err).toBe(0)
    const r = JSON.parse(out.trim()) as { left: string[], reached: Record<string, boolean> }
    // Said first and on its own: after an upgrade of libp2p, a holder no longer found means
    // stop-timers.ts reaches nothing there (see whether libp2p still leaves that timer; update or
    // remove the code), whether or not a timer is left.
    expect(r.reached, 'the timers\' holders src/network/stop-timers.ts finds on a running node (false: libp2p\'s shape changed)').toEqual({ heartbeat: true, addressUpdate: true })
    expect(r.left, 'what process.getActiveResourcesInfo() lists once both nodes have stopped').toEqual([])
  }, 60_000)
})
