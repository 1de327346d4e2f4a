import { describe, expect, it } from 'vitest'
import { IngestError, type AnyIngestError, parseRecords } from '../../../src/ingest/index.js'

// The CSV reader's limits take effect where the reading gets to them (session 47): the header's
// 2,001st name, a row's field past the header's count, a row begun past the row limit. Until then
// a record was read whole first: a 16 MiB header of 1.4 M names cost ~0.8 s of a node's event loop
// before the 2,000-field limit refused it. Each refusal is checked with a fault placed after the
// limit: read whole, the record was refused for that fault instead (the old code's answer).

function fails (f: () => unknown): AnyIngestError {
  try {
    f()
  } catch (err) {
    if (IngestError.is(err)) return err
    throw err
  }
  throw new Error('expected an IngestError')
}

const names = (n: number, name = (i: number): string => `c${i}`): string[] => Array.from({ length: n }, (_, i) => name(i))

describe('CSV limits, refused where the reading gets to them', () => {
  it('refuses a header at its 2,001st name, before the rest of it is read (failed before session 47: the unclosed quote past it was found first)', () => {
    // 200,000 names, the last one's quote never closed: only a reader that read past name 2,001 sees it.
    const header = `${names(200_000).join(',')},"never closed\n`
    const e = fails(() => parseRecords(header, 'csv'))
    expect(e.code).toBe('INGEST_BAD_COLUMN')
    expect(e.details).toEqual({ limit: 2000 })
    expect(e.message).toBe('the header has more than 2000 fields; a table has at most 2000 columns')
    // A stray quote in the 2,001st name, and an empty 2,001st name (a trailing comma): the count first.
    expect(fails(() => parseRecords(`${names(2000).join(',')},x"y\n1\n`, 'csv')).code).toBe('INGEST_BAD_COLUMN')
    expect(fails(() => parseRecords(`${names(2000).join(',')},\n`, 'csv')).code).toBe('INGEST_BAD_COLUMN')
  })

  it('refuses a row at its field past the header\'s count (failed before session 47: refused for the fault after it)', () => {
    const e = fails(() => parseRecords('a,b\n1,2\n3,4,5,"never closed\n', 'csv'))
    expect(e.code).toBe('INGEST_MALFORMED')
    expect(e.message).toBe('malformed CSV (row 1, line 3): more than 2 field(s) where the header has 2')
    expect(e.details).toEqual({ line: 3, row: 1 })
    // Fewer fields are counted as before.
    expect(fails(() => parseRecords('a,b\n1\n', 'csv')).message).toBe('malformed CSV (row 0, line 2): 1 field(s) where the header has 2')
  })

  it('refuses a row begun past the row limit before reading it (failed before session 47: INGEST_MALFORMED for its fault)', () => {
    const e = fails(() => parseRecords('a\n1\n2\n"never closed', 'csv', { maxRows: 2 }))
    expect(e.code).toBe('INGEST_TOO_MANY_ROWS')
    expect(parseRecords('a\n1\n2\n', 'csv', { maxRows: 2 })).toHaveLength(2)
  })

  it('reads valid CSV as before: 2,000 quoted names with commas, quotes and line breaks, a BOM, CRLF', () => {
    const odd = names(2000, i => i % 3 === 0 ? `n${i}, "q"\r\nline` : i % 3 === 1 ? `n${i}\nx` : `n${i}`)
    const quoted = odd.map(n => `"${n.replaceAll('"', '""')}"`).join(',')
    const row = names(2000, i => i % 2 === 0 ? `"v${i},\r\n"""` : `v${i}`).join(',')
    for (const [text, bom] of [[`${quoted}\r\n${row}\r\n`, false], [`\ufeff${quoted}\n${row}`, true]] as const) {
      const rows = parseRecords(new Uint8Array(Buffer.from(text, 'utf8')), 'csv')
      expect(rows, `BOM ${String(bom)}`).toHaveLength(1)
      const r = rows[0] ?? {}
      expect(Object.keys(r)).toEqual(odd)
      expect(r[odd[0] ?? '']).toBe('v0,\r\n"')
      expect(r[odd[1999] ?? '']).toBe('v1999')
    }
  })
})
