import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
