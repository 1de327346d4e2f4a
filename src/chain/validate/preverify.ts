import { sameSealedFields, verifyPrevious, verifyPreviousAndSeal, type BlockFile, type SealedFields } from '../../block/index.js'
import { parsePublicKey, type PublicKey } from '../../crypto/index.js'
import type { Preverified, SealVerdict } from './types.js'

// Parsed signatory keys, by hex SPKI (a chain has few; parsing one costs more than a verify).
const parsed = new Map<string, PublicKey>()
function keyOf (spki: string): PublicKey {
  let k = parsed.get(spki)
  if (k === undefined) {
    k = parsePublicKey(spki)
    if (parsed.size > 10_000) parsed.clear()
    parsed.set(spki, k)
  }
  return k
}

/**
 * Both signatures of a block checked ahead of its turn, with the key `keys` names for its creator
 * (key id → hex SPKI); check-signatures uses the verdict only if that is the key at the parent.
 * The seal is not verified again when `checked` (the header's seal, verified before the block
 * was requested) is for this key, this seal and these header fields.
 */
export function preverify (file: BlockFile, hash: string, seal: string, keys: Readonly<Record<string, string>>, checked?: SealVerdict): Preverified | undefined {
  const spki = keys[file.header.creator]
  if (spki === undefined) return undefined
  const pub = keyOf(spki)
  if (sameSeal(checked, spki, seal, file.header)) return { key: spki, prev: verifyPrevious(pub, file.header), seal: true }
  // Both signatures in one call (one inverse for the two s values), each verdict its own.
  const v = verifyPreviousAndSeal(pub, file.header, hash, seal)
  return { key: spki, prev: v.prev, seal: v.seal }
}

function sameSeal (checked: SealVerdict | undefined, spki: string, seal: string, h: SealedFields): boolean {
  if (checked === undefined) return false
  return checked.key === spki && checked.seal === seal && sameSealedFields(checked.fields, h)
}
