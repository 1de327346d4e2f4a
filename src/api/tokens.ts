import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, utimesSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { errorCode, errorMessage, isNotFound, isRecord, parseJson, pausepointSync, removeStaleTemps, shellWord, writeFileAtomic } from '../util/index.js'
import { ApiError } from './errors.js'
import { checkDataFile, NodeLock, systemFailure } from '../storage/index.js'

/** read: every GET and POST /query. write: also POST /records, PUT /tables. */
export type TokenScope = 'read' | 'write'
export const TOKEN_SCOPES: readonly TokenScope[] = ['read', 'write']

/** What is stored about a token: never the token itself, only its SHA-256. */
export interface TokenRecord {
  id: string
  name: string
  scope: TokenScope
  /** hex sha256 of the whole token text */
  hash: string
  created_at: string
}

export type TokenInfo = Omit<TokenRecord, 'hash'>

const FILE_VERSION = 1
// petal_<12 hex id>_<32 random bytes, base64url>: the id names the token in `tokens list` and
// `tokens revoke`; the secret part carries 256 bits.
const TOKEN_RE = /^petal_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/
/** The length of every text TOKEN_RE matches. */
const TOKEN_LENGTH = 62
/** statSync's options, made once (the token file is looked at on every authenticated request). */
const STAT_OPTIONS = { throwIfNoEntry: false } as const

export function tokensPath (dataDir: string): string { return join(dataDir, 'api', 'tokens.json') }

/** Held (an exclusive SQLite lock, as seal.lock) by one `petal tokens create|revoke` at a time, beside tokens.json. */
export const TOKENS_LOCK = 'tokens.lock'

/**
 * Run a read-change-rename of tokens.json (`create`, `revoke`) holding tokens.lock: two at once
 * each read the file, and the second rename dropped the first's token, which its user had been
 * shown and told to use (user52 found it beside the witnesses file's). The kernel frees the lock of
 * a killed command; a server's reads need none (the file is replaced whole). `onWait` is called
 * once, with the pids holding the lock where /proc/locks tells.
 */
export async function withTokensLock<T> (dataDir: string, fn: () => T, o: { signal?: AbortSignal, onWait?: (holders: number[] | undefined) => void } = {}): Promise<T> {
  const dir = dirname(tokensPath(dataDir))
  try {
    // Not recursive where the data directory is there: node:fs's recursive mkdir says ENOENT for
    // EROFS, and on a read-only file system `tokens create` was an internal error (review55).
    mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    const code = errorCode(err)
    if (code === 'ENOENT') mkdirSync(dir, { recursive: true, mode: 0o700 })
    else if (code !== 'EEXIST') throw systemFailure(err) ?? err
  }
  return await NodeLock.holding(dir, TOKENS_LOCK, fn, o)
}

function sha256 (text: string): Buffer { return hash('sha256', text, 'buffer') }
/** Compared against when the presented id is unknown, so that an unknown id takes as long as a wrong secret. */
const NO_DIGEST = Buffer.alloc(32)

/**
 * `api/tokens.json`: the bearer tokens of this data directory, stored hashed. Written atomically
 * (0600) by `petal tokens …`; a running server re-reads it whenever the file changes (checked by
 * stat on each authenticated request), so a new or revoked token counts at once, without restart.
 */
export class TokenStore {
  /** The tokens of the file as last read, by id, with their hash decoded (verify() runs on every write request). */
  private byId = new Map<string, { info: TokenInfo, digest: Buffer }>()
  /**
   * Tokens presented and verified since the file was last read, by id, with their exact text: a
   * request presenting that text skips the SHA-256 (the text is still compared in constant time).
   * Emptied whenever the file is re-read, so a revocation counts at once as before; it holds only
   * valid tokens, so at most one entry per token.
   */
  private verified = new Map<string, { info: TokenInfo, text: Buffer }>()
  /** The file's identity and times when last read (undefined: there was none). */
  private seen: { ino: number, size: number, mtimeMs: number, ctimeMs: number } | undefined

  constructor (readonly path: string) {}

  static of (dataDir: string): TokenStore { return new TokenStore(tokensPath(dataDir)) }

  /** Create a token; the returned text is shown once and never stored. */
  create (o: { scope: TokenScope, name?: string, now?: Date }): { token: string, info: TokenInfo } {
    const records = this.read()
    pausepointSync('tokens:read')
    let id: string
    do id = randomBytes(6).toString('hex'); while (records.some(r => r.id === id))
    const token = `petal_${id}_${randomBytes(32).toString('base64url')}`
    const name = o.name ?? `token-${id.slice(0, 4)}`
    if (records.some(r => r.name === name)) {
      throw new ApiError('API_TOKEN_EXISTS', `a token named ${JSON.stringify(name)} already exists`, { hint: `choose another --name, or revoke the old one with \`petal tokens revoke ${shellWord(name)}\`` })
    }
    const rec: TokenRecord = { id, name, scope: o.scope, hash: sha256(token).toString('hex'), created_at: (o.now ?? new Date()).toISOString() }
    this.write([...records, rec])
    return { token, info: publicInfo(rec) }
  }

