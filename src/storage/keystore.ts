import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  decryptPrivateKey, encryptPrivateKey, generateSigningKey, importPrivateKey, isKeyId, parseEncryptedKey, parsePublicKey,
  privateKeyToPem, privateKeyToPkcs8, type EncryptedKey, type PublicKey, type SigningKey
} from '../crypto/index.js'
import { errorMessage, fromHex, isNotFound, isRecord, removeStaleTemps, toHex, writeFileAtomic } from '../util/index.js'
import { StorageError } from './errors.js'
import { checkDataFile } from './data-file.js'

/** A key in the keystore, as listed (no secret material). */
export interface KeyEntry {
  id: string
  publicKey: PublicKey
  encrypted: boolean
  created: string
  isDefault: boolean
  /** `sign`: a signing key; `encrypt`: a key for receiving encrypted columns (never signs). */
  purpose: KeyPurpose
}

export type KeyPurpose = 'sign' | 'encrypt'

interface KeyFile {
  id: string
  public_key: string
  created: string
  /** hex PKCS#8 DER, when not encrypted */
  private_key?: string
  encrypted?: EncryptedKey
  /** absent: a signing key (files written before purposes existed are signing keys) */
  purpose?: 'encrypt'
}

/**
 * Private keys of this node, one JSON file per key in `keystore/` (directory 0700, files 0600),
 * optionally encrypted with a passphrase. Holding a key here grants no authority: only the chain's
 * key operations make a key a signatory.
 */
export class Keystore {
  constructor (readonly dir: string) {}

  private fileOf (id: string): string {
    return join(this.dir, `${id.slice(2)}.json`)
  }

  private get defaultFile (): string { return join(this.dir, 'default') }

