// The per-key P-256 tables' lives (src/crypto/native/p256-table.c), each in a process of its own,
// since the tables and G's are the process's: a process that verifies a few signatures makes no
// table at all (G's, ~11 M instructions, was made at its first verification: 6 % of a 100-row
// `signimportblock`); a worker thread's tables are freed when it exits; at most 32 key tables live
// at once, a key past them still verified right, and a key collected gives its place back. And
// OpenSSL's error queue: a refused public key left its reason there, where node:crypto's next call
// on the thread read it as its own failure. And which keys hold the 32 (p256-cache.c): a signer gone
// cold gives its table to one become hot; signers in strict rotation never take each other's.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { generateSigningKey } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, nativeOpensslPath, resetNativeOpenssl, type NativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'

// A key, a signature and the addon, in the child's first lines.
const PRELUDE = `
const m = { exports: {} }
process.dlopen(m, ${JSON.stringify(nativeOpensslPath())})
const lib = m.exports
const digest = Buffer.alloc(32, 9)
function signed (seed) {
  const k = lib.keyFromScalar(Buffer.alloc(32, seed))
  return { pub: lib.publicKey(k.point), point: k.point, sig: lib.sign(k.handle, digest) }
}
const bad = sig => { const b = Buffer.from(sig); b[40] ^= 1; return b }
const say = v => process.stdout.write(JSON.stringify(v) + '\\n')
`

/** The lines the child prints (JSON each), after PRELUDE and `body`. */
function child (body: string, flags: string[] = []): unknown[] {
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', PRELUDE + body], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`)
  return r.stdout.trim().split('\n').map(l => JSON.parse(l) as unknown)
}

const lib = nativeOpensslBuilt() ? loadNativeOpenssl().lib : undefined
const tables = lib?.p256Tables?.()

describe.skipIf(lib === undefined)('the native addon and OpenSSL\'s error queue', () => {
  it('leaves nothing there when it refuses a point off the curve (node:crypto then generates keys)', () => {
    const point = Buffer.alloc(65, 1)
    point[0] = 4
    expect((lib as NativeOpenssl).publicKey(point)).toBeUndefined()
    expect(() => generateSigningKey()).not.toThrow()
    resetNativeOpenssl()
  })
})

