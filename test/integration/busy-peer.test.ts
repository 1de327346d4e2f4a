// A peer whose process does not run for longer than libp2p's ping timeout (5 s) is busy, not dead:
// the connection and its streams live on (TIMEOUTS.ping, docs/protocol.md "Limits and timeouts").
// The peer runs in a process of its own, stopped with SIGSTOP as a loaded machine or a long
// collection holds an event loop: the kernel still takes its bytes, nothing answers them.
import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadOrCreateNodeKey } from '../../src/network/index.js'
import { createPetalLibp2p } from '../../src/network/libp2p.js'
import { ECHO_PROTOCOL } from '../helpers/echo-peer.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// libp2p's connection monitor pings every 10 s; its default timeout is at least 5 s. A stop of one
// interval and that timeout, and 2 s more, holds a ping unanswered past 5 s whenever it starts.
const STOP_MS = 10_000 + 5_000 + 2_000

describe('a peer held for longer than libp2p\'s ping timeout', () => {
  it('keeps its connection and streams: the ping waits TIMEOUTS.ping, not 5 s', async () => {
    const dir = tmpDir()
    const tsx = createRequire(import.meta.url).resolve('tsx')
    const peer = spawn(process.execPath, ['--import', tsx, join(import.meta.dirname, '..', 'helpers', 'echo-peer.ts'), join(dir, 'peer.key')], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    peer.stdout.on('data', (d: Buffer) => { out += d.toString() })
    const node = await createPetalLibp2p({
      privateKey: await loadOrCreateNodeKey(join(dir, 'node.key')), chainId: 'echo-peer-test', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
      maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'test'
    })
    try {
      const addr = await waitFor(() => out.split('\n').find(l => l.startsWith('/ip4/')), { timeout: 30_000, what: 'the peer\'s address' })
      const stream = await node.dialProtocol(multiaddr(addr), ECHO_PROTOCOL)
      const conn = node.getConnections()[0]
      const echoes = stream[Symbol.asyncIterator]()
      const echo = async (text: string): Promise<string> => {
        stream.send(Buffer.from(text))
        let got = ''
        while (got.length < text.length) {
          const r = await echoes.next()
          if (r.done === true) throw new Error(`stream ended after ${JSON.stringify(got)}`)
          got += Buffer.from(r.value.subarray()).toString()
        }
        return got
      }
      expect(await echo('before')).toBe('before')

      peer.kill('SIGSTOP')
      const stoppedAt = Date.now()
      try {
        // Until the stop is over, or (libp2p's 5 s) the connection is gone already.
        await waitFor(() => conn?.status !== 'open' || Date.now() - stoppedAt >= STOP_MS, { timeout: STOP_MS + 10_000, what: 'the stop' })
      } finally {
        peer.kill('SIGCONT')
      }

      expect(conn?.status).toBe('open')
      expect(await echo('after the stop')).toBe('after the stop')
      expect(node.getConnections().map(c => c.id)).toEqual([conn?.id])
    } finally {
      peer.kill('SIGCONT')
      peer.kill('SIGTERM')
      await node.stop()
    }
  }, 90_000)
})
