import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenStore, type ApiServer } from '../../src/api/index.js'
import type { Chain } from '../../src/chain/index.js'
import { Ingest } from '../../src/ingest/index.js'
import { errorOf, http, OpenApiChecker, postJson, startTestApi } from '../helpers/api.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

/**
 * A client refused with INGEST_NOT_SIGNATORY was told "write to a signatory node", and the API had
 * no way to say which (user52). The node knows the peers whose status proved a signatory's key
 * (peers.json's `signer`): the hint names them, and GET /api/v1/signers lists them under each key.
 * Only their libp2p addresses: a node's HTTP address is not announced to its peers.
 */
const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const A = '12D3KooWAliceAliceAliceAliceAliceAliceAliceAlice'
const known = [
  { id: 'old-' + A, addrs: ['/ip4/10.0.0.9/tcp/4001/p2p/old'], lastSeen: Date.parse('2026-01-01T00:00:00Z'), signer: alice.id },
  { id: A, addrs: [`/ip4/10.0.0.5/tcp/4001/p2p/${A}`, `/ip4/192.168.1.5/tcp/4001/p2p/${A}`], lastSeen: Date.parse('2026-12-01T00:00:00Z'), signer: alice.id },
  { id: 'follower', addrs: ['/ip4/10.0.0.6/tcp/4001/p2p/follower'], lastSeen: Date.now(), signer: null },
  { id: 'bobs-node', addrs: ['/ip4/10.0.0.7/tcp/4001/p2p/bobs-node'], lastSeen: Date.now(), signer: bob.id },
  { id: 'unknown', addrs: ['/ip4/10.0.0.8/tcp/4001/p2p/unknown'], lastSeen: Date.now() }
]
let chain: Chain
let ingest: Ingest
let write: Record<string, string>
const servers: ApiServer[] = []

async function serve (peers: typeof known): Promise<string> {
  const { server, url } = await startTestApi({ dir: chain.dir.root, ingest, knownPeers: () => peers })
  servers.push(server)
  return url
}

beforeAll(async () => {
  chain = (await newTestChain({ key: alice })).chain
  await extendChain(chain, alice, 1)
  write = { authorization: `Bearer ${TokenStore.of(chain.dir.root).create({ scope: 'write', name: 'w' }).token}` }
  // This node's key, bob's, is no signatory of the chain.
  ingest = Ingest.open({ chain, key: bob })
})

afterAll(async () => {
  await stopAll()
  for (const s of servers) await s.close()
  await ingest?.close()
  chain?.close()
})

describe('a write refused by a node that cannot seal names the signatories\' peers it knows', () => {
  it('INGEST_NOT_SIGNATORY\'s hint names the active signatory\'s peers, most recently met first, and no other peer', async () => {
    const url = await serve(known)
    const r = await postJson(url + 'api/v1/records/t', [{ n: 1 }], write)
    expect(r.status).toBe(409)
    const e = errorOf(r)
    expect(e.code).toBe('INGEST_NOT_SIGNATORY')
    expect(e.hint).toContain(`this node knows 2: peer ${A} (key ${alice.id.slice(0, 14)}…, at /ip4/10.0.0.5/tcp/4001/p2p/${A}); peer old-${A}`)
    expect(e.hint).toContain('GET /api/v1/signers lists them')
    expect(e.hint).toContain('ask its operator for it')
    for (const other of ['follower', 'bobs-node', 'unknown']) expect(e.hint).not.toContain(other)
    // The operator's remedy stays: bob's key was never added.
    expect(e.hint).toContain('; or, by this node\'s operator: have the signatories add this key (`petal signkey KEY --op add`, then `signimportblock --keyops`)')
  })

  it('GET /api/v1/signers lists them under the key, as the OpenAPI document says', async () => {
    const url = await serve(known)
    const api = new OpenApiChecker((await http(`${url}api/v1/openapi.json`)).json as ConstructorParameters<typeof OpenApiChecker>[0])
    const r = await http(url + 'api/v1/signers')
    api.check('GET', '/api/v1/signers', r)
    const signers = (r.json as { signers: Array<{ id: string, peers?: unknown }> }).signers
    expect(signers.find(s => s.id === alice.id)?.peers).toEqual([
      { id: A, addrs: known[1]?.addrs, connected: false, last_seen: '2026-12-01T00:00:00.000Z' },
      { id: 'old-' + A, addrs: known[0]?.addrs, connected: false, last_seen: '2026-01-01T00:00:00.000Z' }
    ])
    // At a past height who holds a key is not known: no `peers`.
    const past = await http(url + 'api/v1/signers?height=0')
    expect((past.json as { signers: Array<{ peers?: unknown }> }).signers.every(s => s.peers === undefined)).toBe(true)
  })

  it('knowing none, the hint says so and where the signatories are listed', async () => {
    const url = await serve([])
    const e = errorOf(await postJson(url + 'api/v1/records/t', [{ n: 1 }], write))
    expect(e.code).toBe('INGEST_NOT_SIGNATORY')
    expect(e.hint).toContain('this node knows no peer that holds an active signatory\'s key (GET /api/v1/signers lists the signatories)')
  })
})

