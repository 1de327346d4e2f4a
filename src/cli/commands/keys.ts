import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { Chain } from '../../chain/index.js'
import { publicKeyToPem } from '../../crypto/index.js'
import { readDaisyPrivateKeys, type KeyEntry, type KeyPurpose } from '../../storage/index.js'
import type { CliContext } from '../context.js'
import { short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { errorCode, errorMessage, hintWithDir, isPetalError, shellWord } from '../../util/index.js'
import { readInputFile } from '../input.js'

/** Signatory status of each key at the tip, when the data directory holds a chain. */
function signatoryStatus (ctx: CliContext, keys: KeyEntry[]): Map<string, string> {
  const m = new Map<string, string>()
  let chain: Chain
  try {
    chain = ctx.openChain({ forReading: true })
  } catch {
    return m
  }
  const state = chain.keysAt(chain.tip())
  for (const k of keys) {
    const s = state.get(k.id)
    m.set(k.id, s === undefined ? 'no' : s.revokedAt === null ? `yes (since height ${s.addedAt})` : `revoked at height ${s.revokedAt}`)
  }
  return m
}

const purposeOption = (v: string): KeyPurpose => {
  if (v !== 'sign' && v !== 'encrypt') throw new UsageError(`unknown key purpose ${JSON.stringify(v)}`, 'use sign or encrypt')
  return v
}

function listKeys (ctx: CliContext): void {
  const keys = ctx.keystore().list()
  const status = signatoryStatus(ctx, keys)
  ctx.out.result(keys.map(k => ({ id: k.id, purpose: k.purpose, public_key: k.publicKey.hex, default: k.isDefault, encrypted: k.encrypted, signatory: k.purpose === 'encrypt' ? 'no' : status.get(k.id) ?? 'no chain', created: k.created })), () => {
    if (keys.length === 0) return hintWithDir('no keys; create one with `petal keygen`', ctx.opts.dir)
    return keys.map(k => [
      `${k.id}${k.purpose === 'encrypt' ? '  (encryption key)' : ''}${k.isDefault ? '  (default)' : ''}${k.encrypted ? '  (encrypted)' : ''}`,
      `  public key: ${k.publicKey.hex}`,
      k.purpose === 'encrypt' ? '  receives encrypted columns; never signs' : `  signatory:  ${status.get(k.id) ?? 'no chain in this directory'}`
    ].join('\n')).join('\n')
  })
}

function keygen (ctx: CliContext, o: { default?: boolean, plain?: boolean, purpose?: KeyPurpose }): void {
  const ks = ctx.keystore()
  const passphrase = o.plain === true ? undefined : ctx.passphrase()
  if (o.purpose === 'encrypt') {
    if (o.default === true) throw new UsageError('--default applies to signing keys', 'leave --default out: every encryption key of the keystore is used to decrypt')
    const e = ks.generate({ passphrase, purpose: 'encrypt' })
    ctx.out.result({ id: e.id, purpose: e.purpose, public_key: e.publicKey.hex, encrypted: e.encrypted }, () =>
      `generated encryption key ${e.id}${e.encrypted ? ' (encrypted)' : ' (unencrypted)'}\npublic key: ${e.publicKey.hex}\n` +
      // This node's own key: the export runs here, so it names the user's --dir (hintWithDir leaves
      // `keys export` alone, as hints mean a signatory's export on their own node).
      `Send its public key to the publishers that should encrypt for you: petal${ctx.opts.dir === undefined ? '' : ` --dir ${shellWord(ctx.opts.dir)}`} keys export ${e.id.slice(2, 14)} -o recipient.pem`)
    return
  }
  let k = ks.generate({ passphrase })
  if (o.default === true) k = ks.setDefault(k.id)
  ctx.out.result({ id: k.id, public_key: k.publicKey.hex, encrypted: k.encrypted, default: k.isDefault }, () =>
    `generated ${k.id}${k.encrypted ? ' (encrypted)' : ' (unencrypted)'}${k.isDefault ? ' (default)' : ''}\npublic key: ${k.publicKey.hex}\n` +
    'It is not a signatory until the chain adds it: send the public key to the signatories (`petal signkey`).')
}

/**
 * Daisy's private.db (an SQLite file, table privkeys: hex SEC1 DER per key): import every key,
 * unencrypted unless a passphrase is set. The first is the one Daisy signed with (its LIMIT 1).
 */
function importDaisyKeys (ctx: CliContext, file: string, makeDefault: boolean): void {
  const rows = readDaisyPrivateKeys(file)
  if (rows.length === 0) throw new UsageError(`${file} holds no private key (its privkeys table is empty)`, 'give the private.db of the Daisy directory whose node signed blocks')
  const ks = ctx.keystore()
  const done: Array<{ id: string, public_key: string, encrypted: boolean, default: boolean, status: string }> = []
  for (const [i, r] of rows.entries()) {
    let k
    try {
      k = ks.import(r.privkey, { passphrase: ctx.passphrase() })
    } catch (err) {
      if (!isPetalError(err) || err.code !== 'KEY_EXISTS') throw err
      done.push({ id: r.keyId, public_key: '', encrypted: false, default: false, status: 'already in the keystore' })
      continue
    }
    if (k.id !== r.keyId) throw new UsageError(`${file}: the key stored as ${r.keyId} is ${k.id}`, 'the private.db is damaged; restore it from a backup')
    if (makeDefault && i === 0) k = ks.setDefault(k.id)
    done.push({ id: k.id, public_key: k.publicKey.hex, encrypted: k.encrypted, default: k.isDefault, status: 'imported' })
  }
  ctx.out.result({ file, keys: done }, () => done.map(k => `${k.status === 'imported' ? 'imported' : 'skipped'} ${k.id}${k.status === 'imported' ? (k.encrypted ? ' (encrypted)' : ' (unencrypted)') : ` (${k.status})`}${k.default ? ' (default)' : ''}`).join('\n'))
}

export function register (program: Command, action: Action): void {
  program.command('mykeys').description('list this node\'s keys: id, full public key, signatory status at the tip')
    .action(action(async ctx => { listKeys(ctx) }))

  program.command('keygen').description('generate a new P-256 signing key (encrypted when a passphrase is given)')
    .option('--default', 'make it the default signing key')
    .option('--plain', 'store it unencrypted even if a passphrase is set')
    .action(action(async (ctx, o: { default?: boolean, plain?: boolean }) => { keygen(ctx, o) }))

  const keys = program.command('keys').description('manage the keystore (list, generate, import, export, use)')
  keys.command('list').description('same as `petal mykeys`').action(action(async ctx => { listKeys(ctx) }))
  keys.command('generate').description('same as `petal keygen`; with --purpose encrypt, a key for receiving encrypted columns (docs/confidential.md)')
    .option('--purpose <purpose>', 'sign (default) or encrypt: an encryption key never signs, a signing key never decrypts', purposeOption, 'sign')
    .option('--default', 'make it the default signing key')
    .option('--plain', 'store it unencrypted even if a passphrase is set')
    .action(action(async (ctx, o: { default?: boolean, plain?: boolean }) => { keygen(ctx, o) }))
  keys.command('import <file>').description('import a P-256 private key (PEM PKCS#8 or SEC1, DER, hex), or every key of Daisy\'s private.db')
    .option('--default', 'make it the default signing key (of a private.db: its first key, the one Daisy signs with)')
    .option('--purpose <purpose>', 'sign (default) or encrypt', purposeOption, 'sign')
    .action(action(async (ctx, file: string, o: { default?: boolean, purpose?: KeyPurpose }) => {
      let material: string | Uint8Array = await readInputFile(file, 'key file', ctx.signal)
      if (Buffer.from(material.subarray(0, 16)).toString('latin1') === 'SQLite format 3\0') { importDaisyKeys(ctx, file, o.default === true); return }
      const text = Buffer.from(material).toString('utf8')
      if (text.includes('-----BEGIN') || /^[0-9a-fA-F\s]+$/.test(text)) material = text
      const ks = ctx.keystore()
      let k = ks.import(material, { passphrase: ctx.passphrase(), purpose: o.purpose })
      if (o.default === true) k = ks.setDefault(k.id)
      ctx.out.result({ id: k.id, public_key: k.publicKey.hex, encrypted: k.encrypted, default: k.isDefault }, () => `imported ${k.id}${k.encrypted ? ' (encrypted)' : ' (unencrypted)'}`)
    }))
  keys.command('export [id]').description('print a key as PEM: the public key, or with --private the private key (handle with care)')
    .option('--private', 'export the private key (PKCS#8 PEM)')
    .option('-o, --out <file>', 'write to a new file (mode 0600 for a private key) instead of stdout')
    .action(action(async (ctx, id: string | undefined, o: { private?: boolean, out?: string }) => {
      const ks = ctx.keystore()
      const e = ks.resolve(id ?? ctx.opts.key)
      const pem = o.private === true ? ks.exportPrivate(e.id, ctx.passphrase()) : publicKeyToPem(e.publicKey)
      const out = o.out
      if (out !== undefined) {
        // Never over an existing file: it would keep its own (perhaps world-readable) mode.
        try {
          writeFileSync(out, pem, { mode: o.private === true ? 0o600 : 0o644, flag: 'wx' })
        } catch (err) {
          if (errorCode(err) === 'EEXIST') throw new UsageError(`${out} already exists`, 'choose a new file name, or remove the old file first')
          throw new UsageError(`cannot write ${out}: ${errorMessage(err)}`, 'choose a path in a directory you can write, or leave -o out to print the key')
        }
        ctx.out.result({ id: e.id, file: out }, () => `wrote ${o.private === true ? 'private' : 'public'} key ${short(e.id)} to ${out}`)
      } else {
        ctx.out.result({ id: e.id, pem }, () => pem)
      }
    }))
  keys.command('use <id>').description('make a key the default signing key')
    .action(action(async (ctx, id: string) => {
      const k = ctx.keystore().setDefault(id)
      ctx.out.result({ id: k.id, default: true }, () => `default key is now ${k.id}`)
    }))
}
