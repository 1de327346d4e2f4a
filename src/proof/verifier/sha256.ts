// SHA-256 and the RFC 6962 hashes through WebCrypto (globalThis.crypto.subtle), which Node 20 and
// every browser provide: one code path for the CLI and the explorer.
import { concatBytes } from './bytes.js'

type Subtle = (typeof globalThis.crypto)['subtle']

function subtle (): Subtle {
  const s = globalThis.crypto?.subtle
  if (s === undefined) throw new Error('WebCrypto (crypto.subtle) is not available: a browser needs a secure context (https or localhost)')
  return s
}

/** A copy in a fresh ArrayBuffer: what WebCrypto's BufferSource typing asks for. */
export function own (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

export { subtle as webCrypto }

export async function sha256 (data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', own(data)))
}

const LEAF = Uint8Array.of(0x00)
const NODE = Uint8Array.of(0x01)

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export async function leafHash (data: Uint8Array): Promise<Uint8Array> {
  return await sha256(concatBytes(LEAF, data))
}

/** RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right). */
export async function nodeHash (left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return await sha256(concatBytes(NODE, left, right))
}
