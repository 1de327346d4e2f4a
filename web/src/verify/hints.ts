// What to do about a rejection, in this page's terms (its boxes and options, where `petal
// verify-proof`'s hints name --trust, --min-signatures and --require-final). The page showed the
// code and message alone, so a reader stopped at SIGNATURE_UNTRUSTED did not learn what to trust (user50).
const TRUST = '"Trusted keys or checkpoint"'

const HINTS: Record<string, string> = {
  NO_TRUST_ANCHOR: `put the chain signatories' public keys, or a checkpoint you trusted before, in ${TRUST}`,
  SIGNATURE_UNTRUSTED: `put the chain signatories' public keys in ${TRUST} (a signatory exports its key with \`petal keys export\`), or clear "signatures needed" to rely on a trusted checkpoint alone`,
  TOO_FEW_SIGNATURES: `trust more of the chain's signatory keys in ${TRUST}, or lower "signatures needed"`,
  NOT_FINAL: 'ask for a proof against an older checkpoint, at least max_reorg_depth blocks below the tip, or untick "demand finality"',
  BEYOND_TRUSTED_CHECKPOINT: `trust the signatories' public keys too, or a newer checkpoint, in ${TRUST}`,
  CONSISTENCY_MISSING: `the proof is against a checkpoint of another size than the one trusted (later or earlier), with no consistency proof between them: trust the signatories' public keys instead, in ${TRUST}`
}

/** The hint for a rejection code, when the page can say what to change. */
export function rejectionHint (code: string): string | undefined {
  return HINTS[code]
}
