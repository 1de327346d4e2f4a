import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { execFileSync, spawn } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { copiesOf } from '../helpers/copies.js'
import { CLI, petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'
import { tmpDir } from '../helpers/tmp.js'

// Bad input met by the built CLI (mend28's sweep): each error has its code and a hint, and the command
// a hint suggests, run, works (before: no hint, or a false one). The chain of two blocks most tests
// start from is made once; each test changes a copy of its own.
const chainOfTwo = copiesOf(async dir => {
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 5)])).code).toBe(0)
})

describe('errors of bad input carry a code and a true hint', () => {
  it('a damaged chainparams.json is named by its path, with the hint to put back the original, which works', async () => {
    const dir = await chainOfTwo()
    const file = join(dir, 'chainparams.json')
    const original = readFileSync(file)
    for (const [damage, said] of [['{"genesis_block_hash', 'is not valid JSON'], ['{"description": "x"}', 'lacks genesis_block_hash']] as const) {
      writeFileSync(file, damage)
      const r = await petal(['--dir', dir, 'status'])
      expect(r.code).toBe(4)
      expect(r.stderr).toContain(`${file} ${said}`)
      expect(r.stderr).toContain('[CHAINPARAMS_INVALID]')
      expect(r.stderr).toContain('hint: put back the original file: from a backup, or a copy of chainparams.json from another node of this chain')
    }
    writeFileSync(file, original)
    expect((await petal(['--dir', dir, 'status'])).code).toBe(0)
  })

  it('newchain with a bad parameters file says to correct it', async () => {
    const params = join(tmpDir(), 'p.json')
    for (const text of ['{"creator": "x"', '{"consensus_type": "PoW"}', '{"max_reorg_depth": -1}']) {
      writeFileSync(params, text)
      const r = await petal(['--dir', join(tmpDir(), 'new'), 'newchain', params])
      expect(r.code, r.stderr).toBe(4)
      expect(r.stderr).toContain('[CHAINPARAMS_INVALID]')
      expect(r.stderr).toContain('hint: correct it in the file, then run the command again')
    }
  })

  it('import of a missing file says so (it said "no seal"), and a block file not named .db finds its seal at FILE.sig', async () => {
    const dir = await chainOfTwo()
    const missing = join(tmpDir(), 'nothing-here')
    const r = await petal(['--dir', dir, 'import', missing])
    expect(r.code).toBe(3) // as signimportblock's (docs/errors.md)
    expect(r.stderr).toContain(`no such file: ${missing} [FILE_NOT_FOUND]`)
    expect(r.stderr).toContain('hint: check the path')
    // A copy of block 1 under a name without .db: the seal was looked for in the block file itself.
    const blk = join(tmpDir(), 'blk')
    copyFileSync(join(dir, '0000', 'block_00000001.db'), blk)
    const noSeal = await petal(['--dir', dir, 'import', blk])
    expect(noSeal.code).toBe(2)
    expect(noSeal.stderr).toContain(`no seal for ${blk} [USAGE]`)
    expect(noSeal.stderr).toContain(`hint: put its seal in ${blk}.sig or pass --seal`)
    copyFileSync(join(dir, '0000', 'block_00000001.sig'), `${blk}.sig`)
    const ok = await petal(['--dir', dir, '--json', 'import', blk])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'known', height: 1 })
  })

  it('flags and arguments refused without a hint now carry one', async () => {
    const dir = await chainOfTwo()
    for (const args of [['reindex', '--wait', '-1'], ['serve', '--http', 'off'], ['verify', '--repair', '--from', join(tmpDir(), 'no-such-dir')]]) {
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(/\[USAGE\]\n {2}hint: \S/)
    }
  })

  // An error thrown deep in validation carries no hint of its own: the CLI gives its code's
  // documented one (docs/errors.md), on stderr and in --json, rather than none.
  it('a block of another chain: PARENT_UNKNOWN with its documented hint', async () => {
    const dir = await chainOfTwo()
    const other = join(tmpDir(), 'other')
    expect((await petalInProcess(['--dir', other, 'init'])).code).toBe(0)
    const r = await petal(['--dir', other, 'import', join(dir, '0000', 'block_00000001.db')])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/is not known here \[PARENT_UNKNOWN\]\n {2}hint: import or fetch the parent first; a running node fetches it by itself\n/)
    const j = await petal(['--dir', other, '--json', 'import', join(dir, '0000', 'block_00000001.db')])
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'PARENT_UNKNOWN', hint: 'import or fetch the parent first; a running node fetches it by itself' } })
  })

  // A row proof against a later checkpoint than the one trusted, without a consistency path from it,
  // was rejected as CONSISTENCY_FAILED with the hint that it "was altered, or belongs to another
  // chain": false. Now CONSISTENCY_MISSING, with the hint to trust the signatories' keys, which works.
  it('a proof against a later checkpoint than the one trusted: CONSISTENCY_MISSING, and trusting the keys as the hint says works', async () => {
    const dir = await chainOfTwo()
    const old = join(tmpDir(), 'old.cp')
    expect((await petalInProcess(['--dir', dir, 'checkpoint', '-o', old])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 3)])).code).toBe(0)
    const proof = join(tmpDir(), 'row.json')
    const made = await petal(['--dir', dir, 'prove', '--height', '2', '--table', 't', '--rowid', '1', '-o', proof])
    expect(made.code, made.stderr).toBe(0)
    const r = await petal(['verify-proof', proof, '--trust', old])
    expect(r.code).toBe(6)
    expect(r.stdout).toContain('[CONSISTENCY_MISSING]')
    expect(r.stderr).toContain('[PROOF_REJECTED]\n  hint: the proof is against a checkpoint of another size than the one trusted (later or earlier), with no consistency proof between them: trust the signatories\' public keys instead (--trust KEY.pem; a signatory writes it with `petal keys export`)')
    const key = join(tmpDir(), 'key.pem')
    expect((await petal(['--dir', dir, 'keys', 'export', '-o', key])).code).toBe(0)
    const ok = await petal(['verify-proof', proof, '--trust', key])
    expect(ok.code, ok.stderr).toBe(0)
  })

  // PROOF_NODE_MISSING had no hint at all (mend29: every code now has a documented one).
  it('a chain tree missing a node: PROOF_NODE_MISSING says to reindex, and after `petal reindex` the proof is made', async () => {
    const dir = await chainOfTwo()
    const db = new Database(join(dir, 'chain.db'))
    expect(db.prepare('DELETE FROM chain_tree WHERE level = 0 AND idx = 0').run().changes).toBe(1)
    db.close()
    const prove = ['--dir', dir, 'prove', '--height', '1', '--table', 't', '--rowid', '1', '-o', join(tmpDir(), 'p.json')]
    const r = await petal(prove)
    expect(r.code).toBe(4)
    expect(r.stderr).toContain(`[PROOF_NODE_MISSING]\n  hint: the index's chain tree is incomplete: rebuild it with \`petal --dir ${dir} reindex\`\n`)
    expect((await petal(['--dir', dir, 'reindex'])).code).toBe(0)
    const again = await petal(prove)
    expect(again.code, again.stderr).toBe(0)
  })

  // Every command that signs or queries read every key file: one damaged key file stopped them all,
  // although its hint said "the other keys work meanwhile".
  it('a damaged key file stops only the listing: the other keys sign and query decrypts with what it can', async () => {
    const dir = await chainOfTwo()
    const before = new Set(readdirSync(join(dir, 'keystore')))
    expect((await petalInProcess(['--dir', dir, 'keys', 'generate'])).code).toBe(0)
    const added = readdirSync(join(dir, 'keystore')).find(n => !before.has(n))
    expect(added).toBeDefined()
    const bad = join(dir, 'keystore', added ?? '')
    writeFileSync(bad, '{"id": "1:')
    const list = await petal(['--dir', dir, 'mykeys'])
    expect(list.code).toBe(5)
    expect(list.stderr).toContain(`key file ${bad} is not valid JSON (truncated or damaged)`)
    expect(list.stderr).toContain('hint: move it out of')
    expect(list.stderr).toContain('meanwhile your other keys still sign (`--key ID`, or the default if it is another)')
    const sign = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 3)])
    expect(sign.code, sign.stderr).toBe(0)
    const dflt = readFileSync(join(dir, 'keystore', 'default'), 'utf8').trim()
    const chosen = await petal(['--dir', dir, '--key', dflt.slice(2, 12), 'signimportblock', makeSqlite(join(tmpDir(), 'c.db'), 3)])
    expect(chosen.code, chosen.stderr).toBe(0)
    const q = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
    expect(q.code, q.stderr).toBe(0)
    expect(JSON.parse(q.stdout)).toEqual({ n: 11 })
    expect(q.stderr).toContain(`petal: note: key file ${bad} is not valid JSON`)
  })

  // rewrap opens past blocks' data keys with this node's encryption keys: a damaged key file was
  // left out without a word (review29), and rewrap then said the node held no encryption key and
  // to run it on another node; now it stops at the damaged file with its hint, which works.
  it('rewrap stops at a damaged key file with its hint (it said the node held no encryption key)', async () => {
    const dir = await chainOfTwo()
    const ok = async (args: string[]): Promise<string> => {
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0)
      return r.stdout
    }
    // The set-up in this process (the keys and the encrypted block are not what is checked).
    const setUp = async (args: string[]): Promise<string> => {
      const r = await petalInProcess(args)
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0)
      return r.stdout
    }
    const id = (JSON.parse(await setUp(['--dir', dir, '--json', 'keys', 'generate', '--purpose', 'encrypt'])) as { id: string }).id
    const [pem, backup, csv] = ['a.pem', 'a.key', 'p.csv'].map(n => join(tmpDir(), n)) as [string, string, string]
    await setUp(['--dir', dir, 'keys', 'export', id, '-o', pem])
    await setUp(['--dir', dir, 'keys', 'export', id, '--private', '-o', backup])
    writeFileSync(csv, 'id,diag\r\n1,flu\r\n')
    await setUp(['--dir', dir, 'signimportblock', csv, '--table', 'p', '--encrypt', 'p.diag', '--recipient', pem])
    const other = join(tmpDir(), 'other')
    const otherId = (JSON.parse(await setUp(['--dir', other, '--json', 'keys', 'generate', '--purpose', 'encrypt'])) as { id: string }).id
    const otherPem = join(tmpDir(), 'other.pem')
    await setUp(['--dir', other, 'keys', 'export', otherId, '-o', otherPem])
    const file = join(dir, 'keystore', `${id.slice(2)}.json`)
    writeFileSync(file, '{"id":')
    const r = await petal(['--dir', dir, 'rewrap', '--recipient', otherPem])
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain(`key file ${file} is not valid JSON`)
    expect(r.stderr).toContain('[KEY_FILE_INVALID]')
    expect(r.stderr).toMatch(/hint: move it out of .*`rewrap`/)
    // The hint: move it out, import the key again from the backup; rewrap then works.
    renameSync(file, join(tmpDir(), 'damaged.json'))
    await ok(['keys', 'import', backup, '--purpose', 'encrypt'])
    expect(JSON.parse(await ok(['--json', 'rewrap', '--recipient', otherPem]))).toMatchObject({ height: 3 })
  })

  // -o FILE was written under a temporary name and renamed over FILE: a FIFO or a link to a device
  // there was replaced by a regular file, and as root `-o /dev/null` replaced the system's
  // /dev/null (review29 and the lead: this machine's was found a regular file). Such a FILE is written into
  // (util/output-file.ts; the unit test covers symlinks to regular files).
  it('checkpoint -o a FIFO or a link to a device writes into it, never replaces it', async () => {
    const dir = await chainOfTwo()
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const fifo = join(tmpDir(), 'fifo')
    execFileSync('mkfifo', [fifo])
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] })
    let got = ''
    reader.stdout.on('data', (d: Buffer) => { got += d.toString() })
    const closed = new Promise(resolve => reader.on('close', resolve))
    const r = await petal(['--dir', dir, 'checkpoint', '-o', fifo])
    const still = lstatSync(fifo).isFIFO()
    if (r.code !== 0 || !still) reader.kill() // its open of the FIFO would wait for ever
    expect(r.code, r.stderr).toBe(0)
    expect(still).toBe(true)
    await closed
    const note = await petal(['--dir', dir, 'checkpoint'])
    expect(got.trimEnd()).toBe(note.stdout.trimEnd())
    expect(got).toContain('\n— ')
    // A link to /dev/full: the write fails (no space), said as such; the link stays a link.
    const link = join(tmpDir(), 'full')
    symlinkSync('/dev/full', link)
    const full = await petal(['--dir', dir, 'checkpoint', '-o', link])
    expect(full.code).toBe(2)
    expect(full.stderr).toContain(`cannot write ${link}`)
    expect(full.stderr).toContain('free space there, or choose a path on another disk')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
  })
})

