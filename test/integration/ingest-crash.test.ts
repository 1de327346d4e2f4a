import { beforeAll, describe, expect, it } from 'vitest'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, verifyChain } from '../../src/chain/index.js'
import { Ingest } from '../../src/ingest/index.js'
import { Keystore } from '../../src/storage/index.js'
import { filesMatchIndex, fixtureKey, newTestChain } from '../helpers/chain.js'
import { petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { canonicalRows, checkExactlyOnce } from '../helpers/ingest.js'
import { spawnNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Exactly once across kill -9: the real CLI and the real node are killed at every step of a seal
// (named failpoints) and at random moments of an append; afterwards every acknowledged row is in
// exactly one canonical block, none twice, and the data directory verifies.

const alice = fixtureKey('alice')
let base: string
let work: string

function copyOf (dir: string): string {
  const d = join(tmpDir(), 'crash')
  cpSync(dir, d, { recursive: true })
  return d
}

function ndjson (name: string, n: number, tag: string): string {
  const path = join(work, name)
  writeFileSync(path, Array.from({ length: n }, (_, i) => JSON.stringify({ tag, n: i, note: `${tag}-${i}-${'x'.repeat(i % 50)}` })).join('\n') + '\n')
  return path
}

async function append (dir: string, file: string): Promise<string[]> {
  const r = await petal(['--dir', dir, '--json', 'append', 'events', file])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { receipts: string[] }).receipts
}

/** The directory verifies, and every receipt is sealed exactly once; returns the chain's height. */
async function checkExactlyOnceIn (dir: string, receipts: string[]): Promise<number> {
  const chain = Chain.open(dir)
  try {
    expect(await filesMatchIndex(chain)).toEqual([])
    const v = await verifyChain(chain, { workers: 1, deep: false })
    expect(v.failure).toBeUndefined()
    const ingest = Ingest.open({ chain, readonly: true })
    try {
      expect(checkExactlyOnce(chain, ingest, 'events', receipts, v => String(v.note))).toEqual([])
      expect(canonicalRows(chain, 'events')).toHaveLength(receipts.length)
    } finally {
      await ingest.close()
    }
    return chain.tip().height
  } finally {
    chain.close()
  }
}

// `base` with 300 rows appended (pending, not sealed) and their receipts: what every seal step starts from.
let appended: string
let appendedReceipts: string[]

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
  base = dir
  work = tmpDir()
  appended = copyOf(base)
  appendedReceipts = await append(appended, ndjson('seal.ndjson', 300, 'seal'))
})

describe('kill -9 of `petal seal` at every step', () => {
  // Before the chain's commit the block never existed; from tx:committed on it did, and must not be sealed again.
  const steps: Array<[string, 'before' | 'after']> = [
    ['ingest:claimed', 'before'], ['ingest:built', 'before'], ['ingest:recorded', 'before'],
    ['extend:placed', 'before'], ['extend:indexed', 'before'],
    ['tx:committed', 'after'], ['ingest:committed', 'after'], ['ingest:sealed', 'after']
  ]
  for (const [fp, commit] of steps) {
    it(`at ${fp}: the next seal completes it, every row in exactly one block`, async () => {
      const dir = copyOf(appended)
      const receipts = appendedReceipts
      const killed = await petal(['--dir', dir, 'seal'], { env: { PETAL_FAILPOINT: fp } })
      expect(killed.signal, killed.stderr).toBe('SIGKILL')
      const c = Chain.open(dir)
      expect(c.tip().height, 'the block is on the chain exactly when the commit happened').toBe(commit === 'after' ? 1 : 0)
      c.close()
      // In this process: what is checked is the directory the kill left, not a process of its own.
      const again = await petalInProcess(['--dir', dir, '--json', 'seal'])
      expect(again.code, again.stderr).toBe(0)
      const sealed = JSON.parse(again.stdout) as { rows: number }
      expect(sealed.rows, 'a block that reached the chain is not sealed again').toBe(commit === 'after' ? 0 : 300)
      expect(await checkExactlyOnceIn(dir, receipts)).toBe(1)
    })
  }
})

