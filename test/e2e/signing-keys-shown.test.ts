import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeNodeState, type NodeState } from '../../src/node/state-file.js'
import { NodeLock } from '../../src/storage/index.js'
import { fixtureKey, keyOpBlock, newTestChain } from '../helpers/chain.js'
import { petal } from '../helpers/node-process.js'

// `petal status` listed the keystore's keys ("my keys"), not the one the running node seals with,
// nor whether that one is an active signatory at the tip; a follower said nothing of having none
// (api54). The node publishes its key in node-state.json; status says it, as GET /api/v1/status does.
const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
let dir: string
let lock: NodeLock | undefined

const state = (extra: Partial<NodeState>): NodeState => {
  const now = new Date().toISOString()
  return { pid: process.pid, peer_id: '12D3KooWkey', role: 'follower', listen: [], started_at: now, updated_at: now, sync: { state: 'idle', height: 2 }, peers: [], banned: 0, ...extra }
}

const status = async (s: NodeState): Promise<{ text: string, key: unknown }> => {
  await writeNodeState(dir, s)
  const t = await petal(['--dir', dir, 'status'])
  expect(t.code, t.stderr).toBe(0)
  const j = await petal(['--dir', dir, '--json', 'status'])
  expect(j.code, j.stderr).toBe(0)
  return { text: t.stdout, key: (JSON.parse(j.stdout) as { node: { signing_key?: unknown } }).node.signing_key }
}

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  dir = t.dir
  // Bob is added at height 1 and revoked at height 2.
  await keyOpBlock(t.chain, alice, 'A', bob)
  await keyOpBlock(t.chain, alice, 'R', bob)
  t.chain.close()
  // This process stands for the running node: it holds node.lock, and writes its node-state.json.
  lock = NodeLock.tryAcquire(dir)
  expect(lock).toBeDefined()
}, 60_000)

afterAll(() => { lock?.release() })

describe('petal status: the key the running node seals with', () => {
  it('an active signatory\'s key, a revoked one, none (a follower), and nothing from an older node\'s file', async () => {
    const a = await status(state({ role: 'signatory', signing_key: alice.id }))
    expect(a.text).toContain(`\nsigning key ${alice.id.slice(0, 14)}, an active signatory at the tip: it seals\n`)
    expect(a.key).toEqual({ id: alice.id, active: true, added_at: 0, revoked_at: null })
    const b = await status(state({ signing_key: bob.id }))
    expect(b.text).toContain(`\nsigning key ${bob.id.slice(0, 14)}, not a signatory at the tip (revoked at height 2): it seals nothing\n`)
    expect(b.key).toEqual({ id: bob.id, active: false, added_at: 1, revoked_at: 2 })
    const none = await status(state({ signing_key: null }))
    expect(none.text).toContain('\nsigning key none: the node was started without a key, a follower that seals nothing\n')
    expect(none.key).toBeNull()
    const older = await status(state({}))
    expect(older.text).toMatch(/^node {8}running \(pid \d+\) as follower/m)
    expect(older.text).not.toContain('signing key')
    expect(older.key).toBeUndefined()
  }, 60_000)
})

// `petal peers`' SIGNER column showed the key a peer's status had proved, even once a block had
// revoked it: peers did not open the chain (api54). It says so now, from the chain read as `status` reads it.
describe('petal peers: a peer\'s key revoked at the tip', () => {
  const peer = (n: number): string => `12D3KooWPeer${n}`
  const table = (text: string, id: string): string => text.split('\n').find(l => l.startsWith(id)) ?? ''

  it('is said revoked, in the running node\'s peers and in the remembered ones', async () => {
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [
      { id: peer(1), addrs: ['/ip4/10.0.0.1/tcp/1'], lastSeen: 1, signer: alice.id },
      { id: peer(2), addrs: ['/ip4/10.0.0.2/tcp/1'], lastSeen: 2, signer: bob.id },
      { id: peer(3), addrs: ['/ip4/10.0.0.3/tcp/1'], lastSeen: 3, signer: null }
    ] }))
    const check = async (): Promise<void> => {
      const t = await petal(['--dir', dir, 'peers'])
      expect(t.code, t.stderr).toBe(0)
      expect(table(t.stdout, peer(1))).toMatch(new RegExp(`^${peer(1)} +${alice.id.slice(0, 14)} +\\S`))
      expect(table(t.stdout, peer(2))).toMatch(new RegExp(`^${peer(2)} +${bob.id.slice(0, 14)} \\(revoked at 2\\) +\\S`))
      expect(table(t.stdout, peer(3))).toMatch(new RegExp(`^${peer(3)} +none +\\S`))
      const j = await petal(['--dir', dir, '--json', 'peers'])
      expect(j.code, j.stderr).toBe(0)
      const list = JSON.parse(j.stdout) as { peers?: unknown[], known?: unknown[] }
      expect(list.peers ?? list.known).toEqual(expect.arrayContaining([
        expect.objectContaining({ id: peer(1), signer: alice.id }),
        expect.objectContaining({ id: peer(2), signer: bob.id, signer_revoked_at: 2 }),
        expect.objectContaining({ id: peer(3), signer: null })
      ]))
      expect((list.peers ?? list.known ?? []).find(p => (p as { id: string }).id === peer(1))).not.toHaveProperty('signer_revoked_at')
    }
    // A node runs (this process), connected to the three.
    await writeNodeState(dir, state({ peers: [1, 2, 3].map(n => ({ id: peer(n), addr: `/ip4/10.0.0.${n}/tcp/1`, direction: 'outbound', score: 0 })) }))
    await check()
    // None runs: the remembered peers.
    lock?.release()
    lock = undefined
    await check()
  }, 60_000)
})
