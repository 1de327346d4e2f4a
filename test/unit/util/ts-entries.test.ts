import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QueryMirror, QuerySandbox } from '../../../src/query/index.js'
import { setTypeScriptBundler, WorkerPool, workerScript } from '../../../src/util/index.js'
import { newTestChain } from '../../helpers/chain.js'
import type { CrashRequest } from '../../helpers/crash-worker.js'

// The suite starts workers and the query sandbox from bundles (test/helpers/entry-bundles.ts);
// without a bundler, as under tsx (benchmarks), they start from the TypeScript source.
describe('TypeScript entries without a bundler', () => {
  let bundler: ((tsUrl: string) => string) | undefined
  beforeAll(() => { bundler = setTypeScriptBundler(undefined) })
  afterAll(() => { setTypeScriptBundler(bundler) })

  it('a worker thread runs its .ts module through tsx', async () => {
    const script = workerScript(import.meta.url, '../../helpers/crash-worker.js')
    expect(script).toHaveProperty('source')
    const pool = new WorkerPool<CrashRequest, number>(script, 1)
    try {
      expect(await pool.run({ op: 'echo', value: 7 })).toBe(7)
    } finally {
      await pool.close()
    }
  }, 30_000)

  it('the query sandbox process runs its .ts entry through tsx', async () => {
    const { chain } = await newTestChain()
    const mirror = QueryMirror.open(chain)
    await mirror.sync()
    mirror.close()
    const sandbox = new QuerySandbox(chain.dir.root)
    try {
      expect(sandbox.start().spawnargs.join(' ')).toMatch(/--import \S*tsx\S* \S*child\.ts( --killed-with-parent=\d+)?$/)
      let text = ''
      await sandbox.run({ mode: 'mirror', sql: 'SELECT count(*) AS n FROM _blocks', format: 'ndjson', timeoutMs: 20_000, onText: t => { text += t } })
      expect(text).toBe('{"n":1}\n')
    } finally {
      await sandbox.close()
      chain.close()
    }
  }, 30_000)
})
