import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  announceTopic, BLOCK_MIN_RATE, BLOCK_RATE_FLOOR, CHAINPARAMS_PROTOCOL, checkpointTopic, INBOUND_STREAMS, LIMITS,
  MAX_CONCURRENT_UPLOADS, MAX_UPLOADS_PER_PEER, protocolId, TIMEOUTS
} from '../../src/network/constants.js'
import { DEFAULT_NETWORK_OPTIONS } from '../../src/network/options.js'
import { BAN_THRESHOLD, PENALTY, RECOVERY_PER_MINUTE } from '../../src/network/scoring.js'
import { DEFAULT_SYNC_OPTIONS } from '../../src/sync/options.js'

// docs/protocol.md's numbers are the network's constants (src/network/constants.ts says "every
// number here is documented in docs/protocol.md; change both together"): the protocol ids, the
// "Limits and timeouts" tables, peer scoring and discovery, read from the document as written.
const root = resolve(import.meta.dirname, '../..')
const doc = readFileSync(resolve(root, 'docs/protocol.md'), 'utf8')
const KiB = 1024
const MiB = 1024 * KiB

/** The section of the document under `heading`, up to the next heading of any level. */
function section (heading: string): string {
  const at = doc.indexOf(`\n## ${heading}\n`)
  expect(at, `docs/protocol.md has "## ${heading}"`).toBeGreaterThanOrEqual(0)
  const rest = doc.slice(at + heading.length + 5)
  const end = rest.search(/\n#{1,6} /)
  return end < 0 ? rest : rest.slice(0, end)
}

/** The rows of the table whose header line is `header`, as [first cell, second cell]. */
function table (text: string, header: string): Array<[string, string]> {
  const lines = text.split('\n')
  const start = lines.indexOf(header)
  expect(start, `a table headed ${header}`).toBeGreaterThanOrEqual(0)
  const rows: Array<[string, string]> = []
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break
    const cells = l.split('|').slice(1, -1).map(c => c.trim())
    rows.push([cells[0] ?? '', cells[1] ?? ''])
  }
  return rows
}

/** The numbers of a cell in order, `10 000` as 10000 and `4 KiB` as 4096 (a bare `B` is bytes). */
function numbers (cell: string): number[] {
  return [...cell.matchAll(/(\d{1,3}(?: \d{3})+|\d+)(?:\s*(KiB|MiB|B)\b)?/g)]
    .map(m => Number((m[1] ?? '').replace(/ /g, '')) * (m[2] === 'KiB' ? KiB : m[2] === 'MiB' ? MiB : 1))
}

/** Each row of a table must say these numbers first, in this order; every row must be named here. */
function checkTable (rows: Array<[string, string]>, expected: Record<string, number[]>): void {
  expect(rows.map(r => r[0]).sort(), 'the rows of the table').toEqual(Object.keys(expected).sort())
  for (const [what, cell] of rows) expect(numbers(cell).slice(0, expected[what]?.length), `${what}: ${cell}`).toEqual(expected[what])
}

