import Database from 'better-sqlite3'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { diskFailureOf } from '../block/index.js'
import { sha256Hex } from '../crypto/index.js'
import { errorMessage, isHash, isNotFound, isRecord, isStringArray, parseJson, shellWord } from '../util/index.js'
import { DaisyError } from './errors.js'
import { checkDataFile } from './data-file.js'
import { DataDir } from './layout.js'

/**
 * A Daisy data directory (docs/daisy.md; reference: Daisy's layout): `daisy.db` (its block index,
 * with each block's hash and seal), an optional `chainparams.json`, `private.db` (its keys) and
 * `blocks/%04x/block_%08x.db`. Petal only ever reads it: every open here is read-only.
 */
export class DaisyDir {
  readonly root: string
  private readonly blocks: DataDir

  constructor (root: string) {
    this.root = resolve(root)
    // Daisy shards exactly as Petal does, one directory level down.
    this.blocks = new DataDir(join(this.root, 'blocks'))
  }

  get db (): string { return join(this.root, 'daisy.db') }
  get privateDb (): string { return join(this.root, 'private.db') }
  get chainParams (): string { return join(this.root, 'chainparams.json') }
  get blocksDir (): string { return this.blocks.root }

  blockPath (height: number): string { return this.blocks.blockPath(height) }
}

/**
 * Whether `root` is laid out as a Daisy directory (daisy.db, or Daisy's blocks/0000/… genesis) and
 * not as a Petal one (chain.db, or a genesis at 0000/…).
 */
export function isDaisyDir (root: string): boolean {
  const d = new DaisyDir(root)
  const petal = new DataDir(d.root)
  if (existsSync(petal.chainDb)) return false
  // daisy.db marks Daisy's directory even when its blocks were moved to Petal's places by hand
  // (the checks then say where they belong).
  if (existsSync(d.db)) return true
  return !existsSync(petal.blockPath(0)) && existsSync(d.blockPath(0))
}

/** Where Daisy's block `height` should be, with a hint that names where it was put instead, if found. */
/**
 * A command that writes, given a Daisy directory as --dir (`given` 'daisy') or Petal's state of one
 * ('state': its block files are Daisy's): DAISY_READ_ONLY, whose hint is what does that work there
 * (session 56: a reindex of the state read Daisy's blocks as Petal's, "seal file missing", and
 * verify --repair took them for damaged Petal blocks, UNSUPPORTED_VERSION).
 */
export function daisyReadOnly (daisy: string, state: string, given: 'daisy' | 'state', command: string, reading?: readonly string[]): DaisyError {
  const d = shellWord(daisy)
  const through = `petal --dir ${d} --state ${shellWord(state)}`
  const where = given === 'daisy' ? `${daisy} is a Daisy data directory` : `${state} is Petal's state of the Daisy directory ${daisy}, whose block files are Daisy's`
  const hint = command === 'reindex'
    ? `Petal's state of a Daisy directory is rebuilt by reading the Daisy directory: \`${through} status\` brings it up to date from Daisy's files (to rebuild it from the genesis, remove it first: \`rm -r ${shellWord(state)}\`; it is derived)`
    : command === 'verify --repair'
      ? `put a damaged or missing Daisy block file back from a backup or another Daisy node's directory (it must hash to the value ${join(daisy, 'daisy.db')} records), then \`${through} verify\` checks every block; or \`petal adopt-daisy ${d} --dir NEW\` makes a Petal chain that continues it`
      : `\`petal adopt-daisy ${d} --dir NEW\` makes a Petal chain that continues the Daisy chain; run writing commands there`
  return new DaisyError('DAISY_READ_ONLY', `${where}: Petal reads it${reading === undefined ? '' : ` (${reading.join(', ')})`} and never writes Daisy's files, so \`petal ${command}\` cannot run on it`, { hint, details: { command } })
}

export function missingBlockHint (d: DaisyDir, height: number): string {
  const petalPlace = new DataDir(d.root).blockPath(height)
  const flat = join(d.blocksDir, `block_${height.toString(16).padStart(8, '0')}.db`)
  if (existsSync(petalPlace)) return `it is at ${petalPlace}, Petal's layout; Daisy's is under blocks/: move the shard directories back (e.g. \`mkdir -p ${d.blocksDir} && mv ${join(d.root, '0000')} ${d.blocksDir}/\`)`
  if (existsSync(flat)) return `it is at ${flat}, Daisy's layout before 2020; its current one shards by height: move it to ${d.blockPath(height)}`
  return 'put the block file back from a backup or another Daisy node (it must hash to the value daisy.db records)'
}