describe('kill -9 of `petal append`', () => {
  // Both outcomes, at the two instants that decide them: inside the transaction (rows written, no
  // COMMIT) nothing is kept; once the commit is durable (before the receipts are printed) every
  // row is.
  for (const [fp, kept] of [['ingest:append-inserted', 0], ['ingest:append-durable', 3_000]] as const) {
    it(`at ${fp}: ${kept === 0 ? 'no row' : 'every row'} is pending afterwards`, async () => {
      const dir = copyOf(base)
      const killed = await petal(['--dir', dir, 'append', 'events', ndjson(`${fp}.ndjson`, 3_000, fp)], { env: { PETAL_FAILPOINT: fp } })
      expect(killed.signal, killed.stderr).toBe('SIGKILL')
      const chain = Chain.open(dir)
      const ingest = Ingest.open({ chain, readonly: true })
      const pending = ingest.stats().pendingRows
      await ingest.close()
      chain.close()
      expect(pending).toBe(kept)
      const again = await petalInProcess(['--dir', dir, '--json', 'append', 'events', ndjson(`${fp}-again.ndjson`, 10, `${fp}-again`)])
      expect(again.code, 'the store opens and takes writes after the kill').toBe(0)
    })
  }

  // Random instants over a large append: whatever the moment, all rows or none, and an append
  // reported as done is kept. Where the kills land depends on the machine's load, so which
  // outcomes occur is not asserted here (the failpoint cases above pin both).
  it('at moments spread over a large append (8 runs): all rows or none, and an append reported as done is kept', async () => {
    const file = ndjson('big.ndjson', 60_000, 'big')
    const t0 = performance.now()
    expect((await petal(['--dir', copyOf(base), 'append', 'events', file])).code).toBe(0)
    const full = performance.now() - t0
    for (let i = 0; i < 8; i++) {
      const dir = copyOf(base)
      const run = spawnPetal(['--dir', dir, '--json', 'append', 'events', file])
      const delay = Math.round(full * (0.1 + 1.4 * i / 7))
      const timer = setTimeout(() => run.child.kill('SIGKILL'), delay)
      const exit = await run.exit
      clearTimeout(timer)
      const chain = Chain.open(dir)
      const ingest = Ingest.open({ chain, readonly: true })
      const pending = ingest.stats().pendingRows
      await ingest.close()
      chain.close()
      expect([0, 60_000], `run ${i} (kill after ${delay} ms)`).toContain(pending)
      if (exit.code === 0) {
        expect(pending).toBe(60_000)
        expect((JSON.parse(exit.stdout) as { receipts: string[] }).receipts).toHaveLength(60_000)
      }
    }
  }, 180_000)
})

describe('kill -9 of a running node', () => {
  // No HTTP API: these tests append with the CLI, and the API's start costs a second of CPU per node.
  const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off']

  async function waitSealed (dir: string, receipts: string[]): Promise<void> {
    await waitFor(() => {
      const chain = Chain.open(dir, { readonly: true })
      const ingest = Ingest.open({ chain, readonly: true })
      try {
        return receipts.every(id => ingest.receipt(id)?.state === 'sealed')
      } finally {
        void ingest.close()
        chain.close()
      }
    }, { timeout: 60_000, interval: 200, what: 'every receipt to be sealed by the restarted node' })
  }

  it('right after the rows were acknowledged: the restarted node seals them', async () => {
    const dir = copyOf(base)
    const node = await spawnNode(['--dir', dir, 'run', ...LISTEN, '--seal-every', '3600'])
    const receipts = await append(dir, ndjson('ack.ndjson', 200, 'ack'))
    await node.kill9()
    const again = await spawnNode(['--dir', dir, 'run', ...LISTEN, '--seal-every', '0'])
    await waitSealed(dir, receipts)
    expect(await again.stop()).toBe(0)
    expect(await checkExactlyOnceIn(dir, receipts)).toBe(1)
  }, 120_000)

  for (const fp of ['ingest:claimed', 'ingest:recorded', 'tx:committed', 'ingest:committed']) {
    it(`while it seals, at ${fp}: the restarted node finishes, every row once`, async () => {
      const dir = copyOf(base)
      const node = await spawnNode(['--dir', dir, 'run', ...LISTEN, '--seal-every', '0'], { PETAL_FAILPOINT: fp })
      const receipts = await append(dir, ndjson(`node-${fp}.ndjson`, 200, fp))
      expect(await node.ended).toBe('SIGKILL')
      const again = await spawnNode(['--dir', dir, 'run', ...LISTEN, '--seal-every', '0'])
      await waitSealed(dir, receipts)
      expect(await again.stop()).toBe(0)
      expect(await checkExactlyOnceIn(dir, receipts)).toBe(1)
    }, 120_000)
  }
})
