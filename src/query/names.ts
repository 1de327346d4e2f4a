/** SQLite folds identifier case for ASCII letters only (without ICU), so do we. */
export function asciiLower (s: string): string {
  return s.replace(/[A-Z]/g, c => String.fromCharCode(c.charCodeAt(0) + 32))
}

// Identifiers are always quoted: names come from untrusted blocks.
export { quoteIdent } from '../block/index.js'
