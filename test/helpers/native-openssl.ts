// Shared by the tests of the OpenSSL addon's file functions (read-small, place-files): the
// environment restored after each test, the descriptors open in this process, and a path at the
// length where a copy into the addon's 4,096-byte buffer can be cut inside a character.
import { afterEach } from 'vitest'
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { resetNativeOpenssl } from '../../src/crypto/openssl-native.js'
import { tmpDir } from './tmp.js'

/** After each test of the file: PETAL_NATIVE_SHA256 as it was, and the addon's state of this thread reset. */
export function restoreNativeOpensslAfterEach (): void {
  const saved = process.env.PETAL_NATIVE_SHA256
  afterEach(() => {
    if (saved === undefined) delete process.env.PETAL_NATIVE_SHA256
    else process.env.PETAL_NATIVE_SHA256 = saved
    resetNativeOpenssl()
  })
}

/** The descriptors open in this process. */
export function openFds (): number {
  return readdirSync('/proc/self/fd').length
}

/** A new path of exactly 4,094 bytes (the longest Linux opens is 4,095), its directories made, the file not. */
export function path4094 (): string {
  let dir = tmpDir()
  while (Buffer.byteLength(dir) < 4094 - 250) dir = join(dir, 'd'.repeat(200))
  mkdirSync(dir, { recursive: true })
  return join(dir, 'f'.repeat(4094 - Buffer.byteLength(dir) - 1))
}
