export { UsageError } from './errors.js'

/** Where a command writes: data to stdout (JSON lines with --json), messages to stderr. */
export interface Output {
  json: boolean
  /** Print a result: `value` as one JSON line with --json, else the human rendering. */
  result: (value: unknown, human: () => string) => void
  /** A human message on stderr (suppressed with --json). */
  note: (text: string) => void
  stdout: (text: string) => void
  stderr: (text: string) => void
}

export function createOutput (json: boolean, io: { stdout: (s: string) => void, stderr: (s: string) => void }): Output {
  return {
    json,
    result: (value, human) => {
      if (json) io.stdout(JSON.stringify(value, jsonReplacer) + '\n')
      else {
        const text = human()
        if (text !== '') io.stdout(text.endsWith('\n') ? text : text + '\n')
      }
    },
    note: text => { if (!json) io.stderr(text + '\n') },
    stdout: io.stdout,
    stderr: io.stderr
  }
}

export function jsonReplacer (_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
  return v
}

/** Left-aligned columns for human tables. */
export function table (rows: string[][]): string {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length) })
  return rows.map(r => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}

export function short (hash: string, n = 12): string {
  return hash.startsWith('1:') ? hash.slice(0, n + 2) : hash.slice(0, n)
}

export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}
