import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readPeersFile, rememberPeerAddrs, writePeersFile } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const KEY = '1:' + 'ab'.repeat(32)

/** peers.json has one reader and one writer, for the node, `petal peers` and repair alike (user52). */
describe('peers.json', () => {
  it('keeps the most recently seen, with their signer, and skips damaged entries', () => {
    const file = join(tmpDir(), 'peers.json')
    writePeersFile(file, [
      { id: 'a', addrs: ['/ip4/127.0.0.1/tcp/1'], lastSeen: 1 },
      { id: 'b', addrs: ['/ip4/127.0.0.1/tcp/2'], lastSeen: 3, signer: KEY },
      { id: 'c', addrs: [], lastSeen: 2, signer: null }
    ], 2)
    expect(readPeersFile(file)).toEqual([
      { id: 'b', addrs: ['/ip4/127.0.0.1/tcp/2'], lastSeen: 3, signer: KEY },
      { id: 'c', addrs: [], lastSeen: 2, signer: null }
    ])
    writeFileSync(file, JSON.stringify({ peers: [{ id: 'x', addrs: 'no', lastSeen: 1 }, { id: 'y', addrs: [], lastSeen: 1, signer: 'junk' }] }))
    expect(readPeersFile(file)).toEqual([{ id: 'y', addrs: [], lastSeen: 1 }])
  })

  it('remembering addresses puts them first and keeps what the node proved of the peer', () => {
    const file = join(tmpDir(), 'peers.json')
    writePeersFile(file, [{ id: 'p', addrs: ['/ip4/127.0.0.1/tcp/1'], lastSeen: 5, signer: KEY }, { id: 'q', addrs: ['/ip4/127.0.0.1/tcp/9'], lastSeen: 7 }], 64)
    rememberPeerAddrs(file, 'p', ['/ip4/127.0.0.1/tcp/2'], 1, 10)
    expect(readPeersFile(file)).toEqual([{ id: 'p', addrs: ['/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/1'], lastSeen: 10, signer: KEY }])
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true)
    // No file yet: one entry.
    const fresh = join(tmpDir(), 'peers.json')
    rememberPeerAddrs(fresh, 'r', ['/ip4/127.0.0.1/tcp/3'], 64, 1)
    expect(readPeersFile(fresh)).toEqual([{ id: 'r', addrs: ['/ip4/127.0.0.1/tcp/3'], lastSeen: 1 }])
  })
})
