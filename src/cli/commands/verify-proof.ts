import { existsSync, readFileSync } from 'node:fs'
import type { Command } from 'commander'
import type { ProofValue, RejectionCode, TrustAnchors, VerifyReport } from '../../proof/index.js'
import type { CliContext } from '../context.js'
import { intOption } from '../args.js'
import { UsageError } from '../output.js'
import type { Action } from '../program.js'
import { errorMessage } from '../../util/index.js'

// Checks a proof offline: no data directory, no network. Everything it needs is in the proof file
// and the files named by --trust. The proof module is loaded when the command runs, so that other
// commands do not pay for it at start-up.

type ProofModule = typeof import('../../proof/index.js')

interface Options {
  trust: string[]
  witness: string[]
  minSignatures?: number
  requireFinal?: boolean
  chain?: string
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]


function readInput (file: string, what: string): Uint8Array {
  try {
    return file === '-' ? readFileSync(0) : readFileSync(file)
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${errorMessage(err)}`, what === 'proof' ? 'check the file name (`-` reads the proof from standard input)' : 'check the file name')
  }
}

async function loadTrust (p: ProofModule, o: Options): Promise<TrustAnchors> {
  const { mergeTrust, parseTrustFile, parseWitnessKey, ProofError } = p
  const parts: TrustAnchors[] = []
  for (const file of o.trust) {
    const t = await parseTrustFile(readInput(file, 'trust file'))
    if (typeof t === 'string') {
      throw new ProofError('PROOF_FILE_INVALID', `--trust ${file}: ${t}`, { hint: 'give the signatories\' public keys as `petal keys export` writes them, or a checkpoint file you trusted before' })
    }
    parts.push(t)
  }
  for (const w of o.witness) {
    const text = existsSync(w) ? Buffer.from(readInput(w, 'witness key')).toString('utf8') : w
    const key = await parseWitnessKey(text)
    if (typeof key === 'string') throw new ProofError('PROOF_FILE_INVALID', `--witness ${w}: ${key}`, { hint: 'give the witness\'s verifier key (name+keyid+key), or a file holding it' })
    parts.push({ keys: [], witnesses: [key], checkpoints: [] })
  }
  return mergeTrust(...parts)
}

const HINTS: Partial<Record<RejectionCode, string>> = {
  SIGNATURE_UNTRUSTED: 'pass the chain signatories\' public keys with --trust (a signatory exports its key with `petal keys export`)',
  TOO_FEW_SIGNATURES: 'trust more of the chain\'s signatory keys with --trust, or lower --min-signatures',
  // A node keeps only the cosignatures of the witnesses its operator lists (docs/proofs.md, "Which
  // cosignatures a node keeps"): one that does not list it never has that witness's line.
  WITNESS_MISSING: 'ask for a proof against a checkpoint that witness cosigned, from its own node or a node that lists it: a node keeps a witness\'s cosignatures once its operator lists it (`petal witnesses add VKEY` on their node), from the next checkpoint the witness cosigns',
  NOT_FINAL: 'ask for a proof against an older checkpoint, at least max_reorg_depth blocks below the tip, or leave out --require-final',
  BEYOND_TRUSTED_CHECKPOINT: 'trust the signatories\' keys too (--trust KEY.pem), or a newer checkpoint',
  NO_TRUST_ANCHOR: 'pass --trust with the signatories\' public keys or a checkpoint file',
  // Not a forgery: the proof was made against a later checkpoint, or an earlier one (a proof kept
  // while the trusted checkpoint is newer: the hint said "later", user50), without a path between them.
  CONSISTENCY_MISSING: 'the proof is against a checkpoint of another size than the one trusted (later or earlier), with no consistency proof between them: trust the signatories\' public keys instead (--trust KEY.pem; a signatory writes it with `petal keys export`)',
  UNEXPECTED_CHAIN: 'check --chain: the proof is for another chain'
}

function showValue (v: ProofValue): string {
  if (v === null) return 'NULL'
  if ('integer' in v) return v.integer
  if ('real' in v) return v.real
  if ('text' in v) return JSON.stringify(v.text)
  const hex = Buffer.from(v.blob, 'base64').toString('hex')
  return `x'${hex.length > 64 ? hex.slice(0, 64) + '…' : hex}'`
}

export function formatReport (r: VerifyReport): string {
  const lines: string[] = []
  lines.push(`proof: ${r.type ?? 'unreadable'}${r.chain_id === undefined ? '' : `, chain ${r.chain_id}`}`)
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.step.padEnd(18)} ${c.message}${c.code === undefined ? '' : ` [${c.code}]`}`)
  if (r.signatures.length > 0) {
    lines.push('signatures on the checkpoint:')
    for (const s of r.signatures) lines.push(`  ${s.status.padEnd(8)} ${s.kind.padEnd(9)} ${s.name} ${s.key_id}${s.key === undefined ? '' : ` (${s.key})`}${s.time === undefined ? '' : ` at ${new Date(Number(s.time) * 1000).toISOString()}`}`)
  }
  if (r.rows.length > 0) {
    lines.push(`rows proven (${r.rows.length}):`)
    for (const row of r.rows.slice(0, 20)) {
      lines.push(`  height ${row.height}, table ${row.table}, row ${row.index}${row.rowid === null ? '' : ` (rowid ${row.rowid})`}${row.final ? '' : ', NOT FINAL'}: ` +
        row.values.map((v, i) => `${row.columns[i] ?? '?'}=${showValue(v)}`).join(', '))
    }
    if (r.rows.length > 20) lines.push(`  … and ${r.rows.length - 20} more (--json lists them all)`)
  }
  lines.push(r.verdict)
  if (r.ok) {
    lines.push('proven:', ...r.proven.map(p => `  - ${p}`))
    lines.push('not proven:', ...r.not_proven.map(p => `  - ${p}`))
  }
  return lines.join('\n')
}

