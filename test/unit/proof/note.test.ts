import { describe, expect, it } from 'vitest'
import { publicKeyToPem, signV2 } from '../../../src/crypto/index.js'
import { addCosignature, checkpointText, signatoryNoteKeyId, signatoryVkey, signCheckpoint, witnessVkey } from '../../../src/proof/index.js'
import {
  derToP1363, formatNote, fromBase64, keyIdHex, parseCheckpointText, parseNote, parsePetalCheckpoint, parseTrustFile, parseVkey,
  parseWitnessKey, signatoryKey, toBase64, verifyNoteSignature, verifyP256
} from '../../../src/proof/verifier/index.js'
import { fixtureKey } from '../../helpers/chain.js'

// The example of c2sp.org/signed-note (an Ed25519 note, type 0x01) and its verifier key.
const C2SP_EXAMPLE = 'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n'
const C2SP_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'

// Interop vectors for the ECDSA note type 0x02: checkpoints of Sigstore's public Rekor log as
// published, and its verifier key (the example in transparency-dev/witness internal/note, whose
// key ID is the first four bytes of SHA-256 of the SPKI DER). One signature has a high S value.
const REKOR_VKEY = 'rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc='
const REKOR_CHECKPOINTS = [
  'rekor.sigstore.dev - 2605736670972794746\n75408393\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n— rekor.sigstore.dev wNI9ajBFAiBTyiBM9WtyOTgohje6QZ5rFGJUdMq7Wk3A6oThE98SUgIhAMvxDwa7FyqRqg+YV3rdPPrfS23w19iK+piMSGVOmP5w\n',
  'rekor.sigstore.dev - 2605736670972794746\n21428036\nrxnoKyFZlJ7/R6bMh/d3lcqwKqAy5CL1LcNBJP17kgQ=\nTimestamp: 1688058656037355364\n\n— rekor.sigstore.dev wNI9ajBFAiEAuDk7uu5Ae8Own/MjhSZNuVzbLuYH2jBMxbSA0WaNDNACIDV4reKpYiOpkwtvazCClnpUuduF2o/th2xR3gRZAUU4\n',
  'rekor.sigstore.dev - 2605736670972794746\n86482791\nFehZ1/6CqPAFDaEM1N4xOsFZO1rD6v8nmu8yMjUqzAg=\n\n— rekor.sigstore.dev wNI9ajBEAiBTwFlsQciw2QNcGmPqCfPnArWAV9kgEygav9EeVsa+RgIgC0Q4vazfZksnzDkqpv687OTF99KnwtI8fb9a9pUHoOU=\n'
]

function note (s: string): { text: string, signatures: Array<{ name: string, keyId: number, signature: Uint8Array }> } {
  const n = parseNote(s)
  if ('error' in n) throw new Error(n.error)
  return n.note
}

describe('C2SP signed notes', () => {
  it('parses the spec\'s example and formats it back byte for byte', () => {
    const n = note(C2SP_EXAMPLE)
    expect(n.text).toBe('This is an example message.\n')
    expect(n.signatures).toHaveLength(1)
    expect(n.signatures[0]?.name).toBe('example.com/foo')
    expect(keyIdHex(n.signatures[0]?.keyId ?? 0)).toBe('530d903a')
    expect(formatNote(n)).toBe(C2SP_EXAMPLE)
  })

  it('refuses an Ed25519 verifier key (Petal verifies P-256 only) with a clear reason', async () => {
    expect(await parseVkey(C2SP_VKEY)).toMatch(/unsupported verifier key type 0x01/)
  })

  it('verifies published Rekor checkpoints: Petal\'s ECDSA note type is the standard one, high S included', async () => {
    const key = await parseVkey(REKOR_VKEY)
    if (typeof key === 'string') throw new Error(key)
    expect(key.kind).toBe('signatory')
    for (const c of REKOR_CHECKPOINTS) {
      const n = note(c)
      const sig = n.signatures[0] as { name: string, keyId: number, signature: Uint8Array }
      expect(sig.keyId).toBe(key.keyId)
      expect((await verifyNoteSignature(key, n.text, sig)).ok).toBe(true)
      expect((await verifyNoteSignature(key, n.text.replace('\n', ' \n'), sig)).ok).toBe(false)
      expect(parseCheckpointText(n.text)).toMatchObject({ origin: 'rekor.sigstore.dev - 2605736670972794746' })
    }
  })

  it('is strict: line endings, control characters, the blank line, key names, base64, sizes', () => {
    const good = C2SP_EXAMPLE
    const bad: Array<[string, string, RegExp]> = [
      ['CRLF', good.replaceAll('\n', '\r\n'), /control character/],
      ['tab', good.replace('example message', 'example\tmessage'), /control character/],
      ['no final newline', good.slice(0, -1), /newline/],
      ['no blank line', good.replace('\n\n', '\n'), /no signatures/],
      ['no signatures', 'text\n\n', /no signatures/],
      ['name with +', good.replace('example.com/foo', 'example.com/f+o'), /invalid key name/],
      ['name with no-break space', good.replace('example.com/foo', 'example.com/\u00a0foo'), /invalid key name/],
      ['non-canonical base64', good.replace('QM=', 'QN='), /not canonical base64/],
      ['unpadded base64', good.replace('QM=', 'QM'), /not canonical base64/],
      ['short signature', 'text\n\n— a AAAA\n', /too short/],
      ['not a signature line', 'text\n\n- a AAAAAAA=\n', /does not start/],
      ['lone surrogate', 'te\ud800xt\n\n— a AAAAAAA=\n', /UTF-8/],
      ['too many signatures', 'text\n\n' + '— a AAAAAAA=\n'.repeat(101), /more than 100/]
    ]
    for (const [name, input, why] of bad) {
      const r = parseNote(input)
      expect('error' in r ? r.error : 'accepted', name).toMatch(why)
    }
    // The text may contain blank lines: the last blank line separates the signatures.
    expect(note('a\n\nb\n\n— k AAAAAAA=\n').text).toBe('a\n\nb\n')
  })
})

