import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { execFileSync, spawn } from 'node:child_process'
import { copyFileSync, lstatSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * Bad input met by the built CLI (mend28's sweep): each error has its code and a hint, and the
 * command a hint suggests, run, works. Before, these stopped with no hint, or with a false one.
 */
async function chainOfTwo (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  expect((await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 5)])).code).toBe(0)
  return dir
}

describe('errors of bad input carry a code and a true hint', () => {
  it('a damaged chainparams.json is named by its path, with the hint to put back the original, which works', async () => {
    const dir = await chainOfTwo()
    const file = join(dir, 'chainparams.json')
    const original = readFileSync(file)
    for (const [damage, said] of [['{"genesis_block_hash', 'is not valid JSON'], ['{"description": "x"}', 'lacks genesis_block_hash']] as const) {
      writeFileSync(file, damage)
      const r = await petal(['--dir', dir, 'status'])
      expect(r.code).toBe(4)
      expect(r.stderr).toContain(`${file} ${said}`)
      expect(r.stderr).toContain('[CHAINPARAMS_INVALID]')
      expect(r.stderr).toContain('hint: put back the original file: from a backup, or a copy of chainparams.json from another node of this chain')
    }
    writeFileSync(file, original)
    expect((await petal(['--dir', dir, 'status'])).code).toBe(0)
  })

  it('newchain with a bad parameters file says to correct it', async () => {
    const params = join(tmpDir(), 'p.json')
    for (const text of ['{"creator": "x"', '{"consensus_type": "PoW"}', '{"max_reorg_depth": -1}']) {
      writeFileSync(params, text)
      const r = await petal(['--dir', join(tmpDir(), 'new'), 'newchain', params])
      expect(r.code, r.stderr).toBe(4)
      expect(r.stderr).toContain('[CHAINPARAMS_INVALID]')
      expect(r.stderr).toContain('hint: correct it in the file, then run the command again')
    }
  })

  it('import of a missing file says so (it said "no seal"), and a block file not named .db finds its seal at FILE.sig', async () => {
    const dir = await chainOfTwo()
    const missing = join(tmpDir(), 'nothing-here')
    const r = await petal(['--dir', dir, 'import', missing])
    expect(r.code).toBe(3) // as signimportblock's (docs/errors.md)
    expect(r.stderr).toContain(`no such file: ${missing} [FILE_NOT_FOUND]`)
    expect(r.stderr).toContain('hint: check the path')
    // A copy of block 1 under a name without .db: the seal was looked for in the block file itself.
    const blk = join(tmpDir(), 'blk')
    copyFileSync(join(dir, '0000', 'block_00000001.db'), blk)
    const noSeal = await petal(['--dir', dir, 'import', blk])
    expect(noSeal.code).toBe(2)
    expect(noSeal.stderr).toContain(`no seal for ${blk} [USAGE]`)
    expect(noSeal.stderr).toContain(`hint: put its seal in ${blk}.sig or pass --seal`)
    copyFileSync(join(dir, '0000', 'block_00000001.sig'), `${blk}.sig`)
    const ok = await petal(['--dir', dir, '--json', 'import', blk])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'known', height: 1 })
  })

  it('flags and arguments refused without a hint now carry one', async () => {
    const dir = await chainOfTwo()
    for (const args of [['reindex', '--wait', '-1'], ['serve', '--http', 'off'], ['verify', '--repair', '--from', join(tmpDir(), 'no-such-dir')]]) {
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(/\[USAGE\]\n {2}hint: \S/)
    }
  })

  // An error thrown deep in validation carries no hint of its own: the CLI gives its code's
  // documented one (docs/errors.md), on stderr and in --json, rather than none.
  it('a block of another chain: PARENT_UNKNOWN with its documented hint', async () => {
    const dir = await chainOfTwo()
    const other = join(tmpDir(), 'other')
    expect((await petal(['--dir', other, 'init'])).code).toBe(0)
    const r = await petal(['--dir', other, 'import', join(dir, '0000', 'block_00000001.db')])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/is not known here \[PARENT_UNKNOWN\]\n {2}hint: import or fetch the parent first; a running node fetches it by itself\n/)
    const j = await petal(['--dir', other, '--json', 'import', join(dir, '0000', 'block_00000001.db')])
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'PARENT_UNKNOWN', hint: 'import or fetch the parent first; a running node fetches it by itself' } })
  })

  // A row proof against a later checkpoint than the one trusted, without a consistency path from it,
  // was rejected as CONSISTENCY_FAILED with the hint that it "was altered, or belongs to another
  // chain": false. Now CONSISTENCY_MISSING, with the hint to trust the signatories' keys, which works.
  it('a proof against a later checkpoint than the one trusted: CONSISTENCY_MISSING, and trusting the keys as the hint says works', async () => {
    const dir = await chainOfTwo()
    const old = join(tmpDir(), 'old.cp')
    expect((await petal(['--dir', dir, 'checkpoint', '-o', old])).code).toBe(0)
    expect((await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 3)])).code).toBe(0)
    const proof = join(tmpDir(), 'row.json')
    const made = await petal(['--dir', dir, 'prove', '--height', '2', '--table', 't', '--rowid', '1', '-o', proof])
    expect(made.code, made.stderr).toBe(0)
    const r = await petal(['verify-proof', proof, '--trust', old])
    expect(r.code).toBe(6)
    expect(r.stdout).toContain('[CONSISTENCY_MISSING]')
    expect(r.stderr).toContain('[PROOF_REJECTED]\n  hint: the proof is against a later checkpoint than the one trusted, with no consistency proof from it: trust the signatories\' public keys instead (--trust KEY.pem; a signatory writes it with `petal keys export`)')
    const key = join(tmpDir(), 'key.pem')
    expect((await petal(['--dir', dir, 'keys', 'export', '-o', key])).code).toBe(0)
    const ok = await petal(['verify-proof', proof, '--trust', key])
    expect(ok.code, ok.stderr).toBe(0)
  })

  // PROOF_NODE_MISSING had no hint at all (mend29: every code now has a documented one).
  it('a chain tree missing a node: PROOF_NODE_MISSING says to reindex, and after `petal reindex` the proof is made', async () => {
    const dir = await chainOfTwo()
    const db = new Database(join(dir, 'chain.db'))
    expect(db.prepare('DELETE FROM chain_tree WHERE level = 0 AND idx = 0').run().changes).toBe(1)
    db.close()
    const prove = ['--dir', dir, 'prove', '--height', '1', '--table', 't', '--rowid', '1', '-o', join(tmpDir(), 'p.json')]
    const r = await petal(prove)
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/\[PROOF_NODE_MISSING\]\n {2}hint: the index's chain tree is incomplete: rebuild it with `petal reindex`\n/)
    expect((await petal(['--dir', dir, 'reindex'])).code).toBe(0)
    const again = await petal(prove)
    expect(again.code, again.stderr).toBe(0)
  })

  // Every command that signs or queries read every key file: one damaged key file stopped them all,
  // although its hint said "the other keys work meanwhile".
  it('a damaged key file stops only the listing: the other keys sign and query decrypts with what it can', async () => {
    const dir = await chainOfTwo()
    const before = new Set(readdirSync(join(dir, 'keystore')))
    expect((await petal(['--dir', dir, 'keys', 'generate'])).code).toBe(0)
    const added = readdirSync(join(dir, 'keystore')).find(n => !before.has(n))
    expect(added).toBeDefined()
    const bad = join(dir, 'keystore', added ?? '')
    writeFileSync(bad, '{"id": "1:')
    const list = await petal(['--dir', dir, 'mykeys'])
    expect(list.code).toBe(5)
    expect(list.stderr).toContain(`key file ${bad} is not valid JSON (truncated or damaged)`)
    expect(list.stderr).toContain('hint: move it out of')
    expect(list.stderr).toContain('meanwhile your other keys still sign (`--key ID`, or the default if it is another)')
    const sign = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 3)])
    expect(sign.code, sign.stderr).toBe(0)
    const dflt = readFileSync(join(dir, 'keystore', 'default'), 'utf8').trim()
    const chosen = await petal(['--dir', dir, '--key', dflt.slice(2, 12), 'signimportblock', makeSqlite(join(tmpDir(), 'c.db'), 3)])
    expect(chosen.code, chosen.stderr).toBe(0)
    const q = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
    expect(q.code, q.stderr).toBe(0)
    expect(JSON.parse(q.stdout)).toEqual({ n: 11 })
    expect(q.stderr).toContain(`petal: note: key file ${bad} is not valid JSON`)
  })

  // rewrap opens past blocks' data keys with this node's encryption keys: a damaged key file was
  // left out without a word (review29), and rewrap then said the node held no encryption key and
  // to run it on another node; now it stops at the damaged file with its hint, which works.
  it('rewrap stops at a damaged key file with its hint (it said the node held no encryption key)', async () => {
    const dir = await chainOfTwo()
    const ok = async (args: string[]): Promise<string> => {
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0)
      return r.stdout
    }
    const id = (JSON.parse(await ok(['--json', 'keys', 'generate', '--purpose', 'encrypt'])) as { id: string }).id
    const [pem, backup, csv] = ['a.pem', 'a.key', 'p.csv'].map(n => join(tmpDir(), n)) as [string, string, string]
    await ok(['keys', 'export', id, '-o', pem])
    await ok(['keys', 'export', id, '--private', '-o', backup])
    writeFileSync(csv, 'id,diag\r\n1,flu\r\n')
    await ok(['signimportblock', csv, '--table', 'p', '--encrypt', 'p.diag', '--recipient', pem])
    const other = join(tmpDir(), 'other')
    const otherId = (JSON.parse((await petal(['--dir', other, '--json', 'keys', 'generate', '--purpose', 'encrypt'])).stdout) as { id: string }).id
    const otherPem = join(tmpDir(), 'other.pem')
    expect((await petal(['--dir', other, 'keys', 'export', otherId, '-o', otherPem])).code).toBe(0)
    const file = join(dir, 'keystore', `${id.slice(2)}.json`)
    writeFileSync(file, '{"id":')
    const r = await petal(['--dir', dir, 'rewrap', '--recipient', otherPem])
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain(`key file ${file} is not valid JSON`)
    expect(r.stderr).toContain('[KEY_FILE_INVALID]')
    expect(r.stderr).toMatch(/hint: move it out of .*`rewrap`/)
    // The hint: move it out, import the key again from the backup; rewrap then works.
    renameSync(file, join(tmpDir(), 'damaged.json'))
    await ok(['keys', 'import', backup, '--purpose', 'encrypt'])
    expect(JSON.parse(await ok(['--json', 'rewrap', '--recipient', otherPem]))).toMatchObject({ height: 3 })
  })

  // -o FILE was written under a temporary name and renamed over FILE: a FIFO or a link to a device
  // there was replaced by a regular file, and as root `-o /dev/null` replaced the system's
  // /dev/null (review29 and the lead: this machine's was found a regular file). Such a FILE is written into
  // (util/output-file.ts; the unit test covers symlinks to regular files).
  it('checkpoint -o a FIFO or a link to a device writes into it, never replaces it', async () => {
    const dir = await chainOfTwo()
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const fifo = join(tmpDir(), 'fifo')
    execFileSync('mkfifo', [fifo])
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] })
    let got = ''
    reader.stdout.on('data', (d: Buffer) => { got += d.toString() })
    const closed = new Promise(resolve => reader.on('close', resolve))
    const r = await petal(['--dir', dir, 'checkpoint', '-o', fifo])
    const still = lstatSync(fifo).isFIFO()
    if (r.code !== 0 || !still) reader.kill() // its open of the FIFO would wait for ever
    expect(r.code, r.stderr).toBe(0)
    expect(still).toBe(true)
    await closed
    const note = await petal(['--dir', dir, 'checkpoint'])
    expect(got.trimEnd()).toBe(note.stdout.trimEnd())
    expect(got).toContain('\n— ')
    // A link to /dev/full: the write fails (no space), said as such; the link stays a link.
    const link = join(tmpDir(), 'full')
    symlinkSync('/dev/full', link)
    const full = await petal(['--dir', dir, 'checkpoint', '-o', link])
    expect(full.code).toBe(2)
    expect(full.stderr).toContain(`cannot write ${link}`)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
  })
})