describe.skipIf(tables?.available !== true)('the per-key P-256 tables\' lives', () => {
  it('makes none, nor G\'s, for a process that verifies a few signatures; both with the first key\'s', () => {
    const out = child(`
const a = signed(7)
say([lib.verify(a.pub, digest, a.sig), lib.verify(a.pub, digest, a.sig), lib.verify(a.pub, digest, bad(a.sig)), lib.p256Tables()])
say([lib.verify(a.pub, digest, a.sig, 1), lib.verify(a.pub, digest, bad(a.sig), 1), lib.p256Tables()])
`)
    expect(out).toEqual([
      [true, true, false, { available: true, keys: 0, generator: false, built: 0, evicted: 0 }],
      [true, false, { available: true, keys: 1, generator: true, built: 1, evicted: 0 }]
    ])
  })

  it('counts verify2 (a block\'s two signatures in one call) as two uses of the key toward its table', () => {
    const out = child(`
const a = signed(5)
let v = []
for (let i = 0; i < 31; i++) v.push(lib.verify2(a.pub, digest, a.sig, digest, bad(a.sig)))
say([new Set(v).size, v[0], lib.p256Tables(a.pub).table])
say([lib.verify2(a.pub, digest, bad(a.sig), digest, a.sig), lib.p256Tables(a.pub).table, lib.verify2(a.pub, digest, a.sig, digest, bad(a.sig)), lib.verify2(a.pub, digest, a.sig, digest, a.sig)])
`)
    // 62 uses: no table yet; the 63rd and 64th (the 32nd call) earn it, and the calls after go through it.
    expect(out).toEqual([[1, 1, false], [2, true, 1, 3]])
  })

  it('frees a worker thread\'s tables when the worker exits', () => {
    const out = child(`
import { Worker } from 'node:worker_threads'
const w = new Worker("import { parentPort } from 'node:worker_threads'" + PRELUDE_TEXT + "const a = signed(3); parentPort.postMessage([lib.verify(a.pub, digest, a.sig, 1), lib.p256Tables().keys])", { eval: true })
w.once('message', say)
await new Promise(resolve => w.once('exit', resolve))
say(lib.p256Tables())
`.replace('PRELUDE_TEXT', JSON.stringify(PRELUDE)))
    expect(out).toEqual([[true, 1], { available: true, keys: 0, generator: true, built: 1, evicted: 0 }])
  })

  it('leaves OpenSSL no free function of an unloaded addon when the only thread that loaded it exits', () => {
    // The keys' table records are OpenSSL ex_data, whose free function OpenSSL calls at every
    // EC_KEY_free in the process; Node unloads (dlclose) an addon when the last environment that
    // loaded it ends: node:crypto's next EC key then called into unmapped code (SIGSEGV).
    const body = `
import { Worker } from 'node:worker_threads'
import { generateKeyPairSync, createSign } from 'node:crypto'
const w = new Worker("import { parentPort } from 'node:worker_threads'" + PRELUDE_TEXT + "const a = signed(3); parentPort.postMessage(lib.verify(a.pub, digest, a.sig))", { eval: true })
w.once('message', v => process.stdout.write(JSON.stringify(v) + '\\n'))
await new Promise(resolve => w.once('exit', resolve))
for (let i = 0; i < 20; i++) createSign('sha256').update('x').sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)
process.stdout.write('"signed"\\n')
`.replace('PRELUDE_TEXT', JSON.stringify(PRELUDE))
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: 60_000 })
    expect({ status: r.status, signal: r.signal, out: r.stdout.trim().split('\n') }).toEqual({ status: 0, signal: null, out: ['true', '"signed"'] })
  })

  it('gives the right verdicts in four threads that make G\'s table and their keys\' at once', () => {
    const out = child(`
import { Worker } from 'node:worker_threads'
const work = "import { parentPort } from 'node:worker_threads'" + PRELUDE_TEXT + \`
const keys = [signed(5), signed(6)]
let right = 0
for (let i = 0; i < 80; i++) for (const k of keys) right += (lib.verify(k.pub, digest, k.sig) ? 1 : 0) + (lib.verify(k.pub, digest, bad(k.sig)) ? 0 : 1)
parentPort.postMessage([right, lib.p256Tables().generator])\`
const workers = [0, 1, 2, 3].map(() => new Worker(work, { eval: true }))
const exits = workers.map(w => new Promise(resolve => w.once('exit', resolve)))
say(await Promise.all(workers.map(w => new Promise(resolve => w.once('message', resolve)))))
await Promise.all(exits)
say(lib.p256Tables())
`.replace('PRELUDE_TEXT', JSON.stringify(PRELUDE)))
    expect(out).toEqual([Array(4).fill([320, true]), { available: true, keys: 0, generator: true, built: 8, evicted: 0 }])
  })

  it('keeps at most 32 key tables, verifies the keys past them right, and frees a collected key\'s', () => {
    const out = child(`
let keys = []
for (let i = 1; i <= 40; i++) keys.push(signed(i))
say(keys.map(k => [lib.verify(k.pub, digest, k.sig, 1), lib.verify(k.pub, digest, bad(k.sig), 1)]).flat().join(''))
say(lib.p256Tables().keys)
keys = keys.slice(0, 10)
for (let i = 0; i < 20 && lib.p256Tables().keys > 10; i++) { globalThis.gc(); await new Promise(resolve => setImmediate(resolve)) }
say(lib.p256Tables().keys)
const fresh = signed(99)
say([lib.verify(fresh.pub, digest, fresh.sig, 1), lib.p256Tables().keys])
`, ['--expose-gc'])
    expect(out).toEqual(['truefalse'.repeat(40), 32, 10, [true, 11]])
  })
})

