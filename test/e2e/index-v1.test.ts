// A data directory whose chain.db is of schema version 1 (block_tables keyed by hash), under the
// CLI of version 2: a user who cannot write it still reads it (status, blocks, query) and writes
// nothing; a writing command killed (-9) inside the move to version 2 leaves a directory the next
// command opens with every block (docs/data-directory.md, "chain.db").
import { describe, expect, it } from 'vitest'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal, spawnPetal } from '../helpers/cli.js'
import { blocksDump, rewriteAsVersion1 } from '../helpers/index-v1.js'
import { asRoot, otherUserCanRun } from '../helpers/other-user.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

async function chainOfThree (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  for (const seed of [1, 2]) {
    const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), `${seed}.db`), 50, seed)])
    expect(r.code, r.stderr).toBe(0)
  }
  return dir
}

describe('chain.db of schema version 1', () => {
  it.skipIf(!otherUserCanRun)('is read by a user who cannot write the directory (status, blocks, query), and left as it is', async () => {
    const dir = await chainOfThree()
    const blocks = await petal(['--dir', dir, '--json', 'blocks'])
    expect(blocks.code, blocks.stderr).toBe(0)
    const before = blocksDump(join(dir, 'chain.db'))
    const base = mkdtempSync(join(tmpdir(), 'petal-v1-'))
    const copy = join(base, 'data')
    cpSync(dir, copy, { recursive: true })
    rewriteAsVersion1(join(copy, 'chain.db'))
    const files = (): string[] => readdirSync(copy).filter(f => f.startsWith('chain.db')).map(f => `${f} ${statSync(join(copy, f)).mtimeMs}`)
    const untouched = files()
    spawnSync('chmod', ['-R', asRoot ? 'a+rX,go-w' : 'a-w', base])
    try {
      const run = (...args: string[]): { status: number | null, stdout: string, stderr: string } => {
        const cmd = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath] : [process.execPath]
        return spawnSync(cmd[0] as string, [...cmd.slice(1), CLI, '--dir', copy, ...args], { encoding: 'utf8' })
      }
      const s = run('--json', 'status')
      expect(s.status, s.stderr).toBe(0)
      expect((JSON.parse(s.stdout) as { tip: { height: number } }).tip.height).toBe(2)
      const b = run('--json', 'blocks')
      expect(b.status, b.stderr).toBe(0)
      expect(b.stdout).toBe(blocks.stdout)
      const q = run('query', 'SELECT count(*) AS n FROM t')
      expect(q.status, q.stderr).toBe(0)
      expect(JSON.parse(q.stdout)).toEqual({ n: 100 })
      expect(files()).toEqual(untouched)
      expect(blocksDump(join(copy, 'chain.db'))).toEqual({ ...before, version: '1' })
    } finally {
      spawnSync('chmod', ['-R', 'u+w', base])
      rmSync(base, { recursive: true, force: true })
    }
  })

  it('moved by a writing command killed (-9) inside the move, opens with every block at the next command', async () => {
    const dir = await chainOfThree()
    const chainDb = join(dir, 'chain.db')
    const before = blocksDump(chainDb)
    rewriteAsVersion1(chainDb)
    const killed = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), '3.db'), 50, 3)], { env: { PETAL_FAILPOINT: 'index-migrate:done' } })
    expect(killed.signal, killed.stderr).toBe('SIGKILL')
    const s = await petal(['--dir', dir, '--json', 'status'])
    expect(s.code, s.stderr).toBe(0)
    expect((JSON.parse(s.stdout) as { tip: { height: number } }).tip.height).toBe(2)
    const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), '4.db'), 50, 4)])
    expect(r.code, r.stderr).toBe(0)
    const after = blocksDump(chainDb)
    expect(after.version).toBe('3')
    expect(after.blocks).toEqual(expect.arrayContaining(before.blocks))
    expect(after.tables).toEqual(expect.arrayContaining(before.tables))
    expect(after.blocks).toHaveLength(before.blocks.length + 1)
    const v = await petal(['--dir', dir, 'verify'])
    expect(v.code, v.stderr).toBe(0)
    const q = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
    expect(JSON.parse(q.stdout)).toEqual({ n: 150 })
  })

  it('rebuilt by `petal reindex` without a move first; killed (-9) inside its rebuild, leaves version 1 whole, which opens and is rebuilt again', async () => {
    const dir = await chainOfThree()
    const chainDb = join(dir, 'chain.db')
    const before = blocksDump(chainDb)
    rewriteAsVersion1(chainDb)
    const pause = join(tmpDir(), 'pause')
    // Held with every block replayed into the remade (empty) tables, then killed.
    const run = spawnPetal(['--dir', dir, '--json', 'reindex'], { env: { PETAL_PAUSE: 'reindex:locked', PETAL_PAUSE_FILE: pause } })
    await waitFor(() => existsSync(pause), { what: 'the reindex to hold inside its rebuild' })
    run.child.kill('SIGKILL')
    const killed = await run.exit
    expect(killed.signal, killed.stderr).toBe('SIGKILL')
    // No move was shown before the rebuild (`chain.db` progress objects on stderr with --json).
    expect(killed.stderr).not.toContain('moving blocks')
    expect(blocksDump(chainDb)).toEqual({ ...before, version: '1' })
    const s = await petal(['--dir', dir, '--json', 'status'])
    expect(s.code, s.stderr).toBe(0)
    expect((JSON.parse(s.stdout) as { tip: { height: number } }).tip.height).toBe(2)
    const r = await petal(['--dir', dir, '--json', 'reindex'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).not.toContain('moving blocks')
    expect(blocksDump(chainDb)).toEqual({ ...before, version: '3' })
    const v = await petal(['--dir', dir, 'verify'])
    expect(v.code, v.stderr).toBe(0)
  })
})
