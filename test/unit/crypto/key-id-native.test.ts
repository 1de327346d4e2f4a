// Key ids (SHA-256 of the SPKI) go through the native addon once the thread has loaded it (a
// signing command), and through the JavaScript SHA-256 before (status, mykeys: no addon, no
// node:crypto). Both give node:crypto's digest. docs/performance/import.md, "Session 24: the 100-row
// import": interpreted, the JavaScript hash was ~0.35 M instructions per id, six per import.
import { afterEach, describe, expect, it, vi, type Mock } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'

const saved = process.env.PETAL_NATIVE_SHA256
afterEach(() => {
  if (saved === undefined) delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = saved
  vi.doUnmock('../../../src/crypto/sha256-js.js')
  vi.resetModules()
})

/**
 * Fresh copies of keys.ts and openssl-native.ts (no addon loaded yet) over a sha256-js.ts whose
 * hash counts its calls. The unit tests share their module registry (isolate: false), so a hoisted
 * vi.mock would not reach a keys.ts another file loaded first.
 */
async function fresh (): Promise<{ keyIdOf: (spki: Uint8Array) => string, jsHash: Mock, native: typeof import('../../../src/crypto/openssl-native.js') }> {
  vi.resetModules()
  const jsHash = vi.fn()
  vi.doMock('../../../src/crypto/sha256-js.js', async (original) => {
    const m = await original<typeof import('../../../src/crypto/sha256-js.js')>()
    jsHash.mockImplementation(m.sha256HexJs)
    return { ...m, sha256HexJs: jsHash }
  })
  const keys = await import('../../../src/crypto/keys.js')
  const native = await import('../../../src/crypto/openssl-native.js')
  return { keyIdOf: keys.keyIdOf, jsHash, native }
}

const reference = (b: Uint8Array): string => `1:${createHash('sha256').update(b).digest('hex')}`

describe('key ids', () => {
  it('are hashed in JavaScript while the addon is not loaded, and the JavaScript hash never loads it', async () => {
    const { keyIdOf, jsHash, native } = await fresh()
    const spki = randomBytes(91)
    expect(keyIdOf(spki)).toBe(reference(spki))
    expect(jsHash).toHaveBeenCalledTimes(1)
    expect(native.loadedNativeOpenssl()).toBeUndefined()
  })

  it.skipIf(!nativeOpensslBuilt())('go through the addon once this thread has loaded it, with the same ids', async () => {
    delete process.env.PETAL_NATIVE_SHA256
    const { keyIdOf, jsHash, native } = await fresh()
    expect(native.nativeOpenssl()).toBeDefined()
    for (let n = 0; n < 300; n += 7) {
      const spki = randomBytes(n)
      expect(keyIdOf(spki), `${n} bytes`).toBe(reference(spki))
    }
    expect(jsHash).not.toHaveBeenCalled()
  })

  it('are hashed once per key: the same SPKI again (the keystore\'s key and the signatory) is a lookup', async () => {
    const { keyIdOf, jsHash } = await fresh()
    const a = randomBytes(91)
    const b = randomBytes(91)
    // In another buffer, at an offset: the bytes decide, not the view.
    const again = new Uint8Array(100)
    again.set(a, 9)
    expect(keyIdOf(a)).toBe(reference(a))
    expect(keyIdOf(again.subarray(9))).toBe(reference(a))
    expect(keyIdOf(b)).toBe(reference(b))
    expect(keyIdOf(a)).toBe(reference(a))
    expect(jsHash).toHaveBeenCalledTimes(2)
    // Bounded: past its size the memo starts over, and every id stays right.
    for (let i = 0; i < 200; i++) {
      const k = randomBytes(91)
      expect(keyIdOf(k)).toBe(reference(k))
    }
    expect(keyIdOf(b)).toBe(reference(b))
    expect(keyIdOf(a)).toBe(reference(a))
  })

  it('stay in JavaScript when the addon is switched off (PETAL_NATIVE_SHA256=0)', async () => {
    process.env.PETAL_NATIVE_SHA256 = '0'
    const { keyIdOf, jsHash, native } = await fresh()
    expect(native.nativeOpenssl()).toBeUndefined()
    const spki = randomBytes(91)
    expect(keyIdOf(spki)).toBe(reference(spki))
    expect(jsHash).toHaveBeenCalledTimes(1)
  })
})