/** The hint line the CLI printed, and each `…` command in it. */
function hintCommands (stderr: string): { hint: string, commands: string[] } {
  const hint = /^ {2}hint: (.*)$/m.exec(stderr)?.[1] ?? ''
  return { hint, commands: [...hint.matchAll(/`([^`]+)`/g)].map(m => m[1] as string) }
}

/** Run a hint's command exactly as printed, in a shell whose `petal` is the built CLI. */
function runAsWritten (command: string, env: Record<string, string>): { code: number, stdout: string, stderr: string } {
  try {
    const stdout = execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${command}`], { env: { ...process.env, NO_COLOR: '1', PETAL_DIR: '', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    return { code: 0, stdout, stderr: '' }
  } catch (err) {
    const e = err as { status: number, stdout: string, stderr: string }
    return { code: e.status, stdout: e.stdout, stderr: e.stderr }
  }
}

/**
 * hints32: a hint's `petal …` command, run as written, must act on the data directory the error is
 * about. The errors are raised below the CLI, which alone knows the user's --dir: "rebuild it with
 * `petal reindex`", run as printed, rebuilt $PETAL_DIR or ~/.petal instead (here HOME is a fresh
 * directory, so a command that goes there is seen to fail or to leave --dir as it was).
 */
describe('a hint\'s command, run as written, acts on the --dir the user gave', () => {
  it('a --dir or a file with a space, a $ or a quote is one word of the printed command: init\'s next steps and signimportblock\'s --table hint run as printed (review33)', async () => {
    // They were printed bare: `npx petal --dir my d$x blocks` ran on the directory `my` with `d`
    // as the command, and signimportblock's hint (no backticks) got no --dir at all.
    const home = tmpDir()
    const dir = join(tmpDir(), 'my d$x it\'s')
    const init = await petal(['--dir', dir, 'init'], { env: { HOME: home } })
    expect(init.code, init.stderr).toBe(0)
    const steps = init.stdout.split('\n').filter(l => /^ {2}npx petal /.test(l))
    expect(steps).toHaveLength(4)
    for (const step of steps.filter(l => / (blocks|verify|mykeys) /.test(l))) {
      const r = runAsWritten(`npx () { "$@"; }\n${step}`, { HOME: home })
      expect({ step, code: r.code }, r.stderr).toEqual({ step, code: 0 })
    }
    const rows = join(tmpDir(), 'rows of $HOME.csv')
    writeFileSync(rows, 'a,b\n1,2\n')
    const r = await petal(['--dir', dir, 'signimportblock', rows], { env: { HOME: home } })
    expect(r.code).toBe(2)
    const { commands } = hintCommands(r.stderr)
    expect(commands).toHaveLength(1)
    const sealed = runAsWritten((commands[0] ?? '').replace('NAME', 'readings'), { HOME: home })
    expect(sealed.code, sealed.stderr).toBe(0)
    expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'], { env: { HOME: home } })).stdout)).toMatchObject({ blocks: 2 })
    expect(existsSync(join(home, '.petal'))).toBe(false)
  })

  it('no chain in --dir: `petal --dir DIR newchain` makes it there', async () => {
    const home = tmpDir()
    const dir = join(tmpDir(), 'my dir')
    const r = await petal(['--dir', dir, 'status'], { env: { HOME: home } })
    expect(r.code).toBe(4)
    const { commands } = hintCommands(r.stderr)
    expect(commands[0]).toBe(`petal --dir '${dir}' newchain PARAMS.json`)
    const params = join(tmpDir(), 'params.json')
    writeFileSync(params, '{"creator": "x", "description": "y"}')
    const made = runAsWritten((commands[0] ?? '').replace('PARAMS.json', params), { HOME: home })
    expect(made.code, made.stderr).toBe(0)
    expect((await petal(['--dir', dir, 'status'], { env: { HOME: home } })).code).toBe(0)
    expect(existsSync(join(home, '.petal'))).toBe(false)
  })

  it('a damaged chain.db: the hint\'s `petal --dir DIR reindex` rebuilds that one', async () => {
    const home = tmpDir()
    const dir = await chainOfTwo()
    // Its log copied in and gone first (a close leaves it since session 39: SQLite would read every page from it).
    const settle = new Database(join(dir, 'chain.db'))
    settle.pragma('wal_checkpoint(TRUNCATE)')
    settle.close()
    writeFileSync(join(dir, 'chain.db'), Buffer.alloc(8192, 7))
    const r = await petal(['--dir', dir, 'status'], { env: { HOME: home } })
    expect(r.stderr).toContain('[INDEX_CORRUPT]')
    const { commands } = hintCommands(r.stderr)
    expect(commands).toEqual([`petal --dir ${dir} reindex`])
    const again = runAsWritten(commands[0] ?? '', { HOME: home })
    expect(again.code, again.stderr).toBe(0)
    const ok = await petal(['--dir', dir, '--json', 'status'], { env: { HOME: home } })
    expect(JSON.parse(ok.stdout)).toMatchObject({ tip: { height: 1 } })
  })

  it('an unknown table and a block above the tip: the hints\' commands list what there is', async () => {
    const dir = await chainOfTwo()
    const q = await petal(['--dir', dir, 'query', 'SELECT * FROM nosuch'])
    expect(q.code).toBe(8)
    const listed = runAsWritten(hintCommands(q.stderr).commands[0] ?? '', {})
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toBe('{"name":"t"}\n')
    const meta = await petal(['--dir', dir, 'query', 'SELECT * FROM _meta'])
    const perBlock = hintCommands(meta.stderr).commands
    expect(perBlock).toEqual([`petal --dir ${dir} query --per-block "SELECT * FROM _meta"`, `petal --dir ${dir} signers`])
    for (const c of perBlock) expect(runAsWritten(c, {}).code, c).toBe(0)
    // `block 99` said "give a height, a full hash, …": 99 is a height; the hint now says where the chain ends.
    const b = await petal(['--dir', dir, 'block', '99'])
    expect(b.code).toBe(2)
    const h = hintCommands(b.stderr)
    expect(h.hint).toContain('the chain\'s heights run from 0 to 1')
    expect(runAsWritten(h.commands[0] ?? '', {}).stdout).toMatch(/^1 /m)
  })

  // A node started without a signing key refused records with INGEST_NO_KEY, hint "create a key with
  // `petal keygen` and have the signatories add it": done so while it ran, it still refused, since a
  // node loads its key when it starts. The hint now says to restart it; followed, the post is taken.
  it('records to a node without a key: keygen, restart and the signatories\' endorsement, as the hint says, make the post work', async () => {
    const signatory = await chainOfTwo()
    const dir = join(tmpDir(), 'keyless')
    cpSync(signatory, dir, { recursive: true })
    rmSync(join(dir, 'keystore'), { recursive: true })
    const token = (await petalInProcess(['--dir', dir, 'tokens', 'create'])).stdout.trim()
    const post = async (url: string): Promise<{ status: number, body: { error?: { code: string, hint: string } } }> => {
      const res = await fetch(`${url}api/v1/records/r`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '[{"a": 1}]' })
      return { status: res.status, body: await res.json() as { error?: { code: string, hint: string } } }
    }
    const start = async (): Promise<{ url: string, stop: () => Promise<unknown> }> => {
      const node = spawnPetal(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--no-dht'])
      let out = ''
      node.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
      const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { timeout: 30_000, what: 'the node\'s HTTP URL' }).catch(async (err: unknown) => { node.child.kill('SIGKILL'); await node.exit; throw err })
      return { url, stop: async () => { node.child.kill('SIGTERM'); return await node.exit } }
    }
    let node = await start()
    try {
      const refused = await post(node.url)
      expect(refused.status).toBe(409)
      expect(refused.body.error?.code).toBe('INGEST_NO_KEY')
      expect(refused.body.error?.hint).toContain('restart')
      expect((await petal(['--dir', dir, 'keygen'])).code).toBe(0)
      expect((await post(node.url)).body.error?.code).toBe('INGEST_NO_KEY') // still: the node loaded no key at its start
      await node.stop()
      node = await start()
      expect((await post(node.url)).body.error?.code).toBe('INGEST_NOT_SIGNATORY')
      const pub = (JSON.parse((await petal(['--dir', dir, '--json', 'mykeys'])).stdout) as Array<{ public_key: string }>)[0]?.public_key ?? ''
      const endorsement = join(tmpDir(), 'add.json')
      expect((await petal(['--dir', signatory, 'signkey', pub, '--op', 'add', '-o', endorsement])).code).toBe(0)
      expect((await petal(['--dir', signatory, 'signimportblock', '--keyops', endorsement])).code).toBe(0)
      expect((await petal(['--dir', dir, 'import', join(signatory, '0000', 'block_00000002.db')])).code).toBe(0)
      const taken = await post(node.url)
      expect(taken.status, JSON.stringify(taken.body)).toBe(202)
    } finally {
      await node.stop() // a failed expectation must not leave the node running
    }
  })
})

