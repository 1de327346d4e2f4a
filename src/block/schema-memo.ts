import type { SchemaInfo, SchemaObjects, SchemaRows } from './schema.js'

/**
 * What readBlockFile's reads of a block's schema gave (the rows of `sqlite_schema` and of
 * `PRAGMA table_list`, the checked objects, the v2 allow-list's result with each user table's
 * `PRAGMA table_xinfo`), for the last block on this thread whose schema, `_meta`, `_keys` and
 * `_tables` passed readBlockFile's checks, by the bytes of its page 1. Each of those statements reads nothing but the schema, and SQLite reads the schema
 * from `sqlite_schema`, whose b-tree starts at page 1: when page 1 is a leaf whose every cell lies
 * on it (no overflow page), the schema — and so what each of those statements gives, with the
 * same defensive settings on every block connection — is a function of page 1's bytes, file
 * header included. A block whose page 1 has the same bytes then gets the same results without
 * the statements (blocks of a chain mostly share their schema: every block of the same tables
 * has the same page 1); everything else readBlockFile checks (the whole-file integrity check,
 * `_meta`, `_keys`, `_tables`, the rows' roots) still runs on the block itself
 * (docs/performance/catchup.md, "Session 15: catch-up").
 */
export interface SchemaReads { raw: SchemaRows, objects: SchemaObjects, v2: SchemaInfo }

let last: { page: Uint8Array, reads: SchemaReads } | undefined

/** Page 1 of a file from the bytes its caller holds (`head`), if they cover it. */
export function pageOne (head: Uint8Array | undefined, pageSize: number): Uint8Array | undefined {
  return head !== undefined && pageSize > 0 && head.length >= pageSize ? head.subarray(0, pageSize) : undefined
}

/** The reads remembered for a page 1 with exactly these bytes, if any. */
export function recallSchema (page: Uint8Array): SchemaReads | undefined {
  const m = last
  if (m === undefined || m.page.length !== page.length) return undefined
  return Buffer.compare(m.page, page) === 0 ? m.reads : undefined
}

/** Remember the reads of a block whose checks passed them, if its page 1 holds its whole schema. */
export function rememberSchema (page: Uint8Array, reads: SchemaReads): void {
  if (schemaOnPage(page)) last = { page: Uint8Array.from(page), reads }
}

// A table b-tree leaf page (SQLite's page type 13); page 1's b-tree header follows the file's 100-byte header.
const TABLE_LEAF = 0x0d
const AT = 100

/**
 * Whether page 1 (`page`, one whole page; no reserved bytes, which the header check refuses) is
 * a table leaf whose every cell's payload is on the page: SQLite's rule for a table leaf is that
 * a payload of up to usable size − 35 bytes is stored whole in the cell, a larger one spills to
 * overflow pages. Anything not plainly so (a pointer or varint out of the page) is "no".
 */
export function schemaOnPage (page: Uint8Array): boolean {
  const size = page.length
  if (page[AT] !== TABLE_LEAF) return false
  const cells = ((page[AT + 3] ?? 0) << 8) | (page[AT + 4] ?? 0)
  const first = AT + 8 + 2 * cells
  for (let i = 0; i < cells; i++) {
    const ptr = ((page[AT + 8 + 2 * i] ?? 0) << 8) | (page[AT + 9 + 2 * i] ?? 0)
    if (ptr < first || ptr >= size) return false
    // The payload's size: a varint of up to 9 bytes (the ninth whole); a size this large never fits.
    let n = 0
    let k = 0
    for (;;) {
      const b = page[ptr + k]
      if (b === undefined || k === 8) return false
      n = n * 128 + (b & 0x7f)
      k++
      if (b < 0x80) break
    }
    if (n > size - 35) return false
  }
  return true
}
