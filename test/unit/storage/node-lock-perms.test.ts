// A lock file (src/storage/node-lock.ts) this user may not write, left by another user's command
// (a `sudo petal witnesses add`, `sudo petal tokens create`): SQLite opened it read-only, and BEGIN
// EXCLUSIVE then took a shared lock only, so two holders each "won" it at once and the edits it
// guards (witnesses, tokens.json, a seal, a node) ran together (review53). And a lock SQLite could
// not create in a directory this user may not write (a `witnesses` link's list kept in another
// user's directory) was SQLite's "unable to open database file", no path, and the CLI's hint
// spoke of the data directory.
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NodeLock } from '../../../src/storage/index.js'
import { asRoot, otherUserCanRun, runAsOtherUserWith } from '../../helpers/other-user.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

const STORAGE = srcEntry('storage', 'index.ts')
const NETWORK_STATUS = srcEntry('cli', 'commands', 'network-status.ts')
const take = (what: string): string => `const { NodeLock } = await import(${JSON.stringify(STORAGE)})
const [dir, file] = process.argv.slice(1)
const r = (f) => { try { return f() } catch (e) { return { code: e.code, message: e.message, hint: e.hint, system: e.details?.systemCode } } }
${what}`

describe.skipIf(!otherUserCanRun)('a lock file this user may not write', () => {
  it('is refused to a holder (PERMISSION_DENIED naming it), never held twice; a look still sees a holder', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o777)
    writeFileSync(join(dir, 'x.lock'), '')
    chmodSync(join(dir, 'x.lock'), 0o444)
    const r = runAsOtherUserWith(loaderFor(STORAGE), take(`const a = r(() => NodeLock.tryAcquire(dir, file))
const b = r(() => NodeLock.tryAcquire(dir, file))
const won = (x) => x instanceof NodeLock ? 'won' : x === undefined ? 'busy' : x
console.log(JSON.stringify({ a: won(a), b: won(b), held: NodeLock.isHeld(dir, file) }))`), dir, 'x.lock')
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as { a: unknown, b: unknown, held: boolean }
    // Before: { a: 'won', b: 'won' }: both held it.
    expect(out.a).not.toBe('won')
    expect(out.b).not.toBe('won')
    const e = out.a as { code: string, message: string, hint: string }
    expect(e.code).toBe('PERMISSION_DENIED')
    expect(e.message).toContain(`cannot hold the lock ${join(dir, 'x.lock')}: this user may not write it`)
    expect(e.hint).toContain(`\`ls -l ${join(dir, 'x.lock')}\``)
    // A look at it is no holder: it says none holds it, and sees one that does.
    expect(out.held).toBe(false)
    const mine = NodeLock.tryAcquire(dir, 'x.lock')
    expect(mine).toBeDefined()
    try {
      const seen = runAsOtherUserWith(loaderFor(STORAGE), take('console.log(JSON.stringify(NodeLock.isHeld(dir, file)))'), dir, 'x.lock')
      expect(seen.stdout).toBe('true')
    } finally {
      mine?.release()
    }
    // Its hint's command, run (as root where it says so): held, once. Before session 54 it named
    // no command (\`chown\` alone, to a user it did not name).
    const fix = /`((?:chown|chmod) [^`]+)`/.exec(e.hint)?.[1]
    expect(fix).toBe(asRoot ? `chown nobody ${join(dir, 'x.lock')} && chmod u+w ${join(dir, 'x.lock')}` : `chmod u+w ${join(dir, 'x.lock')}`)
    expect(spawnSync('sh', ['-c', fix as string]).status).toBe(0)
    const after = runAsOtherUserWith(loaderFor(STORAGE), take(`const a = NodeLock.tryAcquire(dir, file)
