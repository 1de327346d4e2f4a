import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pull, type PetalNode, type PullProgress } from '../../src/node/index.js'
import type { PullResult } from '../../src/node/pull.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { CLI } from '../helpers/cli.js'
import { addrOf, fastOptions, startNode, stopAll, testLogger } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const ALICE_PEM = join(import.meta.dirname, '..', 'fixtures', 'keys', 'alice.pem')

/** Run the built CLI to completion while this thread waits (the pull cannot move meanwhile). */
function petalSync (args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } })
}

// A pull holds node.lock from its sync's start to its verify's end: a node started in between
// would move block files (a reorg, a placement) under the verify, which would take them for damage.

let source: PetalNode

beforeAll(async () => {
  const alice = fixtureKey('alice')
  const { chain, dir } = await newTestChain({ key: alice })
  await extendChain(chain, alice, 10, 1)
  chain.close()
  source = await startNode(dir, { name: 'source', key: alice })
}, 60_000)

afterAll(stopAll)

/** Whether another process finds node.lock of `dir` held (it tries to take it, without waiting). */
function heldElsewhere (dir: string): string {
  const r = spawnSync(process.execPath, ['-e', PROBE, join(dir, 'node.lock')], { encoding: 'utf8' })
  return r.stdout.trim()
}

const PROBE = `
const Database = require('better-sqlite3')
const db = new Database(process.argv[1])
try { db.exec('BEGIN EXCLUSIVE'); db.exec('ROLLBACK'); console.log('free') } catch (e) { console.log(e.code === 'SQLITE_BUSY' ? 'held' : e.code) }
db.close()
`

async function pullFromSource (dir: string, onProgress: (p: PullProgress) => void): Promise<PullResult> {
  return await pull({ dir, from: addrOf(source), logger: testLogger('pull'), ...fastOptions(), onProgress })
}

