/** SQLite folds identifier case for ASCII letters only (without ICU), so do we. */
export function asciiLower (s: string): string {
  return s.replace(/[A-Z]/g, c => String.fromCharCode(c.charCodeAt(0) + 32))
}

/** Quote an SQL identifier (always: names come from untrusted blocks). */
export function quoteIdent (name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}
