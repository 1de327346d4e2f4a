import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TokenStore, type ApiServer } from '../../src/api/index.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import { createLogger, type LogRecord } from '../../src/util/index.js'
import { errorOf, http, postJson, startTestApi, type HttpResult } from '../helpers/api.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * What an error tells whom (docs/api.md, http35): a node exposed with --http-expose tells its
 * clients, whatever their token, no path of its machine, and of a fault of the node (5xx) only the
 * code and its documented meaning; the node's log has the rest. Before, an anonymous client got
 * the data directory in a 401's hint (`petal --dir /abs/path tokens create`), and a reader the
 * token file's path and the hints' `--dir` commands.
 */
const alice = fixtureKey('alice')
let chain: Chain
let dir: string
let exposed: string
let loopback: string
let reader: Record<string, string>
const logged: LogRecord[] = []
const servers: ApiServer[] = []

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  chain = t.chain
  dir = t.dir
  await signImport(chain, makeSqlite(join(tmpDir(), 'b1.db'), 20, 1), alice)
  await signImport(chain, makeSqlite(join(tmpDir(), 'b2.db'), 20, 2), alice)
  reader = { authorization: `Bearer ${TokenStore.of(dir).create({ scope: 'read', name: 'reader' }).token}` }
  const logger = createLogger(r => { logged.push(r) }, 'debug')
  for (const expose of [true, false]) {
    const { server, url } = await startTestApi({ dir, access: { expose }, logger })
    servers.push(server)
    if (expose) exposed = url
    else loopback = url
  }
})

afterAll(async () => {
  for (const s of servers.splice(0)) await s.close()
  chain?.close()
})

/** Nothing of the reply (status line aside) names the data directory, however spelled. */
function tellsNoPath (r: HttpResult): void {
  const all = JSON.stringify(r.headers) + r.text
  for (const d of new Set([dir, realpathSync(dir)])) expect(all).not.toContain(d)
  expect(all).not.toMatch(/--dir|tokens\.json|\/tmp\//)
}

describe('an exposed node tells its clients no path of its machine', () => {
  it('anonymous: the 401 names `petal tokens create` without the data directory', async () => {
    const r = await http(exposed + 'api/v1/status')
    expect(r.status).toBe(401)
    tellsNoPath(r)
    expect(errorOf(r).hint).toContain('`petal tokens create --scope read`')
    // The node's own machine, on loopback, still gets the command that runs as printed there.
    const local = await postJson(loopback + 'api/v1/records/t', [{ a: 1 }])
    expect(errorOf(local).hint).toContain(`petal --dir ${dir} run`)
  })

  it('a reader: a refusal of the request keeps its message and details, its hint without --dir', async () => {
    const r = await postJson(exposed + 'api/v1/query', { sql: 'SELECT * FROM nope' }, reader)
    expect(r.status).toBe(400)
    tellsNoPath(r)
    const e = errorOf(r) as { code: string, message: string, hint?: string, details?: Record<string, unknown> }
    expect(e.code).toBe('QUERY_UNKNOWN_TABLE')
    expect(e.message).toContain('nope')
    expect(e.hint).toBe('no block has a table of that name; POST /api/v1/query {"sql": "SELECT DISTINCT name FROM _tables"} lists them')
    expect(e.details?.sqliteMessage).toBe('no such table: nope')
  })

  it('a missing block file: 503 with its code and meaning; the message and the `--dir` hint go to the log', async () => {
    const file = chain.pathOf(chain.get(1) ?? expect.fail('no block 1'))
    renameSync(file, file + '.away')
    try {
      for (const [what, send] of [
        ['file', async () => await http(exposed + 'api/v1/blocks/1/file', { headers: reader })],
        ['rows', async () => await http(exposed + 'api/v1/blocks/1/tables/t/rows', { headers: reader })],
        ['per-block query', async () => await postJson(exposed + 'api/v1/query', { sql: 'SELECT count(*) FROM t', per_block: true }, reader)]
      ] as const) {
        logged.length = 0
        const r = await send()
        expect(r.status, what).toBe(503)
        tellsNoPath(r)
        const e = errorOf(r)
        expect(['BLOCK_FILE_MISSING', 'QUERY_BLOCK_UNREADABLE'], what).toContain(e.code)
        expect(e.hint).toContain('node\'s log')
        const line = logged.find(l => l.message === 'request failed' && l.context?.code === e.code)
        expect(line, what).toBeDefined()
        expect(String(line?.context?.hint)).toContain(`petal --dir ${dir} verify`)
      }
      // On loopback the same fault is told in full.
      const local = errorOf(await http(loopback + 'api/v1/blocks/1/file'))
      expect(local.code).toBe('BLOCK_FILE_MISSING')
      expect(local.hint).toContain(`petal --dir ${dir} verify`)
    } finally {
      renameSync(file + '.away', file)
    }
  })

  it('a damaged token file: any bearer gets API_TOKENS_CORRUPT without the file\'s path', async () => {
    const path = join(dir, 'api', 'tokens.json')
    const good = readFileSync(path)
    writeFileSync(path, '{garbage')
    try {
      logged.length = 0
      const r = await http(exposed + 'api/v1/status', { headers: { authorization: 'Bearer nonsense' } })
      expect(r.status).toBe(503)
      tellsNoPath(r)
      expect(errorOf(r).code).toBe('API_TOKENS_CORRUPT')
      expect(String(logged.find(l => l.context?.code === 'API_TOKENS_CORRUPT')?.context?.error)).toContain(path)
    } finally {
      writeFileSync(path, good)
    }
  })
})