describe('strict base64 and DER', () => {
  it('accepts only the canonical encoding', () => {
    expect(toBase64(Uint8Array.of())).toBe('')
    for (const n of [1, 2, 3, 4, 31, 32, 33]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255)
      const s = toBase64(b)
      expect(s).toBe(Buffer.from(b).toString('base64'))
      expect(fromBase64(s)).toEqual(b)
    }
    for (const s of ['A', 'AA=', 'AB==', 'AAB=', 'A===', '====', 'AA==AA==', 'AA AA', 'AA-_', 'AAA\n']) expect(fromBase64(s), s).toBeUndefined()
  })

  it('converts strict DER to P1363 and refuses every looser form', () => {
    const key = fixtureKey('alice')
    const der = signV2(key, 'x')
    const p = derToP1363(der, { lowS: true })
    expect(p).toHaveLength(64)
    const tampered: Uint8Array[] = [
      Uint8Array.of(...der, 0), // trailing byte
      Uint8Array.of(0x30, der.length - 1, ...der.subarray(2)), // wrong length
      Uint8Array.of(0x31, ...der.subarray(1)) // not a SEQUENCE
    ]
    for (const t of tampered) expect(derToP1363(t, { lowS: true })).toBeUndefined()
    // A high-S twin of the same signature: refused in Petal's own formats, accepted in type 0x02 notes.
    const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
    const r = BigInt('0x' + Buffer.from(p?.subarray(0, 32) ?? []).toString('hex'))
    const s = BigInt('0x' + Buffer.from(p?.subarray(32) ?? []).toString('hex'))
    const int = (v: bigint): number[] => { let h = v.toString(16); if (h.length % 2 === 1) h = '0' + h; const b = [...Buffer.from(h, 'hex')]; if ((b[0] as number) & 0x80) b.unshift(0); return [0x02, b.length, ...b] }
    const body = [...int(r), ...int(N - s)]
    const high = Uint8Array.of(0x30, body.length, ...body)
    expect(derToP1363(high, { lowS: true })).toBeUndefined()
    expect(derToP1363(high, { lowS: false })).toHaveLength(64)
  })

  it('verifies with WebCrypto exactly what node:crypto signed', async () => {
    const key = fixtureKey('alice')
    const msg = new TextEncoder().encode('petal')
    const der = signV2(key, msg)
    expect(await verifyP256(key.publicKey.spki, msg, der, { lowS: true })).toBe(true)
    expect(await verifyP256(key.publicKey.spki, new TextEncoder().encode('petaL'), der, { lowS: true })).toBe(false)
    expect(await verifyP256(fixtureKey('bob').publicKey.spki, msg, der, { lowS: true })).toBe(false)
  })
})