// ALREADY_RUNNING said "stop it first" and no way to: the hint now names Ctrl-C and `kill PID`,
// which, run as printed, stops the node cleanly; the refused `run` then starts (hints32).
describe('a second node on a data directory', () => {
  it('ALREADY_RUNNING: the hint\'s `kill PID`, run as printed, stops the first node and the second then runs', async () => {
    const dir = await chainOfTwo()
    const args = ['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', 'off', '--no-dht']
    const first = spawnPetal(args)
    let out = ''
    first.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    try {
      await waitFor(() => out.includes('/p2p/'), { timeout: 30_000, what: 'the first node to listen' })
      const refused = await petal(args)
      expect(refused.code).toBe(4)
      expect(refused.stderr).toContain(`a node (pid ${first.child.pid ?? ''}) is already running on`)
      const { commands } = hintCommands(refused.stderr)
      expect(commands).toEqual([`kill ${first.child.pid ?? ''}`])
      expect(runAsWritten(commands[0] ?? '', {}).code).toBe(0)
      expect((await first.exit).code).toBe(0) // SIGTERM: a clean stop
    } finally {
      first.child.kill('SIGKILL')
    }
    const second = spawnPetal(args)
    let out2 = ''
    second.child.stdout?.on('data', (d: Buffer) => { out2 += d.toString() })
    try {
      await waitFor(() => out2.includes('/p2p/'), { timeout: 30_000, what: 'the second node to listen' })
    } finally {
      second.child.kill('SIGTERM')
      await second.exit
    }
  })
})