console.log(JSON.stringify({ a: a !== undefined, b: NodeLock.tryAcquire(dir, file) !== undefined }))`), dir, 'x.lock')
    expect(JSON.parse(after.stdout)).toEqual({ a: true, b: false })
  })

  // `sudo petal run` under umask 077 leaves node.lock root's, 0600: every `petal status` of another
  // user failed with SQLite's "unable to open database file", naming no file (review55).
  it('a look at one this user may not read: PERMISSION_DENIED naming it, whose command lets the look answer', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o777)
    writeFileSync(join(dir, 'node.lock'), '')
    chmodSync(join(dir, 'node.lock'), 0o600)
    if (!asRoot) return // the file must be another user's
    const look = (): unknown => JSON.parse(runAsOtherUserWith(loaderFor(STORAGE), take('console.log(JSON.stringify(r(() => NodeLock.isHeld(dir, file))))'), dir, 'node.lock').stdout)
    const e = look() as { code: string, message: string, hint: string }
    expect(e.code).toBe('PERMISSION_DENIED')
    expect(e.message).toContain(`cannot look at the lock ${join(dir, 'node.lock')}: this user may not read it`)
    const fix = /`(chmod [^`]+)`/.exec(e.hint)?.[1]
    expect(fix).toBe(`chmod a+r ${join(dir, 'node.lock')}`)
    // status's part: the node's state unknown, and why, not an error that hid the chain (session 55's left).
    const status = JSON.parse(runAsOtherUserWith(loaderFor(NETWORK_STATUS), `const { networkStatus } = await import(${JSON.stringify(NETWORK_STATUS)})
try { console.log(JSON.stringify(networkStatus({ dir: process.argv[1], opts: {} }, undefined))) } catch (e) { console.log(JSON.stringify({ code: e.code })) }`, dir).stdout) as { unknown?: boolean, lines: string[], extra: { node: { running: unknown } } }
    expect(status.unknown).toBe(true)
    expect(status.extra.node.running).toBeNull()
    expect(status.lines[0]).toContain(`node        unknown: this user may not read ${join(dir, 'node.lock')}, so whether a node runs here cannot be told`)
    expect(status.lines[0]).toContain(`\`${fix as string}\``)
    expect(spawnSync('sh', ['-c', fix as string]).status).toBe(0)
    expect(look()).toBe(false)
  })

  it('a look at one in a directory this user may not write (the lock file still this user\'s): no holder, or the holder, never an error', () => {
    const root = tmpDir()
    chmodSync(root, 0o755)
    const dir = join(root, 'data')
    mkdirSync(dir, { mode: 0o777 })
    writeFileSync(join(dir, 'node.lock'), '')
    chmodSync(join(dir, 'node.lock'), 0o666)
    chmodSync(dir, 0o555)
    const look = (): string => {
      const r = runAsOtherUserWith(loaderFor(STORAGE), take('console.log(JSON.stringify(r(() => NodeLock.isHeld(dir, file))))'), dir, 'node.lock')
      expect(r.stderr).toBe('')
      return r.stdout
    }
    // Before: SQLITE_READONLY_DIRECTORY, "attempt to write a readonly database" (the look wrote the
    // empty file's first page, into a journal it could not make): \`petal status\` failed there.
    expect(look()).toBe('false')
    const mine = NodeLock.tryAcquire(dir, 'node.lock')
    expect(mine).toBeDefined()
    try {
      expect(look()).toBe('true')
    } finally {
      mine?.release()
    }
    expect(existsSync(join(dir, 'node.lock-journal'))).toBe(false)
    // A holder there cannot make the journal: PERMISSION_DENIED naming the lock and its directory;
    // the hint's command, run by that user (whose directory it is), lets it hold the lock. Before:
    // SQLite's SQLITE_READONLY_DIRECTORY, no path.
    if (asRoot) chownSync(dir, Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim()), 0)
    const held = JSON.parse(runAsOtherUserWith(loaderFor(STORAGE), take('console.log(JSON.stringify(r(() => NodeLock.tryAcquire(dir, file))))'), dir, 'node.lock').stdout) as { code: string, message: string, hint: string }
    expect(held.code).toBe('PERMISSION_DENIED')
    expect(held.message).toContain(`cannot hold the lock ${join(dir, 'node.lock')}: SQLite makes its journal beside it, and this user may not write ${dir}`)
    const fix = /`(chmod [^`]+)`/.exec(held.hint)?.[1]
    expect(fix).toBe(`chmod u+w ${dir}`)
    const ran = asRoot ? spawnSync('runuser', ['-u', 'nobody', '--', 'sh', '-c', fix as string]) : spawnSync('sh', ['-c', fix as string])
    expect(ran.status).toBe(0)
    const after = runAsOtherUserWith(loaderFor(STORAGE), take('console.log(JSON.stringify(NodeLock.tryAcquire(dir, file) !== undefined))'), dir, 'node.lock')
    expect(after.stdout).toBe('true')
  })

  it('one to be made in a directory this user may not write: PERMISSION_DENIED naming the directory', () => {
    const root = tmpDir()
    chmodSync(root, 0o755)
    const dir = join(root, 'shared')
    mkdirSync(dir, { mode: 0o755 })
    chmodSync(dir, 0o555)
    const r = runAsOtherUserWith(loaderFor(STORAGE), take('console.log(JSON.stringify(r(() => NodeLock.tryAcquire(dir, file))))'), dir, 'w.lock')
    expect(r.stderr).toBe('')
    const e = JSON.parse(r.stdout) as { code: string, message: string, hint: string, system: string }
    // Before: SQLITE_CANTOPEN, 'unable to open database file', no path.
    expect(e.code).toBe('PERMISSION_DENIED')
    expect(e.message).toContain(`cannot create the lock ${join(dir, 'w.lock')}: this user may not write ${dir}`)
    // access(2)'s code, which decided it: SQLite's SQLITE_CANTOPEN (session 55) made the seal loop
    // take a seal.lock it may not make for a failing disk, retried loudly (review56).
    expect(e.system).toBe('EACCES')
    expect(e.hint).toContain(`\`ls -ld ${dir}\``)
    expect(existsSync(join(dir, 'w.lock'))).toBe(false)
  })
})
