/** Narrowing helpers for values whose type is not known: caught errors and parsed JSON. */

/** A plain object (not null, not an array). */
export function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The message of anything thrown. */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The `code` of a Node.js system error or an SQLite error (`ENOENT`, `SQLITE_BUSY`), if any. */
export function errorCode (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  return typeof err.code === 'string' ? err.code : undefined
}

/** JSON.parse typed as what it is: a value to check before use. Throws SyntaxError. */
export function parseJson (text: string): unknown {
  return JSON.parse(text)
}

/** An array of strings. */
export function isStringArray (v: unknown): v is string[] {
  return Array.isArray(v) && v.every(x => typeof x === 'string')
}

/** Anything thrown, as an Error. */
export function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
