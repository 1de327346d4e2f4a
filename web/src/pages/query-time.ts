// The console's time limit: a statement running can be cancelled, and one stopped at its time limit
// is told in the page's terms. QUERY_TIMEOUT's hint, written for an HTTP client, told a person in a
// browser to raise the body's "timeout_ms" (its most in /api/v1/openapi.json), and a statement could
// not be stopped short of its 10 s (explorer53).
import { ApiFailure, getJson } from '../api.js'
import { h } from '../dom.js'

/** The most `timeout_ms` this node allows, from its OpenAPI document; undefined when it does not say. */
async function mostMs (): Promise<number | undefined> {
  try {
    const doc = await getJson<{ paths?: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, { maximum?: unknown }> } }> } } }> }>('/api/v1/openapi.json')
    const most = doc.paths?.['/api/v1/query']?.post?.requestBody?.content?.['application/json']?.schema?.properties?.timeout_ms?.maximum
    return typeof most === 'number' && most > 0 ? most : undefined
  } catch {
    return undefined
  }
}

export const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`

/**
 * QUERY_TIMEOUT as this page can act on it: the hint in its terms and, below the most this node
 * allows, a button that runs the statement again with that most (`rerun`, in seconds).
 */
export async function timeoutInConsole (err: ApiFailure, rerun: (seconds: number) => void): Promise<{ error: ApiFailure, button: HTMLElement | null }> {
  const ran = typeof err.details?.timeoutMs === 'number' ? err.details.timeoutMs : undefined
  const most = await mostMs()
  if (most !== undefined && ran !== undefined && ran < most) {
    return {
      error: new ApiFailure(err.status, err.code, err.message, `narrow it (WHERE, LIMIT, fewer blocks), or run it again with a longer time limit, at most ${seconds(most)} on this node`, err.details),
      button: h('button', { type: 'button', id: 'rerun-longer', onclick: () => { rerun(Math.floor(most / 1000)) } }, `Run it again with a time limit of ${seconds(most)}`)
    }
  }
  const at = most ?? ran
  return { error: new ApiFailure(err.status, err.code, err.message, `narrow it (WHERE, LIMIT, fewer blocks)${at === undefined ? '' : `: ${seconds(at)} is the longest this node lets a statement run`}`, err.details), button: null }
}

/** "Running…" with the seconds counting and a Cancel button that aborts `controller` (the node then stops the statement). */
export function running (controller: AbortController): HTMLElement {
  const started = Date.now()
  const secs = h('span', null, '')
  const tick = setInterval(() => {
    // Gone from the page: the answer (or the error) took its place.
    if (!secs.isConnected || controller.signal.aborted) clearInterval(tick)
    else secs.textContent = ` ${Math.floor((Date.now() - started) / 1000)} s`
  }, 1000)
  return h('div', { class: 'row' }, h('span', { class: 'muted', id: 'running' }, 'Running…', secs),
    h('button', { type: 'button', id: 'cancel', onclick: () => { controller.abort() } }, 'Cancel'))
}
