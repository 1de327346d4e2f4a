import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { petal, spawnNode, type RunningNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

const nodes: RunningNode[] = []
afterAll(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

// Patient-like records in the canonical CSV form `petal export` writes (CRLF, minimal quoting,
// NULL = empty field, '' = "", BLOB = \x…, text starting with a backslash doubled): every type,
// NULLs, unicode, empty strings, long text.
const SECRETS = ['Influenza-A-7f3e', 'Bronchitis-9c21', 'Käsespätzle-allergie-🌸', 'x'.repeat(2500) + '-long-diagnosis']
const CSV = [
  'id,name,diagnosis,age,weight,photo,note',
  `1,Ann Lee,${SECRETS[0]},31,62.5,\\x00ff10,""`,
  `2,Bob,${SECRETS[1]},,80.25,,"private, ""quoted"" note"`,
  `3,Cem Öz,${SECRETS[2]},58,-2.5,\\x,`,
  `4,\\\\backslash,${SECRETS[3]},44,1e999,\\xdeadbeef,"two\r\nlines"`,
  '5,"",,0,,,'
].join('\r\n') + '\r\n'

/** Every regular file under `dir`. */
function files (dir: string): string[] {
  return readdirSync(dir).flatMap(n => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : [p]
  })
}

describe('confidential columns across nodes (separate processes)', () => {
  it('two recipients get the CSV back byte for byte; the third node holds ciphertext only, verifies, and its files hold no plaintext; re-wrapped for it later, it reads the CSV too', async () => {
    const root = tmpDir()
    const [dirA, dirB, dirC, dirD, keysB, keysC] = ['a', 'b', 'c', 'd', 'kb', 'kc'].map(n => join(root, n)) as [string, string, string, string, string, string]
    const ok = async (args: string[]): Promise<string> => {
      const r = await petal(args)
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0)
      return r.stdout
    }
    // B and C make encryption keys (in key-only directories) and send their public keys to A.
    const recipient = async (dir: string, name: string): Promise<{ pem: string, priv: string }> => {
      const id = JSON.parse(await ok(['--dir', dir, '--json', 'keys', 'generate', '--purpose', 'encrypt'])).id as string
      const pem = join(root, `${name}.pem`)
      const priv = join(root, `${name}.key`)
      await ok(['--dir', dir, 'keys', 'export', id, '-o', pem])
      await ok(['--dir', dir, 'keys', 'export', id, '--private', '-o', priv])
      return { pem, priv }
    }
    const b = await recipient(keysB, 'b')
    const c = await recipient(keysC, 'c')

    const node = await spawnNode(['--dir', dirA, 'run', '--init', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', 'off'])
    nodes.push(node)
    const a = await recipient(dirA, 'a') // the signatory is a recipient too, so that it can re-wrap later
    const csv = join(root, 'patients.csv')
    writeFileSync(csv, CSV)
    await ok(['--dir', dirA, 'signimportblock', csv, '--table', 'patients', '--encrypt', 'patients.diagnosis', '--encrypt', 'patients.note', '--recipient', b.pem, '--recipient', c.pem, '--recipient', a.pem])

    for (const d of [dirB, dirC, dirD]) await ok(['--dir', d, 'pull', node.addr])
    await ok(['--dir', dirB, 'keys', 'import', b.priv, '--purpose', 'encrypt'])
    await ok(['--dir', dirC, 'keys', 'import', c.priv, '--purpose', 'encrypt'])

    for (const d of [dirB, dirC]) {
      const out = join(root, `export-${d.slice(-1)}.csv`)
      await ok(['--dir', d, 'export', 'patients', '-o', out])
      expect(readFileSync(out, 'utf8')).toBe(CSV)
      expect(await ok(['--dir', d, 'query', "SELECT id FROM patients WHERE diagnosis LIKE 'Bronch%'"])).toBe('{"id":2}\n')
    }

    // D: no key. It verifies the chain, sees BLOBs where the secrets are, and is told why.
    expect(await ok(['--dir', dirD, 'verify'])).toMatch(/verified/)
    const q = await petal(['--dir', dirD, 'query', 'SELECT typeof(diagnosis) AS t, count(*) AS n FROM patients GROUP BY 1'])
    expect(q.stdout).toBe('{"t":"blob","n":5}\n')
    expect(q.stderr).toMatch(/patients\.diagnosis is encrypted in 1 block\(s\), 1 of them for recipients whose keys this node does not hold/)
    const dOut = join(root, 'export-d.csv')
    await ok(['--dir', dirD, 'export', 'patients', '-o', dOut])
    const dCsv = readFileSync(dOut, 'utf8')
    expect(dCsv).toContain('Ann Lee')
    // No file of any data directory holds a secret: not the blocks, not query.db, not a temp file.
    for (const dir of [dirA, dirB, dirC, dirD]) {
      for (const f of files(dir)) {
        const bytes = readFileSync(f)
        for (const s of SECRETS) expect(bytes.includes(Buffer.from(s.slice(0, 40))), `${s.slice(0, 20)} in ${f}`).toBe(false)
      }
    }
    for (const s of SECRETS) expect(dCsv.includes(s.slice(0, 40))).toBe(false)

    // Adding D as a recipient later: A re-wraps the block's data key for D's new key in a new
    // block; D pulls it and exports the original CSV.
    const dKey = JSON.parse(await ok(['--dir', dirD, '--json', 'keys', 'generate', '--purpose', 'encrypt'])).id as string
    const dPem = join(root, 'd.pem')
    await ok(['--dir', dirD, 'keys', 'export', dKey, '-o', dPem])
    expect(JSON.parse(await ok(['--dir', dirA, '--json', 'rewrap', '--recipient', dPem])).height).toBe(2)
    await ok(['--dir', dirD, 'pull', node.addr])
    const later = join(root, 'export-d-later.csv')
    await ok(['--dir', dirD, 'export', 'patients', '-o', later])
    expect(readFileSync(later, 'utf8')).toBe(CSV)
  }, 180_000)
})
