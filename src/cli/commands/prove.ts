import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { Ingest } from '../../ingest/index.js'
import type { BundleDocument, ConsistencyDocument } from '../../proof/index.js'
import { errorMessage, pausepoint, shellWord } from '../../util/index.js'
import { heightOption, intOption } from '../args.js'
import type { CliContext } from '../context.js'
import type { Chain } from '../../chain/index.js'
import { formatBytes, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { openChain } from '../hashing.js'
import { checkpointAudience } from '../checkpoint-audience.js'

// `petal prove`: a self-contained proof that rows are in the chain (docs/proofs.md), made from this
// data directory's block files, chain tree and stored signed checkpoints. Only reads.

interface Options {
  height?: number
  table?: string
  rowid: string[]
  index: number[]
  receipt?: string
  consistency?: string[]
  final?: boolean
  out?: string
}

const collect = <T>(parse: (v: string) => T) => (v: string, prev: T[]): T[] => [...prev, parse(v)]

function rowidOf (v: string): string {
  if (!/^-?\d{1,19}$/.test(v) || BigInt(v) > 9223372036854775807n || BigInt(v) < -9223372036854775808n) {
    throw new UsageError(`--rowid ${v} is not a 64-bit integer`, 'give the row\'s rowid in decimal, e.g. --rowid 3')
  }
  return v
}

/** A consistency end: a tree size, or a file holding a signed checkpoint note. */
function checkpointArg (v: string): number | string {
  if (/^\d+$/.test(v)) return Number(v)
  try {
    return readFileSync(v, 'utf8')
  } catch (err) {
    throw new UsageError(`--consistency ${v}: not a tree size, and not a readable file (${errorMessage(err)})`, 'give tree sizes (`petal checkpoint --list` shows them) or checkpoint files (`petal checkpoint -o FILE` writes one)')
  }
}

/**
 * Where SIGNATORY.pem comes from (user52): a reader's node (a follower, a mirror) holds no
 * signatory's key, and `petal keys export`, which verify-proof's hint named, exports only the
 * keystore's: it failed there with NO_KEYS. The key is the signatory's, from its operator; this
 * node's own when it is one.
 */
function trustSource (ctx: CliContext, chain: Chain): string {
  const active = chain.keysAt(chain.tip()).active()
  let mine: string[] = []
  try { mine = ctx.keystore().list().map(k => k.id) } catch {}
  const own = active.find(k => mine.includes(k.keyId))
  if (own !== undefined) return `SIGNATORY.pem: this node's key is a signatory's; \`petal${ctx.opts.dir === undefined ? '' : ` --dir ${shellWord(ctx.opts.dir)}`} keys export ${own.keyId.slice(2, 14)} -o SIGNATORY.pem\` writes it`
  const one = active.length === 1 ? active[0]?.keyId.slice(2, 14) : undefined
  return one !== undefined
    ? `SIGNATORY.pem: the signatory's public key (1:${one}…), as its operator writes it with \`petal keys export ${one} -o SIGNATORY.pem\` on their node`
    : `SIGNATORY.pem: the signatories' public keys (\`petal signers\` lists ${active.length}), as their operators write them with \`petal keys export KEY_ID -o SIGNATORY.pem\` on their nodes (--trust once for each)`
}

function summary (doc: BundleDocument | ConsistencyDocument): string {
  if (doc.type === 'consistency') return 'a consistency proof'
  const rows = doc.blocks.flatMap(b => b.tables.flatMap(t => t.rows.map(() => `height ${b.height}, table ${t.name}`)))
  return `a proof of ${rows.length} row(s) (${[...new Set(rows)].join('; ')})`
}

export function register (program: Command, action: Action): void {
  program.command('prove')
    .description('write a proof that rows are in the chain (or, with --consistency, that it only grew), checkable offline by `petal verify-proof`')
    .option('--height <h>', 'height of the block holding the rows', heightOption('--height'))
    .option('--table <name>', 'the rows\' table')
    .option('--rowid <r>', 'a row by rowid (repeatable)', collect(rowidOf), [])
    .option('--index <n>', 'a row by position in the table\'s canonical order, for WITHOUT ROWID tables (repeatable)', collect(intOption('--index')), [])
    .option('--receipt <id>', 'the row a receipt of `petal append` or the HTTP API names, once sealed')
    .option('--consistency <checkpoints...>', 'FROM TO: prove that the chain of checkpoint TO extends that of FROM (tree sizes, or checkpoint files)')
    .option('--final', 'prove against a final checkpoint (its blocks at least max_reorg_depth below the signer\'s tip)')
    .option('-o, --out <file>', 'write the proof to this file instead of stdout')
    .addHelpText('after', '\nA proof shows that rows are in the chain, signed; never that no other row exists. See docs/proofs.md.')
    .action(action(async (ctx: CliContext, o: Options) => {
      const chain = openChain(ctx, { forReading: true })
      const p = await import('../../proof/index.js')
      let doc: BundleDocument | ConsistencyDocument
      if (o.consistency !== undefined) {
        if (o.consistency.length !== 2) throw new UsageError('--consistency takes two checkpoints: FROM TO', 'petal prove --consistency 10 25 (tree sizes) or --consistency old.note new.note')
        if (o.height !== undefined || o.receipt !== undefined) throw new UsageError('--consistency cannot be combined with rows to prove', 'make two proofs')
        const [from, to] = o.consistency.map(checkpointArg) as [number | string, number | string]
        doc = p.proveConsistency(chain, from, to, { missingHint: size => p.missingSizeHint(checkpointAudience(ctx, chain), size) })
      } else {
        let height = o.height
        let table = o.table
        const rows: Array<{ rowid: bigint } | { index: number }> = [...o.rowid.map(r => ({ rowid: BigInt(r) })), ...o.index.map(index => ({ index }))]
        let ownBlock: { hash: string, pending: () => Error } | undefined
        if (o.receipt !== undefined) {
          if (o.height !== undefined || rows.length > 0) throw new UsageError('--receipt names the row itself: leave out --height, --table, --rowid and --index', `\`petal prove --receipt ${shellWord(o.receipt)}\``)
          const ingest = Ingest.open({ chain, readonly: true, logger: ctx.logger })
          ctx.onClose(async () => { await ingest.close() })
          const r = ingest.receipt(o.receipt)
          if (r === undefined) throw new UsageError(`no receipt ${JSON.stringify(o.receipt)} in ${ctx.dir}`, 'a receipt is answered by the data directory that issued it (give it with --dir); ids look like abcdefgh-42')
          const pending = (): Error => new p.ProofError('PROOF_ROW_PENDING', `receipt ${o.receipt ?? ''}: its row is not sealed into a canonical block now`, { hint: `wait for the next seal (\`petal receipt ${shellWord(o.receipt ?? '')}\` tells when), then ask again`, details: { receipt: o.receipt ?? '' } })
          if (r.sealed === undefined) throw pending()
          height = r.sealed.height
          table = r.sealed.table
          rows.push({ rowid: BigInt(r.sealed.rowid) })
          ownBlock = { hash: r.sealed.blockHash, pending }
          await pausepoint('prove:receipt-read', ctx.signal)
        }
        if (height === undefined || table === undefined || rows.length === 0) {
          throw new UsageError('name the rows to prove: --height H --table T --rowid R, or --receipt ID', 'petal prove --height 2 --table people --rowid 3 -o proof.json')
        }
        // Large tables' chunk roots are hashed in a thread of the command's, so Ctrl-C still stops it.
        const chunkPool = new p.ChunkPool()
        ctx.onClose(async () => { await chunkPool.close() })
        // The receipt's own block, not whatever is at its height: a node's reorg since the receipt
        // was read (a node writes while this command reads) may have put another block there, with a
        // row of that table and rowid whose proof this would be (as GET /receipts/{id}/proof). Its
        // block off the chain, the proof's own refusal (that block lacks the table, no checkpoint
        // covers the new branch yet) is not the answer either: the row is pending (review47).
        const moved = (): boolean => ownBlock !== undefined && chain.index.byHash(ownBlock.hash)?.canonical !== true
        if (moved()) throw ownBlock?.pending()
        try {
          doc = await p.proveRows(chain, { height, table, rows, final: o.final === true, signal: ctx.signal, chunkPool, noCheckpointHint: asked => p.noCheckpointHint(checkpointAudience(ctx, chain), asked) })
        } catch (err) {
          throw moved() ? ownBlock?.pending() : err
        }
        if (ownBlock !== undefined && doc.blocks[0]?.hash !== ownBlock.hash) throw ownBlock.pending()
      }
      const text = JSON.stringify(doc, null, 2) + '\n'
      if (o.out === undefined) {
        ctx.out.stdout(ctx.out.json ? JSON.stringify(doc) + '\n' : text)
        return
      }
      await ctx.writeOutputFile(o.out, text, 'choose a path in a directory you can write, or leave -o out to print the proof')
      const c = p.readCheckpointNote(doc.type === 'consistency' ? doc.to : doc.checkpoint).checkpoint
      ctx.out.result({ file: o.out, bytes: Buffer.byteLength(text), type: doc.type, checkpoint: { size: c.size, tip: c.tip, final: c.final } }, () =>
        `wrote ${summary(doc)} against the checkpoint of size ${c.size}${c.final ? ' (final)' : ' (not final)'} to ${o.out ?? ''} (${formatBytes(Buffer.byteLength(text))})\n` +
        `check it anywhere with: petal verify-proof ${shellWord(o.out ?? '')} --trust SIGNATORY.pem\n` +
        trustSource(ctx, chain))
    }))
}
