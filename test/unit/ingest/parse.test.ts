import { describe, expect, it } from 'vitest'
import { detectFormat, IngestError, isTextRows, type AnyIngestError, parseRecords, type IngestRow } from '../../../src/ingest/index.js'
import { createFormatter } from '../../../src/query/index.js'
import type { SqlValue } from '../../../src/block/index.js'

function fails (f: () => unknown): AnyIngestError {
  try {
    f()
  } catch (err) {
    if (IngestError.is(err)) return err
    throw err
  }
  throw new Error('expected an IngestError')
}

const plain = (rows: IngestRow[]): Array<Record<string, unknown>> => rows.map(r => ({ ...r }))

describe('JSON records', () => {
  it('reads short integers on a fast path with the same results and errors as the exact path', () => {
    const one = (v: string): unknown => parseRecords(`[{"a": ${v}}]`, 'json')[0]?.a
    expect([one('0'), one('-0'), one('7'), one('-42'), one('999999999999999'), one('-999999999999999')]).toEqual([0n, 0n, 7n, -42n, 999999999999999n, -999999999999999n])
    // 16 and more digits, fractions and exponents take the exact path.
    expect([one('9007199254740993'), one('-9223372036854775808'), one('12.5'), one('1e2'), one('-0.0')]).toEqual([9007199254740993n, -9223372036854775808n, 12.5, 100, -0])
    expect(() => one('007')).toThrow(/expected "," or "}"/)
    expect(() => one('-')).toThrow(/malformed number/)
    expect(() => one('9223372036854775808')).toThrow(/outside the 64-bit range/)
    expect(parseRecords('[{"a":1,"b":-2}]', 'json')).toEqual([{ a: 1n, b: -2n }])
    expect(() => parseRecords('[{"Ab": 1, "aB": 2}]', 'json')).toThrow(/appears twice/)
  })

  it('keeps integers exact over the whole 64-bit range, and REALs as numbers', () => {
    const rows = parseRecords('[{"max": 9223372036854775807, "min": -9223372036854775808, "big": 9007199254740993, "r": 1.0, "e": 1e999, "z": -0.0}]', 'json')
    expect(plain(rows)).toEqual([{ max: 2n ** 63n - 1n, min: -(2n ** 63n), big: 2n ** 53n + 1n, r: 1, e: Infinity, z: -0 }])
    expect(Object.is(rows[0]?.z, -0)).toBe(true)
    expect(typeof rows[0]?.r).toBe('number')
  })

  it('refuses an integer beyond 64 bits by its length, and names a long one by its ends, not whole', () => {
    const one = (v: string): unknown => parseRecords(`[{"a": ${v}}]`, 'json')[0]?.a
    expect(() => one('-9223372036854775809')).toThrow(/integer -9223372036854775809 is outside the 64-bit range .* as -9223372036854775809\.0 for a REAL/)
    expect(() => one('10000000000000000000')).toThrow(/outside the 64-bit range/)
    expect(one('-9223372036854775808')).toBe(-(2n ** 63n))
    // 2 MB of digits: the error once echoed them all (into the HTTP answer and the log).
    const e = fails(() => one('1'.repeat(2_000_000)))
    expect(e.code).toBe('INGEST_MALFORMED')
    expect(e.message).toBe('malformed JSON (row 0, field "a", line 1): integer 11111111111111111111…1111111111 (2000000 characters) is outside the 64-bit range of SQLite integers (send it as a string, or with .0 at its end for a REAL)')
  })

  it('reads {"$base64": …} as bytes, null as NULL, true/false as 1/0, and unicode escapes', () => {
    const rows = parseRecords('[{"b": {"$base64": "AAH+/w=="}, "n": null, "t": true, "f": false, "s": "a\\"\\u00e9\\n\\ud83d\\ude00"}]', 'json')
    expect(plain(rows)).toEqual([{ b: new Uint8Array([0, 1, 254, 255]), n: null, t: 1n, f: 0n, s: 'a"é\n😀' }])
  })

  it('reads NDJSON: one object per line, blank lines and CRLF allowed', () => {
    const rows = parseRecords('{"a": 1}\r\n\n  {"a": 2, "b": "x"}\n', 'ndjson')
    expect(plain(rows)).toEqual([{ a: 1n }, { a: 2n, b: 'x' }])
    expect(parseRecords('', 'ndjson')).toEqual([])
    expect(parseRecords(' [ ] ', 'json')).toEqual([])
  })

  it('keeps a field called __proto__ as data', () => {
    const rows = parseRecords('[{"__proto__": 5, "constructor": "x"}]', 'json')
    expect(Object.keys(rows[0] as object)).toEqual(['__proto__', 'constructor'])
    expect(rows[0]?.['__proto__']).toBe(5n)
  })

  it.each([
    ['not an array', '{"a": 1}', 'json', /JSON array/],
    ['a scalar row', '[1]', 'json', /row 0.*must be a JSON object/],
    ['a nested object', '[{"a": {"b": 1}}]', 'json', /row 0, field "a".*objects are not values/],
    ['an array value', '[{"a": [1]}]', 'json', /arrays are not values/],
    ['an integer beyond 64 bits', '[{"a": 9223372036854775808}]', 'json', /outside the 64-bit range/],
    ['a duplicate key', '[{"a": 1, "A": 2}]', 'json', /appears twice/],
    ['bad base64', '[{"a": {"$base64": "!!"}}]', 'json', /not standard padded base64/],
    ['a trailing comma', '[{"a": 1},]', 'json', /row 1|a record must be/],
    ['text after the array', '[{"a": 1}] x', 'json', /unexpected text after the array/],
    ['an unpaired surrogate escape', '[{"a": "\\ud800"}]', 'json', /unpaired surrogate/],
    ['a raw control character', '[{"a": "x\ty"}]', 'json', /control characters/],
    ['a leading zero', '[{"a": 01}]', 'json', /expected "," or "}"/],
    ['NaN', '[{"a": NaN}]', 'json', /expected a value/],
    ['two objects on one NDJSON line', '{"a": 1} {"a": 2}', 'ndjson', /one JSON object per line/],
    ['truncated', '[{"a": "x', 'json', /unterminated string/]
  ])('refuses %s with INGEST_MALFORMED naming where', (_what, input, format, message) => {
    const e = fails(() => parseRecords(input, format as 'json' | 'ndjson'))
    expect(e.code).toBe('INGEST_MALFORMED')
    expect(e.message).toMatch(message)
    expect(e.hint).toBeTruthy()
    expect(e.code === 'INGEST_MALFORMED' && e.details.line).toBeTypeOf('number')
  })

  it('names the row and line of an error deep in NDJSON', () => {
    const input = Array.from({ length: 10 }, (_, i) => i === 7 ? '{"a": tru}' : `{"a": ${i}}`).join('\n')
    const e = fails(() => parseRecords(input, 'ndjson'))
    expect(e.details).toMatchObject({ row: 7, field: 'a', line: 8 })
  })

  it('enforces row and byte limits with their own codes', () => {
    expect(fails(() => parseRecords('[{"a":1},{"a":2},{"a":3}]', 'json', { maxRows: 2 })).code).toBe('INGEST_TOO_MANY_ROWS')
    expect(fails(() => parseRecords('{"a":1}\n{"a":2}\n{"a":3}\n', 'ndjson', { maxRows: 2 })).code).toBe('INGEST_TOO_MANY_ROWS')
    expect(fails(() => parseRecords('a\n1\n2\n3\n', 'csv', { maxRows: 2 })).code).toBe('INGEST_TOO_MANY_ROWS')
    const e = fails(() => parseRecords('[{"a": "xxxxxxxxxx"}]', 'json', { maxBytes: 10 }))
    expect(e.code).toBe('INGEST_TOO_LARGE')
    expect(e.details).toMatchObject({ bytes: 21, limit: 10 })
  })

  it('refuses a record of more fields than a table may have columns, at the field past the limit, in every format (wire46)', () => {
    // A 16 MiB body held one record of 1.5 M fields: the duplicate check scanned an array (n²/2
    // comparisons: 40,000 fields took 8.7 s) and every later step held the event loop for seconds.
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `"f${i}": ${i}`).join(', ')
    expect(Object.keys(parseRecords(`[{${fields(2000)}}]`, 'json')[0] ?? {})).toHaveLength(2000)
    for (const [body, format] of [[`[{"a": 1}, {${fields(20_000)}}]`, 'json'], [`{"a": 1}\n{${fields(2001)}}\n`, 'ndjson']] as const) {
      const e = fails(() => parseRecords(body, format))
      expect(e.code).toBe('INGEST_BAD_COLUMN')
      expect(e.details).toEqual({ row: 1, limit: 2000 })
      expect(e.message).toBe('record 1 has more than 2000 fields; a table has at most 2000 columns')
    }
    const header = Array.from({ length: 2001 }, (_, i) => `c${i}`).join(',')
    expect(fails(() => parseRecords(`${header}\n${'1,'.repeat(2000)}1\n`, 'csv'))).toMatchObject({ code: 'INGEST_BAD_COLUMN', details: { limit: 2000 } })
    // A duplicate past the array scan is still one (the Set takes over at 33 fields).
    expect(fails(() => parseRecords(`[{${fields(100)}, "F7": 1}]`, 'json')).message).toContain('appears twice')
  })

  it('refuses bytes that are not UTF-8, and accepts a byte-order mark', () => {
    expect(fails(() => parseRecords(new Uint8Array([0x5b, 0xff, 0x5d]), 'json')).message).toMatch(/not valid UTF-8/)
    expect(plain(parseRecords(new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from('[{"a":1}]')]), 'json'))).toEqual([{ a: 1n }])
    // One mark, not two: the bytes as their string is read (the decoder dropped one mark itself).
    expect(fails(() => parseRecords(Buffer.from('\ufeff\ufeff[{"a":1}]'), 'json')).code).toBe(fails(() => parseRecords('\ufeff\ufeff[{"a":1}]', 'json')).code)
    expect(plain(parseRecords(Buffer.from('\ufeff\ufeffa\n1\n'), 'csv'))).toEqual(plain(parseRecords('\ufeff\ufeffa\n1\n', 'csv')))
    expect(plain(parseRecords(Buffer.from('\ufeff\ufeffa\n1\n'), 'csv'))).toEqual([{ '\ufeffa': '1' }])
  })
})

