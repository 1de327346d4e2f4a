// The explorer's pages (docs/explorer.md). Each page has its own URL, so a link can be shared; links
// between them navigate in place (history.pushState), so a read token entered once lasts the tab.
import { fill } from './dom.js'
import { agesMove } from './format.js'
import { navigate, onNavigate } from './nav.js'
import { failure, type Page } from './page.js'
import { blockPage } from './pages/block.js'
import { blocksPage } from './pages/blocks.js'
import { homePage } from './pages/home.js'
import { queryPage } from './pages/query.js'

const main = document.getElementById('main') ?? document.body

function route (path: string): { page: Page, nav: string } | undefined {
  if (path === '/') return { page: homePage, nav: '/' }
  if (path === '/blocks') return { page: blocksPage, nav: '/blocks' }
  if (/^\/blocks\/[^/]+$/.test(path)) return { page: blockPage, nav: '/blocks' }
  if (path === '/query') return { page: queryPage, nav: '/query' }
  return undefined
}

let current: AbortController | undefined

async function render (focus: boolean): Promise<void> {
  current?.abort()
  const controller = new AbortController()
  current = controller
  const url = new URL(location.href)
  const r = route(url.pathname.replace(/\/+$/, '') || '/')
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === r?.nav) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  fill(main)
  if (r === undefined) {
    failure(main, new Error(`no such page: ${url.pathname}`), () => { navigate('/') })
    return
  }
  try {
    await r.page(main, url, controller.signal)
    // For benchmarks: when the page had its data and was drawn.
    performance.mark('petal-rendered')
  } catch (err) {
    if (controller.signal.aborted) return
    failure(main, err, () => { void render(true) })
  }
  // After an in-place navigation, move focus to the new content, as a page load would.
  if (focus && !controller.signal.aborted) main.focus({ preventScroll: true })
}

/** Follow a link in place when it leads to one of these pages. */
document.addEventListener('click', e => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = e.target instanceof Element ? e.target.closest('a') : null
  if (a === null || a.hasAttribute('download') || a.target !== '') return
  const to = new URL(a.href, location.href)
  if (to.origin !== location.origin || route(to.pathname.replace(/\/+$/, '') || '/') === undefined) return
  e.preventDefault()
  navigate(to.pathname + to.search + to.hash)
})

onNavigate(focus => { void render(focus) })
window.addEventListener('popstate', () => { void render(true) })
void render(false)
agesMove(main)
