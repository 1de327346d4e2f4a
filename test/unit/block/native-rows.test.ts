// The native row walker (src/block/native-rows.ts, native/rows.c): loaded where the build built
// it, and on hostile pages declining exactly where the JavaScript walker refuses, so that on held
// bytes (PETAL_NATIVE_ROWS=1) a file gets the JavaScript walker's refusal word for word. Its
// answers on random tables, fixtures and fuzzed files: fast-rows.test.ts and manifest-fuzz.test.ts.
import { describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspectSchema } from '../../../src/block/index.js'
import { BtreeUnsupported, localSize } from '../../../src/block/btree.js'
import { fastTableRoot, planFastTable } from '../../../src/block/fast-rows.js'
import { loadNativeRows, nativeRows, resetNativeRows } from '../../../src/block/native-rows.js'
import { toHex } from '../../../src/util/index.js'
import { nativeBuild, nativeRowsBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('the native row walker', () => {
  it('is loaded where npm run build built it, and not with PETAL_NATIVE_ROWS=0 or from a foreign file', () => {
    // Not a silent skip: where the build built it, the comparisons below run it.
    if (nativeRowsBuilt()) expect(loadNativeRows().why).toMatch(/^native row walker/)
    vi.stubEnv('PETAL_NATIVE_ROWS', '0')
    try {
      expect(loadNativeRows()).toEqual({ rows: undefined, why: 'PETAL_NATIVE_ROWS=0' })
    } finally {
      vi.unstubAllEnvs()
    }
    if (nativeBuild().built) expect(loadNativeRows(join(import.meta.dirname, '..', '..', '..', 'dist', 'native', 'petal-sha256.node'))).toEqual({ rows: undefined, why: 'exports missing' })
  })

  it('declines hostile pages as the JavaScript walker refuses them: a child reached twice, a cycle, a child out of range, wrong cell counts, an overflow chain cut short, an oversized varint', () => {
    const path = join(tmpDir(), 'hostile.db')
    const db = new Database(path)
    db.pragma('page_size = 512')
    db.exec('CREATE TABLE t (a); CREATE TABLE o (b)')
    db.transaction(() => { for (let i = 0; i < 60; i++) db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(100) + String(i)) })()
    db.prepare('INSERT INTO o VALUES (?)').run(Buffer.alloc(2000, 7))
    const roots = new Map(db.prepare<[], { name: string, rootpage: number }>('SELECT name, rootpage FROM sqlite_schema').all().map(r => [r.name, r.rootpage]))
    const ts = inspectSchema(db, 'input').userTables
    const plans = new Map(ts.map(t => [t.name, planFastTable(db, t)]))
    db.close()
    const good = readFileSync(path)
    const at = (name: string): number => ((roots.get(name) ?? 0) - 1) * 512
    const tr = at('t')
    expect(good[tr]).toBe(0x05)
    const child0 = good.readUInt32BE(tr + good.readUInt16BE(tr + 12))
    const leaf = (child0 - 1) * 512
    const cell = at('o') + good.readUInt16BE(at('o') + 8)
    const ovf = (good.readUInt32BE(cell + 3 + localSize(512, 2000 + 3, false)) - 1) * 512
    const mutants: Array<[string, string, (b: Buffer) => void]> = [
      ['t', 'child reached twice', b => { b.writeUInt32BE(child0, tr + b.readUInt16BE(tr + 14)) }],
      ['t', 'cycle', b => { b.writeUInt32BE(roots.get('t') ?? 0, tr + b.readUInt16BE(tr + 12)) }],
      ['t', 'child out of range', b => { b.writeUInt32BE(good.length / 512 + 5, tr + 8) }],
      ['t', 'leaf without cells', b => { b.writeUInt16BE(0, leaf + 3) }],
      ['t', 'more cells than a page holds', b => { b.writeUInt16BE(200, leaf + 3) }],
      ['t', 'oversized varint', b => { b.fill(0xff, leaf + b.readUInt16BE(leaf + 8), leaf + b.readUInt16BE(leaf + 8) + 9) }],
      ['o', 'overflow chain cut short', b => { b.writeUInt32BE(0, ovf) }]
    ]
    for (const [table, what, change] of mutants) {
      const b = Buffer.from(good)
      change(b)
      writeFileSync(path, b)
      const plan = plans.get(table)
      if (plan === undefined) throw new Error('no plan')
      for (const mode of ['js', ...(nativeRows() === undefined ? [] : ['native'] as const)] as const) expect(() => fastTableRoot(path, plan, undefined, mode, b), `${what}, ${mode}`).toThrow(BtreeUnsupported)
      // On held bytes with PETAL_NATIVE_ROWS=1 its decline hands the table to the JavaScript walker: the same refusal, word for word.
      const js: unknown = (() => { try { fastTableRoot(path, plan, undefined, 'js', b); return undefined } catch (err) { return err } })()
      vi.stubEnv('PETAL_NATIVE_ROWS', '1')
      resetNativeRows()
      try {
        expect(() => fastTableRoot(path, plan, undefined, undefined, b), what).toThrow(js instanceof Error ? js.message : 'js')
      } finally {
        vi.unstubAllEnvs()
        resetNativeRows()
      }
    }
    // And on the good file it answers (no WebAssembly rows: not the JavaScript walker), with the JavaScript walker's root.
    vi.stubEnv('PETAL_NATIVE_ROWS', '1')
    resetNativeRows()
    try {
      const plan = plans.get('t')
      if (plan === undefined) throw new Error('no plan')
      writeFileSync(path, good)
      const spy = vi.spyOn(nativeRows() ?? { tableRoot: () => 0 }, 'tableRoot')
      expect(toHex(fastTableRoot(path, plan, undefined, undefined, good).root)).toBe(toHex(fastTableRoot(path, plan, undefined, 'js').root))
      if (nativeRowsBuilt()) expect(spy).toHaveBeenCalledTimes(1)
    } finally {
      vi.unstubAllEnvs()
      resetNativeRows()
    }
  })
})
