import { describe, expect, it } from 'vitest'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { petal, spawnPetal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const repo = join(import.meta.dirname, '..', '..')

describe('npm start', () => {
  it('runs its command on a directory laid out like the repository\'s blocks/: creates the chain, runs a signatory node, stops on SIGINT', async () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: { start: string } }
    expect(pkg.scripts.start).toBe('node bin/petal.js --dir blocks run --init')
    const dir = join(tmpDir(), 'blocks')
    mkdirSync(dir)
    copyFileSync(join(repo, 'blocks', 'README.md'), join(dir, 'README.md'))
    // Same command, but on free loopback ports instead of 2017 on all interfaces and 2018.
    const run = spawnPetal(['--dir', dir, 'run', '--init', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0'])
    let out = ''
    run.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    await waitFor(() => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\w+$/m.test(out), { what: 'the listen address line', timeout: 30_000 })
    expect(out).toMatch(/signatory/)
    // The explorer's URL, on a line of its own; the API answers there.
    const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { what: 'the HTTP URL line' })
    const home = await fetch(url)
    expect(home.status).toBe(200)
    expect(await home.text()).toContain('/api/v1/status')
    const api = await (await fetch(`${url}api/v1/status`)).json() as { tip: { height: number }, node: { role: string } }
    expect(api.tip.height).toBe(0)
    expect(api.node.role).toBe('signatory')
    const status = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: { height: number }, my_keys: Array<{ signatory: boolean }>, node: { running: boolean } }
    expect(status.tip.height).toBe(0)
    expect(status.my_keys[0]?.signatory).toBe(true)
    expect(status.node.running).toBe(true)
    run.child.kill('SIGINT')
    const exit = await run.exit
    expect(exit.code).toBe(0)
    expect((JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { node: { running: boolean } }).node.running).toBe(false)
  })
})
