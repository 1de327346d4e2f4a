import { beforeAll, describe, expect, it } from 'vitest'
import { cpSync, readFileSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { petal, petalInProcess, spawnPetal, type Spawned } from '../helpers/cli.js'
import { errorOf, http, postJson } from '../helpers/api.js'
import { makeSqlite } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

let template: string
beforeAll(async () => {
  template = join(tmpDir(), 'data')
  expect((await petalInProcess(['--dir', template, 'init'])).code).toBe(0)
  expect((await petalInProcess(['--dir', template, 'signimportblock', makeSqlite(join(tmpDir(), 'in.db'), 10, 1)])).code).toBe(0)
})

/** A data directory with a chain and one block of 10 rows, made with the CLI in this process (a copy of one made once). */
async function dataDir (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  cpSync(template, dir, { recursive: true })
  return dir
}

/** Start a long-running command and wait for the URL it prints on a line of its own. */
async function started (args: string[], env: Record<string, string> = {}): Promise<{ p: Spawned, url: string, out: () => string, stderr: () => string }> {
  const p = spawnPetal(args, { env })
  let out = ''
  let err = ''
  p.child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000) })
  let exited = false
  p.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  void p.exit.then(() => { exited = true })
  const url = await waitFor(() => {
    if (exited) throw new Error(`petal ${args.join(' ')} exited early:\n${err}`)
    return /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1]
  }, { what: 'the HTTP URL line', timeout: 30_000 })
  return { p, url, out: () => out, stderr: () => err }
}