describe('docs/protocol.md against src/network', () => {
  it('"Protocol ids": every id and topic the code builds, and nothing else', () => {
    const ids = table(section('Protocol ids'), '| id | purpose |').map(([id]) => id.replace(/^gossip topic /, '').replace(/`/g, ''))
    const chain = '<chain>'
    expect(ids.sort()).toEqual([
      ...(['status', 'headers', 'block', 'blocks', 'checkpoints', 'kad'] as const).map(n => protocolId(chain, n)),
      CHAINPARAMS_PROTOCOL, announceTopic(chain), checkpointTopic(chain)
    ].sort())
    expect(section('Protocol ids')).toContain(`at most ${LIMITS.checkpoint / KiB} KiB`)
  })

  it('"Limits and timeouts": the size limits', () => {
    checkTable(table(section('Limits and timeouts'), '| what | limit |'), {
      'status request / reply': [LIMITS.statusRequest, LIMITS.statusResponse],
      'headers request / reply': [LIMITS.headersRequest, LIMITS.headersResponse, LIMITS.maxHeaders],
      'block request / reply frame': [LIMITS.blockRequest, LIMITS.blockResponseMeta],
      'blocks (range) request / reply frames': [LIMITS.blocksRequest, LIMITS.maxRangeBlocks, LIMITS.blockResponseMeta],
      'chainparams request / reply': [LIMITS.chainparamsRequest, LIMITS.chainparamsResponse],
      'checkpoints request / reply': [LIMITS.checkpointsRequest, LIMITS.checkpointsResponse, LIMITS.maxCheckpointNotes, LIMITS.checkpoint],
      'announcement / gossip RPC': [LIMITS.announcement, LIMITS.gossipRpc],
      connections: [DEFAULT_NETWORK_OPTIONS.maxConnections],
      'inbound connections per host': [DEFAULT_NETWORK_OPTIONS.inboundPerSecond],
      'inbound streams per connection': Object.values(INBOUND_STREAMS),
      'concurrent uploads per node / per requesting peer': [MAX_CONCURRENT_UPLOADS, MAX_UPLOADS_PER_PEER, TIMEOUTS.blockBase / 1000, 1, BLOCK_MIN_RATE],
      'block requests in flight per peer (client)': [DEFAULT_SYNC_OPTIONS.perPeer],
      'download window': [DEFAULT_SYNC_OPTIONS.window, DEFAULT_SYNC_OPTIONS.windowBytes ?? 0]
    })
    const streams = table(section('Limits and timeouts'), '| what | limit |').find(r => r[0] === 'inbound streams per connection')?.[1] ?? ''
    expect(Object.fromEntries([...streams.matchAll(/(\w+) (\d+)/g)].map(m => [m[1], Number(m[2])]))).toEqual(INBOUND_STREAMS)
  })

  it('"Limits and timeouts": the timeouts', () => {
    // The relay wait is a constant of the block protocol's server, not exported.
    const relay = /const AWAIT_BLOCK_MS = ([\d_]+)/.exec(readFileSync(resolve(root, 'src/network/protocols/block.ts'), 'utf8'))?.[1]
    checkTable(table(section('Limits and timeouts'), '| timeout | ms |'), {
      dial: [TIMEOUTS.dial],
      'status / chainparams / checkpoints exchange (whole)': [TIMEOUTS.status],
      'headers exchange (whole)': [TIMEOUTS.headers],
      'block: until the reply frame': [TIMEOUTS.blockMeta],
      'block: no bytes received': [TIMEOUTS.blockIdle],
      'block: whole transfer': [TIMEOUTS.blockBase, BLOCK_MIN_RATE],
      'block: rate floor': [BLOCK_RATE_FLOOR.windowMs, BLOCK_RATE_FLOOR.windowMs, BLOCK_RATE_FLOOR.bytesPerSecond],
      'server: reading a request': [TIMEOUTS.serverRequest],
      'server: peer not reading (drain)': [TIMEOUTS.serverStall],
      'connection: a ping unanswered (libp2p\'s connection monitor, a ping every 10 s on every connection; then the connection is aborted)': [TIMEOUTS.ping],
      'relay wait for a block being fetched': [Number((relay ?? 'NaN').replace(/_/g, ''))]
    })
  })

  it('"Peer scoring": the penalties, the ban threshold, the recovery and the ban time', () => {
    const text = section('Peer scoring').replace(/\s+/g, ' ')
    const invalid = ['invalid-block', 'bad-seal', 'hash-mismatch', 'oversized', 'malformed', 'bad-headers'] as const
    for (const o of invalid) expect(PENALTY[o], o).toBe(-BAN_THRESHOLD)
    expect(text).toContain(`Invalid data costs ${-BAN_THRESHOLD} points, which reaches the ban threshold (−${-BAN_THRESHOLD}) at once`)
    expect(text).toContain(`A timeout costs ${PENALTY.timeout}, a transfer cut at the rate floor ${PENALTY.slow} (four within`)
    expect(4 * PENALTY.slow).toBeGreaterThanOrEqual(-BAN_THRESHOLD)
    expect(3 * PENALTY.slow).toBeLessThan(-BAN_THRESHOLD)
    expect(text).toContain(`an unavailable block ${PENALTY.unavailable}`)
    expect(text).toContain(`Scores recover ${RECOVERY_PER_MINUTE} points a minute`)
    expect(text).toContain(`for ${DEFAULT_NETWORK_OPTIONS.banMs / 60_000} minutes`)
  })

  it('"Discovery and known peers": the DHT\'s and the redial\'s schedule', () => {
    const text = section('Discovery and known peers').replace(/\s+/g, ' ')
    const d = DEFAULT_NETWORK_OPTIONS.discovery
    if (d === false) throw new Error('the default options have no discovery')
    const r = DEFAULT_NETWORK_OPTIONS.redial
    expect(text).toContain(`(again every ${d.provideEveryMs / 60_000} minutes)`)
    expect(text).toContain(`after ${d.initialMs / 1000} s, then 2, 4, … up to ${d.maxMs / 1000} s while it has fewer than ${d.targetPeers} peers, every ${d.maxMs / 1000} s after`)
    expect(text).toContain(`(the ${r.maxRemembered} most recently seen)`)
    expect(text).toContain(`exponential backoff from ${r.baseMs / 1000} s to ${r.maxMs / 60_000} minutes per peer, ${r.parallel} dials at a time`)
  })
})
