import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { ECDH } from 'node:crypto'
import { readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal, petalInProcess, type Exit } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

/** `petal …` under a file-size limit of `kib` KiB (RLIMIT_FSIZE): a write past it fails with EFBIG, as on a full disk. */
async function petalWithFileLimit (kib: number, args: string[]): Promise<Exit> {
  return await new Promise<Exit>(resolve => {
    const quoted = args.map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    // Ignore SIGXFSZ (inherited across exec) so the write fails with EFBIG instead of killing the process.
    const p = spawn('bash', ['-c', `ulimit -f ${kib}; trap '' XFSZ; exec "${process.execPath}" "${CLI}" ${quoted}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    p.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
  })
}

/** A new chain, made by the CLI in this process (a set-up, not what the tests check). */
async function newDir (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  return dir
}

async function tip (dir: string): Promise<number> {
  const s = await petal(['--dir', dir, '--json', 'verify'])
  expect(s.code, s.stderr).toBe(0)
  return (JSON.parse(s.stdout) as { tip_height: number }).tip_height
}

describe('failures of the machine are coded, hinted, and change nothing', () => {
  it('a full disk (a file-size limit) while copying the input, and while SQLite writes the block', async () => {
    const dir = await newDir()
    const input = makeSqlite(join(tmpDir(), 'big.db'), 20_000)
    const kib = Math.ceil(statSync(input).size / 1024)
    const copying = await petalWithFileLimit(Math.floor(kib / 2), ['--dir', dir, 'signimportblock', input])
    expect(copying.code, copying.stderr).toBe(4)
    expect(copying.stderr).toMatch(/EFBIG.*\[DISK_FULL\]/)
    expect(copying.stderr).toMatch(/hint: raise the file-size limit \(`ulimit -f`\) or free space on the disk that holds .*\/tmp, then run the command again; nothing was changed/)
    expect(copying.stderr).not.toContain('internal error')
    // The copy fits; the pages SQLite adds to it (_meta, _keys, _tables) do not.
    const writing = await petalWithFileLimit(kib + 2, ['--dir', dir, 'signimportblock', input])
    expect(writing.code, writing.stderr).toBe(4)
    expect(writing.stderr).toMatch(/a write failed under SQLite \(SQLITE_IOERR_WRITE\).*\[IO_ERROR\]/)
    expect(writing.stderr).not.toMatch(/CORRUPT|internal error/)
    // Nothing changed, nothing left behind, and the same import works with room to write.
    expect(await tip(dir)).toBe(0)
    expect(readdirSync(join(dir, 'tmp'))).toEqual([])
    expect((await petal(['--dir', dir, 'signimportblock', input])).code).toBe(0)
    expect(await tip(dir)).toBe(1)
  })

  it('a truncated key file is KEY_FILE_INVALID, and its hint works', async () => {
    const dir = await newDir()
    const second = await petal(['--dir', dir, '--json', 'keygen'])
    const other = (JSON.parse(second.stdout) as { id: string }).id
    const ks = join(dir, 'keystore')
    const damaged = readdirSync(ks).find(n => n.endsWith('.json') && n !== `${other.slice(2)}.json`) as string
    writeFileSync(join(ks, damaged), '{"id":')
    for (const args of [['mykeys'], ['signimportblock', makeSqlite(join(tmpDir(), 'x.db'))]]) {
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, r.stderr).toBe(5)
      expect(r.stderr).toMatch(/key file .* is not valid JSON \(truncated or damaged\).*\[KEY_FILE_INVALID\]/)
      expect(r.stderr).toMatch(/hint: move it out of .*keystore/)
    }
    renameSync(join(ks, damaged), join(tmpDir(), damaged))
    const after = await petal(['--dir', dir, '--json', 'mykeys'])
    expect(after.code, after.stderr).toBe(0)
    expect((JSON.parse(after.stdout) as Array<{ id: string }>).map(k => k.id)).toEqual([other])
  })

  it('a damaged journal is JOURNAL_INVALID, and its hint works', async () => {
    const dir = await newDir()
    writeFileSync(join(dir, 'journal.json'), '{"commit": "ab", "mo')
    const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'j.db'))])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/journal\.json, cannot be read.*\[JOURNAL_INVALID\]/)
    renameSync(join(dir, 'journal.json'), join(tmpDir(), 'journal.json'))
    expect(await tip(dir)).toBe(0)
    expect((await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'j.db'))])).code).toBe(0)
  })

  it('signkey refuses a key in another encoding than the canonical one, naming its id', async () => {
    const dir = await newDir()
    const keys = JSON.parse((await petal(['--dir', dir, '--json', 'mykeys'])).stdout) as Array<{ id: string, public_key: string }>
    const spki = Buffer.from(keys[0]?.public_key as string, 'hex')
    const compressed = ECDH.convertKey(spki.subarray(26), 'prime256v1', undefined, undefined, 'compressed') as Buffer
    const alias = Buffer.concat([Buffer.of(0x30, 0x39), spki.subarray(2, 23), Buffer.of(0x03, 0x22, 0x00), compressed]).toString('hex')
    const r = await petal(['--dir', dir, 'signkey', alias, '--op', 'add'])
    expect(r.code).toBe(5)
    expect(r.stderr).toContain(`the same key is ${keys[0]?.id as string} [PUBLIC_KEY_NOT_CANONICAL]`)
  })

  it('import --from a directory of another chain says so, with a true hint', async () => {
    const mine = await newDir()
    const theirs = await newDir()
    expect((await petal(['--dir', theirs, 'signimportblock', makeSqlite(join(tmpDir(), 'o.db'))])).code).toBe(0)
    const r = await petal(['--dir', mine, 'import', '--from', theirs])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/holds another chain \(genesis [0-9a-f]{64}\); this data directory holds chain [0-9a-f]{64} \[GENESIS_MISMATCH\]/)
    expect(r.stderr).not.toContain('PARENT_UNKNOWN')
    const hint = /hint: .*e\.g\. `petal --dir (\S+) status`/.exec(r.stderr)
    expect(hint?.[1]).toBe(theirs)
    expect((await petal(['--dir', theirs, 'status'])).code).toBe(0)
  })

  it('a file where the data directory needs a directory is PATH_CONFLICT, not a stack trace', async () => {
    const dir = await newDir()
    rmSync(join(dir, 'tmp'), { recursive: true, force: true })
    writeFileSync(join(dir, 'tmp'), 'in the way')
    const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'y.db'))])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain('[PATH_CONFLICT]')
    expect(r.stderr).toMatch(/hint: look at .*tmp: move what is in the way/)
    expect(r.stderr).not.toContain('internal error')
  })
})
