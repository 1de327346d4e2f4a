import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, petal, spawnPetal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

/**
 * A damaged api/tokens.json met by a running node (hints32). A write to POST /records went first to
 * the lean records lane, whose token check threw API_TOKENS_CORRUPT on the socket's data event: the
 * node died ("Node.js v20…", exit 1) and every client lost it. Now the lane leaves the request to the
 * Fastify route, which answers 503 with the code and its hint; the hint, followed, works.
 */
describe('a damaged token file under a running node', () => {
  it('is answered with API_TOKENS_CORRUPT and its hint; the node keeps running; deleting the file and creating a token, as the hint says, makes writes work', async () => {
    // A directory the shell would split: the hint's command must name it, quoted (session 33).
    const dir = join(tmpDir(), 'my data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
    const node = spawnPetal(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--no-dht'])
    let out = ''
    node.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    let ended = false
    void node.exit.then(() => { ended = true })
    try {
      const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { timeout: 30_000, what: 'the node\'s HTTP URL' })
      const post = async (t: string): Promise<{ status: number, body: { error?: { code: string, hint?: string } } }> => {
        const body = '[{"a": 1}]'
        const res = await fetch(`${url}api/v1/records/r`, { method: 'POST', headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json', 'Content-Length': String(body.length) }, body })
        return { status: res.status, body: await res.json() as { error?: { code: string, hint?: string } } }
      }
      expect((await post(token)).status).toBe(202)
      const file = join(dir, 'api', 'tokens.json')
      writeFileSync(file, '{bad')
      const refused = await post(token)
      expect(refused.status).toBe(503)
      expect(refused.body.error?.code).toBe('API_TOKENS_CORRUPT')
      expect(refused.body.error?.hint).toContain(`delete it and create new tokens with \`petal --dir '${dir}' tokens create\``)
      expect(ended).toBe(false)
      expect((await fetch(`${url}api/v1/status`)).status).toBe(200)
      // The hint: delete the file, create a new token with the command as printed (run by bash, with
      // a HOME of its own and no PETAL_DIR: it acts on the node's directory); the node takes it without a restart.
      rmSync(file)
      const cmd = /`petal ([^`]*)`/.exec(refused.body.error?.hint ?? '')?.[1] ?? ''
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'PETAL_DIR'))
      const run = spawnSync('bash', ['-c', `node ${CLI} ${cmd}`], { encoding: 'utf8', env: { ...env, HOME: tmpDir() } })
      expect(run.status, run.stderr).toBe(0)
      const fresh = run.stdout.trim()
      expect((await post(fresh)).status).toBe(202)
      expect((await post(token)).body.error?.code).toBe('API_UNAUTHORIZED')
    } finally {
      node.child.kill('SIGTERM')
      await node.exit
    }
  })
})
