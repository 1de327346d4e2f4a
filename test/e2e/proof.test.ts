import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildRowProof, createCheckpoint, type BundleDocument } from '../../src/proof/index.js'
import { makeSqlite } from '../helpers/chain.js'
import { petal, petalInProcess, petalLogged } from '../helpers/cli.js'
import { makeTypedSqlite } from '../helpers/proof.js'
import { tmpDir } from '../helpers/tmp.js'

// A node seals rows; a proof of one of them is checked in a fresh, empty directory with nothing
// but the proof and the signatory's exported public key.
describe('petal verify-proof', () => {
  it('checks a proof offline with only the exported key: no data directory, no network code', async () => {
    const dir = join(tmpDir(), 'node')
    // The node's chain and exported key, made by the CLI in this process (a set-up, not what is checked).
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    for (const src of [makeSqlite(join(tmpDir(), 'a.db'), 20, 1), makeTypedSqlite(join(tmpDir(), 'typed.db')), makeSqlite(join(tmpDir(), 'b.db'), 5, 2)]) {
      const r = await petalInProcess(['--dir', dir, 'signimportblock', src])
      expect(r.code, r.stderr).toBe(0)
    }
    const fresh = tmpDir('petal-verifier-')
    const exported = await petalInProcess(['--dir', dir, 'keys', 'export', '-o', join(fresh, 'signatory.pem')])
    expect(exported.code, exported.stderr).toBe(0)

    // The proof, written by `petal prove` from the node's block files, chain tree and checkpoints.
    const made = await petal(['--dir', dir, 'prove', '--height', '2', '--table', 'people', '--rowid', '3', '-o', join(fresh, 'proof.json')])
    expect(made.code, made.stderr).toBe(0)
    expect(made.stdout).toContain('wrote a proof of 1 row(s) (height 2, table people)')
    const proof = JSON.parse(readFileSync(join(fresh, 'proof.json'), 'utf8')) as BundleDocument

    const home = tmpDir('petal-home-')
    const env = { HOME: home, PETAL_DIR: join(home, 'no-such-dir') }
    const log = join(tmpDir(), 'imports.log')
    const ok = await petalLogged(['verify-proof', 'proof.json', '--trust', 'signatory.pem'], { cwd: fresh, env, log })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('VERIFIED: 1 row proven')
    expect(ok.stdout).toContain('name="zoë ✓ 𝄞"')
    expect(ok.stdout).toContain('not proven:')
    // Revocations: where a terminal user checks them (the explorer's /verify asks its node instead).
    expect(ok.stdout).toContain('(check that the chain has not revoked it): `petal signers` on a data directory of the chain lists each key')
    const loaded = readFileSync(log, 'utf8')
    // The log records what ran: the fast bundle (verify-proof loads only CommonJS packages).
    expect(loaded).toContain('/dist/fast/petal.js')
    expect(loaded, 'no libp2p module is loaded').not.toMatch(/libp2p|@chainsafe|gossipsub/)
    expect(readdirSync(fresh).sort(), 'nothing written beside the proof').toEqual(['proof.json', 'signatory.pem'])
    expect(readdirSync(home), 'no data directory created').toEqual([])

    const json = await petal(['--json', 'verify-proof', 'proof.json', '--trust', 'signatory.pem', '--chain', proof.chain_id], { cwd: fresh, env })
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, type: 'bundle', rows: [{ table: 'people', rowid: '3', index: 3 }] })

    // Tampered: a value changed. Exit 6 with the reason; --json gives the report and the error.
    const forged = structuredClone(proof)
    const row = forged.blocks[0]?.tables[0]?.rows[0]
    if (row === undefined) throw new Error('no row in the proof')
    row.values[1] = { text: 'mallory' }
    writeFileSync(join(fresh, 'forged.json'), JSON.stringify(forged))
    const bad = await petal(['verify-proof', 'forged.json', '--trust', 'signatory.pem'], { cwd: fresh, env })
    expect(bad.code).toBe(6)
    expect(bad.stdout).toContain('FAIL  row')
    expect(bad.stderr).toMatch(/the proof does not hold: .* \[PROOF_REJECTED\]/)
    const badJson = await petal(['--json', 'verify-proof', 'forged.json', '--trust', 'signatory.pem'], { cwd: fresh, env })
    const [report, error] = badJson.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    expect(report).toMatchObject({ ok: false, failure: { code: 'ROW_INCLUSION_FAILED' } })
    expect(error).toMatchObject({ error: { code: 'PROOF_REJECTED', reason: 'ROW_INCLUSION_FAILED' } })

    // A key that is not the signatory's: the hint names the command that exports the right one.
    const other = tmpDir()
    expect((await petalInProcess(['--dir', other, 'keygen', '--plain'])).code).toBe(0)
    expect((await petalInProcess(['--dir', other, 'keys', 'export', '-o', join(fresh, 'other.pem')])).code).toBe(0)
    const untrusted = await petal(['verify-proof', 'proof.json', '--trust', 'other.pem'], { cwd: fresh, env })
    expect(untrusted.code).toBe(6)
    expect(untrusted.stderr).toContain('petal keys export')

    // Usage: no trust, an unreadable proof, a trust file that is not one.
    expect((await petal(['verify-proof', 'proof.json'], { cwd: fresh, env })).code).toBe(2)
    expect((await petal(['verify-proof', 'missing.json', '--trust', 'signatory.pem'], { cwd: fresh, env })).code).toBe(2)
    const notTrust = await petal(['verify-proof', 'proof.json', '--trust', 'proof.json'], { cwd: fresh, env })
    expect(notTrust.code).toBe(2)
    expect(notTrust.stderr).toContain('PROOF_FILE_INVALID')
    expect(existsSync(env.PETAL_DIR)).toBe(false)
  })
})

