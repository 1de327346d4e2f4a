// `/`: the chain at a glance, live: a new block shows without a reload (server-sent events).
import { getJson, hasToken, tipHash, type Activity, type BlockList, type BlockSummary, type Peers, type SignatoryPeer, type Signers, type Status } from '../api.js'
import { activityChart } from '../chart.js'
import { fields, fill, h, table, type Child } from '../dom.js'
import { bytes, count, counted, keyId, shortHash, time } from '../format.js'
import { redrawIfRefused } from '../page.js'
import { nodeReach, type Reach } from '../reach.js'
import { followPending } from './pending.js'

const RULES: Record<string, string> = {
  daisy: 'Daisy\'s formula: 1 below height 149, then floor(2·ln H), whatever the number of signatories',
  'daisy-capped': 'Daisy\'s formula, capped at the number of active signatories (never fewer than 1)',
  majority: 'more than half of the active signatories'
}

export async function homePage (main: HTMLElement, _url: URL, signal: AbortSignal): Promise<void> {
  document.title = 'Petal explorer'
  const head = h('h1', null, 'Chain')
  const glance = h('div', { class: 'grid' })
  const chart = h('div')
  const latest = h('div')
  const signers = h('div', { id: 'signers' })
  const peers = h('div', { id: 'node-peers' })
  const pending = h('div', { id: 'pending' })
  const live = h('span', { class: 'live', 'aria-live': 'polite' })
  const reach = nodeReach()
  main.append(head, reach.box, glance, h('h2', null, 'Pending rows'), pending, h('h2', null, 'Blocks and rows over time'), chart, h('h2', null, 'Latest blocks ', live), latest,
    h('h2', null, 'Signatories'), signers, h('h2', null, 'Peers and sync'), peers)

  let shownTip = ''
  // When each signatory was added or revoked: the time of that block, kept once no reorg can
  // change the block at that height (max_reorg_depth below the tip).
  const times = new Map<number, string>()
  const timeOf = async (heights: number[], final: number): Promise<void> => {
    for (const x of times.keys()) if (x > final) times.delete(x)
    const missing = [...new Set(heights)].filter(x => !times.has(x)).slice(0, 50)
    await Promise.all(missing.map(async x => { times.set(x, (await getJson<BlockSummary>(`/api/v1/blocks/${x}`, signal)).timestamp) }))
  }
  const at = (x: number): Child => {
    const t = times.get(x)
    return [h('a', { href: `/blocks/${x}` }, `#${x}`), t === undefined ? null : [' ', h('span', { class: 'muted' }, time(t))]]
  }
  const load = async (): Promise<void> => {
    const [s, list, sig, p, act] = await Promise.all([
      getJson<Status>('/api/v1/status', signal),
      getJson<BlockList>('/api/v1/blocks?limit=10', signal),
      getJson<Signers>('/api/v1/signers', signal),
      getJson<Peers>('/api/v1/peers', signal),
      getJson<Activity>('/api/v1/activity?buckets=60', signal)
    ])
    await timeOf(sig.signers.flatMap(k => k.revoked_at === null ? [k.added_at] : [k.added_at, k.revoked_at]), s.tip.height - s.consensus.max_reorg_depth)
    // Its own loop (pending.ts): started with the first status, kept as the page lives.
    if (shownTip === '') followPending(pending, s, signal, reach)
    const fresh = shownTip !== '' && shownTip !== s.tip.hash
    shownTip = s.tip.hash
    fill(head, s.description === '' ? 'Chain' : s.description)
    fill(glance,
      h('section', { class: 'card' }, h('h2', null, 'Tip'),
        h('div', { class: 'big' }, h('a', { href: `/blocks/${s.tip.height}`, id: 'tip-height' }, `#${s.tip.height}`)),
        h('div', { class: 'hash', title: s.tip.hash }, shortHash(s.tip.hash)), h('div', null, time(s.tip.timestamp))),
      h('section', { class: 'card' }, h('h2', null, 'Chain'),
        fields([['id', h('span', { class: 'hash' }, s.chain_id)], ['blocks', count(s.blocks)], ['rows', count(act.total_rows)], ['side blocks', count(s.side_blocks)]])),
      h('section', { class: 'card' }, h('h2', null, 'Consensus'),
        fields([
          ['signatories', `${s.signatories.active} active of ${s.signatories.total}`],
          ['quorum rule', [s.consensus.quorum_rule, h('div', { class: 'muted small' }, RULES[s.consensus.quorum_rule] ?? '')]],
          ['key operation needs', `${s.consensus.key_op_quorum} endorsement${s.consensus.key_op_quorum === 1 ? '' : 's'} now`],
          ['max block', bytes(s.consensus.max_block_bytes)], ['max reorg depth', counted(s.consensus.max_reorg_depth, 'block')]
        ])))
    fill(chart, activityChart(act))
    fill(latest, table(['height', 'time', 'signer', 'size', 'tables', 'rows'], list.blocks.map(b => [
      h('a', { href: `/blocks/${b.height}` }, `#${b.height}`), time(b.timestamp), keyId(b.signer), bytes(b.size), count(b.table_count), count(b.row_count)
    ]), { num: [3, 4, 5] }), h('p', null, h('a', { href: '/blocks' }, 'All blocks →')))
    if (fresh) latest.querySelector('tbody tr')?.classList.add('fresh')
    fill(signers, table(['key', 'added at', 'revoked at', 'state', 'its nodes'], sig.signers.map(k => [
      // Shortened, whole in its tooltip, as every other key id: whole, it stood 25 lines tall in a
      // column three characters wide at a phone's width (explorer53).
      keyId(k.id),
      at(k.added_at),
      k.revoked_at === null ? '—' : at(k.revoked_at),
      k.active ? h('span', { class: 'ok' }, 'active') : h('span', { class: 'muted' }, 'revoked'),
      nodesOf(k.peers, k.id === s.node?.signing_key?.id)
    ])), h('p', { class: 'muted small' }, NODES_NOTE))
    fill(peers, s.node === null
      ? h('p', { class: 'muted' }, 'This server joins no network (petal serve): it serves its data directory as it is.')
      : [fields([
          ['this node', h('span', { class: 'hash' }, s.node.peer_id)], ['role', s.node.role],
          ...(s.node.signing_key === undefined ? [] : [['signing key', signingKey(s.node.signing_key)] as [string, Child]]),
          ['sync', s.node.sync.state === 'syncing' ? `syncing: ${s.node.sync.height} of ${s.node.sync.target ?? '?'}` : `up to date at #${s.node.sync.height}`],
          ['peers', count(s.node.peers)]
        ]),
        p.peers.length === 0 ? null : table(['peer', 'address', 'direction', 'tip'], p.peers.map(x => [h('span', { class: 'hash' }, x.id), h('span', { class: 'hash' }, x.addr), x.direction, x.tip_height === undefined ? '—' : `#${x.tip_height}`]), { num: [3] })])
  }
  await load()
  follow(live, load, signal, reach, () => shownTip)
}

