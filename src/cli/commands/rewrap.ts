import type { Command } from 'commander'
import type { EncryptedColumn, RewrapSpec } from '../../block/index.js'
import { signImport } from '../../chain/index.js'
import { unwrapDataKey, type PublicKey } from '../../crypto/index.js'
import { syncQueryMirror } from '../../query/index.js'
import { openSqliteReadonly } from '../../storage/index.js'
import { parseJson } from '../../util/index.js'
import { checkHeightRange, heightOption } from '../args.js'
import { resolveRecipient } from '../confidential.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { addWaitOption, lockOptions } from '../write-lock.js'
import { openChain } from '../hashing.js'

interface Wrapped { height: number, hash: string, block: string, recipient: string, wrapped: Uint8Array, columns: string }

export function register (program: Command, action: Action): void {
  addWaitOption(program.command('rewrap'))
    .description('give more recipients access to past blocks\' encrypted columns: seal a block that wraps those blocks\' data keys again, for the new recipients (docs/confidential.md)')
    .requiredOption('--recipient <key>', 'the new recipient: a public key file, an encryption key id of the keystore, or a recipient the chain names (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--from <height>', 'first height whose data keys are re-wrapped', heightOption('--from'))
    .option('--to <height>', 'last height whose data keys are re-wrapped', heightOption('--to'))
    .action(action(async (ctx, o: { recipient: string[], from?: number, to?: number, wait?: number }) => {
      checkHeightRange(o.from, o.to, Number.MAX_SAFE_INTEGER)
      const chain = openChain(ctx)
      const key = ctx.loadKey()
      checkHeightRange(o.from, o.to, chain.tip().height)
      const recipients: PublicKey[] = []
      for (const r of o.recipient) recipients.push(await resolveRecipient(ctx, chain, r))
      // A damaged key file stops rewrap (the key it holds may be the one that opens a block): left
      // out, rewrap said the node held no encryption key, or that none was a block's recipient.
      const { keys: mine, damaged } = ctx.keystore().loadEncryptionKeys(ctx.passphrase())
      if (damaged[0] !== undefined) throw damaged[0]
      if (mine.length === 0) throw new UsageError('this node holds no encryption key, so it cannot open any data key to re-wrap', 'run rewrap on a node whose encryption key is a recipient of those blocks')
      await syncQueryMirror(chain, { signal: ctx.signal })
      const db = openSqliteReadonly(chain.dir.queryDb)
      let rows: Wrapped[]
      try {
        rows = db.prepare<unknown[], Wrapped>(`SELECT r._height AS height, b.hash AS hash, r.block, r.recipient, r.wrapped, r.columns
          FROM _recipients r JOIN _blocks b ON b.height = r._height WHERE r._height BETWEEN ? AND ?`).all(o.from ?? 0, o.to ?? Number.MAX_SAFE_INTEGER)
        // Re-wraps made later (above --to) count as done.
        rows.push(...db.prepare<unknown[], Wrapped>("SELECT r._height AS height, '' AS hash, r.block, r.recipient, r.wrapped, r.columns FROM _recipients r WHERE r.block <> ''").all())
      } finally {
        db.close()
      }
      const has = new Set(rows.map(r => `${r.block === '' ? r.hash : r.block}\u0000${r.recipient}`))
      const rewrap: RewrapSpec[] = []
      const unopened: number[] = []
      for (const own of rows.filter(r => r.block === '' && r.hash !== '')) {
        if (rewrap.some(x => x.block === own.hash) || unopened.includes(own.height)) continue
        const wanted = recipients.filter(p => !has.has(`${own.hash}\u0000${p.id}`))
        if (wanted.length === 0) continue
        const k = mine.find(m => rows.some(r => r.height === own.height && r.block === '' && r.recipient === m.id))
        const mineRow = rows.find(r => r.height === own.height && r.block === '' && r.recipient === k?.id)
        if (k === undefined || mineRow === undefined) { unopened.push(own.height); continue }
        const cols = parseJson(own.columns)
        const columns: EncryptedColumn[] = Array.isArray(cols) ? cols.flatMap((c: unknown): EncryptedColumn[] => (Array.isArray(c) && typeof c[0] === 'string' && typeof c[1] === 'string' ? [[c[0], c[1]]] : [])) : []
        rewrap.push({ block: own.hash, columns, dataKey: unwrapDataKey(mineRow.wrapped, k, chain.chainId), recipients: wanted })
      }
      for (const h of unopened) ctx.io.stderr(`petal: note: block ${h} has encrypted columns, but none of this node's encryption keys is among its recipients: it is not re-wrapped\n`)
      if (rewrap.length === 0) {
        ctx.out.result({ status: 'nothing to do', blocks: 0, unopened }, () => 'nothing to re-wrap: every block this node can open is already wrapped for those recipients')
        return
      }
      const r = await signImport(chain, undefined, key, { rewrap, ...lockOptions(ctx, o.wait) })
      await syncMirrorAfterImport(ctx, chain, { bytes: r.block.size })
      ctx.out.result({ status: r.status, height: r.block.height, hash: r.block.hash, blocks: rewrap.map(x => x.block), recipients: recipients.map(p => p.id), unopened }, () =>
        `block ${r.block.height} ${r.block.hash}\n  re-wraps the data keys of ${rewrap.length} block(s) for ${recipients.map(p => short(p.id)).join(', ')}`)
    }))
}
