import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { Chain, importBlock, signImport } from '../../src/chain/index.js'
import { Keystore, readSeal } from '../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from './chain.js'
import { tmpDir } from './tmp.js'

type Run = (args: string[]) => Promise<{ code: number | null, stdout: string, stderr: string }>

/**
 * A data directory whose keystore holds alice, with her block of table `mine` (5 rows) orphaned by
 * a longer branch of two blocks: `m` is its hash. `run` is the CLI (in process, or the built one).
 * `prepare`: run on the directory at its genesis, before anything else (a node's pending.db, opened there).
 */
export async function aliceOrphan (run: Run, prepare?: (dir: string) => Promise<void>): Promise<{ dir: string, m: string }> {
  const alice = fixtureKey('alice')
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
  await prepare?.(dir)
  const other = join(tmpDir(), 'other')
  cpSync(dir, other, { recursive: true })
  const c = Chain.open(other)
  try {
    for (let i = 0; i < 2; i++) await signImport(c, makeSqlite(join(tmpDir(), 'g.db'), 2, 50 + i), alice)
  } finally {
    c.close()
  }
  const mine = await run(['--dir', dir, '--json', 'signimportblock', makeSqlite(join(tmpDir(), 'm.db'), 5, 1, 'mine')])
  expect(mine.code, mine.stderr).toBe(0)
  const m = (JSON.parse(mine.stdout) as { hash: string }).hash
  expect((await run(['--dir', dir, 'import', '--from', other])).code).toBe(0)
  return { dir, m }
}

/** Canonical blocks of `dir` that hold table `mine`. */
export function mineCopies (dir: string): number {
  const ch = Chain.open(dir, { readonly: true })
  try {
    return ch.index.range(1, ch.tip().height, ch.tip().height).filter(b => ch.index.tablesOf(b.hash).some(t => t.name === 'mine')).length
  } finally {
    ch.close()
  }
}

/** Import `from`'s canonical blocks above height `above` into `into`: a reorg where they outweigh its own. */
export async function feed (into: Chain, from: Chain, above: number): Promise<void> {
  for (const b of from.index.range(above + 1, from.tip().height)) {
    const p = from.pathOf(b)
    await importBlock(into, p, readSeal(p), { expectedHash: b.hash })
  }
}

/** A copy of the data directory `dir`, opened; `open` collects it for the test's afterEach. */
export function chainCopy (dir: string, open: Array<{ close: () => unknown }>): Chain {
  const to = join(tmpDir(), 'copy')
  cpSync(dir, to, { recursive: true })
  const c = Chain.open(to)
  open.push(c)
  return c
}