/**
 * Which nodes hold a signatory's key, as this node knows them (GET /api/v1/signers `peers`, since
 * session 52): where records can be written. The page left them out (explorer53).
 */
function nodesOf (peers: SignatoryPeer[] | undefined, own: boolean): Child {
  // This node's own key: the node itself (api54: the row said "none known to this node").
  const self = own ? h('li', { class: 'self-node' }, h('span', { class: 'ok' }, 'this node')) : null
  if (peers === undefined) return self ?? '—'
  if (peers.length === 0) return self === null ? h('span', { class: 'muted' }, 'none known to this node') : h('ul', { class: 'plain' }, self)
  return h('ul', { class: 'plain' }, self, peers.map(p => h('li', null,
    h('span', { class: 'hash', title: [p.id, ...p.addrs].join('\n') }, p.id.length > 20 ? `${p.id.slice(0, 16)}…` : p.id), ' ',
    p.connected ? h('span', { class: 'ok' }, 'connected') : h('span', { class: 'muted' }, p.last_seen === null ? 'not met yet' : ['last met ', time(p.last_seen)]))))
}

/** The key this node seals with (GET /api/v1/status `node.signing_key`), and whether it seals with it now. */
function signingKey (k: NonNullable<Status['node']>['signing_key']): Child {
  if (k === null || k === undefined) return h('span', { class: 'muted' }, 'none: a follower, it seals nothing')
  return [keyId(k.id), ' ', k.active ? h('span', { class: 'ok' }, 'an active signatory: it seals') : h('span', { class: 'muted' }, `not a signatory at the tip${k.revoked_at === null ? '' : ` (revoked at #${k.revoked_at})`}: it seals nothing`)]
}

const NODES_NOTE = 'Its nodes: the peers this node has met whose status proved they hold the key (libp2p peer ids; their addresses in the tooltip), and "this node" for the key it seals with. Records are written to a signatory\'s node; its HTTP address is not announced to peers, so its operator gives it.'

/**
 * Reload on each new tip: server-sent events, or a poll where they cannot pass (a token is needed).
 * A node that does not answer is said at the top of the page (`reach`) until it answers again.
 * `shown` is the tip hash the page shows, against which the stream's first event is news or not.
 */
function follow (live: HTMLElement, load: () => Promise<void>, signal: AbortSignal, reach: Reach, shown: () => string): void {
  let busy = false
  let again = false
  const refresh = (): void => {
    if (busy) { again = true; return }
    busy = true
    load().then(reach.answered, err => {
      if (redrawIfRefused(err)) return
      fill(live, 'reconnecting…')
      reach.failed(err)
    }).finally(() => {
      busy = false
      if (again && !signal.aborted) { again = false; refresh() }
    })
  }
  const poll = (): void => {
    const t = setInterval(refresh, 5000)
    fill(live, 'updating every 5 s')
    signal.addEventListener('abort', () => { clearInterval(t) })
  }
  // EventSource cannot send a token: with one, poll instead.
  if (hasToken() || typeof EventSource === 'undefined') { poll(); return }
  const es = new EventSource('/api/v1/events')
  let first = true
  es.addEventListener('tip', e => {
    fill(live, '● live')
    reach.answered()
    // The tip on connect is news only when it is not the one shown: a block sealed between the
    // page's status read and the stream's opening came with no event of its own (review54b).
    if (first && tipHash(e) === shown()) { first = false; return }
    first = false
    refresh()
  })
  es.addEventListener('error', () => {
    fill(live, 'reconnecting…')
    // A stream cut is not a node gone: ask it (the browser reconnects the stream on its own).
    if (!signal.aborted) getJson<Status>('/api/v1/status', signal).then(reach.answered, reach.failed)
  })
  signal.addEventListener('abort', () => { es.close() })
}
