// Confidential columns: sealing and opening values (MiB/s and values/s) against raw AES-256-GCM
// over the same plaintexts in the same run (a cipher per value, no AAD, no encoding: the floor), and a query over encrypted columns on a recipient's
// node against the same statement on a chain holding the same rows in plaintext.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellAadAt, cellAadPrefix, encodeCellValue, openCellAt } from '../src/block/index.js'
import { createChain, signImport, type Chain } from '../src/chain/index.js'
import { generateSigningKey, privateKeyToPkcs8, sealValue, type SigningKey } from '../src/crypto/index.js'
import { QuerySandbox, runQuery } from '../src/query/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { printTable, type Row } from './report.js'

const VALUES = Number(process.env.PETAL_BENCH_CONFIDENTIAL_VALUES ?? 200_000)
const ROWS = Number(process.env.PETAL_BENCH_CONFIDENTIAL_ROWS ?? 100_000)
const BLOCKS = 10
const root = mkdtempSync(join(tmpdir(), 'petal-bench-confidential-'))
process.on('exit', () => { rmSync(root, { recursive: true, force: true }) })

const DIAGNOSES = ['influenza', 'common cold', 'asthma', 'bronchitis', 'migraine', 'hypertension', 'diabetes type 2', 'allergy']

/** Median of `runs` timings (ms) of each function, run in turns after one warm-up each. */
async function interleaved<K extends string> (fns: Record<K, () => unknown>, runs: number): Promise<Record<K, number>> {
  const keys = Object.keys(fns) as K[]
  const times = new Map<K, number[]>(keys.map(k => [k, []]))
  for (const k of keys) await fns[k]()
  for (let i = 0; i < runs; i++) {
    for (const k of keys) {
      const t = performance.now()
      await fns[k]()
      times.get(k)?.push(performance.now() - t)
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  return Object.fromEntries(keys.map(k => [k, median(times.get(k) ?? [])])) as Record<K, number>
}

function cellThroughput (): Row[] {
  const key = new Uint8Array(randomBytes(32))
  const values = Array.from({ length: VALUES }, (_, i) => `${DIAGNOSES[i % DIAGNOSES.length] ?? ''} — note ${i} ${'x'.repeat(i % 64)}`)
  const bytes = values.reduce((n, v) => n + Buffer.byteLength(v), 0)
  const mib = bytes / 2 ** 20
  const sealed: Uint8Array[] = new Array(VALUES)
  const t = {
    seal: 0, open: 0, rawSeal: 0, rawOpen: 0
  }
  // Raw AES-256-GCM on the same plaintexts: a fresh cipher per value, as a cell needs.
  const raw: Buffer[] = new Array(VALUES)
  const nonce = randomBytes(12)
  const timed = (f: () => void): number => { const s = performance.now(); f(); return performance.now() - s }
  for (let round = 0; round < 3; round++) {
    t.rawSeal += timed(() => {
      for (let i = 0; i < VALUES; i++) {
        const c = createCipheriv('aes-256-gcm', key, nonce)
        raw[i] = Buffer.concat([c.update(values[i] ?? ''), c.final(), c.getAuthTag()])
      }
    })
    // The path the block builder takes: the column's AAD prefix once, then each value.
    const prefix = cellAadPrefix('chain', 'patients', 'diagnosis')
    t.seal += timed(() => { for (let i = 0; i < VALUES; i++) sealed[i] = sealValue(key, cellAadAt(prefix, i), encodeCellValue(values[i] ?? '')) })
    t.rawOpen += timed(() => {
      for (let i = 0; i < VALUES; i++) {
        const b = raw[i] as Buffer
        const d = createDecipheriv('aes-256-gcm', key, nonce)
        d.setAuthTag(b.subarray(b.length - 16))
        d.update(b.subarray(0, b.length - 16))
        d.final()
      }
    })
    t.open += timed(() => { for (let i = 0; i < VALUES; i++) openCellAt(key, prefix, i, sealed[i] as Uint8Array) })
  }
  const per = (ms: number): number => ms / 3 / 1000
  return [
    { figure: `seal ${VALUES} values (${mib.toFixed(1)} MiB)`, value: mib / per(t.seal), unit: 'MiB/s', reference: 'raw AES-256-GCM, same values', refValue: mib / per(t.rawSeal), better: 'higher' },
    { figure: 'seal', value: VALUES / per(t.seal), unit: 'values/s', reference: 'raw AES-256-GCM', refValue: VALUES / per(t.rawSeal), better: 'higher' },
    { figure: 'open (decrypt + authenticate)', value: mib / per(t.open), unit: 'MiB/s', reference: 'raw AES-256-GCM, same values', refValue: mib / per(t.rawOpen), better: 'higher' },
    { figure: 'open', value: VALUES / per(t.open), unit: 'values/s', reference: 'raw AES-256-GCM', refValue: VALUES / per(t.rawOpen), better: 'higher' }
  ]
}

async function chainWith (name: string, key: SigningKey, recipient: SigningKey | undefined): Promise<Chain> {
  const chain = await createChain(join(root, name), { creator: 'bench', description: 'confidential bench', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  for (let b = 0; b < BLOCKS; b++) {
    const src = join(root, `${name}-${b}.db`)
    const db = new Database(src)
    db.exec('CREATE TABLE patients (id INTEGER PRIMARY KEY, age INTEGER, diagnosis TEXT, note TEXT)')
    const ins = db.prepare('INSERT INTO patients (age, diagnosis, note) VALUES (?, ?, ?)')
    db.transaction(() => { for (let i = 0; i < ROWS / BLOCKS; i++) ins.run(20 + (i * 7) % 60, DIAGNOSES[(i * 31 + b) % DIAGNOSES.length], `note ${b}-${i}`) })()
    db.close()
    await signImport(chain, src, key, recipient === undefined ? {} : { encrypt: { columns: [['patients', 'diagnosis'], ['patients', 'note']], recipients: [recipient.publicKey] } })
  }
  return chain
}

async function queryBench (): Promise<Row[]> {
  const key = generateSigningKey()
  const recipient = generateSigningKey()
  const plain = await chainWith('plain', key, undefined)
  const sealed = await chainWith('sealed', key, recipient)
  const sandboxes = [new QuerySandbox(plain.dir.root), new QuerySandbox(sealed.dir.root)]
  const decrypt = { keys: [privateKeyToPkcs8(recipient)] }
  const rows: Row[] = []
  try {
    const statements = [
      ['GROUP BY an encrypted column', 'SELECT diagnosis, count(*), avg(age) FROM patients GROUP BY diagnosis'],
      ["WHERE on an encrypted column", "SELECT count(*) FROM patients WHERE diagnosis = 'asthma'"],
      ['all rows, two encrypted columns', 'SELECT * FROM patients']
    ] as const
    for (const [what, sql] of statements) {
      let a = ''
      let b = ''
      const t = await interleaved({
        plain: async () => { let n = 0; await runQuery(plain, { sql, format: 'rows', sandbox: sandboxes[0], onRows: r => { n += r.length }, timeoutMs: 0 }); a = String(n) },
        encrypted: async () => { let n = 0; await runQuery(sealed, { sql, format: 'rows', sandbox: sandboxes[1], decrypt, onRows: r => { n += r.length }, timeoutMs: 0 }); b = String(n) }
      }, 5)
      if (a !== b) throw new Error(`${what}: ${a} rows on plaintext, ${b} decrypted`)
      rows.push({ figure: `query over ${ROWS} rows: ${what}`, value: t.encrypted, unit: 'ms', reference: 'same statement, plaintext chain', refValue: t.plain, better: 'lower' })
    }
  } finally {
    await Promise.all(sandboxes.map(async s => { await s.close() }))
    plain.close()
    sealed.close()
  }
  return rows
}

async function main (): Promise<void> {
  const cells = cellThroughput()
  const queries = await queryBench()
  printTable('Confidential columns', [...cells, ...queries])
}

await main()