  private ensureDir (): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    chmodSync(this.dir, 0o700)
  }

  list (): KeyEntry[] {
    return this.read().map(k => k.entry)
  }

  /**
   * Every key file, read and checked once, with its listing; with `hex`, only the files whose
   * name (the key id's hex, `fileOf`) starts with it: a damaged file of another key is not read.
   * `dflt`: the default key's id, when the caller has read it already (`default` is read once).
   */
  private read (hex = '', damaged?: StorageError[], dflt = this.defaultId()): Array<{ entry: KeyEntry, file: KeyFile }> {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch (err) {
      if (isNotFound(err)) return []
      throw err
    }
    return names.filter(n => /^[0-9a-f]{64}\.json$/.test(n) && n.startsWith(hex)).flatMap(n => {
      let read
      try {
        read = this.readFile(join(this.dir, n))
      } catch (err) {
        // With `damaged`, a file that cannot be used is reported there and left out.
        if (damaged === undefined || !(err instanceof StorageError) || (err.code !== 'KEY_FILE_INVALID' && err.code !== 'DATA_FILE_NOT_REGULAR')) throw err
        damaged.push(err)
        return []
      }
      const { file: f, publicKey } = read
      return { file: f, entry: { id: f.id, publicKey, encrypted: f.encrypted !== undefined, created: f.created, isDefault: f.id === dflt, purpose: f.purpose === 'encrypt' ? 'encrypt' as const : 'sign' as const } }
    }).sort((a, b) => a.entry.created.localeCompare(b.entry.created) || a.entry.id.localeCompare(b.entry.id))
  }

  private readFile (path: string): { file: KeyFile, publicKey: PublicKey } {
    checkDataFile(path, 'key file')
    const invalid = (why: string): StorageError => new StorageError('KEY_FILE_INVALID', `key file ${path} ${why}`, {
      hint: `move it out of ${this.dir} (keep it: it may be recoverable) and import the key again from your backup with \`petal keys import FILE\`; meanwhile your other keys still sign (\`--key ID\`, or the default if it is another); the commands that read every key file stop at this one until it is moved (\`petal status\` says so and shows the rest): \`petal mykeys\`, \`keys list\`, \`signkey\`, \`rewrap\`, and \`run\` or \`pull\` without \`--key\``,
      details: { path }
    })
    let f: unknown
    try {
      f = JSON.parse(readFileSync(path, 'utf8'))
    } catch (err) {
      if (err instanceof SyntaxError) throw invalid(`is not valid JSON (truncated or damaged): ${syntaxWhy(err)}`)
      throw err
    }
    if (!isRecord(f) || !isKeyId(f.id)) throw invalid('has no valid key id')
    if (typeof f.public_key !== 'string' || typeof f.created !== 'string') throw invalid('lacks its public key or creation time')
    if (f.private_key === undefined && f.encrypted === undefined) throw invalid('holds no private key')
    if (f.private_key !== undefined && typeof f.private_key !== 'string') throw invalid('has a private key that is not hex text')
    let pub: PublicKey
    try {
      pub = parsePublicKey(f.public_key)
    } catch (err) {
      throw invalid(`has a public key that is not a canonical P-256 key: ${errorMessage(err)}`)
    }
    if (pub.id !== f.id) throw invalid(`says it holds ${f.id}, but its public key is ${pub.id}`)
    const file: KeyFile = { id: f.id, public_key: f.public_key, created: f.created }
    if (f.purpose !== undefined && f.purpose !== 'encrypt') throw invalid(`has an unknown purpose ${JSON.stringify(f.purpose)}`)
    if (f.purpose === 'encrypt') file.purpose = 'encrypt'
    if (typeof f.private_key === 'string') file.private_key = f.private_key
    if (f.encrypted !== undefined) {
      const env = parseEncryptedKey(f.encrypted)
      if (env === undefined) throw invalid('has a malformed encrypted private key')
      file.encrypted = env
    }
    return { file, publicKey: pub }
  }

  /** The id of the default signing key: the `default` file, else the only or oldest key. */
  defaultId (): string | undefined {
    try {
      checkDataFile(this.defaultFile, 'keystore default')
      const id = readFileSync(this.defaultFile, 'utf8').trim()
      if (isKeyId(id)) return id
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    return undefined
  }

  setDefault (idOrPrefix: string): KeyEntry {
    const e = this.resolve(idOrPrefix, 'sign')
    removeStaleTemps(this.dir)
    writeFileAtomic(this.defaultFile, e.id + '\n', 0o600)
    return { ...e, isDefault: true }
  }

  /** Find a key by full id, id without "1:", or a unique prefix of either. */
  resolve (idOrPrefix?: string, purpose: KeyPurpose | 'any' = 'any'): KeyEntry {
    return this.find(idOrPrefix, purpose).entry
  }

  /** resolve, with the key's file as the listing read it (load reads no file twice). */
  private find (idOrPrefix: string | undefined, purpose: KeyPurpose | 'any'): { entry: KeyEntry, file: KeyFile } {
    // Only the files that can match are read: the default key's (when `default` names one of the
    // purpose wanted), or those whose id starts with the prefix given. `default` is read once.
    const d = this.defaultId()
    if (idOrPrefix === undefined) {
      const named = d === undefined ? undefined : this.read(d.slice(2), undefined, d)[0]
      if (named !== undefined && named.entry.purpose === (purpose === 'any' ? 'sign' : purpose)) return named
    }
    const all = this.read(idOrPrefix === undefined ? '' : (idOrPrefix.startsWith('1:') ? idOrPrefix.slice(2) : idOrPrefix).toLowerCase(), undefined, d)
    // Without an id, the default signing key: an encryption key is never picked by default.
    const keys = idOrPrefix === undefined ? all.filter(k => k.entry.purpose === (purpose === 'any' ? 'sign' : purpose)) : all
    const noKeys = (): StorageError => new StorageError('NO_KEYS', 'the keystore has no keys', { hint: 'create one with `petal keygen` or import one with `petal keys import FILE`' })
    if (idOrPrefix === undefined) {
      const oldest = keys[0]
      if (oldest === undefined) throw noKeys()
      return keys.find(k => k.entry.id === d) ?? oldest
    }
    // A prefix no file matches: KEY_NOT_FOUND below, unless the keystore holds no key at all.
    if (keys.length === 0 && this.read('', [], d).length === 0) throw noKeys()
    const want = idOrPrefix.startsWith('1:') ? idOrPrefix : `1:${idOrPrefix}`
    const [found, ...others] = keys.filter(k => k.entry.id.startsWith(want))
    if (found === undefined) throw new StorageError('KEY_NOT_FOUND', `no key ${idOrPrefix} in the keystore`, { hint: 'list keys with `petal mykeys`' })
    if (others.length > 0) throw new StorageError('KEY_AMBIGUOUS', `${idOrPrefix} matches ${others.length + 1} keys`, { hint: 'give more digits of the key id' })
    const match = found.entry
    if (purpose !== 'any' && match.purpose !== purpose) {
      throw new StorageError('KEY_WRONG_PURPOSE', `key ${match.id.slice(0, 14)}… is ${match.purpose === 'encrypt' ? 'an encryption key: it never signs' : 'a signing key, not an encryption key'}`, {
        hint: match.purpose === 'encrypt' ? 'sign with a signing key (`petal mykeys` lists them)' : 'create an encryption key with `petal keys generate --purpose encrypt`'
      })
    }
    return found
  }

  generate (options: { passphrase?: string, purpose?: KeyPurpose } = {}): KeyEntry {
    return this.store(generateSigningKey(), options.passphrase, options.purpose)
  }

  /** Import a private key (PEM, DER or hex; PKCS#8 or SEC1). */
  import (material: string | Uint8Array, options: { passphrase?: string, purpose?: KeyPurpose } = {}): KeyEntry {
    const key = importPrivateKey(material)
    if (this.list().some(k => k.id === key.id)) throw new StorageError('KEY_EXISTS', `key ${key.id} is already in the keystore`)
    return this.store(key, options.passphrase, options.purpose)
  }

  private store (key: SigningKey, passphrase?: string, purpose: KeyPurpose = 'sign'): KeyEntry {
    this.ensureDir()
    const pkcs8 = privateKeyToPkcs8(key)
    const created = new Date().toISOString()
    const file: KeyFile = { id: key.id, public_key: key.publicKey.hex, created }
    if (purpose === 'encrypt') file.purpose = 'encrypt'
    if (passphrase !== undefined && passphrase !== '') file.encrypted = encryptPrivateKey(pkcs8, passphrase)
    else file.private_key = toHex(pkcs8)
    // The temporaries of atomic writes a kill cut short (a starting node removes them too): a
    // directory only commands write would otherwise gather one per such kill.
    removeStaleTemps(this.dir)
    writeFileAtomic(this.fileOf(key.id), JSON.stringify(file, null, 2) + '\n', 0o600)
    if (purpose === 'sign' && this.defaultId() === undefined) writeFileAtomic(this.defaultFile, key.id + '\n', 0o600)
    return { id: key.id, publicKey: key.publicKey, encrypted: file.encrypted !== undefined, created, isDefault: this.defaultId() === key.id, purpose }
  }

  /**
   * The private keys of every encryption key (for decrypting columns). An encrypted one needs the
   * passphrase; without it, it is left out and listed in `locked`.
   */
  loadEncryptionKeys (passphrase?: string): { keys: SigningKey[], locked: string[], damaged: StorageError[] } {
    const keys: SigningKey[] = []
    const locked: string[] = []
    // A damaged key file (of any purpose) is left out and reported, not a failure: decryption is
    // for the columns this node can open, and that file's key cannot open any.
    const damaged: StorageError[] = []
    for (const e of this.read('', damaged).map(k => k.entry).filter(k => k.purpose === 'encrypt')) {
      if (e.encrypted && passphrase === undefined) { locked.push(e.id); continue }
      keys.push(this.load(e.id, passphrase, 'encrypt'))
    }
    return { keys, locked, damaged }
  }

  /** Load a signing key (the default one when no id is given), decrypting it if needed. */
  load (idOrPrefix?: string, passphrase?: string, purpose: KeyPurpose | 'any' = 'sign'): SigningKey {
    const { entry: e, file: f } = this.find(idOrPrefix, purpose)
    let pkcs8: Uint8Array | undefined
    if (f.encrypted !== undefined) {
      if (passphrase === undefined) {
        throw new StorageError('PASSPHRASE_REQUIRED', `key ${e.id.slice(0, 14)}… is encrypted`, { hint: 'give the passphrase with --passphrase-file FILE or the PETAL_PASSPHRASE environment variable' })
      }
      pkcs8 = decryptPrivateKey(f.encrypted, passphrase)
    } else {
      pkcs8 = fromHex(f.private_key ?? '')
    }
    const damaged = (why: string): StorageError => new StorageError('KEY_FILE_INVALID', `key file ${this.fileOf(e.id)} ${why}`, {
      hint: `move it out of ${this.dir} and import the key again from your backup with \`petal keys import FILE\``, details: { path: this.fileOf(e.id) }
    })
    if (pkcs8 === undefined) throw damaged('holds no private key in hex')
    let key: SigningKey
    try {
      key = importPrivateKey(pkcs8)
    } catch (err) {
      throw damaged(`holds a private key that cannot be read: ${errorMessage(err)}`)
    }
    if (key.id !== e.id) throw damaged(`holds the private key of ${key.id}, not of ${e.id}`)
    return key
  }

  /** PEM (PKCS#8) of a private key, for backup or moving it to another node. */
  exportPrivate (idOrPrefix: string | undefined, passphrase?: string): string {
    return privateKeyToPem(this.load(idOrPrefix, passphrase, 'any'))
  }
}

/**
 * JSON.parse's reason without its quote of the text: V8 quotes the bytes around an unexpected
 * token (`Unexpected token 'x', ..."ate_key": x"01234567"... is not valid JSON`), which put part
 * of a private key in a message meant for terminals and logs, and a newline of the file split
 * `petal status`'s `my keys` line in two (user50).
 */
function syntaxWhy (err: SyntaxError): string {
  return err.message.replace(/, (\.\.\.)?".*$/s, '').replace(/[\u0000-\u001f\u007f]/g, ' ')
}
