// Key ids (SHA-256 of the SPKI) go through the native addon once the thread has loaded it (a
// signing command), and through the JavaScript SHA-256 before (status, mykeys: no addon, no
// node:crypto). Both give node:crypto's digest. docs/performance.md, "Session 24: the 100-row
// import": interpreted, the JavaScript hash was ~0.35 M instructions per id, six per import.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { keyIdOf } from '../../../src/crypto/keys.js'
import { loadedNativeOpenssl, nativeOpenssl, resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { sha256HexJs } from '../../../src/crypto/sha256-js.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'

vi.mock('../../../src/crypto/sha256-js.js', async (original) => {
  const m = await original<typeof import('../../../src/crypto/sha256-js.js')>()
  return { ...m, sha256HexJs: vi.fn(m.sha256HexJs) }
})

const saved = process.env.PETAL_NATIVE_SHA256
afterEach(() => {
  if (saved === undefined) delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = saved
  resetNativeOpenssl()
  vi.mocked(sha256HexJs).mockClear()
})

const reference = (b: Uint8Array): string => `1:${createHash('sha256').update(b).digest('hex')}`

describe('key ids', () => {
  it('are hashed in JavaScript while the addon is not loaded, and the JavaScript hash never loads it', () => {
    resetNativeOpenssl()
    const spki = randomBytes(91)
    expect(keyIdOf(spki)).toBe(reference(spki))
    expect(vi.mocked(sha256HexJs)).toHaveBeenCalledTimes(1)
    expect(loadedNativeOpenssl()).toBeUndefined()
  })

  it.skipIf(!nativeOpensslBuilt())('go through the addon once this thread has loaded it, with the same ids', () => {
    delete process.env.PETAL_NATIVE_SHA256
    expect(nativeOpenssl()).toBeDefined()
    for (let n = 0; n < 300; n += 7) {
      const spki = randomBytes(n)
      expect(keyIdOf(spki), `${n} bytes`).toBe(reference(spki))
    }
    expect(vi.mocked(sha256HexJs)).not.toHaveBeenCalled()
  })

  it('stay in JavaScript when the addon is switched off (PETAL_NATIVE_SHA256=0)', () => {
    process.env.PETAL_NATIVE_SHA256 = '0'
    expect(nativeOpenssl()).toBeUndefined()
    const spki = randomBytes(91)
    expect(keyIdOf(spki)).toBe(reference(spki))
    expect(vi.mocked(sha256HexJs)).toHaveBeenCalledTimes(1)
  })
})
