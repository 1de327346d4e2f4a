// What every page shares: its signature, errors shown with their code and hint, the token form.
import { ApiFailure, setToken } from './api.js'
import { h } from './dom.js'
import { navigate } from './nav.js'

/** A page renders itself into `main` from the URL; `signal` aborts when the user navigates away. */
export type Page = (main: HTMLElement, url: URL, signal: AbortSignal) => Promise<void>

/** An error as the API gave it: message, code and hint. */
export function errorBox (err: unknown): HTMLElement {
  if (err instanceof ApiFailure) {
    return h('div', { class: 'error', role: 'alert' },
      h('div', null, h('code', null, err.code), ' ', err.message),
      err.hint === undefined ? null : h('div', null, h('strong', null, 'Hint: '), err.hint),
      // The node's hints serve its operator too (`petal checkpoint --sign`, `petal pull …`): said in
      // a browser, they read as the reader's to run, who has no terminal there (explorer53).
      err.hint?.includes('`petal ') === true ? h('div', { class: 'muted small', id: 'operator-note' }, 'The `petal` commands in this hint are for the node\'s operator, to run on the node\'s machine.') : null)
  }
  return h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err))
}

/** A node exposed without --public-read needs a read token: asked here, kept in memory only. */
export function tokenForm (onToken: () => void): HTMLElement {
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', spellcheck: 'false' })
  return h('form', {
    class: 'card',
    onsubmit: (e: Event) => { e.preventDefault(); setToken(input.value.trim()); onToken() }
  },
  h('p', null, 'This node needs a read token (', h('code', null, 'petal tokens create --scope read'), '). It stays in this tab\'s memory and is never stored.'),
  h('label', { for: 'token' }, 'Token'), input, h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit' }, 'Use token')))
}

/** A page that could not load: the error, and the token form when a token is what is missing. */
export function failure (main: HTMLElement, err: unknown, retry: () => void): void {
  main.append(errorBox(err))
  if (err instanceof ApiFailure && err.status === 401) main.append(tokenForm(retry))
}

/**
 * A live update refused for want of a token (revoked since the page was drawn, or never valid):
 * the page is drawn again, so that it says so and asks for one. The stale page stayed, saying
 * "reconnecting…" for ever (user50). False for any other failure.
 */
export function redrawIfRefused (err: unknown): boolean {
  if (!(err instanceof ApiFailure && err.status === 401)) return false
  navigate(location.pathname + location.search, { replace: true })
  return true
}
