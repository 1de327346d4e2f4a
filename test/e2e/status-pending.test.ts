import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpUrlOf, petal, spawnNode, type RunningNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { petalInProcess } from '../helpers/cli.js'

// `petal status` shows the rows waiting in pending.db and who seals them when (user48: it said
// nothing of them, so an operator could not tell a node that seals from one whose rows wait).

interface Ingest { pending_rows: number, pending_bytes: number, claimed_rows: number, oldest_pending_ms: number | null, seal_policy: { every_ms: number, rows: number | null, bytes: number | null } | null, next_seal_ms: number | null }

let work: string
let dir: string
let node: RunningNode | undefined

beforeAll(async () => {
  work = tmpDir()
  dir = join(work, 'node')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  writeFileSync(join(work, 'rows.csv'), 'sensor,v\na,1\nb,2\nc,3\n')
}, 60_000)

afterAll(async () => { await node?.stop() })

const status = async (): Promise<{ text: string, ingest: Ingest }> => {
  const t = await petal(['--dir', dir, 'status'])
  expect(t.code, t.stderr).toBe(0)
  const j = await petal(['--dir', dir, '--json', 'status'])
  expect(j.code, j.stderr).toBe(0)
  return { text: t.stdout, ingest: (JSON.parse(j.stdout) as { ingest: Ingest }).ingest }
}

