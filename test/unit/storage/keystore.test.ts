import { describe, expect, it, vi } from 'vitest'
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateSigningKey, privateKeyToPem } from '../../../src/crypto/index.js'
import { importP256Pkcs8 } from '../../../src/crypto/keys.js'
import { Keystore } from '../../../src/storage/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

function code (fn: () => unknown): string {
  try { fn(); return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

describe('keystore', () => {
  // A kill -9 between an atomic write's temporary and its rename leaves `<file>.<pid>.<hex>.tmp`
  // (bench/crash-torture.ts found `default.<pid>.<hex>.tmp` after killed inits). Only a starting
  // node removed them, so a directory used only by commands gathered one per such kill; the
  // keystore's next write removes those of dead processes (a live writer's stays).
  it('a key write removes the temporaries that killed writers left, not a live one\'s', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    ks.generate()
    const dead = 'default.4194999.0badc0de.tmp'
    const live = `default.${process.pid}.0badc0de.tmp`
    for (const n of [dead, live]) writeFileSync(join(ks.dir, n), '1:')
    ks.generate()
    expect(readdirSync(ks.dir).filter(n => n.endsWith('.tmp'))).toEqual([live])
  })

  it('stores keys in 0600 files inside a 0700 directory, and the first key becomes the default', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const a = ks.generate()
    const b = ks.generate()
    expect(statSync(ks.dir).mode & 0o777).toBe(0o700)
    for (const f of readdirSync(ks.dir)) expect(statSync(join(ks.dir, f)).mode & 0o777, f).toBe(0o600)
    expect(ks.list().map(k => k.id).sort()).toEqual([a.id, b.id].sort())
    expect(ks.load().id).toBe(a.id)
    expect(ks.setDefault(b.id.slice(2, 12)).id).toBe(b.id)
    expect(ks.load().id).toBe(b.id)
  })

  it('resolves unique prefixes and refuses unknown or ambiguous ones', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    expect(code(() => ks.load())).toBe('NO_KEYS')
    const keys = Array.from({ length: 20 }, () => ks.generate())
    const k = keys[7]
    expect(ks.resolve(k?.id.slice(0, 14)).id).toBe(k?.id)
    expect(code(() => ks.resolve('1:'))).toBe('KEY_AMBIGUOUS')
    expect(code(() => ks.resolve('ffffffffffffffffffff'))).toBe(keys.some(x => x.id.startsWith('1:ffffffffffffffffffff')) ? 'OK' : 'KEY_NOT_FOUND')
  })

  it('encrypts with a passphrase: no key material on disk in clear, and the right passphrase is needed', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const key = generateSigningKey()
    const e = ks.import(privateKeyToPem(key), { passphrase: 'correct horse' })
    expect(e.encrypted).toBe(true)
    const file = readFileSync(join(ks.dir, `${key.id.slice(2)}.json`), 'utf8')
    expect(file).not.toContain('private_key')
    expect(code(() => ks.load(e.id))).toBe('PASSPHRASE_REQUIRED')
    expect(code(() => ks.load(e.id, 'wrong'))).toBe('BAD_PASSPHRASE')
    expect(ks.load(e.id, 'correct horse').id).toBe(key.id)
    expect(code(() => ks.import(privateKeyToPem(key)))).toBe('KEY_EXISTS')
  })

  it('imports Daisy\'s hex SEC1 private keys and exports PEM that imports back', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const key = generateSigningKey()
    const daisyHex = key.keyObject.export({ type: 'sec1', format: 'der' }).toString('hex')
    expect(ks.import(daisyHex).id).toBe(key.id)
    const pem = ks.exportPrivate(key.id)
    const other = new Keystore(join(tmpDir(), 'keystore2'))
    expect(other.import(pem).id).toBe(key.id)
    expect(code(() => ks.import('not a key'))).toBe('BAD_PRIVATE_KEY')
  })

  // RFC 5915 lets a key file leave out the public point; OpenSSL then writes the key back without
  // it (67 bytes), a layout only its slow decoder reads, on every load of the key.
  it('stores a key imported without its public point in the full layout, and still reads the short one', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const key = generateSigningKey()
    const d = key.keyObject.export({ format: 'jwk' }).d ?? ''
    const hex = Buffer.from(d, 'base64url').toString('hex')
    const sec1NoPoint = '30310201010420' + hex + 'a00a06082a8648ce3d030107'
    const pkcs8NoPoint = '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420' + hex
    const encrypted = new Keystore(join(tmpDir(), 'keystore'))
    for (const [store, input, passphrase] of [[ks, sec1NoPoint, undefined], [new Keystore(join(tmpDir(), 'keystore')), pkcs8NoPoint, undefined], [encrypted, Buffer.from(pkcs8NoPoint, 'hex'), 'pw']] as const) {
      expect(store.import(input, { passphrase }).id).toBe(key.id)
      const file = join(store.dir, `${key.id.slice(2)}.json`)
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { private_key?: string }
      if (passphrase === undefined) {
        expect(stored.private_key?.length).toBe(2 * 138)
        expect(importP256Pkcs8(Buffer.from(stored.private_key ?? '', 'hex'))?.id).toBe(key.id)
      }
      expect(store.load(key.id, passphrase).id).toBe(key.id)
    }
    // A file an earlier Petal wrote in the short layout loads as before.
    const file = join(ks.dir, `${key.id.slice(2)}.json`)
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>
    writeFileSync(file, JSON.stringify({ ...stored, private_key: '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420' + hex }))
    expect(ks.load(key.id).id).toBe(key.id)
  })

  // mend28 left it read 2 to 4 times per load: once by find, once more by each listing it made.
  it('reads the `default` file once per load, also when it names a key whose file is gone', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const a = ks.generate()
    const b = ks.generate()
    ks.setDefault(b.id)
    const reads = vi.spyOn(Keystore.prototype, 'defaultId')
    try {
      expect(ks.load().id).toBe(b.id)
      expect(reads).toHaveBeenCalledTimes(1)
      reads.mockClear()
      expect(ks.load(a.id.slice(0, 12)).id).toBe(a.id)
      expect(reads).toHaveBeenCalledTimes(1)
      // The default's file moved away: the fallback (the oldest signing key) reads `default` once too.
      renameSync(join(ks.dir, `${b.id.slice(2)}.json`), join(tmpDir(), 'moved.json'))
      reads.mockClear()
      expect(ks.load().id).toBe(a.id)
      expect(reads).toHaveBeenCalledTimes(1)
    } finally {
      reads.mockRestore()
    }
  })
  // V8's JSON.parse quotes the text around an unexpected token: KEY_FILE_INVALID's message put
  // seven hex digits of the private key, and the file's newline, in what terminals and logs show.
  it('a damaged key file\'s error quotes none of the file', () => {
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    const key = ks.generate()
    const file = join(ks.dir, `${key.id.slice(2)}.json`)
    const text = readFileSync(file, 'utf8')
    const hex = (JSON.parse(text) as { private_key: string }).private_key
    writeFileSync(file, text.replace(/("private_key":\s*)"/, '$1x\n"'))
    let message = ''
    try { ks.list() } catch (err) { if (isPetalError(err)) message = err.message }
    expect(message).toMatch(/is not valid JSON \(truncated or damaged\): Unexpected token/)
    expect(message).not.toContain('\n')
    // After the file's path (whose name is the key id, in hex too): the reason alone.
    const why = message.slice(message.indexOf(' is not valid JSON'))
    for (let at = 0; at + 4 <= hex.length; at++) expect(why).not.toContain(hex.slice(at, at + 4))
  })
})