function vmRss (pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

describe('petal serve', () => {
  it('serves a data directory read-only without joining the network; stops on SIGINT', async () => {
    const dir = await dataDir()
    const { p, url, out } = await started(['--dir', dir, 'serve', '--http', '127.0.0.1:0'])
    expect(out()).not.toMatch(/\/p2p\//)
    const s = (await http(url + 'api/v1/status')).json as { tip: { height: number }, node: unknown }
    expect(s.tip.height).toBe(1)
    expect(s.node).toBeNull()
    const rows = await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM t' })
    expect(rows.text).toBe('{"n":10}\n')
    // A block imported by another process shows up (the server watches the index).
    expect((await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'in2.db'), 5, 2)])).code).toBe(0)
    await waitFor(async () => ((await http(url + 'api/v1/status')).json as { tip: { height: number } }).tip.height === 2, { what: 'the new block' })
    expect((await postJson(url + 'api/v1/query', { sql: 'SELECT count(*) AS n FROM t' })).text).toBe('{"n":15}\n')
    p.child.kill('SIGINT')
    expect((await p.exit).code).toBe(0)
  })

  it('refuses bad addresses as usage errors, and beyond loopback without --http-expose', async () => {
    const dir = await dataDir()
    const off = await petal(['--dir', dir, 'serve', '--http', 'off'])
    expect(off.code).toBe(2)
    const bad = await petal(['--dir', dir, 'serve', '--http', 'localhost:99999'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/\[USAGE\]/)
    const wide = await petal(['--dir', dir, 'serve', '--http', '0.0.0.0:0'])
    expect(wide.code).toBe(2)
    expect(wide.stderr).toMatch(/\[API_EXPOSE_REQUIRED\]/)
    expect(wide.stderr).toMatch(/--http-expose/)
    const pr = await petal(['--dir', dir, 'serve', '--public-read'])
    expect(pr.code).toBe(2)
    const none = await petal(['--dir', join(tmpDir(), 'nothing'), 'serve', '--http', '127.0.0.1:0'])
    expect(none.code).toBe(4)
    expect(none.stderr).toMatch(/NOT_INITIALISED/)
  })

  it('streams a 35 MB answer with flat memory: a paused reader holds the statement, not the server', { timeout: 240_000 }, async () => {
    const dir = await dataDir()
    // The server's heap is capped below the size of the answer (about 35 MB): holding it would kill it.
    // Wide rows (100,000 of ~350 bytes): the size is what matters here, and rows cost CPU each.
    const { p, url, stderr } = await started(['--dir', dir, 'serve', '--http', '127.0.0.1:0'], { NODE_OPTIONS: '--max-old-space-size=24' })
    const pid = p.child.pid ?? 0
    try {
      await postJson(url + 'api/v1/query', { sql: 'SELECT 1' }) // warm the sandbox
      const base = vmRss(pid)
      let peak = base
      const sample = (): void => { peak = Math.max(peak, vmRss(pid)) }
      const sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) SELECT x, printf('%0330d', x) AS pad FROM c"
      const sent = async (): Promise<number> => Number(/^petal_query_response_bytes_total (\d+)$/m.exec((await http(url + 'metrics')).text)?.[1] ?? 0)
      let lines = 0
      let bytes = 0
      let res: import('node:http').IncomingMessage | undefined
      const done = new Promise<void>((resolve, reject) => {
        const req = request(url + 'api/v1/query', { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, r => {
          res = r
          r.on('data', (c: Buffer) => {
            bytes += c.length
            for (const b of c) if (b === 10) lines++
            sample()
          })
          let tail = ''
          r.on('data', (c: Buffer) => { tail = (tail + c.toString('latin1')).slice(-300) })
          r.on('end', resolve)
          r.on('error', err => { reject(new Error(`${err.message} after ${bytes} bytes; the server ${p.child.exitCode === null ? 'runs' : `exited (${p.child.exitCode})`}; last output: ${tail}; stderr: ${stderr()}`)) })
        })
        req.on('error', reject)
        req.end(JSON.stringify({ sql, timeout_ms: 60_000 }))
      })
      // Read 2 MB, then stop reading: the server must stop too (backpressure up to the sandbox).
      await waitFor(() => bytes > 2e6, { what: '2 MB of the answer', timeout: 120_000 })
      res?.pause()
      let last = -1
      await waitFor(async () => {
        const now = await sent()
        sample()
        const still = now === last
        last = now
        return still
      }, { what: 'the server to stop producing while the reader is paused', interval: 300, timeout: 120_000 })
      expect(last).toBeLessThan(15e6) // far from the ~35 MB of the whole answer
      expect(vmRss(pid) - base).toBeLessThan(32e6)
      res?.resume()
      await done
      sample()
      expect(lines).toBe(100_000)
      expect(bytes).toBeGreaterThan(33e6)
      expect(peak - base).toBeLessThan(32e6)
      expect((await http(url + 'api/v1/status')).status).toBe(200)
    } finally {
      p.child.kill('SIGINT')
      await p.exit
    }
  })
})