describe('petal status and pending rows', () => {
  it('no node: the rows, their size and age, and a `petal seal` that, run as printed, seals them', async () => {
    expect((await status()).text).toMatch(/^pending {5}none/m)
    expect((await petal(['--dir', dir, 'append', 'readings', join(work, 'rows.csv')])).code).toBe(0)
    const s = await status()
    expect(s.ingest).toMatchObject({ pending_rows: 3, seal_policy: null, next_seal_ms: null })
    expect(s.ingest.pending_bytes).toBeGreaterThan(0)
    expect(s.ingest.oldest_pending_ms).toBeGreaterThanOrEqual(0)
    expect(s.text).toMatch(/^pending {5}3 row\(s\), \d+ B, the oldest \d+ s old$/m)
    const seal = /no node runs here: seal them with `(petal --dir \S+ seal)`/.exec(s.text)?.[1]
    expect(seal, s.text).toBeDefined()
    const r = await petal((seal as string).split(' ').slice(1))
    expect(r.code, r.stderr).toBe(0)
    expect((await status()).ingest).toMatchObject({ pending_rows: 0, pending_bytes: 0, oldest_pending_ms: null })
  }, 60_000)

  it('a `petal seal` killed after its claim: its rows are still pending (with how many it claimed), and the next seal seals them', async () => {
    expect((await petal(['--dir', dir, 'append', 'readings', join(work, 'rows.csv')])).code).toBe(0)
    const killed = await petal(['--dir', dir, 'seal'], { PETAL_FAILPOINT: 'ingest:claimed' })
    expect(killed.code, killed.stderr).toBeNull() // SIGKILL at the failpoint
    // Before, status counted only rows no batch held: "pending none" beside receipts saying pending (verify52).
    const s = await status()
    expect(s.ingest).toMatchObject({ pending_rows: 3, claimed_rows: 3 })
    expect(s.text).toMatch(/^ {12}3 of them claimed by a seal that has not ended/m)
    const r = await petal(['--dir', dir, 'seal'])
    expect(r.code, r.stderr).toBe(0)
    expect((await status()).ingest).toMatchObject({ pending_rows: 0, claimed_rows: 0 })
  }, 60_000)

  // The other side of that window: killed after the chain's commit, before pending.db noted it
  // (review52b). The rows are in a canonical block, as `petal receipt` says; status counted them
  // pending and claimed ("whose rows the next seal takes"), which then had nothing to seal.
  it('a `petal seal` killed after its block\'s commit: status counts none pending, as the receipt says sealed', async () => {
    const a = await petal(['--dir', dir, 'append', 'readings', join(work, 'rows.csv')])
    expect(a.code, a.stderr).toBe(0)
    const receipt = /^\S+/.exec(a.stdout)?.[0] ?? ''
    const killed = await petal(['--dir', dir, 'seal'], { PETAL_FAILPOINT: 'ingest:committed' })
    expect(killed.code, killed.stderr).toBeNull()
    const rc = (await petal(['--dir', dir, 'receipt', receipt])).stdout
    expect(rc).toMatch(/sealed/)
    expect(rc).not.toMatch(/pending/)
    expect((await status()).ingest).toMatchObject({ pending_rows: 0, claimed_rows: 0 })
    const r = await petal(['--dir', dir, 'seal'])
    expect(r.stdout.trim(), r.stderr).toBe('nothing to seal')
  }, 60_000)

  // A sealed block of this directory's own that a longer branch, imported, made a side block: its
  // rows are pending again, as `petal receipt` says (it asks the chain), and the next seal's
  // reconcile requeues them; status counted only rows no sealed batch held, "pending none" (review53).
  it('a sealed block a reorg left on a side branch: its rows count as pending, as the receipt says, and the next seal seals them', async () => {
    const a = join(work, 'reorg-a')
    const b = join(work, 'reorg-b')
    expect((await petalInProcess(['--dir', a, 'init'])).code).toBe(0)
    cpSync(a, b, { recursive: true })
    const appended = await petal(['--dir', a, 'append', 'readings', join(work, 'rows.csv')])
    expect(appended.code, appended.stderr).toBe(0)
    const receipt = /^\S+/.exec(appended.stdout)?.[0] ?? ''
    expect((await petal(['--dir', a, 'seal'])).code).toBe(0)
    for (const rows of ['x,1\n', 'x,2\n']) {
      writeFileSync(join(work, 'other.csv'), `x,v\n${rows}`)
      expect((await petal(['--dir', b, 'append', 'others', join(work, 'other.csv')])).code).toBe(0)
      expect((await petal(['--dir', b, 'seal'])).code).toBe(0)
    }
    const imported = await petal(['--dir', a, 'import', '--from', b])
    expect(imported.code, imported.stderr).toBe(0)
    expect((await petal(['--dir', a, 'receipt', receipt])).stdout).toMatch(/pending/)
    const t = await petal(['--dir', a, '--json', 'status'])
    expect(t.code, t.stderr).toBe(0)
    expect((JSON.parse(t.stdout) as { ingest: Ingest }).ingest).toMatchObject({ pending_rows: 3, claimed_rows: 0 })
    const sealed = await petal(['--dir', a, '--json', 'seal'])
    expect(sealed.code, sealed.stderr).toBe(0)
    expect((JSON.parse(sealed.stdout) as { rows: number }).rows).toBe(3)
    expect((await petal(['--dir', a, 'receipt', receipt])).stdout).toMatch(/sealed/)
  }, 90_000)

  it('a signatory node: its seal policy and when the next seal is due, in status and in GET /api/v1/status', async () => {
    node = await spawnNode(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '3600', '--seal-rows', '1000'])
    const url = await httpUrlOf(node)
    expect((await petal(['--dir', dir, 'append', 'readings', join(work, 'rows.csv')])).code).toBe(0)
    const s = await waitFor(async () => { const x = await status(); return x.ingest.seal_policy !== null ? x : undefined }, { timeout: 30_000, what: 'the node to publish its seal policy' })
    expect(s.ingest).toMatchObject({ pending_rows: 3, seal_policy: { every_ms: 3_600_000, rows: 1000, bytes: null } })
    expect(s.ingest.next_seal_ms).toBeGreaterThan(3_000_000)
    // Rows a moment old fall due in just under an hour, which rounds to "1 h 00 min".
    expect(s.text).toMatch(/^ {12}the node seals them in (?:\d+ min \d+ s|1 h 00 min) \(once the oldest is 1 h 00 min old, or at 1000 rows\)$/m)
    const api = await (await fetch(new URL('api/v1/status', url))).json() as { ingest: Ingest }
    expect(api.ingest).toMatchObject({ pending_rows: 3, seal_policy: { every_ms: 3_600_000, rows: 1000, bytes: null } })
    expect(api.ingest.next_seal_ms).toBeGreaterThan(3_000_000)
    // The key it seals with, the same in both (api54: neither said which key the node holds).
    const j = await petal(['--dir', dir, '--json', 'status'])
    const key = (JSON.parse(j.stdout) as { node: { signing_key: { id: string, active: boolean } } }).node.signing_key
    expect(key).toMatchObject({ active: true, added_at: 0, revoked_at: null })
    expect(s.text).toContain(`\nsigning key ${key.id.slice(0, 14)}, an active signatory at the tip: it seals\n`)
    expect((await (await fetch(new URL('api/v1/status', url))).json() as { node: { signing_key: unknown } }).node.signing_key).toEqual(key)
  }, 90_000)
})
