import { cellAad, encodeCellValue, sealCell } from '../../src/block/index.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { importPrivateKey, sha256, wrapDataKey } from '../../src/crypto/index.js'
import { toHex } from '../../src/util/index.js'

/** The documented inputs of docs/confidential.md's test vectors, and what the code makes of them. */
export function confidentialVectors (): Record<string, unknown> {
  const chainId = '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b78d89ba5ba1d'
  const dataKey = Uint8Array.from({ length: 32 }, (_, i) => i)
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i)
  const ephemeral = sha256(new TextEncoder().encode('petal confidential test vector ephemeral key'))
  const bob = importPrivateKey(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', 'bob.pem'), 'utf8'))
  const cells = [
    { table: 'patients', column: 'diagnosis', row: 2, value: 'flu' },
    { table: 'patients', column: 'age', row: 0, value: 31n },
    { table: 'patients', column: 'note', row: 1, value: null }
  ]
  return {
    chain_id: chainId,
    data_key: toHex(dataKey),
    cells: cells.map(c => ({
      table: c.table,
      column: c.column,
      row: c.row,
      value: typeof c.value === 'bigint' ? Number(c.value) : c.value,
      nonce: toHex(nonce),
      plaintext: toHex(encodeCellValue(c.value)),
      aad: toHex(cellAad(chainId, c.table, c.column, c.row)),
      sealed: toHex(sealCell(dataKey, chainId, c.table, c.column, c.row, c.value, nonce))
    })),
    wrap: {
      recipient_key_id: bob.id,
      recipient_public_key: bob.publicKey.hex,
      recipient_private_key: 'test/fixtures/keys/bob.pem',
      ephemeral_scalar: toHex(ephemeral),
      wrapped: toHex(wrapDataKey(dataKey, bob.publicKey, chainId, ephemeral))
    }
  }
}
