import { copyFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { installGenesis, type Chain } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { PetalNode, type NodeOptions } from '../../src/node/index.js'
import { DataDir, type ChainParams } from '../../src/storage/index.js'
import { createLogger, formatLogRecord, nullLogger, type Logger } from '../../src/util/index.js'
import { signTipCheckpoints } from '../../src/proof/index.js'
import { extendChain, newTestChain } from './chain.js'
import { tmpDir } from './tmp.js'
import { waitFor } from './wait.js'

/** Logs to stderr when PETAL_TEST_LOG=debug|info is set, else nothing. */
export function testLogger (name: string): Logger {
  const level = process.env.PETAL_TEST_LOG
  if (level !== 'debug' && level !== 'info') return nullLogger
  return createLogger(r => { process.stderr.write(`[${name}] ${formatLogRecord(r)}\n`) }, level)
}

/** A new data directory holding the same chain (genesis only) as `chain`. */
export async function cloneGenesis (chain: Chain | { params: ChainParams, genesisFile: string }): Promise<string> {
  const params = 'params' in chain && 'genesisFile' in chain ? chain.params : (chain as Chain).params
  const file = 'genesisFile' in chain ? chain.genesisFile : (chain as Chain).dir.blockPath(0)
  const root = join(tmpDir(), 'node')
  const dir = new DataDir(root)
  const copy = join(tmpDir(), 'genesis.db')
  copyFileSync(file, copy)
  copyFileSync(file.replace(/\.db$/, '.sig'), copy.replace(/\.db$/, '.sig'))
  const c = await installGenesis(dir, params, copy)
  c.close()
  return root
}

/** Network, sync and watch timers short enough for tests on loopback. */
export function fastOptions (o: { bootstrap?: string[], listen?: string[], discovery?: boolean } = {}): Pick<NodeOptions, 'network' | 'sync' | 'watchMs' | 'stateFile'> {
  return {
    network: {
      listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: o.bootstrap ?? [],
      discovery: o.discovery === false ? false : { initialMs: 100, maxMs: 1_000, provideEveryMs: 60_000, targetPeers: 16 },
      redial: { baseMs: 100, maxMs: 2_000, maxRemembered: 64, parallel: 4 },
      redialTickMs: 100,
      banMs: 60_000
    },
    sync: { statusIntervalMs: 1_000, retryDelayMs: 100, hedgeAfterMs: 2_000 },
    watchMs: 100,
    stateFile: false
  }
}

const running: PetalNode[] = []

/** Start a node on `dir` with test timers; stopped by stopAll(). */
export async function startNode (dir: string, o: { name?: string, key?: SigningKey, bootstrap?: string[], listen?: string[], discovery?: boolean, events?: NodeOptions['events'], http?: NodeOptions['http'], ingest?: NodeOptions['ingest'], network?: NodeOptions['network'], logger?: Logger, witness?: NodeOptions['witness'], stateEveryMs?: number } = {}): Promise<PetalNode> {
  const fast = fastOptions(o)
  const node = await PetalNode.create({ dir, signingKey: o.key, logger: o.logger ?? testLogger(o.name ?? 'node'), events: o.events, http: o.http, ingest: o.ingest, witness: o.witness, ...fast, ...(o.stateEveryMs === undefined ? {} : { stateFile: true, stateEveryMs: o.stateEveryMs }), network: { ...fast.network, ...o.network } })
  await node.start()
  running.push(node)
  return node
}

export async function stopNode (node: PetalNode): Promise<void> {
  const i = running.indexOf(node)
  if (i >= 0) running.splice(i, 1)
  await node.stop()
}

export async function stopAll (): Promise<void> {
  await Promise.all(running.splice(0).map(async n => { await n.stop() }))
}

export function addrOf (node: PetalNode): string {
  const a = node.listenAddrs()[0]
  if (a === undefined) throw new Error('node does not listen')
  return a
}

export function tipOf (node: PetalNode): { height: number, hash: string } {
  const t = node.chain.tip()
  return { height: t.height, hash: t.hash }
}

/** Wait until every node has the same tip (and, if given, at least `height`). */
export async function waitConverged (nodes: PetalNode[], o: { height?: number, timeout?: number, what?: string, progress?: () => unknown } = {}): Promise<{ height: number, hash: string }> {
  return await waitFor(() => {
    const tips = nodes.map(tipOf)
    const first = tips[0] as { height: number, hash: string }
    if (o.height !== undefined && first.height < o.height) return undefined
    return tips.every(t => t.hash === first.hash) ? first : undefined
  }, { timeout: o.timeout ?? 30_000, interval: 50, what: o.what ?? 'nodes to converge on one tip', progress: o.progress })
}

/**
 * A node (`name`, signing with `key`, or with none) on a chain of two blocks whose tip's
 * checkpoints `signer` signed before the node started, as signimportblock and seal sign them in
 * their commit, and a follower (F) caught up to it from the genesis: the set-up of the tests of
 * checkpoints a follower gets once caught up (checkpoints-on-idle, checkpoint-gossip-stored).
 */
export async function caughtUpFollower (signer: SigningKey, o: { name: string, key?: SigningKey, blocks?: number, maxReorgDepth?: number }): Promise<{ node: PetalNode, follower: PetalNode, tip: number }> {
  const { chain, dir } = await newTestChain({ key: signer, ...(o.maxReorgDepth === undefined ? {} : { consensus: { maxReorgDepth: o.maxReorgDepth } }) })
  const fDir = await cloneGenesis(chain)
  await extendChain(chain, signer, o.blocks ?? 2)
  if ((await signTipCheckpoints(chain, signer)).length === 0) throw new Error('no checkpoint signed at the tip')
  const tip = chain.tip().height
  chain.close()
  const node = await startNode(dir, { name: o.name, key: o.key, ingest: false })
  const follower = await startNode(fDir, { name: 'F', bootstrap: [addrOf(node)], ingest: false })
  await waitConverged([node, follower], { height: tip })
  return { node, follower, tip }
}

/** A TCP port on 127.0.0.1 that nothing listens on (a node's old address, once it moved). */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}
