/**
 * A JSON string token that holds an escape, for the JSON lane (json-encode.ts), out of its hot
 * code: read from `start` (the byte after its opening quote), its closing quote's index and its
 * text, or undefined when the token is not one the exact reader (json.ts) would take as it is (a
 * control character, no closing quote, a bad escape, a lone surrogate).
 */
export function escapedString (b: Buffer, start: number): { end: number, text: string } | undefined {
  let end = start
  for (;; end++) {
    const c = b[end]
    if (c === undefined || c < 0x20) return undefined
    if (c === 0x22) break
    if (c === 0x5c) end++ // the escaped byte is skipped: `\"` does not end the token
  }
  // JSON.parse reads a string token exactly as json.ts does (the same escapes), or throws.
  let s: unknown
  try { s = JSON.parse(b.toString('utf8', start - 1, end + 1)) } catch { return undefined }
  return typeof s === 'string' && s.isWellFormed() ? { end, text: s } : undefined
}
