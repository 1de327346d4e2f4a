import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

const ROOT = join(import.meta.dirname, '..', '..')

// A process with no descriptor left: SQLite says only SQLITE_CANTOPEN, which was reported as the
// disk refusing the open ("free space … dmesg", review34). The built modules, in a child whose
// every descriptor is taken before it opens the data directory's databases.
describe('a process out of file descriptors', () => {
  it('opening chain.db and pending.db says TOO_MANY_OPEN_FILES with the ulimit hint, not IO_ERROR', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const script = `
      import { openSync } from 'node:fs'
      const { IndexDb } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'storage', 'index.js')).href)})
      const { openPendingDb } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'ingest', 'store-open.js')).href)})
      const opens = [() => IndexDb.open(process.argv[1] + '/chain.db'), () => openPendingDb(process.argv[1] + '/pending.db', false)]
      for (const open of opens) open().close() // modules a first open loads lazily, loaded now
      const held = []
      try { for (;;) held.push(openSync('/dev/null', 'r')) } catch (err) { if (err.code !== 'EMFILE') throw err }
      const out = []
      for (const open of opens) {
        try { open(); out.push('opened') } catch (err) { out.push({ code: err.code, message: err.message, hint: err.hint }) }
      }
      process.stdout.write(JSON.stringify(out))
    `
    const out = execFileSync('bash', ['-c', 'ulimit -n 1024 && exec "$0" --input-type=module -e "$1" "$2"', process.execPath, script, dir], { encoding: 'utf8' })
    const [index, pending] = JSON.parse(out) as Array<{ code: string, message: string, hint: string }>
    expect([index, pending]).toHaveLength(2)
    for (const r of [index, pending] as Array<{ code: string, message: string, hint: string }>) {
      expect(r).toMatchObject({ code: 'TOO_MANY_OPEN_FILES', message: expect.stringContaining('EMFILE') })
      expect(r.hint).toMatch(/ulimit -n/)
    }
  })
})
