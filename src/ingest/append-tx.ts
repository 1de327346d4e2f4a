import type { Chain } from '../chain/index.js'
import type { Clock } from '../util/index.js'
import { ConstraintChecker } from './constraints.js'
import { rowError } from './errors.js'
import { PackedRows } from './record-pack.js'
import { decodePendingRow, PendingRowEncoder } from './row-codec.js'
import { AppendedRows } from './receipt-range.js'
import { blockBudget } from './sealer.js'
import { chainTable, extendTable, type TableSchema } from './schema.js'
import type { PendingStore } from './store.js'
import type { AppendResult } from './types.js'
import { typeRows } from './typing.js'
import type { IngestRow } from './values.js'

/** Rows to append: as values, or already encoded for `schema` (the table as the encoder last read it) as one record's data. */
export type AppendJob = { table: string, rows: IngestRow[], text: boolean } | { table: string, encoded: PackedRows, schema: TableSchema }

/**
 * One append inside the group commit's transaction (GroupCommit's `run`): type the rows, create or
 * widen the table, check declared constraints, insert. Synchronous, so nothing else runs inside
 * the transaction.
 */
export class AppendTx {
  private readonly encoder = new PendingRowEncoder()
  private readonly checkers = new Map<string, ConstraintChecker>()

  constructor (private readonly chain: Chain, private readonly store: PendingStore, private readonly clock: Clock) {}

  /** One append inside the group's transaction: type, create or widen the table, check, insert. */
  run (job: AppendJob): AppendResult {
    const now = this.clock.now()
    if ('encoded' in job) {
      const t = this.store.tables().get(job.table.toLowerCase())
      if (t !== undefined && t.sql === job.schema.sql) return this.insert(t, job.encoded, now, false, [])
      // The table changed since the rows were encoded: they are typed again, as values.
      const columns = job.schema.columns
      return this.run({ table: job.table, rows: job.encoded.rows().map(d => decodePendingRow(d, columns)), text: false })
    }
    const { table, rows } = job
    // A table this store does not have yet but the chain has is written as the chain defines it
    // (a node that became a signatory after others wrote the table; user48).
    let t = this.store.tables().get(table.toLowerCase()) ?? this.chainTable(table)
    const typed = typeRows(t?.name ?? table, t, rows, job.text)
    const created = t === undefined
    if (t === undefined && typed.added.length === 0) {
      throw rowError('INGEST_MALFORMED', 0, undefined, `no field has a value, so there is nothing to create table ${table} from`, { hint: `give at least one non-null field, or declare the table first (CREATE TABLE ${table} (…))` })
    }
    if (t === undefined || typed.added.length > 0 || t.chain !== undefined) {
      t = typed.added.length > 0 || t === undefined ? { ...extendTable(table, t, typed.added), chain: t?.chain } : t
      this.store.saveTable(t, now)
    }
    if (t.declared !== undefined) this.checker(t).check(typed.rows)
    return this.insert(t, PackedRows.of(this.encoder.encodeAll(typed.rows, t)), now, created, typed.added.map(c => c.name))
  }

  /**
   * A lone encoded row, alone in its commit (GroupCommit's `runAlone`): appended by one statement
   * that checks the table and commits (PendingStore.appendAlone), or undefined when that cannot
   * be (the table changed, the lock is held, not one encoded row): run() in a transaction then.
   */
  runAlone (job: AppendJob): AppendResult | undefined {
    if (!('encoded' in job) || job.encoded.n !== 1) return undefined
    const data = job.encoded
    this.checkSizes(data)
    // A record of one row is the row itself (record-pack.ts).
    const r = this.store.appendAlone(job.table, job.schema.sql, data.data, this.clock.now())
    return r === undefined ? undefined : new AppendedRows(r.name, false, [], this.store.instance, r.first, 1)
  }

  /** Table `name` as the chain's latest block that has it defines it (schema.ts, chainTable), if one has it. */
  private chainTable (name: string): TableSchema | undefined {
    const c = this.chain.index.latestTable(name)
    return c === undefined ? undefined : chainTable(c)
  }

  private insert (t: TableSchema, data: PackedRows, now: number, created: boolean, addedColumns: string[]): AppendResult {
    this.checkSizes(data)
    const first = this.store.insertRecord(t.name, data, now)
    return new AppendedRows(t.name, created, addedColumns, this.store.instance, first, data.n)
  }

  private checkSizes (data: PackedRows): void {
    const rowLimit = Math.floor(blockBudget(this.chain, []) / 2)
    if (data.largest <= rowLimit) return
    const rows = data.rows()
    for (let i = 0; i < rows.length; i++) {
      const d = rows[i] as Buffer
      if (d.length > rowLimit) throw rowError('INGEST_ROW_TOO_LARGE', i, undefined, `the row is ${d.byteLength} bytes; a row must fit in a block (at most ${rowLimit} bytes on this chain)`, { hint: 'store large content elsewhere and write its digest, or split it over rows', details: { bytes: d.byteLength, limit: rowLimit } })
    }
  }

  private checker (t: TableSchema): ConstraintChecker {
    const key = t.name.toLowerCase()
    let c = this.checkers.get(key)
    if (c?.table.sql !== t.sql) {
      c?.close()
      c = new ConstraintChecker(t)
      this.checkers.set(key, c)
    }
    return c
  }

  close (): void {
    for (const c of this.checkers.values()) c.close()
  }
}