describe('petal prove and petal checkpoint', () => {
  it('proves a row by its receipt once sealed, exports checkpoints, and proves that the chain only grew', async () => {
    const dir = join(tmpDir(), 'node')
    const work = tmpDir()
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, 'keys', 'export', '-o', join(work, 'key.pem')])).code).toBe(0)
    writeFileSync(join(work, 'r.ndjson'), '{"sensor": "A", "value": 1}\n{"sensor": "B", "value": 9223372036854775807}\n{"sensor": "A", "value": 1}\n')
    const appended = await petal(['--dir', dir, '--json', 'append', 'readings', join(work, 'r.ndjson')])
    expect(appended.code, appended.stderr).toBe(0)
    const receipt = (JSON.parse(appended.stdout) as { receipts: string[] }).receipts[1] as string

    // Not sealed yet: nothing to prove, and the error says so.
    const pending = await petal(['--dir', dir, 'prove', '--receipt', receipt])
    expect(pending.code).toBe(4)
    expect(pending.stderr).toContain('PROOF_ROW_PENDING')
    expect((await petal(['--dir', dir, 'seal'])).code).toBe(0)

    // Sealing signed a checkpoint; a client keeps it.
    const cp = await petal(['--dir', dir, 'checkpoint', '-o', join(work, 'old.note')])
    expect(cp.code, cp.stderr).toBe(0)
    expect(cp.stdout).toContain('size 2')
    const proved = await petal(['--dir', dir, 'prove', '--receipt', receipt, '-o', join(work, 'receipt.json')])
    expect(proved.code, proved.stderr).toBe(0)
    const ok = await petal(['--json', 'verify-proof', join(work, 'receipt.json'), '--trust', join(work, 'key.pem')])
    expect(ok.code, ok.stdout).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, rows: [{ table: 'readings', height: 1, values: [{ text: 'B' }, { integer: '9223372036854775807' }] }] })

    // The chain grows; the old checkpoint file is trusted, the new proof is checked against it.
    expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(work, 'b.db'), 3, 9)])).code).toBe(0)
    const list = await petal(['--dir', dir, '--json', 'checkpoint', '--list'])
    expect((JSON.parse(list.stdout) as Array<{ size: number }>).map(c => c.size)).toEqual([3, 2])
    const cons = await petal(['--dir', dir, 'prove', '--consistency', join(work, 'old.note'), '3', '-o', join(work, 'grew.json')])
    expect(cons.code, cons.stderr).toBe(0)
    const grew = await petal(['verify-proof', join(work, 'grew.json'), '--trust', join(work, 'old.note'), '--trust', join(work, 'key.pem')])
    expect(grew.code, grew.stdout + grew.stderr).toBe(0)
    // A forged "old" checkpoint (another root) is refused by prove itself.
    const old = readFileSync(join(work, 'old.note'), 'utf8')
    writeFileSync(join(work, 'other.note'), old.replace(/\n([A-Za-z0-9+/]{43}=)\n/, '\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n'))
    const forged = await petal(['--dir', dir, 'prove', '--consistency', join(work, 'other.note'), '3'])
    expect(forged.code).toBe(2)
    expect(forged.stderr).toContain('PROOF_CHECKPOINT_MISMATCH')
    // query --prove: the answer's rows, each proven (equal rows are two rows, two proofs).
    const q = await petal(['--dir', dir, 'query', '--prove', join(work, 'answer.json'), "SELECT * FROM readings WHERE sensor = 'A'"])
    expect(q.code, q.stderr).toBe(0)
    expect(q.stdout.trim().split('\n')).toHaveLength(2)
    expect(q.stderr).toContain('NOT proven: that the answer left no row out')
    const answer = await petal(['--json', 'verify-proof', join(work, 'answer.json'), '--trust', join(work, 'key.pem')])
    expect(answer.code, answer.stdout).toBe(0)
    const proven = (JSON.parse(answer.stdout) as { rows: Array<{ rowid: string, values: unknown[] }> }).rows
    expect(proven.map(r => r.values)).toEqual([[{ text: 'A' }, { integer: '1' }], [{ text: 'A' }, { integer: '1' }]])
    expect(new Set(proven.map(r => r.rowid)).size).toBe(2)
    const partial = await petal(['--dir', dir, 'query', '--prove', join(work, 'no.json'), 'SELECT sensor FROM readings'])
    expect(partial.code).toBe(2)
    expect(partial.stderr).toContain('PROOF_QUERY_NOT_PROVABLE')
    expect(existsSync(join(work, 'no.json'))).toBe(false)

    // A witness's verifier key, and a witness needs a key to cosign with.
    const vkey = await petal(['--dir', dir, 'checkpoint', '--witness-vkey', 'example.org/w'])
    expect(vkey.code, vkey.stderr).toBe(0)
    expect(vkey.stdout).toMatch(/^example\.org\/w\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*\n$/)
    const noKey = await petal(['--dir', join(tmpDir(), 'empty'), 'run', '--witness', 'example.org/w'])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('--witness needs a key')

    // --final: nothing is final on a young chain (max_reorg_depth 100), and the hint says why.
    const final = await petal(['--dir', dir, 'prove', '--receipt', receipt, '--final'])
    expect(final.code).toBe(4)
    expect(final.stderr).toContain('leave out --final')
  })
})