export function register (program: Command, action: Action): void {
  program.command('verify-proof <file>').description('check a row, bundle or consistency proof offline against trusted keys or checkpoints (no data directory, no network); exits 0 only when it holds')
    .option('--trust <file>', 'signatory public keys (PEM from `petal keys export`, hex, or verifier keys), or a checkpoint trusted earlier (repeatable)', collect, [])
    .option('--witness <key>', 'demand a cosignature by this witness: its verifier key, or a file holding it (repeatable)', collect, [])
    .option('--min-signatures <n>', 'trusted signatories that must have signed the checkpoint (default 1 when keys are trusted)', intOption('--min-signatures', { max: 100 }))
    .option('--require-final', 'demand a final checkpoint: every block in it at least max_reorg_depth below the signer\'s tip')
    .option('--chain <id>', 'demand this chain id')
    .addHelpText('after', '\nA proof shows that rows are in the chain, signed; never that no other row exists. See docs/proofs.md.')
    .action(action(async (ctx: CliContext, file: string, o: Options) => {
      if (o.trust.length === 0) throw new UsageError('nothing to trust: give --trust FILE', 'pass a signatory\'s public key, as its operator writes it with `petal keys export KEY_ID -o signatory.pem` on their node (or a file holding its hex `public_key`, as `petal signers --json` gives it on a node of the chain you trust), or a checkpoint you trusted before')
      const p = await import('../../proof/index.js')
      const trust = await loadTrust(p, o)
      const verified = await p.verifyProof(Buffer.from(readInput(file, 'proof')).toString('utf8'), trust, { minSignatures: o.minSignatures, requireFinal: o.requireFinal === true, chainId: o.chain })
      // Where a terminal user checks revocations (the explorer's /verify offers the node's list).
      const report = { ...verified, not_proven: verified.not_proven.map(n => n === p.NOT_PROVEN_KEYS ? `${n}: \`petal signers\` on a data directory of the chain lists each key with the heights it was added and revoked at` : n) }
      ctx.out.result(report, () => formatReport(report))
      if (!report.ok) {
        const code = report.failure?.code
        throw new p.ProofError('PROOF_REJECTED', `the proof does not hold: ${report.failure?.message ?? ''}`, {
          hint: (code === undefined ? undefined : HINTS[code]) ?? 'do not rely on this proof: it or its checkpoint was altered, or it belongs to another chain',
          details: { reason: code }
        })
      }
    }))
}
