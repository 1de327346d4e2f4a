// Whether the node behind a live page answers. A node stopped (or restarted) while `/` was open
// left the page as it was, every figure looking current and the pending rows' ages still counting,
// with "reconnecting…" in small green letters beside "Latest blocks" the only sign (explorer53).
import { ApiFailure } from './api.js'
import { fill, h } from './dom.js'

export interface Reach {
  /** The banner: empty while the node answers. */
  box: HTMLElement
  /** A request failed: if the node did not answer at all, say so (once, from when). */
  failed: (err: unknown) => void
  /** The node answered. */
  answered: () => void
  /** When the node stopped answering (ms since the epoch), or undefined while it answers. */
  downSince: () => number | undefined
}

/** No answer at all (the node stopped, or the network between): not an error the node sent. */
export function isUnreachable (err: unknown): boolean {
  return err instanceof ApiFailure && err.code === 'NETWORK'
}

const clock = (t: number): string => new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')

export function nodeReach (): Reach {
  const box = h('div', { id: 'node-down', role: 'status', 'aria-live': 'polite' })
  let since: number | undefined
  return {
    box,
    failed: err => {
      if (!isUnreachable(err) || since !== undefined) return
      since = Date.now()
      fill(box, h('div', { class: 'banner bad' },
        h('strong', null, `The node is not answering (since ${clock(since)}). `),
        `What this page shows is as of then. It keeps asking, and updates itself when the node answers again.`))
    },
    answered: () => {
      if (since === undefined) return
      since = undefined
      fill(box)
    },
    downSince: () => since
  }
}
