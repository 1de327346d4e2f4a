import { describe, expect, it } from 'vitest'
import { readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { authorize, mayWrite } from '../../../src/api/auth.js'
import { TokenStore, tokensPath } from '../../../src/api/index.js'
import type { AccessPolicy } from '../../../src/api/options.js'
import { tmpDir } from '../../helpers/tmp.js'

/** authorize(…, 'write', …) as a yes or no. */
function allowed (headers: Record<string, string>, policy: AccessPolicy, tokens: TokenStore): boolean {
  try {
    authorize({ headers }, 'write', policy, tokens)
    return true
  } catch {
    return false
  }
}

describe('api: tokens.json', () => {
  // As the keystore's: a kill -9 inside the atomic write leaves `tokens.json.<pid>.<hex>.tmp`, which
  // the next write of the file removes when its process is gone (bench/crash-torture.ts).
  it('a token write removes the temporaries that killed writers left, not a live one\'s', () => {
    const root = tmpDir()
    const store = TokenStore.of(root)
    store.create({ scope: 'write', name: 'a' })
    const api = dirname(tokensPath(root))
    const dead = 'tokens.json.4194999.0badc0de.tmp'
    const live = `tokens.json.${process.pid}.0badc0de.tmp`
    for (const n of [dead, live]) writeFileSync(join(api, n), '{')
    store.create({ scope: 'write', name: 'b' })
    expect(readdirSync(api).filter(n => n.endsWith('.tmp'))).toEqual([live])
  })
})

describe('api: tokens create', () => {
  // Pasting README's "Write records over HTTP" a second time met API_TOKEN_EXISTS, whose hint said
  // `petal tokens revoke NAME`: the name is known, so the command is given whole (user51).
  it('a name taken: the hint revokes that name, quoted for the shell', () => {
    const tokens = TokenStore.of(tmpDir())
    for (const name of ['demo', 'my demo']) {
      tokens.create({ scope: 'write', name })
      let hint: string | undefined
      try { tokens.create({ scope: 'write', name }) } catch (err) { hint = (err as { hint?: string }).hint }
      expect(hint).toContain(name === 'demo' ? '`petal tokens revoke demo`' : "`petal tokens revoke 'my demo'`")
    }
  })
})

describe('api: the lean lane\'s write check', () => {
  it('says yes exactly when authorize() lets the write through', () => {
    const store = TokenStore.of(tmpDir())
    const write = store.create({ scope: 'write', name: 'w' }).token
    const read = store.create({ scope: 'read', name: 'r' }).token
    const revoked = store.create({ scope: 'write', name: 'gone' }).token
    const other = write.slice(0, 20) + (write[20] === 'A' ? 'B' : 'A') + write.slice(21)
    const values = [
      `Bearer ${write}`, `bearer ${write}`, `Bearer  ${write}`, `Bearer ${write} `, `Bearer ${write}  `, `Bearer ${write}\t`, `Bearer ${write}x`,
      `Bearer ${read}`, `Bearer ${revoked}`, `Bearer ${other}`, `Bearer ${write.toUpperCase()}`, `Bearer ${write} ${write}`,
      `Basic ${write}`, 'Bearer ', 'Bearer', '', write
    ]
    for (const round of [0, 1, 2]) {
      if (round === 2) store.revoke('gone') // after the tokens were verified once (known by their text)
      for (const policy of [{ expose: false, publicRead: false }, { expose: true, publicRead: true }]) {
        for (const host of [undefined, '127.0.0.1:2018', 'localhost', 'example.com']) {
          for (const authorization of [undefined, ...values]) {
            const headers: Record<string, string> = {}
            if (host !== undefined) headers.host = host
            if (authorization !== undefined) headers.authorization = authorization
            expect(mayWrite(headers, policy, store), `${round} ${JSON.stringify(headers)} ${JSON.stringify(policy)}`).toBe(allowed(headers, policy, store))
          }
        }
      }
    }
    expect(mayWrite({ host: '127.0.0.1', authorization: `Bearer ${write}` }, { expose: false, publicRead: false }, store)).toBe(true)
    expect(mayWrite({ host: '127.0.0.1', authorization: `Bearer ${revoked}` }, { expose: false, publicRead: false }, store)).toBe(false)
  })
})
