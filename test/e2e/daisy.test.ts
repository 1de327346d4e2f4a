import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { existsSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { hintOf, petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { http } from '../helpers/api.js'
import { buildDaisyDir, daisyBlockPath, hashTree, tamperBlock } from '../helpers/daisy.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const lines = (s: string): unknown[] => s.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as unknown)

// A Daisy directory built by the test from Daisy's format (genesis, pages in blocks 1–3, bob added
// at height 2 and signing block 3), read by the built CLI; --state keeps Petal's state apart.
describe('petal on a Daisy data directory', () => {
  it('status, verify, blocks, block, signers and query (both modes) read it and write none of its files', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const before = hashTree(f.root)
    const d = ['--dir', f.root, '--state', join(tmpDir(), 'state')]

    const status = await petal([...d, '--json', 'status'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ chain_id: f.genesisHash, tip: { height: 3, hash: f.hashes[3] }, consensus: { quorum_rule: 'daisy' }, daisy: { dir: f.root, read_only: true, warnings: [] } })

    const verify = await petal([...d, 'verify'])
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toContain('ok: 4 Daisy blocks')

    const blocks = await petal([...d, '--json', 'blocks'])
    expect(lines(blocks.stdout).map(b => (b as { height: number, version: number })).map(b => [b.height, b.version])).toEqual([[3, 1], [2, 1], [1, 1], [0, 1]])
    const block = JSON.parse((await petal([...d, '--json', 'block', '2'])).stdout) as Record<string, unknown>
    expect(block).toMatchObject({ hash: f.hashes[2], file: daisyBlockPath(f.root, 2), key_ops: [{ keyId: f.bob.id, op: 'A' }] })
    const signers = JSON.parse((await petal([...d, '--json', 'signers'])).stdout) as { signers: Array<{ id: string, added_at: number }> }
    expect(signers.signers.map(s => [s.id, s.added_at])).toEqual([[f.alice.id, 0], [f.bob.id, 2]])

    const q = await petal([...d, 'query', 'SELECT title, views, _height FROM pages ORDER BY _height, id'])
    expect(q.code, q.stderr).toBe(0)
    expect(lines(q.stdout)).toEqual([
      { title: 'Main Page', views: 10, _height: 1 }, { title: 'Daisy', views: 3, _height: 1 }, { title: 'Main Page', views: 12, _height: 2 },
      { title: 'Petal', views: 1, _height: 3 }, { title: 'SQLite', views: 7, _height: 3 }
    ])
    const per = await petal([...d, 'query', '--per-block', "SELECT value FROM _meta WHERE key = 'Version'"])
    expect(per.code, per.stderr).toBe(0)
    expect(lines(per.stdout)).toEqual([0, 1, 2, 3].map(h => ({ _height: h, value: '1' })))

    expect(hashTree(f.root)).toEqual(before)
  })

  it('serve answers the HTTP API from it, the block files byte for byte, and a row proof\'s refusal with a hint for a Daisy chain that, run, works', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const state = join(tmpDir(), 'state')
    const p = spawnPetal(['--dir', f.root, '--state', state, 'serve', '--http', '127.0.0.1:0'])
    let out = ''
    p.child.stdout?.on('data', (b: Buffer) => { out += b.toString() })
    try {
      const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { what: 'the URL', timeout: 30_000 })
      const status = await http(`${url}api/v1/status`)
      expect(JSON.parse(status.body.toString())).toMatchObject({ chain_id: f.genesisHash, tip: { height: 3 } })
      const file = await http(`${url}api/v1/blocks/2/file`)
      expect(file.status).toBe(200)
      expect(file.headers['petal-block-hash']).toBe(f.hashes[2])
      // No Daisy node signs a checkpoint: the hint said to pull into Petal's state of the Daisy
      // directory (`petal --dir STATE pull`), where no pull reads the Daisy chain (lead, session 53).
      const proof = await http(`${url}api/v1/blocks/1/tables/pages/rows/1/proof`)
      const err = (JSON.parse(proof.body.toString()) as { error: { code: string, hint: string } }).error
      expect(err.code).toBe('PROOF_NO_CHECKPOINT')
      expect(err.hint).toContain('Daisy signs no checkpoints')
      expect(err.hint).not.toContain(state)
      expect(err.hint).toContain(`\`petal adopt-daisy ${f.root} --dir NEW\``)
      const verify = /`(petal --dir \S+ verify)`/.exec(err.hint)?.[1]
      expect(verify).toBe(`petal --dir ${f.root} verify`)
      const run = await petal((verify as string).split(' ').slice(1), { env: { HOME: tmpDir() } })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain('ok: 4 Daisy blocks')
    } finally {
      p.child.kill('SIGINT')
      await p.exit
    }
  })

  it('a tampered block is named at its height; commands that write are refused with a hint that works', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    tamperBlock(daisyBlockPath(f.root, 2), 'Main Page', 'Main Pagf')
    const d = ['--dir', f.root, '--state', join(tmpDir(), 'state')]
    const verify = await petal([...d, 'verify'])
    expect(verify.code).toBe(6)
    expect(verify.stdout).toContain('FAILED at height 2')
    expect(verify.stderr).toContain('[VERIFY_FAILED]')
    const status = await petal([...d, 'status'])
    expect(status.code).toBe(6)
    expect(status.stderr).toMatch(/Daisy block 2 .* daisy\.db records .* \[DAISY_HASH_MISMATCH\]/)

    const write = await petal([...d, 'signimportblock', join(tmpDir(), 'x.db')])
    expect(write.code).toBe(2)
    expect(write.stderr).toContain('[DAISY_READ_ONLY]')
  })

  // Petal's state of a Daisy directory given as --dir (witness56, session 56): reindex read Daisy's
  // blocks as Petal's ("seal file missing"), verify --repair took them for damaged Petal blocks
  // (UNSUPPORTED_VERSION), and a query with a Daisy file missing hinted verify --repair. In process.
  it('its state as --dir: reindex and verify --repair are DAISY_READ_ONLY, write none of its files, and their hints and a query\'s, run, work', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const state = join(tmpDir(), 'state')
    const d = ['--dir', f.root, '--state', state]
    expect((await petalInProcess([...d, 'status'])).code).toBe(0)
    const before = hashTree(f.root)

    const reindex = await petalInProcess(['--dir', state, 'reindex'])
    expect(reindex.code, reindex.stderr).toBe(2)
    expect(reindex.stderr).toContain('[DAISY_READ_ONLY]')
    const rm = /`rm -r (\S+)`/.exec(hintOf(reindex.stderr))?.[1]
    const status = /`petal (--dir \S+ --state \S+ status)`/.exec(hintOf(reindex.stderr))?.[1]
    expect([rm, status], reindex.stderr).toEqual([state, d.join(' ') + ' status'])
    rmSync(state, { recursive: true })
    const rebuilt = await petalInProcess(status?.split(' ') ?? [])
    expect(rebuilt.code, rebuilt.stderr).toBe(0)
    expect(rebuilt.stdout).toContain('height 3')

    const away = join(tmpDir(), 'block2.db')
    renameSync(daisyBlockPath(f.root, 2), away)
    for (const args of [['--dir', state, 'verify', '--repair'], [...d, 'verify', '--repair']]) {
      const repair = await petalInProcess(args)
      expect(repair.code, repair.stderr).toBe(2)
      expect(repair.stderr).toContain('[DAISY_READ_ONLY]')
      expect(existsSync(daisyBlockPath(f.root, 2))).toBe(false)
    }
    renameSync(away, daisyBlockPath(f.root, 2))
    const verify = /`petal (--dir \S+ --state \S+ verify)`/.exec(hintOf((await petalInProcess(['--dir', state, 'verify', '--repair'])).stderr))?.[1]
    const checked = await petalInProcess(verify?.split(' ') ?? [])
    expect(checked.code, checked.stderr).toBe(0)
    expect(checked.stdout).toContain('ok: 4 Daisy blocks')
    // The state as --dir reads through the Daisy directory it names (verify read Daisy's blocks as Petal's).
    const viaState = await petalInProcess(['--dir', state, 'verify'])
    expect(viaState.code, viaState.stderr).toBe(0)
    expect(viaState.stdout).toContain('ok: 4 Daisy blocks')

    renameSync(daisyBlockPath(f.root, 0), away)
    const count = [...d, 'query', 'SELECT COUNT(*) AS n FROM pages']
    const short = await petalInProcess(count)
    expect(short.stderr).toContain('[MIRROR_BLOCK_MISSING]')
    expect(hintOf(short.stderr)).not.toContain('verify --repair')
    expect(hintOf(short.stderr)).toContain(`${join(f.root, 'daisy.db')} records), then run the command again`)
    renameSync(away, daisyBlockPath(f.root, 0))
    const again = await petalInProcess(count)
    expect(again.code, again.stderr).toBe(0)
    expect(lines(again.stdout)).toEqual([{ n: 5 }])
    expect(hashTree(f.root)).toEqual(before)
  })

  it('adopt-daisy after importing Daisy\'s private.db: verify checks the continuity, query reads old and new blocks, a v1 block is refused after its seal is checked', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const before = hashTree(f.root)
    const dir = join(tmpDir(), 'adopted')
    const d = ['--dir', dir]
    const noKey = await petal([...d, 'adopt-daisy', f.root])
    expect(noKey.code).toBe(5)
    expect(noKey.stderr).toContain(`keys import ${join(f.root, 'private.db')}`)
    // The hint, run as it is.
    const imported = await petal([...d, '--json', 'keys', 'import', join(f.root, 'private.db')])
    expect(imported.code, imported.stderr).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ keys: [{ id: f.alice.id, status: 'imported' }] })

    const adopt = await petal([...d, '--json', 'adopt-daisy', f.root])
    expect(adopt.code, adopt.stderr).toBe(0)
    const a = JSON.parse(adopt.stdout) as { chain_id: string, commitment: Record<string, unknown>, signatories: string[] }
    expect(a.commitment).toEqual({ daisy_genesis_hash: f.genesisHash, daisy_chain_params: expect.stringMatching(/^[0-9a-f]{64}$/), daisy_tip_height: 3, daisy_tip_hash: f.hashes[3] })
    expect(a.signatories.sort()).toEqual([f.alice.id, f.bob.id].sort())
    expect(hashTree(f.root)).toEqual(before)

    const input = join(tmpDir(), 'in.db')
    const db = new Database(input)
    db.exec("CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT, views INTEGER, lang TEXT); INSERT INTO pages (title, views, lang) VALUES ('New Page', 5, 'en')")
    db.close()
    expect((await petal([...d, 'signimportblock', input])).code).toBe(0)
    const verify = await petal([...d, 'verify'])
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toContain(`continues the Daisy chain ${f.genesisHash} at its block 3`)
    const status = await petal([...d, '--json', 'status'])
    expect(JSON.parse(status.stdout)).toMatchObject({ chain_id: a.chain_id, continues_daisy: { daisy_genesis_hash: f.genesisHash, daisy_tip_height: 3, history: join(dir, 'daisy') } })

    // A block with an encrypted column, for a recipient this directory holds: the union with the
    // history reads it decrypted (the history's view and the decrypting view share the name).
    const enc = await petal([...d, '--json', 'keys', 'generate', '--purpose', 'encrypt'])
    expect(enc.code, enc.stderr).toBe(0)
    const encId = (JSON.parse(enc.stdout) as { id: string }).id
    const secret = join(tmpDir(), 'secret.db')
    const sdb = new Database(secret)
    sdb.exec("CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT, views INTEGER, lang TEXT); INSERT INTO pages (title, views, lang) VALUES ('Hidden Page', 7, 'fr')")
    sdb.close()
    const sealedEnc = await petal([...d, 'signimportblock', secret, '--encrypt', 'pages.lang', '--recipient', encId])
    expect(sealedEnc.code, sealedEnc.stderr).toBe(0)

    const q = await petal([...d, 'query', 'SELECT _height, title, lang FROM pages ORDER BY _height, id'])
    expect(q.code, q.stderr).toBe(0)
    expect(lines(q.stdout)).toEqual([
      { _height: -3, title: 'Main Page', lang: null }, { _height: -3, title: 'Daisy', lang: null }, { _height: -2, title: 'Main Page', lang: null },
      { _height: -1, title: 'Petal', lang: null }, { _height: -1, title: 'SQLite', lang: null }, { _height: 1, title: 'New Page', lang: 'en' },
      { _height: 2, title: 'Hidden Page', lang: 'fr' }
    ])
    const where = await petal([...d, 'query', "SELECT title FROM pages WHERE lang = 'fr'"])
    expect(where.code, where.stderr).toBe(0)
    expect(lines(where.stdout)).toEqual([{ title: 'Hidden Page' }])

    const seals = new Database(join(f.root, 'daisy.db'), { readonly: true })
    const sealOf = (h: number): string => seals.prepare<[number], string>('SELECT hash_signature FROM blockchain WHERE height = ?').pluck().get(h) as string
    const good = await petal([...d, 'import', daisyBlockPath(f.root, 2), '--seal', sealOf(2)])
    const bad = await petal([...d, 'import', daisyBlockPath(f.root, 2), '--seal', sealOf(1)])
    seals.close()
    expect(good.code).toBe(3)
    expect(good.stderr).toContain('its seal verifies; nothing was imported [UNSUPPORTED_VERSION]')
    expect(bad.code).toBe(3)
    expect(bad.stderr).toContain('[BAD_SEAL]')

    // The history the genesis commits to, changed: verify names the Daisy block.
    tamperBlock(daisyBlockPath(join(dir, 'daisy'), 1), 'Main Page', 'Main Pagf')
    const broken = await petal([...d, 'verify'])
    expect(broken.code).toBe(6)
    expect(broken.stderr).toContain('Daisy block 1')
  })
})
