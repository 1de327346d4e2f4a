import { parsePublicKey, type PublicKey } from '../crypto/index.js'
import type { KeyOpRecord, SignerRecord } from '../storage/index.js'

export interface Signer {
  keyId: string
  publicKey: PublicKey
  addedAt: number
  revokedAt: number | null
}

/**
 * The signatory set after some block: immutable, so validation works against a fixed view of the
 * parent while the store changes. `apply` returns a new state.
 */
export class KeyState {
  private constructor (private readonly map: ReadonlyMap<string, Signer>) {}

  static empty (): KeyState {
    return new KeyState(new Map())
  }

  /** The canonical set as of `height`, from the index's (added_at, revoked_at) rows. */
  static fromRecords (records: readonly SignerRecord[], height: number): KeyState {
    const m = new Map<string, Signer>()
    for (const r of records) {
      if (r.addedAt > height) continue
      m.set(r.keyId, { keyId: r.keyId, publicKey: parsePublicKey(r.pubkey), addedAt: r.addedAt, revokedAt: r.revokedAt !== null && r.revokedAt <= height ? r.revokedAt : null })
    }
    return new KeyState(m)
  }

  get (keyId: string): Signer | undefined {
    return this.map.get(keyId)
  }

  isActive (keyId: string): boolean {
    const s = this.map.get(keyId)
    return s !== undefined && s.revokedAt === null
  }

  get activeCount (): number {
    let n = 0
    for (const s of this.map.values()) if (s.revokedAt === null) n++
    return n
  }

  all (): Signer[] {
    return [...this.map.values()].sort((a, b) => a.addedAt - b.addedAt || (a.keyId < b.keyId ? -1 : 1))
  }

  active (): Signer[] {
    return this.all().filter(s => s.revokedAt === null)
  }

  /** The state after a block at `height` applies `ops` (already validated). */
  apply (ops: readonly KeyOpRecord[], height: number): KeyState {
    if (ops.length === 0) return this
    const m = new Map(this.map)
    for (const op of ops) {
      if (op.op === 'A') m.set(op.keyId, { keyId: op.keyId, publicKey: parsePublicKey(op.pubkey), addedAt: height, revokedAt: null })
      else {
        const s = m.get(op.keyId)
        if (s !== undefined) m.set(op.keyId, { ...s, revokedAt: height })
      }
    }
    return new KeyState(m)
  }

  /** Same signers with the same heights (used by verify to check the index against a replay). */
  equals (other: KeyState): boolean {
    if (this.map.size !== other.map.size) return false
    for (const [id, s] of this.map) {
      const o = other.map.get(id)
      if (o === undefined || o.addedAt !== s.addedAt || o.revokedAt !== s.revokedAt) return false
    }
    return true
  }
}
