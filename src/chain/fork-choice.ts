/** Fork choice: the longer chain wins; at equal height the lower tip hash wins. */
export function isBetterTip (a: { height: number, hash: string }, b: { height: number, hash: string }): boolean {
  return a.height > b.height || (a.height === b.height && a.hash < b.hash)
}
