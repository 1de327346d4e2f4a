import { closeSync, openSync, readSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import type { Command } from 'commander'
import { checkRegularInput } from '../../block/index.js'
import { parseEndorsement, signImport } from '../../chain/index.js'
// Static, not import(): the fast bundle then holds only the proof code this command runs (esbuild
// drops the rest of the module: ~70 KB of source, ~27 KB of code cache per start).
import { signTipCheckpointsLocked } from '../../proof/index.js'
import { buildRecordsFile, type RecordFormat } from '../../ingest/index.js'
import { tmpBlockPath } from '../../storage/index.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { formatBytes, short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { readInputFile } from '../input.js'
import { addWaitOption, lockOptions } from '../write-lock.js'
import { readRecords, recordFormat } from './ingest.js'
import { refuseBesidePull } from '../../node/state-file.js'
import { resolveRecipient } from '../confidential.js'
import type { EncryptedColumn } from '../../block/index.js'
import { openChain } from '../hashing.js'
import { shellWord } from '../../util/index.js'

/** TABLE.COLUMN (the first dot splits; with --table, a bare COLUMN is of that table). */
function encryptedColumn (spec: string, table: string | undefined): EncryptedColumn {
  const dot = spec.indexOf('.')
  if (dot > 0 && dot < spec.length - 1) return [spec.slice(0, dot), spec.slice(dot + 1)]
  if (dot < 0 && table !== undefined && spec !== '') return [table, spec]
  throw new UsageError(`--encrypt ${spec}: expected TABLE.COLUMN`, 'e.g. --encrypt patients.diagnosis')
}

/**
 * Whether FILE holds records (CSV, NDJSON, JSON) rather than an SQLite database: --format or
 * --table says so, or the extension does; an SQLite header always means a database.
 */
function isRecordsFile (file: string, o: { table?: string, format?: RecordFormat }): boolean {
  let head = Buffer.alloc(0)
  try {
    const fd = openSync(file, 'r')
    try {
      head = Buffer.alloc(16)
      head = head.subarray(0, readSync(fd, head, 0, 16, 0))
    } finally {
      closeSync(fd)
    }
  } catch {
    return o.format !== undefined // a missing file is reported by the path that reads it
  }
  if (head.toString('latin1') === 'SQLite format 3\u0000') return false
  return o.format !== undefined || o.table !== undefined || /\.(csv|ndjson|jsonl|json)$/i.test(file)
}

export function register (program: Command, action: Action): void {
  addWaitOption(program.command('signimportblock [file]')).description('seal an SQLite file into the next block (your file is not modified) and import it; without a file, a block holding only --keyops')
    .option('--allow-empty', 'seal the block even if it holds no table and no key operation (refused otherwise: EMPTY_BLOCK)')
    .option('--keyops <file>', 'an endorsement file from `petal signkey` to include as a key operation (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--table <name>', 'FILE holds records (CSV with a header row, NDJSON or a JSON array): seal them as table NAME, typed as `petal append` types a new table')
    .option('-f, --format <format>', 'the records format: csv, ndjson or json (default: from the extension, else the content)', recordFormat)
    .option('--encrypt <table.column>', 'encrypt this column for the --recipient keys (repeatable; docs/confidential.md)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--recipient <key>', 'who can decrypt: a public key file (`petal keys export`), an encryption key id of the keystore, or a recipient the chain names (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .action(action(async (ctx, file: string | undefined, o: { keyops: string[], table?: string, format?: RecordFormat, wait?: number, allowEmpty?: boolean, encrypt: string[], recipient: string[] }) => {
      if (file === undefined && o.keyops.length === 0) throw new UsageError('give the SQLite file to seal, or --keyops for a block of key operations only', 'petal signimportblock data.db [--keyops endorsement.json …]')
      // Its block would follow a tip the pull is about to pass, and the pull's own sync would orphan it.
      refuseBesidePull(ctx.dir, 'petal signimportblock')
      const chain = openChain(ctx)
      const key = ctx.loadKey()
      const keyOps = []
      for (const f of o.keyops) keyOps.push(parseEndorsement((await readInputFile(f, 'endorsement', ctx.signal)).toString('utf8'), chain.chainId, f))
      // Before anything opens it: a pipe would block, or read as an empty database.
      if (file !== undefined) checkRegularInput(file)
      let source = file
      let records: string | undefined
      if (file !== undefined && isRecordsFile(file, o)) {
        if (o.table === undefined) throw new UsageError(`${file} holds records, not an SQLite database: name the table they go in`, `\`petal signimportblock ${shellWord(file)} --table NAME\``)
        const input = await readRecords(file, o.format, ctx.signal)
        records = tmpBlockPath(chain.dir)
        buildRecordsFile(records, o.table, input.rows, chain.index.latestTable(o.table))
        source = records
      } else if (o.table !== undefined || o.format !== undefined) {
        throw new UsageError(`${file ?? 'no file'}: --table and --format apply to a records file (CSV, NDJSON, JSON), not to an SQLite database`, 'leave them out to seal the SQLite file as it is')
      }
      if (o.encrypt.length > 0 && o.recipient.length === 0) throw new UsageError('--encrypt needs at least one --recipient', 'name who can decrypt: --recipient recipient.pem (from `petal keys export` on their node)')
      if (o.recipient.length > 0 && o.encrypt.length === 0) throw new UsageError('--recipient applies to the columns named by --encrypt', 'add --encrypt TABLE.COLUMN')
      const encrypt = o.encrypt.length === 0
        ? undefined
        : { columns: o.encrypt.map(c => encryptedColumn(c, o.table)), recipients: await Promise.all(o.recipient.map(async r => await resolveRecipient(ctx, chain, r))) }
      const bar = ctx.progress('signimportblock')
      const r = await signImport(chain, source, key, {
        keyOps,
        encrypt,
        refuseEmpty: o.allowEmpty !== true,
        ...lockOptions(ctx, o.wait),
        onProgress: p => { bar.update(p) },
        // The signatory vouches for the new tree at once (proofs of the block need no running
        // node), in the import's own commit: one transaction and one WAL fsync fewer.
        afterAccept: () => { signTipCheckpointsLocked(chain, key) }
      }).finally(async () => { if (records !== undefined) await rm(records, { force: true }) })
      bar.end()
      const tables = chain.index.tablesOf(r.block.hash)
      ctx.out.result({ status: r.status, height: r.block.height, hash: r.block.hash, seal: r.block.seal, size: r.block.size, tables, key_ops: r.block.keyOpCount }, () => [
        `block ${r.block.height} ${r.block.hash}`,
        `  ${formatBytes(r.block.size)}, signed by ${short(key.id)}, ${tables.length} table(s): ${tables.map(t => `${t.name} (${t.rows} rows)`).join(', ') || 'none'}` +
          (r.block.keyOpCount > 0 ? `, ${r.block.keyOpCount} key operation(s)` : '')
      ].join('\n'))
      // After the result: the block is committed whatever becomes of the mirror's update.
      await syncMirrorAfterImport(ctx, chain, { bytes: r.block.size })
    }))
}
