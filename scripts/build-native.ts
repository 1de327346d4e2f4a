// Builds the native batched SHA-256 (src/crypto/native/sha256-batch.c) into
// dist/native/petal-sha256.node, where src/crypto/sha256-native.ts looks for it, and the native
// P-256 ECDSA and SHA-256 (src/crypto/native/openssl.c) into dist/native/petal-openssl.node, where
// src/crypto/openssl-native.ts looks for it (without it, keys, signatures and hashes go through
// node:crypto). Run by
// `npm run build` (so by `npm ci`'s prepare and by `npm test`). A direct call of the C compiler,
// not node-gyp: one C file, ~0.15 s against node-gyp's ~1.6 s, no Python and no header download
// (docs/performance/manifest.md, "Session 20: a native SHA-256 for the manifest").
//
// openssl.c includes openssl-sha256.c, read-small.c, place-files.c, tmp-files.c, openssl-aead.c, verify-text.c, malloc-keep.c and p256-table.c, which includes p256-cache.c and p256-ord-inv.c (one translation
// unit: the table code's helpers stay static).
// It never fails the build: without a compiler, Node's headers (node_api.h, openssl/sha.h) or a
// Node that exports OpenSSL's SHA256_* (a build against a shared or absent OpenSSL), it prints one
// line saying so and the manifest hashes in WebAssembly. dist/native/build.json records the outcome
// (`built`, `reason`; when built, the compiler and the headers): the test that the manifest uses
// the addon when it was built reads it, the test of a foreign addon compiles with the same.
// PETAL_NATIVE_BUILD=0 skips the build (how to test the fallback from a fresh build).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'

const root = fileURLToPath(new URL('..', import.meta.url))
const outDir = join(root, 'dist', 'native')
const ADDONS = [
  { out: join(outDir, 'petal-sha256.node'), source: join(root, 'src', 'crypto', 'native', 'sha256-batch.c') },
  { out: join(outDir, 'petal-openssl.node'), source: join(root, 'src', 'crypto', 'native', 'openssl.c') },
  // The native row walker (src/block/native-rows.ts): the manifest's table roots from the pages,
  // with the SHA-256 core of the first (rows.c includes it); without it the JavaScript walker runs.
  { out: join(outDir, 'petal-rows.node'), source: join(root, 'src', 'block', 'native', 'rows.c') },
  // Also an SQLite extension (src/block/held-db.ts): compiled against the sqlite3ext.h of the
  // SQLite that better-sqlite3 links, whose API table it calls through.
  { out: join(outDir, 'petal-held-db.node'), source: join(root, 'src', 'block', 'native', 'held-db.c'), include: join(root, 'node_modules', 'better-sqlite3', 'deps', 'sqlite3') },
  // An SQLite extension only, no Node addon (src/storage/wal-index.ts): the wal-index header through
  // SQLite's own mapping of the -shm. Without it chain.db and pending.db are not written, so it
  // needs a C compiler alone, no Node headers (session 40); loaded here as SQLite loads it.
  { out: join(outDir, 'petal-wal-index.node'), source: join(root, 'src', 'storage', 'native', 'wal-index.c'), include: join(root, 'node_modules', 'better-sqlite3', 'deps', 'sqlite3'), sqliteOnly: 'sqlite3_petalwal_init' }
] as const

/**
 * Node's headers: beside the binary (a distribution's or an official tarball's), else node-gyp's
 * cache. OpenSSL's are needed by the hashing and signing addons only: the held-bytes extension
 * needs node_api.h alone, and the -wal check none (an SQLite extension only), without which
 * chain.db and pending.db are not written (WAL_CHECK_MISSING), so it must not depend on headers.
 */
function includeDir (openssl: boolean): string | undefined {
  const candidates = [
    join(dirname(process.execPath), '..', 'include', 'node'),
    join(process.env.npm_config_devdir ?? join(homedir(), '.cache', 'node-gyp'), process.versions.node, 'include', 'node')
  ]
  return candidates.find(d => existsSync(join(d, 'node_api.h')) && (!openssl || (existsSync(join(d, 'openssl', 'sha.h')) && existsSync(join(d, 'openssl', 'ec.h')))))
}

function flags (): string[] | undefined {
  // -z now: every symbol is bound when the addon is loaded, so a Node without OpenSSL's SHA256_*
  // fails the load (and the manifest falls back) instead of failing at the first call.
  if (process.platform === 'linux') return ['-shared', '-fPIC', '-Wl,-z,now']
  if (process.platform === 'darwin') return ['-bundle', '-undefined', 'dynamic_lookup']
  return undefined
}

