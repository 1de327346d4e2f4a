import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { PackedRows } from '../../../src/ingest/record-pack.js'
import { PendingStore } from '../../../src/ingest/store.js'

/**
 * pending.db's records (layout 3) against a model of single rows, through the sealer's own store
 * calls in random order: appends of 1 to 30 rows, claims at random budgets (which split records),
 * a build's end and its rows set aside (releaseAfter, quarantine), abandons, orphans and restores.
 * After each step: the records tile the row numbers, each row is in the batch the model says, no
 * pending record lies below `low` (a claim would never see it), every sealed batch reads back
 * exactly its rows and bytes, and receipts (row()) and pendingStats agree (some of it every 10th
 * step). 5 of these 8 seeds fail on the claim that left a split record's head below `low` (review37).
 */
function random (seed: number): (n: number) => number {
  let s = seed >>> 0
  return n => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return Math.floor((s / 2 ** 32) * n) }
}

describe('pending records against a model of rows', () => {
  for (let seed = 1; seed <= 8; seed++) {
    it(`seed ${seed}`, async () => {
      const ri = random(seed)
      const dir = mkdtempSync(join(tmpdir(), 'petal-pending-model-'))
      const path = join(dir, 'pending.db')
      const store = PendingStore.open(path)
      // The model checks the records' logic, not their durability: no fsync per step.
      store.db.pragma('synchronous = OFF')
      const reader = new Database(path, { readonly: true })
      const data = new Map<number, Buffer>()
      // Row → its batch (null: pending, 0: set aside); batch → its placed rows and state.
      const model = new Map<number, number | null>()
      const placed = new Map<number, Set<number>>()
      const state = new Map<number, 'sealed' | 'orphaned'>()
      const owner = (id: number): number | null | undefined => model.get(id)
      try {
        for (let step = 0; step < 200; step++) {
          const op = ri(10)
          if (op < 4) {
            const rows = Array.from({ length: ri(3) === 0 ? 1 + ri(30) : 1 }, () => Buffer.from(Array.from({ length: 1 + ri(300) }, () => ri(256))))
            const first = await store.write(() => store.insertRecord('t', PackedRows.of(rows), step))
            rows.forEach((b, i) => { data.set(first + i, b); model.set(first + i, null) })
          } else if (op < 7) {
            const b = await store.write(() => store.claim(1 + ri(2000), 16, step))
            if (b !== undefined) {
              const mine = [...store.batchRows(b.id)].map(x => x.id)
              expect(mine.length).toBe(b.rows)
              for (const id of mine) { expect(owner(id)).toBe(null); model.set(id, b.id) }
              // The build: a last row kept (none at times), some rows before it set aside.
              const lastKept = ri(4) === 0 ? -1 : mine[ri(mine.length)] as number
              const refused = mine.filter(id => id <= lastKept && ri(8) === 0)
              await store.write(() => {
                for (const q of refused) store.quarantine(q, 'refused', step)
                store.releaseAfter(b.id, lastKept)
              })
              for (const id of mine) if (refused.includes(id)) model.set(id, 0); else if (id > lastKept) model.set(id, null)
              const kept = mine.filter(id => owner(id) === b.id)
              if (kept.length === 0) {
                await store.write(() => { store.abandon(b.id) })
              } else {
                await store.write(() => { store.recordBuilt(b.id, `h${b.id}`, kept.map(id => [id, BigInt(id)])); store.markSealed(b.id, step, step) })
                placed.set(b.id, new Set(kept))
                state.set(b.id, 'sealed')
              }
            }
          } else if (op < 9) {
            const sealed = [...state].filter(([, s]) => s === 'sealed').map(([b]) => b)
            if (sealed.length > 0) {
              const b = sealed[ri(sealed.length)] as number
              const mine = [...model].filter(([, x]) => x === b).map(([id]) => id)
              expect(await store.write(() => store.orphan(b))).toBe(mine.length)
              for (const id of mine) model.set(id, null)
              state.set(b, 'orphaned')
            }
          } else {
            // A restore, when none of the batch's rows is in another batch (reconcile orphans those first).
            const orphaned = [...state].filter(([, s]) => s === 'orphaned').map(([b]) => b)
            const b = orphaned[ri(Math.max(1, orphaned.length))]
            const rows = b === undefined ? undefined : placed.get(b) as Set<number>
            if (b !== undefined && rows !== undefined && [...rows].every(id => owner(id) === null || owner(id) === 0)) {
              expect(await store.write(() => store.restore(b))).toBe(rows.size)
              for (const id of rows) model.set(id, b)
              state.set(b, 'sealed')
            }
          }
          check(store, reader, model, data, state, step % 10 === 9)
        }
      } finally {
        reader.close()
        store.close()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }
})

/** The invariants; `all`: also every batch's rows read back and every row's receipt (every 10th step: they cost the most). */
function check (store: PendingStore, db: Database.Database, model: Map<number, number | null>, data: Map<number, Buffer>, state: Map<number, string>, all: boolean): void {
  {
    const records = db.prepare('SELECT id, n, batch FROM rows ORDER BY id').all() as Array<{ id: number, n: number, batch: number | null }>
    const low = Number((db.prepare("SELECT value FROM meta WHERE key = 'low'").get() as { value: string }).value)
    let last = 0
    for (const r of records) {
      expect(r.id - r.n, `record ${r.id}`).toBe(last)
      last = r.id
      for (let k = r.id - r.n + 1; k <= r.id; k++) expect(model.get(k), `row ${k}`).toBe(r.batch)
      if (r.batch === null) expect(r.id, `pending record ${r.id} below low`).toBeGreaterThanOrEqual(low)
    }
    expect(last).toBe(model.size)
    expect(store.pendingStats().rows).toBe([...model.values()].filter(v => v === null).length)
    if (!all) return
    for (const [b, s] of state) {
      if (s !== 'sealed') continue
      const want = [...model].filter(([, x]) => x === b).map(([id]) => id)
      const got = [...store.batchRows(b)]
      expect(got.map(x => x.id), `batch ${b}`).toEqual(want)
      for (const x of got) expect(x.data.equals(data.get(x.id) as Buffer)).toBe(true)
      expect((db.prepare('SELECT rows FROM batches WHERE id = ?').get(b) as { rows: number }).rows).toBe(want.length)
    }
    for (let k = 1; k <= last; k++) expect(store.row(k)?.batch, `row ${k}`).toBe(model.get(k))
    expect(store.row(last + 1)).toBeUndefined()
  }
}
