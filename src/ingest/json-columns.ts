import type { ColumnKind, TableSchema } from './schema.js'

/** 1 for the bytes a JSON string holds as they are: not a control character, `"` or `\\`. */
export const PLAIN_TEXT = new Uint8Array(256).fill(1)
PLAIN_TEXT.fill(0, 0, 0x20)
PLAIN_TEXT[0x22] = 0
PLAIN_TEXT[0x5c] = 0

/**
 * A column as the JSON lane (json-encode.ts) compares it: `plain` when its name's bytes are all
 * bytes a JSON string holds as they are (and it does not start with a digit).
 */
export interface Col { name: Buffer, kind: ColumnKind, plain: boolean }

/** Each table's columns as the lane compares them, made once per TableSchema (one per version of the table). */
const COLS = new WeakMap<TableSchema, Col[]>()

export function colsOf (table: TableSchema): Col[] {
  let cols = COLS.get(table)
  if (cols === undefined) {
    cols = table.columns.map(c => {
      const name = Buffer.from(c.name, 'utf8')
      const first = name[0] ?? 0
      return { name, kind: c.kind, plain: name.length > 0 && !(first >= 0x30 && first <= 0x39) && name.every(x => PLAIN_TEXT[x] === 1) }
    })
    COLS.set(table, cols)
  }
  return cols
}
