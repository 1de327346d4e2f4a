import { afterAll, describe, expect, it } from 'vitest'
import { closeSync, openSync, readFileSync, rmSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { DataDir } from '../../src/storage/index.js'
import { makeSqlite } from '../helpers/chain.js'
import { petal, spawnNode, type RunningNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

const nodes: RunningNode[] = []
afterAll(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

function flipByte (path: string, at: number): void {
  const b = readFileSync(path)
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from([(b[at] ?? 0) ^ 0xff]), 0, 1, at)
  closeSync(fd)
}

describe('petal verify --repair (separate processes)', () => {
  it('restores flipped, truncated and deleted block files from the peer the directory was pulled from', async () => {
    const root = tmpDir()
    const [dirA, dirB] = [join(root, 'a'), join(root, 'b')]
    const a = await spawnNode(['--dir', dirA, 'run', '--init', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', 'off'])
    nodes.push(a)
    for (let i = 1; i <= 3; i++) {
      const r = await petal(['--dir', dirA, 'signimportblock', makeSqlite(join(tmpDir(), `${i}.db`), 20, i)])
      expect(r.code, r.stderr).toBe(0)
    }
    const pulled = await petal(['--dir', dirB, 'pull', a.addr])
    expect(pulled.code, pulled.stderr).toBe(0)

    const b = new DataDir(dirB)
    flipByte(b.blockPath(1), 3000)
    truncateSync(b.blockPath(2), 100)
    rmSync(b.blockPath(3))

    // verify fails, and its hint names the command that repairs it.
    const bad = await petal(['--dir', dirB, 'verify'])
    expect(bad.code).toBe(6)
    expect(bad.stderr).toContain(`\`petal --dir ${dirB} verify --repair\``)

    // No --peer: the peer pulled from is remembered (peers.json), as the hint says.
    const fixed = await petal(['--dir', dirB, 'verify', '--repair'])
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(fixed.stderr).toMatch(/repaired height 1 .*\(hash\) from peer/)
    expect(fixed.stderr).toMatch(/repaired height 2 .*\(size\) from peer/)
    expect(fixed.stderr).toMatch(/repaired height 3 .*\(missing\) from peer/)
    expect(fixed.stdout).toMatch(/^ok: 4 blocks/)

    const again = await petal(['--dir', dirB, '--json', 'verify', '--repair'])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, repair: { repaired: [], failed: [] } })
    const q = await petal(['--dir', dirB, 'query', 'SELECT count(*) AS n FROM t'])
    expect(q.stdout).toBe('{"n":60}\n')

    // Options that only make sense with --repair are refused without it.
    const usage = await petal(['--dir', dirB, 'verify', '--peer', a.addr])
    expect(usage.code).toBe(2)
  }, 120_000)
})