describe('petal tokens', () => {
  it('prints a token once, stores only its hash (0600), lists and revokes it; usage errors are coded', async () => {
    const dir = await dataDir()
    const created = await petal(['--dir', dir, 'tokens', 'create', '--name', 'ingest'])
    expect(created.code).toBe(0)
    const token = created.stdout.trim()
    expect(token).toMatch(/^petal_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/)
    expect(created.stderr).toContain('shown once')
    const file = join(dir, 'api', 'tokens.json')
    // The secret is everything after petal_<id>_: base64url, so it may itself contain '_'.
    expect(readFileSync(file, 'utf8')).not.toContain(token.slice('petal_'.length + 13))
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const list = JSON.parse((await petal(['--dir', dir, '--json', 'tokens', 'list'])).stdout) as { tokens: Array<{ id: string, name: string, scope: string }> }
    expect(list.tokens).toEqual([expect.objectContaining({ name: 'ingest', scope: 'write', id: token.split('_')[1] })])
    expect((await petal(['--dir', dir, 'tokens', 'create', '--name', 'ingest'])).code).toBe(2)
    expect((await petal(['--dir', dir, 'tokens', 'create', '--scope', 'admin'])).code).toBe(2)
    const ro = JSON.parse((await petal(['--dir', dir, '--json', 'tokens', 'create', '--scope', 'read'])).stdout) as { token: string, scope: string }
    expect(ro.scope).toBe('read')
    expect((await petal(['--dir', dir, 'tokens', 'revoke', 'ingest'])).code).toBe(0)
    const gone = await petal(['--dir', dir, 'tokens', 'revoke', 'ingest'])
    expect(gone.code).toBe(2)
    expect(gone.stderr).toMatch(/API_TOKEN_NOT_FOUND/)
  })

  it('a running node exposed on loopback accepts a token created beside it at once, and refuses it once revoked', async () => {
    const dir = await dataDir()
    const { p, url } = await started(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--http-expose'])
    try {
      const anonymous = await http(url + 'api/v1/status')
      expect(errorOf(anonymous).code).toBe('API_UNAUTHORIZED')
      // No path of the node's machine to an anonymous client (http35: the hint was `petal --dir DIR tokens create`).
      expect(errorOf(anonymous).hint).toContain('`petal tokens create --scope read`')
      expect(anonymous.text).not.toContain(dir)
      // petal status shows where the node serves HTTP.
      await waitFor(async () => (JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { node: { http?: string } }).node.http === url, { what: 'status to show the URL' })
      const token = (await petal(['--dir', dir, 'tokens', 'create', '--scope', 'read', '--name', 'r'])).stdout.trim()
      const auth = { authorization: `Bearer ${token}` }
      const s = (await http(url + 'api/v1/status', { headers: auth })).json as { node: { role: string, peer_id: string } }
      expect(s.node.role).toBe('signatory')
      expect(s.node.peer_id).toMatch(/^12D3KooW/)
      expect((await petal(['--dir', dir, 'tokens', 'revoke', 'r'])).code).toBe(0)
      expect((await http(url + 'api/v1/status', { headers: auth })).status).toBe(401)
    } finally {
      p.child.kill('SIGTERM')
      await p.exit
    }
  })
})

describe('petal run: records over HTTP', () => {
  it('takes rows with a CLI-made token, seals them, answers their receipts (also after a restart) and reads them back', async () => {
    const dir = await dataDir()
    const args = ['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '0.2']
    let { p, url } = await started(args)
    try {
      const token = (await petal(['--dir', dir, 'tokens', 'create', '--name', 'feed'])).stdout.trim()
      const auth = { authorization: `Bearer ${token}` }
      const csv = await http(url + 'api/v1/records/obs', { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: 'station,temp\r\nA,12.5\r\nB,\r\n' })
      expect(csv.status).toBe(202)
      const nd = await http(url + 'api/v1/records/obs', { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: '{"station": "C", "temp": -3.25}\n' })
      expect(nd.status).toBe(202)
      const ids = [...(csv.json as { receipts: string[] }).receipts, ...(nd.json as { receipts: string[] }).receipts]
      await waitFor(async () => {
        for (const id of ids) if (((await http(url + `api/v1/receipts/${id}`)).json as { state: string }).state !== 'sealed') return false
        return true
      }, { what: 'the rows to be sealed' })
      const q = await postJson(url + 'api/v1/query', { sql: 'SELECT station, temp FROM obs ORDER BY station' })
      expect(q.text).toBe('{"station":"A","temp":12.5}\n{"station":"B","temp":null}\n{"station":"C","temp":-3.25}\n')
      const before = await http(url + `api/v1/receipts/${ids[2] ?? ''}`)
      p.child.kill('SIGTERM')
      expect((await p.exit).code).toBe(0);
      ({ p, url } = await started(args))
      const after = await http(url + `api/v1/receipts/${ids[2] ?? ''}`)
      expect(after.json).toEqual(before.json)
    } finally {
      p.child.kill('SIGTERM')
      await p.exit
    }
  })
})

describe('petal run: an acknowledged row survives kill -9', () => {
  it('rows acknowledged with 202 just before a kill -9 are sealed after the restart, each exactly once', async () => {
    const dir = await dataDir()
    const args = ['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '0']
    let { p, url } = await started(args)
    const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    // Writers keep posting while the node is killed: every 202 they got must hold. Half send a
    // chunked body (node:http and Fastify), half a kept-alive connection each with whole requests
    // of the lane's shape in one write (the strict reader of lean-socket.ts answers those).
    const acked: string[] = []
    let killed = false
    const writers = Array.from({ length: 8 }, async (_, w) => {
      if (w % 2 === 1) { await readerWriter(new URL(url).port, token, w, acked, () => killed); return }
      for (let i = 0; !killed; i++) {
        const r = await http(url + 'api/v1/records/kept', { method: 'POST', headers, body: JSON.stringify(Array.from({ length: 5 }, (_, k) => ({ w, i, k }))) }).catch(() => undefined)
        if (r?.status === 202 && !r.aborted) acked.push(...(r.json as { receipts: string[] }).receipts)
      }
    })
    await waitFor(() => acked.length >= 200 && readerAcks >= 50, { what: '200 acknowledged rows, 50 through the reader', timeout: 60_000 })
    p.child.kill('SIGKILL')
    killed = true
    await p.exit
    await Promise.all(writers);
    ({ p, url } = await started(args))
    try {
      await waitFor(async () => {
        for (const id of acked) if (((await http(url + `api/v1/receipts/${id}`)).json as { state?: string }).state !== 'sealed') return false
        return true
      }, { what: 'every acknowledged row to be sealed', timeout: 60_000 })
      const q = (await postJson(url + 'api/v1/query', { sql: "SELECT count(*) AS n, count(DISTINCT w || ':' || i || ':' || k) AS d FROM kept" })).json as { n: number, d: number }
      expect(q.n).toBe(q.d) // none twice
      expect(q.n).toBeGreaterThanOrEqual(acked.length) // none lost (rows stored but not acknowledged may be there too)
    } finally {
      p.child.kill('SIGTERM')
      await p.exit
    }
  }, 180_000)
})

let readerAcks = 0

/**
 * Posts 5-row requests on one kept-alive connection, each written whole (head and body in one
 * write: the strict reader's), one at a time, until `stop` or the connection dies; the receipts of
 * every whole 202 go to `acked`.
 */
async function readerWriter (port: string, token: string, w: number, acked: string[], stop: () => boolean): Promise<void> {
  const s = connect(Number(port), '127.0.0.1')
  let buf = Buffer.alloc(0)
  let wake: (() => void) | undefined
  let gone = false
  s.on('data', c => { buf = Buffer.concat([buf, c]); wake?.() })
  s.on('error', () => {})
  s.on('close', () => { gone = true; wake?.() })
  try {
    for (let i = 0; !stop() && !gone; i++) {
      const body = JSON.stringify(Array.from({ length: 5 }, (_, k) => ({ w, i, k })))
      s.write(`POST /api/v1/records/kept HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      // One whole answer: its head, then Content-Length bytes of body.
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        const length = end < 0 ? undefined : Number(/\r\ncontent-length: *(\d+)/i.exec(buf.toString('latin1', 0, end))?.[1])
        if (end >= 0 && length !== undefined && buf.length >= end + 4 + length) {
          const head = buf.toString('latin1', 0, end)
          const text = buf.toString('utf8', end + 4, end + 4 + length)
          buf = buf.subarray(end + 4 + length)
          if (head.startsWith('HTTP/1.1 202 ')) { acked.push(...(JSON.parse(text) as { receipts: string[] }).receipts); readerAcks++ }
          break
        }
        if (gone) return
        await new Promise<void>(resolve => { wake = resolve })
      }
    }
  } finally {
    s.destroy()
  }
}
