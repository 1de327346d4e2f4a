// Tiny DOM helpers: the explorer builds its pages with these, never with innerHTML, so text from
// the chain (table names, values, error messages) is always text.

export type Child = Node | string | number | null | undefined | false | Child[]
type Attr = string | number | boolean | undefined | ((e: Event) => void)

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs?: Record<string, Attr> | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (v === true) el.setAttribute(k, '')
    else if (v !== false && v !== undefined) el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

export function append (el: Node, children: Child[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c)
    else if (c instanceof Node) el.appendChild(c)
    else if (c !== null && c !== undefined && c !== false) el.appendChild(document.createTextNode(String(c)))
  }
}

/** Replace an element's content. */
export function fill (el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

/** A labelled list of fields (a definition list). */
export function fields (rows: Array<[string, Child]>): HTMLDListElement {
  return h('dl', { class: 'fields' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))
}

/** A table with a header; `num` marks the columns to right-align. */
export function table (head: string[], rows: Child[][], o: { num?: number[], caption?: string } = {}): HTMLElement {
  const num = new Set(o.num ?? [])
  return h('div', { class: 'scroll' }, h('table', null,
    o.caption === undefined ? null : h('caption', { class: 'muted' }, o.caption),
    h('thead', null, h('tr', null, head.map((t, i) => h('th', { scope: 'col', class: num.has(i) ? 'num' : undefined }, t)))),
    h('tbody', null, rows.map(r => h('tr', null, r.map((c, i) => h('td', { class: num.has(i) ? 'num' : undefined }, c)))))))
}

/** Save bytes or text as a file, from memory. */
export function download (name: string, body: Blob): void {
  const url = URL.createObjectURL(body)
  const a = h('a', { href: url, download: name, hidden: true })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => { URL.revokeObjectURL(url) }, 60_000)
}
