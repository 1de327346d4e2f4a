import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal, petalLogged } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// Commands that read the data directory must start fast: they load neither the network stack,
// nor the HTTP server, nor the v1 signature library (docs/performance.md). A module list, not a
// timing: a static import that drags one of them in again fails here.
describe('what a local command loads', () => {
  it('status, blocks and mykeys load no libp2p, fastify or @noble module', async () => {
    const dir = join(tmpDir(), 'node')
    const init = await petal(['--dir', dir, 'init'])
    expect(init.code, init.stderr).toBe(0)
    for (const args of [['status'], ['blocks'], ['mykeys'], ['--json', 'status']]) {
      const log = join(tmpDir(), 'imports.log')
      const r = await petalLogged(['--dir', dir, ...args], { log })
      expect(r.code, r.stderr).toBe(0)
      const loaded = readFileSync(log, 'utf8')
      // The log does record packages: the command's own SQLite driver is in it.
      expect(loaded, args.join(' ')).toContain('/node_modules/better-sqlite3/')
      expect(loaded, `${args.join(' ')} loads no network, HTTP or v1-signature code`).not.toMatch(/libp2p|@chainsafe|gossipsub|fastify|@noble\//)
    }
  })
})
