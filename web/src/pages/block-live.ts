// The block page's standing, kept live (api54): how many blocks are built on the block shown, when
// it becomes final (max_reorg_depth of them: no reorg may abandon it then), and that a reorg has
// abandoned it (or brought it back). From GET /api/v1/events, or a poll where events cannot pass.
import { getJson, hasToken, tipHash, type Block, type Status } from '../api.js'
import { fill, h, type Child } from '../dom.js'
import { counted } from '../format.js'
import { redrawIfRefused } from '../page.js'

/** What `reorg` events say (docs/api.md, "GET /api/v1/events"). */
export interface Reorg { from: { height: number, hash: string }, to: { height: number, hash: string }, fork: { height: number, hash: string }, depth: number }

/** The block `b` (looked at again by its hash) against the chain's tip in `s`. */
function view (b: Block, s: Status, reorg: Reorg | undefined, canonicalThere: Block | undefined): Child {
  const max = s.consensus.max_reorg_depth
  if (!b.canonical) {
    return h('span', { id: 'block-state', 'data-state': 'abandoned', class: 'bad' },
      reorg === undefined ? 'On a side branch: not in the canonical chain. ' : `Abandoned by a reorganisation (the chain went from #${reorg.from.height} to #${reorg.to.height}, forking after #${reorg.fork.height}): this block is on a side branch now, and its rows are in the chain only once re-sealed (its signatory's node re-seals them on the new tip). `,
      canonicalThere === undefined ? null : h('a', { id: 'canonical-there', href: `/blocks/${canonicalThere.hash}` }, `Block #${b.height} of the canonical chain →`))
  }
  const built = s.tip.height - b.height
  const newest = built === 0 ? null : [' (the tip: ', h('a', { href: `/blocks/${s.tip.hash}` }, `#${s.tip.height}`), ')']
  if (built >= max) return h('span', { id: 'block-state', 'data-state': 'final', class: 'ok' }, `Final: ${counted(built, 'block')} built on it`, newest, `, at least the chain's max reorg depth (${max}): no reorganisation can abandon it.`)
  const back = reorg === undefined ? '' : ` Back in the canonical chain after a reorganisation (from #${reorg.from.height} to #${reorg.to.height}).`
  return h('span', { id: 'block-state', 'data-state': built === 0 ? 'tip' : 'confirming' },
    built === 0 ? 'The tip of the chain: no block built on it yet.' : `${counted(built, 'block')} built on it`, newest,
    `${built === 0 ? '' : '.'} Final once ${max} are; until then a reorganisation can abandon it.${back}`)
}

/**
 * Keep `box` saying where `first` stands until `signal` aborts: looked at again on each new tip or
 * reorg event (every 5 s with a token, which EventSource cannot send). `onReplaced` (a page opened by
 * height): called instead, once, when a reorg put another block at its height; the page draws that one.
 */
export function followBlock (box: HTMLElement, first: Block, status: Status, signal: AbortSignal, onStanding: (canonical: boolean, tip: number) => void,
  onReplaced?: (there: Block, reorg: Reorg | undefined) => void): void {
  let reorg: Reorg | undefined
  let shownTip = status.tip.hash
  let busy = false
  let again = false
  const load = async (): Promise<void> => {
    const [b, s] = await Promise.all([getJson<Block>(`/api/v1/blocks/${first.hash}`, signal), getJson<Status>('/api/v1/status', signal)])
    const there = b.canonical ? undefined : await getJson<Block>(`/api/v1/blocks/${b.height}`, signal).catch(() => undefined)
    if (there !== undefined && onReplaced !== undefined && !signal.aborted) { onReplaced(there, reorg); return }
    fill(box, view(b, s, reorg, there))
    shownTip = s.tip.hash
    onStanding(b.canonical, s.tip.height)
  }
  const refresh = (): void => {
    if (busy) { again = true; return }
    busy = true
    load().catch(err => { redrawIfRefused(err) }).finally(() => {
      busy = false
      if (again && !signal.aborted) { again = false; refresh() }
    })
  }
  fill(box, view(first, status, undefined, undefined))
  if (!first.canonical) refresh()
  if (hasToken() || typeof EventSource === 'undefined') {
    const t = setInterval(refresh, 5000)
    signal.addEventListener('abort', () => { clearInterval(t) })
    return
  }
  const es = new EventSource('/api/v1/events')
  let connected = false
  es.addEventListener('reorg', e => {
    const r = JSON.parse((e as MessageEvent<string>).data) as Reorg
    // One that abandoned this block, or brought it back: said with the state it explains.
    if (r.fork.height < first.height) reorg = r
    refresh()
  })
  es.addEventListener('tip', e => {
    // The tip on connect is news when it is not the tip the page was drawn against: a block sealed
    // between the page's status read and the stream's opening has no event of its own (review54b);
    // after a reconnection, blocks may have come meanwhile.
    if (connected || tipHash(e) !== shownTip) refresh()
    connected = true
  })
  signal.addEventListener('abort', () => { es.close() })
}