/** Daisy's chain definition, as its chainparams.json says or, without one, its default chain. */
export interface DaisyChainParams {
  genesisHash: string
  /** hex DER signature of the genesis hash (raw digest) by the creator */
  genesisSeal: string
  genesisTimestamp: string
  creator: string
  creatorPublicKey: string
  description: string
  bootstrapPeers: string[]
  /** hex SHA-256 of the chainparams.json bytes, or 'default' for Daisy's default chain (no file) */
  digest: string
}

/** Daisy's default chain: the genesis embedded in its binary (reference/daisy-spec.md §1.6). */
export const DAISY_DEFAULT_CHAIN: DaisyChainParams = {
  genesisHash: '9a0ff19183d1525a36de803047de4b73eb72506be8c81296eb463476a5c2d9e2',
  genesisSeal: '30460221008b8b3b3cfee2493ef58f2f6a1f1768b564f4c9e9a341ad42912cbbcf5c3ec82f022100fbcdfd0258fa1a5b073d18f688c2fb3d8f9a7c59204c6777f2bbf1faeb1eb1ed',
  genesisTimestamp: '2017-05-06T10:38:50+02:00',
  creator: '',
  creatorPublicKey: '',
  description: '',
  bootstrapPeers: [],
  digest: 'default'
}

/** The Daisy directory's chain definition (its chainparams.json, else the default chain). */
export function readDaisyChainParams (d: DaisyDir): DaisyChainParams {
  let bytes: Buffer
  try {
    checkDataFile(d.chainParams, 'Daisy chain definition')
    bytes = readFileSync(d.chainParams)
  } catch (err) {
    if (isNotFound(err)) return DAISY_DEFAULT_CHAIN
    throw err
  }
  const bad = (why: string): DaisyError => new DaisyError('DAISY_CHAINPARAMS_INVALID', `${d.chainParams}: ${why}`, { details: { path: d.chainParams } })
  let j: unknown
  try {
    j = parseJson(bytes.toString('utf8'))
  } catch (err) {
    throw bad(`not JSON (${errorMessage(err)})`)
  }
  if (!isRecord(j)) throw bad('not a JSON object')
  const str = (k: string): string => {
    const v = j[k]
    if (v === undefined || v === null) return ''
    if (typeof v !== 'string') throw bad(`${k} is not a string`)
    return v
  }
  const genesisHash = str('genesis_block_hash')
  if (!isHash(genesisHash)) throw bad('genesis_block_hash is not 64 lower-case hex digits')
  const genesisSeal = str('genesis_block_hash_signature')
  if (!/^[0-9a-f]+$/.test(genesisSeal)) throw bad('genesis_block_hash_signature is not hex')
  const peers = j.bootstrap_peers
  if (peers !== undefined && peers !== null && !isStringArray(peers)) throw bad('bootstrap_peers is not a list of strings')
  return {
    genesisHash,
    genesisSeal,
    genesisTimestamp: str('genesis_block_timestamp'),
    creator: str('creator'),
    creatorPublicKey: str('creator_public_key'),
    description: str('description'),
    bootstrapPeers: isStringArray(peers) ? peers : [],
    digest: sha256Hex(bytes)
  }
}

/** One row of daisy.db's `blockchain` table. */
export interface DaisyBlockRow {
  height: number
  hash: string
  /** hex DER seal (signature of the block hash, raw digest) */
  hashSignature: string
  prevHash: string
  prevHashSignature: string
  sigkeyHash: string
  /** unix seconds: when this Daisy node accepted the block */
  timeAccepted: number
  version: number
}

interface RawRow { height: unknown, hash: unknown, hash_signature: unknown, prev_hash: unknown, prev_hash_signature: unknown, sigkey_hash: unknown, time_accepted: unknown, version: unknown }