describe('a pull and node.lock', () => {
  it('keeps node.lock through its verify: another process finds it held, and `petal run` started then is refused', async () => {
    const dir = join(tmpDir(), 'pulled')
    let during: string | undefined
    let run: SpawnSyncReturns<string> | undefined
    const r = await pullFromSource(dir, p => {
      if (p.stage !== 'verify' || during !== undefined) return
      // The verify waits while these run (this thread is held): the lock cannot change hands meanwhile.
      during = heldElsewhere(dir)
      run = petalSync(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off'])
    })
    expect(r.verify.ok).toBe(true)
    expect(during).toBe('held')
    expect(run?.status, run?.stderr).toBe(4)
    expect(run?.stderr).toContain('ALREADY_RUNNING')
    expect(run?.stderr).toContain(`a pull (pid ${process.pid}) is already running`)
    // Released when the pull ends.
    expect(heldElsewhere(dir)).toBe('free')
  }, 120_000)

  it('`petal append` beside a pull (syncing, then verifying) says a pull holds the directory and seals nothing, not that a node does not sign; `petal seal` is refused during it and seals the rows once it has ended', async () => {
    const dir = join(tmpDir(), 'pulled')
    // The chain's signatory key, in the keystore before the pull (append checks it signs).
    expect(petalSync(['--dir', dir, 'keys', 'import', ALICE_PEM]).status).toBe(0)
    const notes = new Map<string, SpawnSyncReturns<string>>()
    let status = ''
    let peers = ''
    const queries = new Map<string, SpawnSyncReturns<string>>()
    const seals = new Map<string, SpawnSyncReturns<string>>()
    const dataFile = join(tmpDir(), 'data.db')
    const db = new Database(dataFile)
    db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
    db.close()
    const r = await pullFromSource(dir, p => {
      if (p.stage === 'contact' || notes.has(p.stage)) return
      notes.set(p.stage, petalSync(['--dir', dir, 'append', 'readings', '-'], `{"stage": "${p.stage}"}\n`))
      if (p.stage === 'verify') {
        status = petalSync(['--dir', dir, 'status']).stdout
        peers = petalSync(['--dir', dir, 'peers']).stdout
      }
      // ALREADY_RUNNING's hint beside a pull says query runs beside it.
      queries.set(p.stage, petalSync(['--dir', dir, '--json', 'query', 'SELECT count(*) AS n FROM _blocks']))
      // `petal seal` (and signimportblock, reseal) now would follow a tip the pull is about to pass:
      // refused, nothing sealed.
      seals.set(p.stage, petalSync(['--dir', dir, 'seal']))
      seals.set(`${p.stage}: signimportblock`, petalSync(['--dir', dir, 'signimportblock', dataFile]))
      seals.set(`${p.stage}: reseal`, petalSync(['--dir', dir, 'reseal', 'ab'.repeat(32)]))
      // What the user typed comes back quoted for the shell in the hint's command.
      seals.set(`${p.stage}: reseal, typed oddly`, petalSync(['--dir', dir, 'reseal', 'ab cd$x']))
    })
    expect(r.verify.ok).toBe(true)
    expect([...notes.keys()]).toEqual(['sync', 'verify'])
    for (const [stage, a] of notes) {
      expect(a.status, `${stage}: ${a.stderr}`).toBe(0)
      expect(a.stderr, stage).toContain('A pull holds this data directory')
      expect(a.stderr, stage).not.toMatch(/does not sign|seems to be starting|No node runs/)
    }
    for (const [stage, sl] of seals) {
      expect(sl.status, `${stage}: ${sl.stderr}`).toBe(4)
      expect(sl.stderr, stage).toContain(`a pull (pid ${process.pid}) holds`)
      expect(sl.stderr, stage).toContain('[ALREADY_RUNNING]')
      expect(sl.stderr, stage).toMatch(/then run `petal --dir \S+ (seal|signimportblock|reseal [0-9a-f]{64}|reseal 'ab cd\$x')` again/)
    }
    for (const [stage, q] of queries) expect(q.status, `${stage}: ${q.stderr}`).toBe(0)
    expect([...queries.keys()]).toEqual(['sync', 'verify'])
    expect(status).toContain(`node        a pull runs here (pid ${process.pid})`)
    // Its verify, not the sync's last state (the node has stopped; it had peers and was syncing).
    expect(status).toContain('sync        verifying every block (the pull has stopped syncing; it ends after this)')
    expect(peers).toContain(`a pull (pid ${process.pid}) is verifying every block here`)
    // The pull left nothing behind that says it runs.
    expect(petalSync(['--dir', dir, '--json', 'status']).stdout).toContain('"running":false')
    // The hint holds: with the chain's signatory key, `petal seal` seals both rows.
    const sealed = petalSync(['--dir', dir, '--json', 'seal'])
    expect(sealed.status, sealed.stderr).toBe(0)
    expect(JSON.parse(sealed.stdout)).toMatchObject({ rows: 2 })
  }, 120_000)

  it('says a pull runs from the moment it holds node.lock: `petal seal` then is refused, not only once its node has started', async () => {
    const dir = join(tmpDir(), 'pulled')
    const pauseFile = join(tmpDir(), 'pause')
    process.env.PETAL_PAUSE = 'pull:locked'
    process.env.PETAL_PAUSE_FILE = pauseFile
    let seal: SpawnSyncReturns<string> | undefined
    let status = ''
    try {
      const pulling = pullFromSource(dir, () => {})
      // The pull holds node.lock, its node not created or started yet.
      await waitFor(() => existsSync(pauseFile))
      seal = petalSync(['--dir', dir, 'seal'])
      status = petalSync(['--dir', dir, 'status']).stdout
      rmSync(pauseFile)
      expect((await pulling).verify.ok).toBe(true)
    } finally {
      delete process.env.PETAL_PAUSE
      delete process.env.PETAL_PAUSE_FILE
      rmSync(pauseFile, { force: true })
    }
    expect(seal?.status, seal?.stderr).toBe(4)
    expect(seal?.stderr).toContain(`a pull (pid ${process.pid}) holds`)
    expect(status).toContain(`node        a pull runs here (pid ${process.pid})`)
  }, 120_000)
})