describe('Petal checkpoints', () => {
  const chainId = '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b78d89ba5ba1d'
  const root = new Uint8Array(32).fill(7)

  it('have the tlog-checkpoint body with one tip line, and say whether they are final', () => {
    const text = checkpointText({ chainId, size: 10, root, tip: 12, maxReorgDepth: 3 })
    expect(text).toBe(`petal/${chainId}\n10\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\ntip 12 max-reorg-depth 3\n`)
    // Heights 0…9, tip 12: final when no reorg of max_reorg_depth blocks below the tip can reach height 9.
    expect(parsePetalCheckpoint(text)).toMatchObject({ size: 10, tip: 12, maxReorgDepth: 3, final: true, finalHeight: 9 })
    expect(parsePetalCheckpoint(checkpointText({ chainId, size: 10, root, tip: 12, maxReorgDepth: 4 }))).toMatchObject({ final: false, finalHeight: 8 })
    expect(parsePetalCheckpoint(checkpointText({ chainId, size: 1, root, tip: 0, maxReorgDepth: 4 }))).toMatchObject({ final: false, finalHeight: -1 })
    for (const [name, t] of [
      ['leading zero', text.replace('\n10\n', '\n010\n')],
      ['no tip line', text.replace('tip 12 max-reorg-depth 3\n', '')],
      ['two extension lines', text + 'more\n'],
      ['tip below size', text.replace('tip 12', 'tip 8')],
      ['other origin', text.replace('petal/', 'petals/')],
      ['short root', text.replace('Bwc=', '')],
      ['empty tree', text.replace('\n10\n', '\n0\n')]
    ] as const) expect(typeof parsePetalCheckpoint(t), name).toBe('string')
  })

  it('are signed by signatories as ECDSA notes (type 0x02) and cosigned by witnesses (0xff petal/v2/cosignature)', async () => {
    const alice = fixtureKey('alice')
    const carol = fixtureKey('carol')
    const text = checkpointText({ chainId, size: 10, root, tip: 12, maxReorgDepth: 2 })
    const signed = addCosignature(signCheckpoint(text, [alice]), { name: 'witness.example/w1', key: carol }, 1700000000)
    const n = note(signed)
    expect(n.signatures.map(s => s.name)).toEqual([`petal/${chainId}`, 'witness.example/w1'])
    expect(n.signatures[0]?.keyId).toBe(signatoryNoteKeyId(alice))
    const vkey = await signatoryVkey(chainId, alice)
    expect(vkey).toMatch(new RegExp(`^petal/${chainId}\\+${keyIdHex(signatoryNoteKeyId(alice))}\\+Aj`))
    const sk = await parseVkey(vkey)
    if (typeof sk === 'string') throw new Error(sk)
    expect((await verifyNoteSignature(sk, n.text, n.signatures[0] as never)).ok).toBe(true)
    const wk = await parseWitnessKey(await witnessVkey('witness.example/w1', carol))
    if (typeof wk === 'string') throw new Error(wk)
    expect(await verifyNoteSignature(wk, n.text, n.signatures[1] as never)).toEqual({ ok: true, time: 1700000000n })
    // A witness key is not a signatory key, and vice versa.
    expect(await parseWitnessKey(vkey)).toMatch(/signatory key/)
    expect(await parseTrustFile(await witnessVkey('w', carol))).toMatch(/--witness/)
    // The key ID must match the key.
    expect(await parseVkey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toMatch(/does not match/)
    expect((await signatoryKey(`petal/${chainId}`, alice.publicKey.spki)).keyId).toBe(sk.keyId)
  })

  it('trust files: PEM, hex SPKI and verifier keys, or a checkpoint', async () => {
    const alice = fixtureKey('alice')
    const bob = fixtureKey('bob')
    const pem = await parseTrustFile(publicKeyToPem(alice.publicKey) + publicKeyToPem(bob.publicKey))
    expect(typeof pem === 'string' ? pem : pem.keys.length).toBe(2)
    const lines = await parseTrustFile(`# signatories\n${alice.publicKey.hex}\r\n${await signatoryVkey(chainId, bob)}\n`)
    expect(typeof lines === 'string' ? lines : lines.keys.map(k => k.name)).toEqual([undefined, `petal/${chainId}`])
    const cp = await parseTrustFile(signCheckpoint(checkpointText({ chainId, size: 1, root, tip: 0, maxReorgDepth: 0 }), [alice]))
    expect(typeof cp === 'string' ? cp : cp.checkpoints.length).toBe(1)
    expect(await parseTrustFile('hello')).toMatch(/line 1/)
    expect(await parseTrustFile('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toMatch(/no PUBLIC KEY/)
    expect(await parseTrustFile(new Uint8Array([0xff, 0xfe]))).toMatch(/UTF-8/)
  })
})
