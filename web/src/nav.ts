// In-place navigation, shared by the router and the pages.
let rerender: (focus: boolean) => void = () => { location.reload() }

export function onNavigate (f: (focus: boolean) => void): void { rerender = f }

/** Go to another explorer URL without reloading (history entry added, or replaced). */
export function navigate (to: string, o: { replace?: boolean } = {}): void {
  if (o.replace === true) history.replaceState(null, '', to)
  else history.pushState(null, '', to)
  if (o.replace !== true) window.scrollTo(0, 0)
  rerender(o.replace !== true)
}
