// `/blocks?before=H`: canonical blocks, newest first, paged; arrow keys move along the list.
import { getJson, type BlockList } from '../api.js'
import { h, table } from '../dom.js'
import { bytes, count, keyId, time } from '../format.js'

const PAGE = 50

export async function blocksPage (main: HTMLElement, url: URL, signal: AbortSignal): Promise<void> {
  const before = url.searchParams.get('before')
  const valid = before !== null && /^\d{1,15}$/.test(before)
  const list = await getJson<BlockList>(`/api/v1/blocks?limit=${PAGE}${valid ? `&before=${before}` : ''}`, signal)
  const top = list.blocks[0]?.height
  document.title = 'Blocks · Petal explorer'
  const t = table(['height', 'time', 'signer', 'size', 'tables', 'rows', 'key ops'], list.blocks.map(b => [
    h('a', { href: `/blocks/${b.height}`, class: 'block-link' }, `#${b.height}`), time(b.timestamp), keyId(b.signer),
    bytes(b.size), count(b.table_count), count(b.row_count), count(b.key_op_count)
  ]), { num: [3, 4, 5, 6], caption: 'Use ↑ and ↓ (or j and k) to move between blocks, Enter to open one.' })
  t.addEventListener('keydown', e => { moveFocus(t, e) })
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    valid ? h('a', { href: '/blocks' }, '⇤ Newest') : null,
    valid && top !== undefined ? h('a', { href: `/blocks?before=${top + PAGE + 1}`, rel: 'prev' }, '← Newer') : null,
    list.next_before === null ? null : h('a', { href: `/blocks?before=${list.next_before}`, rel: 'next' }, 'Older →'))
  main.append(h('h1', null, top === undefined ? 'Blocks' : `Blocks #${top} to #${list.blocks.at(-1)?.height ?? top}`), t, pager)
}

/** ↑/↓ (or k/j) move from one block's link to the next; Home/End to the first and last. */
function moveFocus (t: HTMLElement, e: KeyboardEvent): void {
  const links = [...t.querySelectorAll<HTMLAnchorElement>('a.block-link')]
  const i = links.findIndex(a => a === document.activeElement)
  if (i < 0) return
  const to = e.key === 'ArrowDown' || e.key === 'j'
    ? i + 1
    : e.key === 'ArrowUp' || e.key === 'k' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? links.length - 1 : undefined
  if (to === undefined) return
  e.preventDefault()
  links[Math.max(0, Math.min(links.length - 1, to))]?.focus()
}
