import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { httpUrlOf, petal, spawnNode, type RunningNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

// `petal pull --follow` took no --http: a reader that pulled a chain and followed it could not serve
// the explorer in that process, and had to stop it and `petal run` (api54). Daisy's users pull, then
// run the node, which serves HTTP on 2018 (reference/daisy-spec.md, 7.3): --follow is both in one.
const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht']
const nodes: RunningNode[] = []
afterAll(async () => { for (const n of nodes.reverse()) await n.stop() })

describe('petal pull --follow --http', () => {
  it('serves the API and the explorer of the chain it follows, in the same process', async () => {
    const work = tmpDir()
    const a = join(work, 'a')
    expect((await petal(['--dir', a, 'init'])).code).toBe(0)
    const signed = await petal(['--dir', a, 'signimportblock', makeSqlite(join(work, 't.db'), 3)])
    expect(signed.code, signed.stderr).toBe(0)
    const signatory = await spawnNode(['--dir', a, 'run', ...LOOPBACK, '--http', 'off'])
    nodes.push(signatory)
    const follower = await spawnNode(['--dir', join(work, 'b'), 'pull', signatory.addr, '--follow', ...LOOPBACK, '--http', '127.0.0.1:0'])
    nodes.push(follower)
    const url = await httpUrlOf(follower)
    const status = await (await fetch(new URL('api/v1/status', url))).json() as { tip: { height: number }, node: { role: string, signing_key: unknown } }
    expect(status.tip.height).toBe(1)
    expect(status.node).toMatchObject({ role: 'follower', signing_key: null })
    const page = await fetch(url)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(follower.stdout()).toContain('Explorer (open in a browser: docs/explorer.md)')
  }, 120_000)

  it('--http without --follow, or --http-expose without --http: a usage error that says what to run instead', async () => {
    const dir = join(tmpDir(), 'p')
    const addr = '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWEDspTVk28MpX8SpoFeZBDiUbC494GH9mQMGE2PK4MNSj'
    const once = await petal(['--dir', dir, 'pull', addr, '--http', '127.0.0.1:0'])
    expect(once.code).toBe(2)
    expect(once.stderr).toContain('--http applies with --follow: a one-off pull exits once verified, and serves nothing')
    expect(once.stderr).toContain(`\`petal --dir ${dir} serve --http 127.0.0.1:0\``)
    const expose = await petal(['--dir', dir, 'pull', addr, '--follow', '--http-expose'])
    expect(expose.code).toBe(2)
    expect(expose.stderr).toContain('--http-expose applies with --http')
  }, 60_000)
})
