// The read API's test chain, served by a test API server: blocks 1–3 on alice's chain (a table t
// of 10 and 250 rows, a table of every value class, a WITHOUT ROWID table and an SQL-looking
// name), and a side block 1 on another branch. Responses are checked against the OpenAPI document.
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { ApiServer } from '../../src/api/index.js'
import { Chain, importBlock, signImport } from '../../src/chain/index.js'
import { readSeal } from '../../src/storage/index.js'
import { http, OpenApiChecker, postJson, startTestApi, type HttpResult } from './api.js'
import { fixtureKey, makeSqlite, newTestChain } from './chain.js'
import { cloneGenesis } from './network.js'
import { tmpDir } from './tmp.js'

const MAX = 9223372036854775807n

export interface ReadFixture {
  chain: Chain
  branch: Chain
  server: ApiServer
  url: string
  api: OpenApiChecker
  /** GET (or any method) and check the response against the OpenAPI document. */
  call: (method: string, docPath: string, path: string, o?: { headers?: Record<string, string>, body?: unknown }) => Promise<HttpResult>
  close: () => Promise<void>
}

function valuesDb (path: string): string {
  const db = new Database(path)
  db.exec(`CREATE TABLE vals (id INTEGER PRIMARY KEY, big INTEGER, r REAL, s TEXT, b BLOB, n);
    CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
    CREATE TABLE "Odd ""Name""; DROP TABLE t; --" (x)`)
  const ins = db.prepare('INSERT INTO vals (big, r, s, b, n) VALUES (?, ?, ?, ?, ?)')
  ins.safeIntegers(true)
  ins.run(MAX, 1.0, 'x', Buffer.from([0, 1, 0xfe, 0xff]), null)
  ins.run(-MAX - 1n, 0.1, '', Buffer.alloc(0), null)
  for (const k of ['e', 'a', 'd', 'c', 'b']) db.prepare('INSERT INTO kv VALUES (?, ?)').run(k, k.charCodeAt(0))
  db.prepare('INSERT INTO "Odd ""Name""; DROP TABLE t; --" VALUES (1)').run()
  db.close()
  return path
}

export async function openReadFixture (): Promise<ReadFixture> {
  const alice = fixtureKey('alice')
  const work = tmpDir()
  const t = await newTestChain({ key: alice })
  const chain = t.chain
  await signImport(chain, makeSqlite(join(work, 'b1.db'), 10, 1), alice)
  await signImport(chain, valuesDb(join(work, 'b2.db')), alice)
  await signImport(chain, makeSqlite(join(work, 'b3.db'), 250, 3), alice)
  // A side branch: another block 1 on the same genesis.
  const branch = Chain.open(await cloneGenesis(chain))
  await signImport(branch, makeSqlite(join(work, 'x1.db'), 4, 9), alice)
  const side = branch.dir.blockPath(1)
  expect((await importBlock(chain, side, readSeal(side))).status).toBe('side')
  const { server, url } = await startTestApi({ dir: chain.dir.root })
  const doc = await http(url + 'api/v1/openapi.json')
  const api = new OpenApiChecker(doc.json as ConstructorParameters<typeof OpenApiChecker>[0])
  const call: ReadFixture['call'] = async (method, docPath, path, o = {}) => {
    const r = o.body === undefined ? await http(url + path.slice(1), { method, headers: o.headers }) : await postJson(url + path.slice(1), o.body, o.headers)
    api.check(method, docPath, r)
    return r
  }
  const close = async (): Promise<void> => {
    await server.close()
    chain.close()
    branch.close()
  }
  return { chain, branch, server, url, api, call, close }
}
