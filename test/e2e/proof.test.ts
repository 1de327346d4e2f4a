import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain } from '../../src/chain/index.js'
import { buildRowProof, createCheckpoint } from '../../src/proof/index.js'
import { Keystore } from '../../src/storage/index.js'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal, type Exit } from '../helpers/cli.js'
import { chainTreeOf, makeTypedSqlite } from '../helpers/proof.js'
import { tmpDir } from '../helpers/tmp.js'

const HOOKS = join(import.meta.dirname, '..', 'helpers', 'log-imports.mjs')

/** Run `petal` with every loaded module URL recorded in `log`. */
async function petalLogged (args: string[], o: { cwd: string, env: Record<string, string>, log: string }): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', HOOKS, CLI, ...args], { cwd: o.cwd, env: { ...process.env, NO_COLOR: '1', ...o.env, PETAL_TEST_IMPORT_LOG: o.log }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise(resolve => { child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
}

// A node seals rows; a proof of one of them is checked in a fresh, empty directory with nothing
// but the proof and the signatory's exported public key.
describe('petal verify-proof', () => {
  it('checks a proof offline with only the exported key: no data directory, no network code', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    for (const src of [makeSqlite(join(tmpDir(), 'a.db'), 20, 1), makeTypedSqlite(join(tmpDir(), 'typed.db')), makeSqlite(join(tmpDir(), 'b.db'), 5, 2)]) {
      const r = await petal(['--dir', dir, 'signimportblock', src])
      expect(r.code, r.stderr).toBe(0)
    }
    const fresh = tmpDir('petal-verifier-')
    const exported = await petal(['--dir', dir, 'keys', 'export', '-o', join(fresh, 'signatory.pem')])
    expect(exported.code, exported.stderr).toBe(0)

    // The proof, made from the node's block files and index (phase 2 gives this a command).
    const chain = Chain.open(dir)
    const key = new Keystore(chain.dir.keystore).load()
    const tree = chainTreeOf(chain)
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: chain.params.maxReorgDepth, keys: [key] })
    const proof = await buildRowProof(chain.dir.blockPath(2), { table: 'people', rowid: 3n }, { chainId: chain.chainId, tree, checkpoint })
    chain.close()
    writeFileSync(join(fresh, 'proof.json'), JSON.stringify(proof, null, 2))

    const home = tmpDir('petal-home-')
    const env = { HOME: home, PETAL_DIR: join(home, 'no-such-dir') }
    const log = join(tmpDir(), 'imports.log')
    const ok = await petalLogged(['verify-proof', 'proof.json', '--trust', 'signatory.pem'], { cwd: fresh, env, log })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('VERIFIED: 1 row proven')
    expect(ok.stdout).toContain('name="zoë ✓ 𝄞"')
    expect(ok.stdout).toContain('not proven:')
    const loaded = readFileSync(log, 'utf8')
    expect(loaded).toContain('/proof/verifier/verify.js')
    expect(loaded, 'no libp2p module is loaded').not.toMatch(/libp2p|@chainsafe|gossipsub/)
    expect(readdirSync(fresh).sort(), 'nothing written beside the proof').toEqual(['proof.json', 'signatory.pem'])
    expect(readdirSync(home), 'no data directory created').toEqual([])

    const json = await petal(['--json', 'verify-proof', 'proof.json', '--trust', 'signatory.pem', '--chain', proof.chain_id], { cwd: fresh, env })
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, type: 'row', rows: [{ table: 'people', rowid: '3', index: 3 }] })

    // Tampered: a value changed. Exit 6 with the reason; --json gives the report and the error.
    const forged = { ...proof, row: { ...proof.row, values: proof.row.values.map((v, i) => i === 1 ? { text: 'mallory' } : v) } }
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
    expect((await petal(['--dir', other, 'keygen', '--plain'])).code).toBe(0)
    expect((await petal(['--dir', other, 'keys', 'export', '-o', join(fresh, 'other.pem')])).code).toBe(0)
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
