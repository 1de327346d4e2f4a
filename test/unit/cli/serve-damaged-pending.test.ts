import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { expect, it } from 'vitest'
import { petalInProcess } from '../../helpers/cli.js'
import { aliceOrphan } from '../../helpers/orphan.js'
import { whileServing } from '../../helpers/serve.js'
import { tmpDir } from '../../helpers/tmp.js'

// `petal serve` reads a data directory over HTTP and never writes it. Since session 49 it opens
// pending.db to judge its own keys' orphans with the record of re-seals (77098d4); a pending.db
// that cannot be opened (damaged: the user is told to keep it for help) then stopped serve from
// starting at all (exit 4, INGEST_STORE_UNAVAILABLE), where before it served the chain (review50).
it('serve starts beside a pending.db that cannot be opened, and judges orphans from the chain alone', async () => {
  const work = tmpDir()
  const dir = join(work, 'd')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  const rows = join(work, 'rows.ndjson')
  writeFileSync(rows, '{"a": 1}\n')
  expect((await petalInProcess(['--dir', dir, 'append', 't', rows])).code).toBe(0)
  const path = join(dir, 'pending.db')
  const db = new Database(path)
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  // Its header overwritten: SQLite says "file is not a database" at the open.
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.alloc(32, 0x67), 0, 32, 0)
  closeSync(fd)
  expect((await petalInProcess(['--dir', dir, 'orphans'])).code).toBe(4) // the CLI's own list still says it

  await whileServing(dir, async url => {
    const status = await fetch(`${url}api/v1/status`)
    expect(status.status).toBe(200)
    const orphans = await fetch(`${url}api/v1/orphans`)
    expect(orphans.status).toBe(200)
    expect(await orphans.json()).toMatchObject({ tip: { height: 0 }, orphans: [] })
  })
}, 60_000)

it('a pending.db that appears after serve started and cannot be opened leaves GET /orphans judged from the chain alone', async () => {
  const dir = join(tmpDir(), 'd')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  await whileServing(dir, async url => {
    expect((await fetch(`${url}api/v1/orphans`)).status).toBe(200)
    writeFileSync(join(dir, 'pending.db'), Buffer.alloc(4096, 0x67))
    const orphans = await fetch(`${url}api/v1/orphans`)
    expect(orphans.status).toBe(200)
    expect(await orphans.json()).toMatchObject({ tip: { height: 0 }, orphans: [] })
  })
}, 60_000)

// The fallback above lasted until serve restarted: a damaged pending.db mended beside it (restored,
// or here removed and made again by a re-seal) was never read, and serve kept judging the orphan
// from the chain alone while `petal orphans` named its recorded copy (user50).
it('a damaged pending.db mended while serve runs is read at the next GET /orphans', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)
  writeFileSync(join(dir, 'pending.db'), Buffer.alloc(4096, 0x67))
  await whileServing(dir, async url => {
    const orphans = async (): Promise<unknown[]> => ((await (await fetch(`${url}api/v1/orphans`)).json()) as { orphans: unknown[] }).orphans
    expect(await orphans()).toMatchObject([{ hash: m, state: 'pending' }])
    rmSync(join(dir, 'pending.db'))
    expect((await petalInProcess(['--dir', dir, 'reseal', m])).code).toBe(0)
    const cli = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'orphans'])).stdout) as { orphans: unknown[] }
    expect(cli.orphans).toMatchObject([{ hash: m, state: 'back', by: 'recorded-copy' }])
    expect(await orphans()).toEqual(cli.orphans)
  })
}, 60_000)