describe('a server that takes no writes (petal serve)', () => {
  it('API_READ_ONLY\'s hint names the signatories\' peers it knows (peers.json), after its own', async () => {
    const { server, url } = await startTestApi({ dir: chain.dir.root, knownPeers: () => known, readOnlyHint: () => 'this directory has no signing key: it is a read-only mirror' })
    servers.push(server)
    const e = errorOf(await postJson(url + 'api/v1/records/t', [{ n: 1 }], write))
    expect(e.code).toBe('API_READ_ONLY')
    expect(e.hint).toBe(`this directory has no signing key: it is a read-only mirror. Signatories' nodes this node knows, to send records to: 2: peer ${A} (key ${alice.id.slice(0, 14)}…, at /ip4/10.0.0.5/tcp/4001/p2p/${A}); peer old-${A} (key ${alice.id.slice(0, 14)}…, at /ip4/10.0.0.9/tcp/4001/p2p/old) (GET /api/v1/signers lists them under each key's "peers"); a node's HTTP API address is not announced to peers: ask its operator for it`)
    // Knowing none, its own hint alone.
    const { server: bare, url: bareUrl } = await startTestApi({ dir: chain.dir.root, readOnlyHint: () => 'a read-only mirror' })
    servers.push(bare)
    expect(errorOf(await postJson(bareUrl + 'api/v1/records/t', [{ n: 1 }], write)).hint).toBe('a read-only mirror')
  })
})

describe('on running nodes, on 127.0.0.1', () => {
  it('a node whose key is no signatory names the signatory\'s node it is connected to', async () => {
    const { chain: c, dir } = await newTestChain({ key: alice })
    const fDir = await cloneGenesis(c)
    c.close()
    const a = await startNode(dir, { name: 'A', key: alice, ingest: false as const })
    const f = await startNode(fDir, { name: 'F', key: bob, bootstrap: [addrOf(a)], http: { address: { host: '127.0.0.1', port: 0 } } })
    await waitFor(() => f.network.knownPeers().find(p => p.id === a.peerId)?.signer === alice.id, { what: 'F to learn that A is alice\'s node' })
    const token = TokenStore.of(fDir).create({ scope: 'write', name: 'w' }).token
    const e = errorOf(await postJson(`${f.httpUrl ?? ''}api/v1/records/t`, [{ n: 1 }], { authorization: `Bearer ${token}` }))
    expect(e.code).toBe('INGEST_NOT_SIGNATORY')
    expect(e.hint).toContain(`this node knows one: peer ${a.peerId} (key ${alice.id.slice(0, 14)}…, at /ip4/127.0.0.1/tcp/`)
    expect(e.hint).toContain(', connected now)')
    const signers = (await http(`${f.httpUrl ?? ''}api/v1/signers`)).json as { signers: Array<{ id: string, peers?: Array<{ id: string, connected: boolean }> }> }
    expect(signers.signers.find(s => s.id === alice.id)?.peers?.map(p => [p.id, p.connected])).toEqual([[a.peerId, true]])
  })

  it('a node without a key (a pulled follower) names them too, and keeps its operator\'s remedy', async () => {
    const { chain: c, dir } = await newTestChain({ key: alice })
    const gDir = await cloneGenesis(c)
    c.close()
    const a = await startNode(dir, { name: 'A2', key: alice, ingest: false as const })
    const g = await startNode(gDir, { name: 'G', bootstrap: [addrOf(a)], http: { address: { host: '127.0.0.1', port: 0 } } })
    await waitFor(() => g.network.knownPeers().find(p => p.id === a.peerId)?.signer === alice.id, { what: 'G to learn that A is alice\'s node' })
    const token = TokenStore.of(gDir).create({ scope: 'write', name: 'w' }).token
    const e = errorOf(await postJson(`${g.httpUrl ?? ''}api/v1/records/t`, [{ n: 1 }], { authorization: `Bearer ${token}` }))
    expect(e.code).toBe('INGEST_NO_KEY')
    expect(e.hint).toContain(`this node knows one: peer ${a.peerId}`)
    expect(e.hint).toContain('; or, by this node\'s operator: create a key with `petal --dir')
  })
})
