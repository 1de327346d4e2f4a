import Database from 'better-sqlite3'
import { execSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importPrivateKey } from '../../src/crypto/index.js'
import { petal } from '../helpers/cli.js'
import { buildDaisyDir, daisyBlockPath, tamperBlock } from '../helpers/daisy.js'
import { tmpDir } from '../helpers/tmp.js'

const key = (name: string): ReturnType<typeof importPrivateKey> => importPrivateKey(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', `${name}.pem`), 'utf8'))

/** The hint line the CLI printed, and every `…` command in it. */
function hintOf (stderr: string): { hint: string, commands: string[] } {
  const hint = /^ {2}hint: (.*)$/m.exec(stderr)?.[1] ?? ''
  return { hint, commands: [...hint.matchAll(/`([^`]+)`/g)].map(m => m[1] as string) }
}

/**
 * A Daisy directory that breaks Daisy's own rules, with daisy.db agreeing with its files, met by the
 * built CLI (review29): the error has a code of its own, DAISY_BLOCK_INVALID, naming the rule, and
 * a hint that is true for a Daisy directory (before: the block code, and Petal's hint for it, e.g.
 * `petal signkey` or `petal verify --repair`, both refused on a Daisy directory).
 */
describe('a Daisy directory that breaks Daisy\'s rules: a code and a true hint', () => {
  it('a block signed by a non-signatory, and a seal daisy.db holds for another block: verify and status say so, and the hint, run, works', async () => {
    const home = tmpDir()
    const env = { HOME: home }
    const alice = key('alice')
    for (const kind of ['signer', 'seal'] as const) {
      const root = join(tmpDir(), 'daisy')
      const backup = join(tmpDir(), 'backup')
      buildDaisyDir(backup)
      if (kind === 'signer') {
        buildDaisyDir(root, [{ signer: alice, pages: [['a', 1]] }, { signer: key('carol'), pages: [['b', 2]] }])
      } else {
        cpSync(backup, root, { recursive: true })
        const db = new Database(join(root, 'daisy.db'))
        db.prepare('UPDATE blockchain SET hash_signature = (SELECT hash_signature FROM blockchain WHERE height = 1) WHERE height = 2').run()
        db.close()
      }
      const rule = kind === 'signer' ? 'SIGNER_NOT_AUTHORISED' : 'BAD_SEAL'
      const verify = await petal(['--dir', root, 'verify'], { env })
      expect(verify.code, verify.stderr).toBe(6)
      expect(verify.stdout).toContain('FAILED at height 2')
      expect(verify.stdout).toContain('[DAISY_BLOCK_INVALID]')
      expect(verify.stdout).toContain(rule)
      const vh = hintOf(verify.stderr)
      expect(vh.hint).not.toMatch(/--repair|reindex|signkey|newchain|pull/)
      expect(vh.hint).toContain('backup')

      const json = await petal(['--dir', root, '--json', 'status'], { env })
      expect(json.code, json.stderr).toBe(6)
      const e = (JSON.parse(json.stdout) as { error: Record<string, unknown> }).error
      expect(e).toMatchObject({ code: 'DAISY_BLOCK_INVALID', height: 2, rule })
      expect(e.hint).toBe(vh.hint)
      const status = await petal(['--dir', root, 'status'], { env })
      expect(status.stderr).toContain('[DAISY_BLOCK_INVALID]')
      expect(hintOf(status.stderr).hint).toBe(vh.hint)

      // The hint, run: the directory restored from the backup, then the command it names.
      rmSync(root, { recursive: true })
      cpSync(backup, root, { recursive: true })
      expect(vh.commands).toEqual([`petal --dir ${root} verify`])
      const again = await petal(vh.commands[0]?.split(' ').slice(1) ?? [], { env })
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain('ok: 4 Daisy blocks')
      expect((await petal(['--dir', root, 'status'], { env })).code).toBe(0)
    }
  })

  it('adopt-daisy of a directory that breaks Daisy\'s rules names that directory, not the copy it made, and the hint, run, works (review31)', async () => {
    // Before: "Restore NEW/daisy (daisy.db and blocks/) from a backup …; `petal --dir NEW/daisy
    // verify`": the half-made chain's copy, which the user has no backup of.
    const root = join(tmpDir(), 'daisy')
    const backup = join(tmpDir(), 'backup')
    buildDaisyDir(backup)
    buildDaisyDir(root, [{ signer: key('alice'), pages: [['a', 1]] }, { signer: key('carol'), pages: [['b', 2]] }])
    const dir = join(tmpDir(), 'adopted')
    const env = { HOME: tmpDir() }
    expect((await petal(['--dir', dir, 'keys', 'import', join(backup, 'private.db')], { env })).code).toBe(0)
    const adopt = await petal(['--dir', dir, 'adopt-daisy', root], { env })
    expect(adopt.code).toBe(6)
    expect(adopt.stderr).toContain('[DAISY_BLOCK_INVALID]')
    const h = hintOf(adopt.stderr)
    expect(h.hint).toContain(`Restore ${root} (`)
    expect(h.hint).not.toContain(dir)
    expect(h.commands).toEqual([`petal --dir ${root} verify`])
    rmSync(root, { recursive: true })
    cpSync(backup, root, { recursive: true })
    const verify = await petal(h.commands[0]?.split(' ').slice(1) ?? [], { env })
    expect(verify.code, verify.stderr).toBe(0)
    expect((await petal(['--dir', dir, 'adopt-daisy', root], { env })).code).toBe(0)
  })

  it('a genesis seal in chainparams.json that does not verify names chainparams.json', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const file = join(f.root, 'chainparams.json')
    const original = readFileSync(file)
    const p = JSON.parse(original.toString()) as Record<string, unknown>
    const db = new Database(join(f.root, 'daisy.db'), { readonly: true })
    p.genesis_block_hash_signature = db.prepare('SELECT hash_signature FROM blockchain WHERE height = 1').pluck().get()
    db.close()
    writeFileSync(file, JSON.stringify(p))
    const verify = await petal(['--dir', f.root, '--state', join(tmpDir(), 'state'), 'verify'])
    expect(verify.code).toBe(6)
    expect(verify.stdout).toContain('[DAISY_CHAINPARAMS_INVALID]')
    expect(hintOf(verify.stderr).hint).toContain('chainparams.json')
    writeFileSync(file, original)
    expect((await petal(['--dir', f.root, '--state', join(tmpDir(), 'state'), 'verify'])).code).toBe(0)
  })

  it('Petal\'s state of a Daisy directory unreadable: the hint says to remove it, not `petal reindex` (refused there), and that works', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const state = join(tmpDir(), 'state')
    const d = ['--dir', f.root, '--state', state]
    expect((await petal([...d, 'status'])).code).toBe(0)
    writeFileSync(join(state, 'chain.db'), Buffer.alloc(4096, 7))
    rmSync(join(state, 'chain.db-wal'), { force: true })
    rmSync(join(state, 'chain.db-shm'), { force: true })
    const status = await petal([...d, 'status'])
    expect(status.code).toBe(4)
    expect(status.stderr).toContain('[INDEX_CORRUPT]')
    const h = hintOf(status.stderr)
    expect(h.hint).not.toContain('reindex')
    expect(h.commands).toEqual([`rm -r ${state}`])
    execSync(h.commands[0] as string)
    const again = await petal([...d, 'status'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('height 3')
  })

  it('an adopted chain\'s daisy-state unreadable: the hint\'s `rm -r`, run, and the next query and `--dir DIR/daisy status` rebuild it there (review31)', async () => {
    // Before: after the `rm -r` the hint gives, queries went without the Daisy history for good
    // ("no such table: pages"): only adopt-daisy built daisy-state/; and `--dir DIR/daisy status`
    // built a state in ~/.petal instead of DIR/daisy-state, which data-directory.md promised.
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const dir = join(tmpDir(), 'adopted')
    const env = { HOME: tmpDir() }
    expect((await petal(['--dir', dir, 'keys', 'import', join(f.root, 'private.db')], { env })).code).toBe(0)
    expect((await petal(['--dir', dir, 'adopt-daisy', f.root], { env })).code).toBe(0)
    const count = ['--dir', dir, '--json', 'query', 'SELECT count(*) AS n FROM pages']
    const before = await petal(count, { env })
    expect(before.code, before.stderr).toBe(0)
    const state = join(dir, 'daisy-state')
    for (const run of [count, ['--dir', join(dir, 'daisy'), 'status']]) {
      writeFileSync(join(state, 'chain.db'), Buffer.alloc(4096, 7))
      rmSync(join(state, 'chain.db-wal'), { force: true })
      rmSync(join(state, 'chain.db-shm'), { force: true })
      const bad = await petal(count, { env })
      expect(bad.stderr).toContain('[INDEX_CORRUPT]')
      const h = hintOf(bad.stderr)
      expect(h.commands).toEqual([`rm -r ${state}`])
      execSync(h.commands[0] as string)
      const again = await petal(run, { env })
      expect(again.code, again.stderr).toBe(0)
      expect(existsSync(join(state, 'chain.db'))).toBe(true)
      const after = await petal(count, { env })
      expect(after.code, after.stderr).toBe(0)
      expect(after.stdout).toBe(before.stdout)
    }
  })

  it('an adopted chain whose daisy/ copy was changed: the hint names the file of the Daisy directory to copy back, which works', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const dir = join(tmpDir(), 'adopted')
    expect((await petal(['--dir', dir, 'keys', 'import', join(f.root, 'private.db')])).code).toBe(0)
    expect((await petal(['--dir', dir, 'adopt-daisy', f.root])).code).toBe(0)
    const copy = daisyBlockPath(join(dir, 'daisy'), 1)
    tamperBlock(copy, 'Main Page', 'Main Pagf')
    const verify = await petal(['--dir', dir, 'verify'])
    expect(verify.code).toBe(6)
    expect(verify.stderr).toContain('[DAISY_HASH_MISMATCH]')
    const h = hintOf(verify.stderr)
    // The adopted chain does not record where the Daisy directory was: the hint says DAISY_DIR.
    expect(h.commands).toEqual([`cp ${daisyBlockPath('DAISY_DIR', 1)} ${copy}`, `petal --dir ${dir} verify`])
    execSync((h.commands[0] as string).replace('DAISY_DIR', f.root))
    const again = await petal(h.commands[1]?.split(' ').slice(1) ?? [])
    expect(again.code, again.stderr).toBe(0)
  })
})
