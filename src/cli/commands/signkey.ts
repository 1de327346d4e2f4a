import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { createEndorsement, type Chain } from '../../chain/index.js'
import { isKeyId, parsePublicKey, type PublicKey } from '../../crypto/index.js'
import type { CliContext } from '../context.js'
import { short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { readInputFile } from '../input.js'
import { openChain } from '../hashing.js'

/** Resolve the key to endorse: a PEM file, hex SPKI, or a key id known to this node or chain. */
async function targetKey (ctx: CliContext, chain: Chain, ref: string): Promise<PublicKey> {
  if (existsSync(ref)) return parsePublicKey((await readInputFile(ref, 'public key file', ctx.signal)).toString('utf8').trim())
  if (/^[0-9a-f]{100,}$/.test(ref)) return parsePublicKey(ref)
  const id = ref.startsWith('1:') ? ref : `1:${ref}`
  // A full id, or a unique prefix (as --key takes), among the chain's signatories and this keystore.
  const known = new Map<string, PublicKey>()
  for (const s of chain.keysAt(chain.tip()).all()) known.set(s.keyId, s.publicKey)
  for (const k of ctx.keystore().list()) known.set(k.id, k.publicKey)
  const exact = known.get(id)
  if (exact !== undefined) return exact
  const matches = [...known.keys()].filter(k => id.length >= 8 && k.startsWith(id)) // "1:" and at least 6 hex digits, as documented
  const only = matches.length === 1 ? known.get(matches[0] ?? '') : undefined
  if (only !== undefined) return only
  if (matches.length > 1) throw new UsageError(`${ref} matches ${matches.length} keys`, 'give more digits of the key id')
  throw new UsageError(`the key ${ref} is not known here`, isKeyId(id)
    ? 'a key id is not enough to add a key: give its full public key (hex, as `petal mykeys` on their node prints it) or a PEM file (`petal keys export` there)'
    : 'give the full public key (hex SPKI), a PEM file, or a key id')
}

export function register (program: Command, action: Action): void {
  program.command('signkey <key>').description('endorse adding or revoking a key (KEYID, hex PUBKEY or PEM file); writes an endorsement file for `signimportblock --keyops`')
    .requiredOption('--op <op>', 'add or revoke')
    .option('-o, --out <file>', 'write the endorsement here (default: stdout)')
    .option('--meta <key=value>', 'metadata to attach, a string pair (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .action(action(async (ctx, ref: string, o: { op: string, out?: string, meta: string[] }) => {
      if (o.op !== 'add' && o.op !== 'revoke') throw new UsageError(`--op must be add or revoke, not ${JSON.stringify(o.op)}`, 'e.g. petal signkey KEY --op add')
      const chain = openChain(ctx, { forReading: true })
      const signer = ctx.loadKey()
      const target = await targetKey(ctx, chain, ref)
      let metadata: Record<string, string> | null = null
      for (const kv of o.meta) {
        const i = kv.indexOf('=')
        if (i <= 0) throw new UsageError(`--meta takes key=value, not ${JSON.stringify(kv)}`, 'e.g. --meta name=alice (repeat --meta for more)')
        metadata ??= {}
        metadata[kv.slice(0, i)] = kv.slice(i + 1)
      }
      const e = createEndorsement(signer, chain.chainId, o.op === 'add' ? 'A' : 'R', target, metadata)
      const text = JSON.stringify(e, null, 2) + '\n'
      const out = o.out
      if (out !== undefined) {
        // As prove's -o: atomically, a descriptor only if given, never into the data directory.
        await ctx.writeOutputFile(out, text, 'choose a path in a directory you can write, or leave -o out to print the endorsement')
        ctx.out.result({ file: out, endorsement: e }, () => `wrote endorsement: ${short(signer.id)} ${o.op}s ${target.id} → ${out}`)
      } else {
        ctx.out.stdout(ctx.out.json ? JSON.stringify(e) + '\n' : text)
      }
      if (!chain.keysAt(chain.tip()).isActive(signer.id)) ctx.out.note(`note: ${short(signer.id)} is not an active signatory; this endorsement will not count`)
    }))
}