function build (a: typeof ADDONS[number]): { built: boolean, reason: string, cc?: string, include?: string } {
  const { out, source } = a
  const extra = 'include' in a ? a.include : undefined
  if (extra !== undefined && !existsSync(join(extra, 'sqlite3ext.h'))) return { built: false, reason: `${join(extra, 'sqlite3ext.h')} not found` }
  return buildWith(out, source, extra === undefined ? [] : ['-I', extra], extra === undefined, 'sqliteOnly' in a ? a.sqliteOnly : undefined)
}

/** `entry`: an SQLite extension alone (no Node headers), checked by loading it into SQLite with that entry point. */
function buildWith (out: string, source: string, includes: string[], openssl: boolean, entry?: string): { built: boolean, reason: string, cc?: string, include?: string } {
  if (process.env.PETAL_NATIVE_BUILD === '0') return { built: false, reason: 'PETAL_NATIVE_BUILD=0' }
  const f = flags()
  if (f === undefined) return { built: false, reason: `no native build on ${process.platform}` }
  const inc = entry === undefined ? includeDir(openssl) : ''
  if (inc === undefined) return { built: false, reason: `Node's headers (${openssl ? 'node_api.h, openssl/sha.h, openssl/ec.h' : 'node_api.h'}) not found` }
  const cc = process.env.CC ?? 'cc'
  const tmp = `${out}.${process.pid}.tmp`
  const r = spawnSync(cc, ['-O2', '-std=c11', '-Wall', '-Wextra', '-fvisibility=hidden', ...f, ...(inc === '' ? [] : ['-I', inc]), ...includes, '-o', tmp, source], { encoding: 'utf8' })
  if (r.error !== undefined || r.status !== 0) {
    rmSync(tmp, { force: true })
    const why = r.error?.message ?? (r.stderr.trim().split('\n')[0] ?? `exit ${r.status ?? '?'}`)
    return { built: false, reason: `${cc} failed: ${why}` }
  }
  // Load it here, so an addon this Node cannot load is not left where the manifest looks.
  try {
    if (entry === undefined) process.dlopen({ exports: {} }, tmp)
    else loadIntoSqlite(tmp, entry)
  } catch (err) {
    rmSync(tmp, { force: true })
    return { built: false, reason: `built but not loadable: ${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)}` }
  }
  renameSync(tmp, out)
  return inc === '' ? { built: true, reason: cc, cc } : { built: true, reason: `${cc}, headers ${inc}`, cc, include: inc }
}

function loadIntoSqlite (path: string, entry: string): void {
  const db = new Database(':memory:')
  try {
    // better-sqlite3 takes the entry point's name second (its typings: the path only).
    Reflect.apply(db.loadExtension, db, [path, entry])
  } finally {
    db.close()
  }
}

mkdirSync(outDir, { recursive: true })
for (const a of ADDONS) rmSync(a.out, { force: true })
const [sha, ossl, rows, held, wal] = ADDONS.map(build)
// build.json: the SHA-256 addon's outcome as before, the OpenSSL addon's under `openssl`, the row walker's under `rows`, the held-bytes one's under `heldDb`, the wal-index one's under `walIndex`.
writeFileSync(join(outDir, 'build.json'), JSON.stringify({ ...sha, openssl: ossl, rows, heldDb: held, walIndex: wal }) + '\n')
if (sha?.built !== true) process.stderr.write(`petal: native SHA-256 not built (${sha?.reason ?? '?'}); the manifest hashes in WebAssembly\n`)
if (ossl?.built !== true) process.stderr.write(`petal: native OpenSSL addon not built (${ossl?.reason ?? '?'}); keys, signatures and hashes go through node:crypto\n`)
if (rows?.built !== true) process.stderr.write(`petal: native row walker not built (${rows?.reason ?? '?'}); the manifest's rows are walked in JavaScript\n`)
if (held?.built !== true) process.stderr.write(`petal: native held-bytes SQLite addon not built (${held?.reason ?? '?'}); verify --deep's SQLite checks read the block files\n`)
// Without it Petal refuses to write chain.db and pending.db (WAL_CHECK_MISSING, src/storage/wal-index.ts): every checkpoint would be unchecked.
if (wal?.built !== true) process.stderr.write(`petal: native wal-index SQLite addon not built (${wal?.reason ?? '?'}); commands that write chain.db or pending.db will refuse to run (WAL_CHECK_MISSING): install a C compiler, then run npm run build again\n`)