/** A connection to daisy.db whose blockchain table has been read: the check DaisyDb.open makes. */
function openDaisyDb (path: string): Database.Database {
  // Read-only: SQLite writes nothing (no journal, no header change) to a database opened so.
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    db.pragma('query_only = ON')
    // A running Daisy node may be writing it: wait for its transaction rather than fail.
    db.pragma('busy_timeout = 5000')
    db.prepare('SELECT height, hash, hash_signature, prev_hash, prev_hash_signature, sigkey_hash, time_accepted, version FROM blockchain LIMIT 1').all()
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/** daisy.db, opened read-only: the block rows by height. */
export class DaisyDb {
  private constructor (private readonly db: Database.Database, readonly path: string) {}

  static open (d: DaisyDir): DaisyDb {
    try {
      checkDataFile(d.db, 'daisy.db')
    } catch (err) {
      if (!isNotFound(err)) throw err
      throw new DaisyError('DAISY_DB_MISSING', `${d.root} has no daisy.db (Daisy's index of its blocks, with their hashes and seals)`, {
        hint: 'restore daisy.db from a backup of the Daisy directory; `petal --dir DIR verify` then checks it', details: { path: d.db }
      })
    }
    let db: Database.Database | undefined
    try {
      db = openDaisyDb(d.db)
    } catch (err) {
      // The disk's failure (EIO, which SQLite may call a malformed file; a full disk) is not a
      // verdict on daisy.db: it was DAISY_DB_INVALID, "restore daisy.db from a backup" (mend35).
      const disk = diskFailureOf(err, d.db, () => { openDaisyDb(d.db).close() })
      if (disk !== undefined) throw disk
      throw new DaisyError('DAISY_DB_INVALID', `cannot read Daisy's blockchain table in ${d.db}: ${errorMessage(err)}`, {
        hint: 'restore daisy.db from a backup of the Daisy directory', details: { path: d.db }
      })
    }
    return new DaisyDb(db, d.db)
  }

  close (): void { this.db.close() }

  /** Height of the last block, -1 when there is none; the heights must run 0…tip without gaps. */
  tipHeight (): number {
    const r = this.db.prepare<[], { n: number, top: number | null }>('SELECT COUNT(*) AS n, MAX(height) AS top FROM blockchain').get()
    const top = r?.top ?? -1
    if ((r?.n ?? 0) !== top + 1) {
      const gap = this.db.prepare<[], number>('SELECT MIN(height) + 1 FROM blockchain b WHERE NOT EXISTS (SELECT 1 FROM blockchain c WHERE c.height = b.height + 1) AND b.height < (SELECT MAX(height) FROM blockchain)').pluck().get() ?? 0
      throw new DaisyError('DAISY_DB_INVALID', `daisy.db has no block at height ${gap}, though it lists blocks above it`, {
        hint: 'restore daisy.db from a backup of the Daisy directory', details: { path: this.path, height: gap }
      })
    }
    return top
  }

  /** Rows of heights from..to, in height order, each checked for shape. */
  range (from: number, to: number): DaisyBlockRow[] {
    const rows = this.db.prepare<[number, number], RawRow>('SELECT height, hash, hash_signature, prev_hash, prev_hash_signature, sigkey_hash, time_accepted, version FROM blockchain WHERE height BETWEEN ? AND ? ORDER BY height').all(from, to)
    return rows.map(r => this.check(r))
  }

  private check (r: RawRow): DaisyBlockRow {
    const height = typeof r.height === 'number' ? r.height : -1
    const bad = (why: string): DaisyError => new DaisyError('DAISY_DB_INVALID', `daisy.db, block ${height}: ${why}`, { hint: 'restore daisy.db from a backup of the Daisy directory', details: { path: this.path, height } })
    const text = (v: unknown, what: string): string => {
      if (typeof v !== 'string') throw bad(`${what} is not text`)
      return v
    }
    if (!Number.isSafeInteger(height) || height < 0) throw bad('the height is not a non-negative integer')
    const hash = text(r.hash, 'hash')
    if (!isHash(hash)) throw bad('hash is not 64 lower-case hex digits')
    const prevHash = text(r.prev_hash, 'prev_hash')
    return {
      height,
      hash,
      hashSignature: text(r.hash_signature, 'hash_signature'),
      prevHash,
      prevHashSignature: text(r.prev_hash_signature, 'prev_hash_signature'),
      sigkeyHash: text(r.sigkey_hash, 'sigkey_hash'),
      timeAccepted: typeof r.time_accepted === 'number' ? r.time_accepted : Number(r.time_accepted),
      version: typeof r.version === 'number' ? r.version : Number(r.version)
    }
  }
}

/** The private keys of Daisy's private.db (hex SEC1 DER each), read-only. */
export function readDaisyPrivateKeys (path: string): Array<{ keyId: string, privkey: string }> {
  checkDataFile(path, 'Daisy private.db')
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare<[], { pubkey_hash: unknown, privkey: unknown }>('SELECT pubkey_hash, privkey FROM privkeys ORDER BY time_added, pubkey_hash').all()
      .filter((r): r is { pubkey_hash: string, privkey: string } => typeof r.pubkey_hash === 'string' && typeof r.privkey === 'string')
      .map(r => ({ keyId: r.pubkey_hash, privkey: r.privkey }))
  } finally {
    db.close()
  }
}
