// A 100-row `signimportblock` from the CLI calls none of the Node functions that session 25 took
// off its path (docs/performance/import.md, "Session 25: the 100-row import"): each is Node's JavaScript,
// parsed and compiled at its first call in a process (~2.4 M instructions of the import together).
// node:util's promisify (the build's and the mirror's promisified fs calls were made when their
// modules loaded, the placement's fsync at its first use), a TextDecoder (two made when their
// modules loaded, neither used by an SQLite import), Buffer's writeUInt32BE (the row encoder's
// lengths, twice a row), writeBigUInt64BE (the chain tree's height) and Buffer.concat (the chain
// tree's leaf, the key's SPKI), Buffer's copy (the row encoder's growth) and fs.writeFileSync (the
// seal's file, the write lock's record: writeSync, which printing compiles anyway). Session 26: no
// fs.fsync either, whose callback runs on libuv's thread pool: the pool's four threads were started
// for the two fsyncs of the block and its seal alone, and joined at exit ("Session 26: the 100-row
// import"). A preloaded script wraps them and reports the calls at exit.
import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

const NODE_CALLS = `const util = require('node:util'); const counts = {}
const wrap = (o, k) => { const f = o[k]; counts[k] = 0; o[k] = function (...a) { counts[k]++; return f.apply(this, a) } }
wrap(util, 'promisify'); wrap(Buffer.prototype, 'writeUInt32BE'); wrap(Buffer.prototype, 'writeBigUInt64BE'); wrap(Buffer, 'concat'); wrap(Buffer.prototype, 'copy'); wrap(require('node:fs'), 'writeFileSync'); wrap(require('node:fs'), 'fsync')
const TD = globalThis.TextDecoder; counts.TextDecoder = 0
globalThis.TextDecoder = class extends TD { constructor (...a) { super(...a); counts.TextDecoder++ } }
process.on('exit', () => { process.stderr.write('\\nNODE_CALLS ' + JSON.stringify(counts) + '\\n') })\n`

describe('a 100-row signimportblock from the CLI', () => {
  it('runs no promisify, makes no TextDecoder, writes no integer through Buffer, concatenates no Buffers, starts no thread pool; the chain verifies', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const preload = join(tmpDir(), 'node-calls.cjs')
    writeFileSync(preload, NODE_CALLS)
    for (const [i, file] of ['a.db', 'b.db'].entries()) {
      // The second import appends to the query mirror the first one built.
      const r = await spawnPetal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), file), 100, i + 1)], { nodeOptions: ['--require', preload] }).exit
      expect(r.code, r.stderr).toBe(0)
      const m = /NODE_CALLS (\{.*\})/.exec(r.stderr)
      expect(m, r.stderr).not.toBeNull()
      expect(JSON.parse(m?.[1] ?? '{}')).toEqual({ promisify: 0, writeUInt32BE: 0, writeBigUInt64BE: 0, concat: 0, copy: 0, writeFileSync: 0, fsync: 0, TextDecoder: 0 })
    }
    const v = await petal(['--dir', dir, 'verify', '--deep'])
    expect(v.code, v.stderr).toBe(0)
  })

  // Node's module list at exit (a preload that loads nothing itself). internal/abort_controller: the
  // command's AbortController, which the import's checks read through a probe that makes none
  // (util/lazy-abort.ts); module: node:module, which brings Node's ES module loader
  // (esm/loader, esm/assert, source_map) and which only a worker's start or @noble's fallback uses
  // (build-cli.ts's lazy built-ins). docs/performance/import.md, "Session 43: the 100-row import".
  it('loads neither an AbortController nor node:module (and with it the ES module loader)', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const list = join(tmpDir(), 'modules.txt')
    const preload = join(tmpDir(), 'list.cjs')
    writeFileSync(preload, `process.on('exit', () => { require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')) })\n`)
    for (const [i, file] of ['a.db', 'b.db'].entries()) {
      // stdout to a file, as the bench's /dev/null: a pipe's stream would load node:stream, and
      // with it an AbortController of its own (startup-loads.test.ts does the same).
      const out = join(tmpDir(), 'out.txt')
      const fd = openSync(out, 'w')
      try {
        execFileSync(process.execPath, ['--require', preload, CLI, '--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), file), 100, i + 1)], { stdio: ['ignore', fd, 'pipe'] })
      } finally {
        closeSync(fd)
      }
      expect(readFileSync(out, 'utf8')).toMatch(new RegExp(`^block ${i + 1} `))
      const loaded = readFileSync(list, 'utf8').split('\n')
      expect(loaded).toContain('NativeModule fs')
      expect(loaded, 'the import makes no AbortController').not.toContain('NativeModule internal/abort_controller')
      for (const m of ['module', 'internal/modules/esm/loader', 'internal/source_map/source_map']) expect(loaded).not.toContain(`NativeModule ${m}`)
    }
  })
})