describe('the verifier runs without Node', () => {
  it('verifies a proof in a bare context with only WebCrypto and TextEncoder, importing nothing outside its folder', async () => {
    const { provableChain } = await import('../helpers/proof.js')
    const { publicKeyToPem } = await import('../../src/crypto/index.js')
    const pc = await provableChain()
    const checkpoint = createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, tip: pc.chain.tip().height, maxReorgDepth: 2, keys: [pc.key] })
    const proof = await buildRowProof(pc.chain.dir.blockPath(pc.typedHeight), { table: 'people', rowid: 3n }, { chainId: pc.chain.chainId, tree: pc.tree, checkpoint })
    const dir = tmpDir()
    writeFileSync(join(dir, 'proof.json'), JSON.stringify(proof))
    writeFileSync(join(dir, 'key.pem'), publicKeyToPem(pc.key.publicKey))
    const forged = { ...proof, row: { ...proof.row, index: proof.row.index + 1 } }
    writeFileSync(join(dir, 'forged.json'), JSON.stringify(forged))
    const verifier = join(import.meta.dirname, '..', '..', 'dist', 'proof', 'verifier')
    const run = async (file: string): Promise<{ ok: boolean, failure?: { code: string } }> => {
      const child = spawn(process.execPath, ['--experimental-vm-modules', '--no-warnings', join(import.meta.dirname, '..', 'helpers', 'browser-like.mjs'), verifier, join(dir, file), join(dir, 'key.pem')], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr.on('data', (d: Buffer) => { err += d.toString() })
      const code = await new Promise(resolve => { child.on('close', resolve) })
      expect(code, err).toBe(0)
      return JSON.parse(out) as { ok: boolean, failure?: { code: string } }
    }
    expect(await run('proof.json')).toMatchObject({ ok: true })
    expect(await run('forged.json')).toMatchObject({ ok: false, failure: { code: 'ROW_INCLUSION_FAILED' } })
  })
})
