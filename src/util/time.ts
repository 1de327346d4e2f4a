// RFC 3339 in UTC, second or millisecond precision: the only timestamp form v2 blocks may carry.
const UTC_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?Z$/
// Any RFC 3339 timestamp (with an offset), as Daisy wrote them; used for v1 blocks and user input.
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Format milliseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export function formatTimestamp (ms: number): string {
  return new Date(ms).toISOString()
}

/** Parse a strict v2 timestamp (UTC, `Z`). Returns milliseconds or undefined. */
export function parseUtcTimestamp (text: string): number | undefined {
  const m = UTC_RE.exec(text)
  if (m === null) return undefined
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) return undefined
  // Date.parse accepts 2026-02-30; round-tripping the date fields rejects it.
  const d = new Date(ms)
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() + 1 !== Number(m[2]) || d.getUTCDate() !== Number(m[3])) return undefined
  return ms
}

/** Parse any RFC 3339 timestamp, with or without offset. Returns milliseconds or undefined. */
export function parseRfc3339 (text: string): number | undefined {
  if (!RFC3339_RE.test(text)) return undefined
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : undefined
}
