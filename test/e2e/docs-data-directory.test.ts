import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { spawnNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Every file a node and the everyday commands write into a data directory is in the layout that
// opens docs/data-directory.md: the built CLI makes a chain, takes records, seals them, makes a
// token, a checkpoint and a proof, answers a query, then runs as a node (listed while it runs, after
// a stop, and after a kill -9 and the next command). A file the docs do not name fails this test.
const doc = readFileSync(resolve(import.meta.dirname, '../../docs/data-directory.md'), 'utf8')
const layout = /^# Data directory\n[\s\S]*?```\n([\s\S]*?)\n```/.exec(doc)?.[1] ?? ''
/** The layout's lines by the name they open with. */
const entries = layout.split('\n').map(l => ({ name: l.split(/\s{2,}/)[0] ?? '', line: l }))

/** Every path under `dir`, relative, directories with a trailing `/`. */
function walk (dir: string, under = ''): string[] {
  return readdirSync(join(dir, under), { withFileTypes: true }).flatMap(e => {
    const rel = `${under}${e.name}`
    return e.isDirectory() ? [`${rel}/`, ...walk(dir, `${rel}/`)] : [rel]
  })
}

/** Why the layout does not account for `path`, or undefined when it does. */
function undocumented (path: string): string | undefined {
  const blocks = /^[0-9a-f]{4}\/(?:block_[0-9a-f]{8}\.(?:db|sig))?$/.exec(path)
  if (blocks !== null) return layout.includes('%04x(h/65536)/block_%08x(h).db') && layout.includes('.sig') ? undefined : path
  const top = /^([^/]+\/)/.exec(path)?.[1]
  // Inside a directory the layout names (keystore/, tmp/, api/…): the directory's own line.
  if (top !== undefined && path !== top) {
    const named = entries.find(e => e.name.startsWith(path) || e.name === top)
    return named === undefined ? path : undefined
  }
  if (entries.some(e => e.name === path || e.name.split(' ')[0] === path || (path.endsWith('/') && e.name.startsWith(path)))) return undefined
  const side = /^(.+?)(-wal|-shm)$/.exec(path)
  if (side !== null) return entries.some(e => e.name.startsWith(`${side[1] ?? ''} (+ -wal, -shm)`)) ? undefined : path
  const journal = /^(.+\.lock)-journal$/.exec(path)
  if (journal !== null) return entries.some(e => e.name === '*.lock-journal' && e.line.includes(`${journal[1] ?? ''}-journal`)) ? undefined : path
  return path
}

describe('docs/data-directory.md names every file Petal writes', () => {
  it('after the everyday commands, while a node runs, after its stop and after a kill -9', async () => {
    expect(entries.length).toBeGreaterThan(15)
    const dir = join(tmpDir(), 'node')
    const seen = new Set<string>()
    const look = (): void => { for (const p of walk(dir)) seen.add(p) }
    const run = async (...args: string[]): Promise<string> => {
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, `petal ${args.join(' ')}: ${r.stderr}`).toBe(0)
      look()
      return r.stdout
    }
    await run('init')
    const csv = join(tmpDir(), 'r.csv')
    writeFileSync(csv, 'a,b\n1,x\n2,y\n')
    await run('append', 'readings', csv)
    await run('seal')
    await run('tokens', 'create', '--name', 'docs')
    await run('checkpoint', '--sign')
    await run('prove', '--height', '1', '--table', 'readings', '--rowid', '1', '-o', join(tmpDir(), 'proof.json'))
    await run('query', 'SELECT count(*) FROM readings')
    await run('verify')

    const args = ['--dir', dir, 'run', '--http', '0', '--listen', '/ip4/127.0.0.1/tcp/0']
    const node = await spawnNode(args)
    await waitFor(() => existsSync(join(dir, 'node-state.json')), { what: 'node-state.json' })
    look()
    expect(await node.stop()).toBe(0)
    look()
    const again = await spawnNode(args)
    await waitFor(() => existsSync(join(dir, 'node-state.json')), { what: 'node-state.json' })
    look()
    await again.kill9()
    look()
    await run('status')

    for (const p of ['node.lock', 'node-state.json', 'node.key', 'peers.json', 'api/tokens.json', 'pending.db', 'query.db', 'seal.lock', 'tmp/']) {
      expect(seen, `${p} was written`).toContain(p)
    }
    expect([...seen].sort().map(undocumented).filter(p => p !== undefined)).toEqual([])
  })
})
