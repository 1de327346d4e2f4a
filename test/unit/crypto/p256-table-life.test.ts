// The per-key P-256 tables' lives (src/crypto/native/p256-table.c), each in a process of its own,
// since the tables and G's are the process's: a process that verifies a few signatures makes no
// table at all (G's, ~11 M instructions, was made at its first verification: 6 % of a 100-row
// `signimportblock`); a worker thread's tables are freed when it exits; at most 32 key tables live
// at once, a key past them still verified right, and a key collected gives its place back. And
// OpenSSL's error queue: a refused public key left its reason there, where node:crypto's next call
// on the thread read it as its own failure.
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
  return { pub: lib.publicKey(k.point), sig: lib.sign(k.handle, digest) }
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
      [true, true, false, { available: true, keys: 0, generator: false }],
      [true, false, { available: true, keys: 1, generator: true }]
    ])
  })

  it('frees a worker thread\'s tables when the worker exits', () => {
    const out = child(`
import { Worker } from 'node:worker_threads'
const w = new Worker("import { parentPort } from 'node:worker_threads'" + PRELUDE_TEXT + "const a = signed(3); parentPort.postMessage([lib.verify(a.pub, digest, a.sig, 1), lib.p256Tables().keys])", { eval: true })
w.once('message', say)
await new Promise(resolve => w.once('exit', resolve))
say(lib.p256Tables())
`.replace('PRELUDE_TEXT', JSON.stringify(PRELUDE)))
    expect(out).toEqual([[true, 1], { available: true, keys: 0, generator: true }])
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
    expect(out).toEqual([Array(4).fill([320, true]), { available: true, keys: 0, generator: true }])
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