describe('CSV records', () => {
  it('marks rows as text cells: NULL, empty string, BLOB and backslash conventions of petal query', () => {
    const rows = parseRecords('a,b,c,d,e\r\n,"",\\x00ff,\\\\x00,"x,""y"""\r\n', 'csv')
    expect(isTextRows(rows)).toBe(true)
    expect(plain(rows)).toEqual([{ a: null, b: '', c: new Uint8Array([0, 255]), d: '\\x00', e: 'x,"y"' }])
  })

  it('reads LF line ends, a missing final newline, quoted line breaks, and blank lines of a 1-column file as NULL rows', () => {
    expect(plain(parseRecords('a,b\n1,"two\nlines"\n3,4', 'csv'))).toEqual([{ a: '1', b: 'two\nlines' }, { a: '3', b: '4' }])
    expect(plain(parseRecords('x\r\n\r\n7\r\n', 'csv'))).toEqual([{ x: null }, { x: '7' }])
    expect(parseRecords('a,b\r\n', 'csv')).toEqual([])
  })

  it('is the exact inverse of `petal query --format csv` for every kind of value', () => {
    const values: SqlValue[][] = [
      [null, '', 'plain', ' padded ', 'a,b', 'say "hi"', 'two\nlines', '\\', '\\x00', 'é😀'],
      [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1.0, -0, 0.1, 1e300, Infinity, -Infinity],
      [new Uint8Array([]), new Uint8Array([0, 1, 254, 255]), '007', '1.50', 'NULL', '"', ',', '\r\n', 'x', 'y']
    ]
    const columns = values[0]?.map((_, i) => `c${i}`) ?? []
    const f = createFormatter('csv')
    const text = f.header(columns) + f.rows(values) + f.end({ rowCount: values.length })
    const rows = parseRecords(text, 'csv')
    expect(rows).toHaveLength(values.length)
    // Cells are text until a table types them; NULL, '' and BLOBs are exact already.
    expect(rows[0]?.c0).toBe(null)
    expect(rows[0]?.c1).toBe('')
    expect(rows[2]?.c0).toEqual(new Uint8Array([]))
    expect(rows[2]?.c1).toEqual(new Uint8Array([0, 1, 254, 255]))
    for (let c = 2; c < 10; c++) expect(rows[0]?.[`c${c}`]).toBe(values[0]?.[c])
    expect(rows[1]?.c2).toBe('9223372036854775807')
    expect(rows[1]?.c8).toBe('1e999')
    expect(rows[1]?.c5).toBe('-0.0')
  })

  it.each([
    ['an empty input', '', /empty/],
    ['a duplicate column', 'a,A\n1,2\n', /appears twice/],
    ['an empty column name', 'a,\n1,2\n', /column name in the header is empty/],
    ['a short row', 'a,b\n1,2\n3\n', /row 1, line 3\): 1 field/],
    ['an unclosed quote', 'a\n"abc\n', /not closed/],
    ['a quote inside a field', 'a\nab"c\n', /double quote inside an unquoted field/],
    ['text after a closing quote', 'a\n"ab"c\n', /closing quote must end the field/]
  ])('refuses %s with INGEST_MALFORMED', (_what, input, message) => {
    const e = fails(() => parseRecords(input, 'csv'))
    expect(e.code).toBe('INGEST_MALFORMED')
    expect(e.message).toMatch(message)
  })
})

describe('format detection', () => {
  it('uses the extension, then the first character', () => {
    expect(detectFormat('x.CSV', '[')).toBe('csv')
    expect(detectFormat('x.jsonl', '')).toBe('ndjson')
    expect(detectFormat('x.json', '')).toBe('json')
    expect(detectFormat(undefined, '\ufeff  [{"a":1}]')).toBe('json')
    expect(detectFormat('-', '{"a":1}\n')).toBe('ndjson')
    expect(detectFormat('data.txt', 'a,b\n')).toBe('csv')
  })
})

// The CSV reader's limits take effect where the reading gets to them (session 47): the header's
// 2,001st name, a row's field past the header's count, a row begun past the row limit. Until then
// a record was read whole first: a 16 MiB header of 1.4 M names cost ~0.8 s of a node's event loop
// before the 2,000-field limit refused it. Each refusal is checked with a fault placed after the
// limit: read whole, the record was refused for that fault instead (the old code's answer).

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