  list (): TokenInfo[] { return this.read().map(publicInfo) }

  /** Revoke by id or name; returns what was revoked. */
  revoke (ref: string): TokenInfo {
    const records = this.read()
    const hit = records.find(r => r.id === ref || r.name === ref)
    if (hit === undefined) throw new ApiError('API_TOKEN_NOT_FOUND', `no token ${JSON.stringify(ref)}`, { hint: 'list them with `petal tokens list`' })
    this.write(records.filter(r => r !== hit))
    return publicInfo(hit)
  }

  /**
   * The token that `presented` is, or undefined. The comparison of hashes takes the same time
   * whether or not the id exists and wherever the hashes differ. A token verified since the file
   * was last read is found by its text (`verified`); only a valid token's text can be found there.
   */
  verify (presented: string): TokenInfo | undefined {
    const tokens = this.current()
    // A verified token's text is found by its id (the 12 characters after "petal_") and compared
    // whole: only a text equal to a valid token's, which TOKEN_RE matched, can pass here.
    const known = presented.length === TOKEN_LENGTH ? this.verified.get(presented.slice(6, 18)) : undefined
    if (known !== undefined && timingSafeEqual(Buffer.from(presented, 'latin1'), known.text)) return known.info
    const m = TOKEN_RE.exec(presented)
    const id = m?.[1] ?? ''
    const hit = m === null ? undefined : tokens.get(id)
    const ok = timingSafeEqual(sha256(presented), hit?.digest ?? NO_DIGEST) && hit !== undefined
    if (!ok) return undefined
    this.verified.set(id, { info: hit.info, text: Buffer.from(presented, 'latin1') })
    return hit.info
  }

  /** The tokens, re-read when the file changed since the last look (a cheap stat otherwise). */
  private current (): Map<string, { info: TokenInfo, digest: Buffer }> {
    const s = statSync(this.path, STAT_OPTIONS)
    const seen = this.seen
    if (s === undefined ? seen !== undefined : seen?.ino !== s.ino || seen.size !== s.size || seen.mtimeMs !== s.mtimeMs || seen.ctimeMs !== s.ctimeMs) {
      this.byId = new Map(this.read().map(r => [r.id, { info: Object.freeze(publicInfo(r)), digest: Buffer.from(r.hash, 'hex') }]))
      this.verified = new Map()
      this.seen = s === undefined ? undefined : { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs }
    }
    return this.byId
  }

  private read (): TokenRecord[] {
    let text: string
    try {
      checkDataFile(this.path, 'token file')
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      if (isNotFound(err)) return []
      throw err
    }
    const corrupt = (why: string): ApiError => new ApiError('API_TOKENS_CORRUPT', `${this.path} is not a valid token file: ${why}`, {
      hint: `restore it, or delete it and create new tokens with \`petal tokens create\``
    })
    let j: unknown
    try {
      j = parseJson(text)
    } catch (err) {
      throw corrupt(errorMessage(err))
    }
    if (!isRecord(j) || !Array.isArray(j.tokens)) throw corrupt('no "tokens" list')
    const out: TokenRecord[] = []
    for (const t of j.tokens) {
      if (!isTokenRecord(t)) throw corrupt('a malformed entry')
      out.push(t)
    }
    return out
  }

  /**
   * Each write leaves the file a later mtime than the one it replaces, even within one tick of a
   * coarse file-system clock: two writes in a row (revoke, then create) can otherwise leave the
   * same inode, size and times that a server saw before the first, and it would miss both.
   */
  private write (records: TokenRecord[]): void {
    const before = statSync(this.path, { throwIfNoEntry: false })?.mtimeMs ?? 0
    // As the keystore's: temporaries of writes a kill cut short (dead processes' only).
    removeStaleTemps(dirname(this.path))
    writeFileAtomic(this.path, JSON.stringify({ version: FILE_VERSION, tokens: records }, null, 2) + '\n', 0o600)
    const after = statSync(this.path).mtimeMs
    if (after <= before) {
      const t = (before + 1) / 1000
      utimesSync(this.path, t, t)
    }
  }
}

function isTokenRecord (r: unknown): r is TokenRecord {
  return isRecord(r) && typeof r.id === 'string' && typeof r.name === 'string' && (r.scope === 'read' || r.scope === 'write') &&
    typeof r.hash === 'string' && /^[0-9a-f]{64}$/.test(r.hash) && typeof r.created_at === 'string'
}

function publicInfo (r: TokenRecord): TokenInfo {
  return { id: r.id, name: r.name, scope: r.scope, created_at: r.created_at }
}
