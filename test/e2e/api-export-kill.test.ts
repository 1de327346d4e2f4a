import Database from 'better-sqlite3'
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { httpUrlOf, spawnNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// GET /api/v1/tables/{t}/export?format=sqlite writes the file before it sends it. A node killed
// meanwhile left it in the system's temporary directory (`petal-export-XXXXXX/`) for good; it is
// now in the data directory's tmp/, which the node's next start cleans (docs/api.md).

const RUN = ['run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '0']
const tmpFiles = (dir: string): string[] => existsSync(join(dir, 'tmp')) ? readdirSync(join(dir, 'tmp')) : []
const exportDirs = (d: string): string[] => readdirSync(d).filter(n => n.startsWith('petal-export-'))

describe('the API\'s SQLite export', () => {
  it('a node killed while it sends one leaves its file in tmp/, which the next start removes; nothing in the system\'s temporary directory', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.csv')
    writeFileSync(rows, 'k,v\n' + Array.from({ length: 50 }, (_, i) => `k${i},${i}\n`).join(''))
    const imported = await petal(['--dir', dir, 'signimportblock', rows, '--table', 't'])
    expect(imported.code, imported.stderr).toBe(0)
    // The nodes' own temporary directory, to see what they leave there.
    const osTmp = tmpDir()
    const pause = join(tmpDir(), 'pause')
    const node = await spawnNode(['--dir', dir, ...RUN], { TMPDIR: osTmp, PETAL_PAUSE: 'api:export-written', PETAL_PAUSE_FILE: pause })
    try {
      const url = await httpUrlOf(node)
      void fetch(`${url}api/v1/tables/t/export?format=sqlite`).then(async r => await r.arrayBuffer()).catch(() => {})
      await waitFor(() => existsSync(pause), { what: 'the export to be written' })
      expect(tmpFiles(dir).filter(n => n.startsWith(`${node.proc.pid ?? 0}-`))).toHaveLength(1)
      expect(exportDirs(osTmp)).toEqual([])
    } finally {
      await node.kill9()
      rmSync(pause, { force: true })
    }
    expect(tmpFiles(dir)).toHaveLength(1)

    const again = await spawnNode(['--dir', dir, ...RUN], { TMPDIR: osTmp })
    try {
      await waitFor(() => tmpFiles(dir).length === 0, { what: 'the killed node\'s export file to be removed' })
      expect(exportDirs(osTmp)).toEqual([])
      // An export that ends removes its file itself.
      const r = await fetch(`${await httpUrlOf(again)}api/v1/tables/t/export?format=sqlite`)
      expect(r.status).toBe(200)
      const got = join(tmpDir(), 'got.db')
      writeFileSync(got, Buffer.from(await r.arrayBuffer()))
      const db = new Database(got, { readonly: true })
      try { expect(db.prepare('SELECT count(*) AS n, sum(v) AS s FROM t').get()).toEqual({ n: 50, s: 1225 }) } finally { db.close() }
      await waitFor(() => tmpFiles(dir).length === 0, { what: 'the export\'s file to be removed at the reply\'s end' })
    } finally {
      expect(await again.stop()).toBe(0)
    }
    expect(exportDirs(osTmp)).toEqual([])
  })
})