// Keys verified in turn (mode 0, as verifyV2 does), valid and tampered signatures, each verdict
// compared with OpenSSL's ECDSA_do_verify (mode 2) and @noble/curves; how many keys of a set have a
// table now; [live tables, built, evicted].
const TURNS = `
const { p256 } = await import(${JSON.stringify(new URL('../../../node_modules/@noble/curves/nist.js', import.meta.url).href)})
const keys = []
for (let i = 1; i <= 48; i++) { const k = signed(i); keys.push({ ...k, bad: bad(k.sig) }) }
const noble = new Map()
let checks = 0, wrong = 0
function check (k, sig) {
  const v = lib.verify(k.pub, digest, sig)
  const id = k.point.toString('hex') + sig.toString('hex')
  if (!noble.has(id)) noble.set(id, p256.verify(sig, digest, k.point, { prehash: false, lowS: false, format: 'compact' }))
  if (v !== lib.verify(k.pub, digest, sig, 2) || v !== noble.get(id) || v !== (sig === k.sig)) wrong++
  checks++
}
function rotate (set, rounds) { for (let r = 0; r < rounds; r++) for (const k of set) { check(k, k.sig); if (r % 4 === 0) check(k, k.bad) } }
const onTables = set => set.filter(k => lib.p256Tables(k.pub).table).length
const stats = () => { const t = lib.p256Tables(); return [t.keys, t.built, t.evicted] }
`

describe.skipIf(tables?.available !== true)('which keys hold the 32 P-256 tables', () => {
  it('gives the tables of signers gone cold to signers become hot, with every verdict right', () => {
    const out = child(TURNS + `
const early = keys.slice(0, 32), late = keys.slice(32)
rotate(early, 60)
say([onTables(early), stats()])
rotate(late, 60)
say([onTables(late), onTables(early), stats()])
rotate(keys, 100)
say([onTables(late), onTables(early), stats(), wrong, checks])
`)
    expect(out).toEqual([
      [32, [32, 32, 0]],
      [16, 16, [32, 48, 16]],
      // All 48 in turn again: the early keys without a table take none from the others.
      [16, 16, [32, 48, 16], 0, 2400 + 1200 + 6000]
    ])
  })

  it('builds no table in turn for 40 signers in strict rotation (32 tables, 8 keys on OpenSSL\'s own)', () => {
    const out = child(TURNS + `
rotate(keys.slice(0, 40), 150)
say([onTables(keys.slice(0, 40)), stats(), wrong, checks])
`)
    expect(out).toEqual([[32, [32, 32, 0], 0, 40 * (150 + 38)]])
  })

  it('lets each worker thread give its own cold signers\' tables to its hot ones', () => {
    const out = child(`
import { Worker } from 'node:worker_threads'
const work = "import { parentPort, workerData } from 'node:worker_threads'" + PRELUDE_TEXT + TURNS_TEXT + \`
const flag = new Int32Array(workerData.sab)
const mine = keys.slice(workerData.from, workerData.from + 24), early = mine.slice(0, 16), late = mine.slice(16)
// Both threads' early keys hold their tables before either's late keys start; neither exits (its
// tables freed) before both are done.
function barrier (n) {
  Atomics.add(flag, 0, 1)
  Atomics.notify(flag, 0)
  for (let v; (v = Atomics.load(flag, 0)) < n;) Atomics.wait(flag, 0, v)
}
rotate(early, 60)
barrier(2)
rotate(late, 60)
barrier(4)
parentPort.postMessage([onTables(early), onTables(late), wrong])\`
const sab = new SharedArrayBuffer(4)
const workers = [0, 24].map(from => new Worker(work, { eval: true, workerData: { from, sab } }))
const exits = workers.map(w => new Promise(resolve => w.once('exit', resolve)))
say(await Promise.all(workers.map(w => new Promise(resolve => w.once('message', resolve)))))
await Promise.all(exits)
say(lib.p256Tables())
`.replace('PRELUDE_TEXT', JSON.stringify(PRELUDE)).replace('TURNS_TEXT', JSON.stringify(TURNS)))
    expect(out).toEqual([[[8, 8, 0], [8, 8, 0]], { available: true, keys: 0, generator: true, built: 48, evicted: 16 }])
  })
})
