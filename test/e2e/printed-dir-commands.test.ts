import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// The `petal …` commands that outputs and notes print (not errors' hints, which got the user's
// --dir before) were printed without it: run as printed they acted on $PETAL_DIR or ~/.petal
// (append's `petal seal` sealed another chain's rows, or none), and `prove -o` printed its file
// unquoted (review34). Each is run here as printed, by bash, with HOME empty.
function runPrinted (cmd: string, home: string, cwd?: string, petalDir = ''): string {
  return execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${cmd}`], { cwd, env: { ...process.env, HOME: home, PETAL_DIR: petalDir }, encoding: 'utf8' })
}

describe('commands printed by outputs and notes name the --dir given, quoted', () => {
  it('append\'s `petal seal` and `petal receipt ID`, status\'s `petal run`', async () => {
    const home = tmpDir()
    const dir = join(tmpDir(), 'my node')
    const env = { env: { HOME: home } }
    expect((await petal(['--dir', dir, 'init'], env)).code).toBe(0)
    const rows = join(tmpDir(), 'rows.csv')
    writeFileSync(rows, 'a,b\n1,2\n')
    const appended = await petal(['--dir', dir, 'append', 'readings', rows], env)
    expect(appended.code, appended.stderr).toBe(0)
    const seal = /`(petal [^`]*seal)`/.exec(appended.stderr)?.[1]
    expect(seal).toBe(`petal --dir '${dir}' seal`)
    expect(appended.stderr).toContain(`\`petal --dir '${dir}' receipt ID\``)
    runPrinted(seal ?? '', home)
    const receipt = runPrinted(`petal --dir '${dir}' receipt ${appended.stdout.trim()}`, home)
    expect(receipt).toContain('sealed in block 1')
    const status = await petal(['--dir', dir, 'status'], env)
    expect(status.stdout).toContain(`not running (start it with \`petal --dir '${dir}' run\`)`)
    expect(existsSync(join(home, '.petal'))).toBe(false)
  }, 120_000)

  it('keys list\'s `petal keygen`', async () => {
    const home = tmpDir()
    const dir = join(tmpDir(), 'no keys')
    const list = await petal(['--dir', dir, 'keys', 'list'], { env: { HOME: home } })
    expect(list.code, list.stderr).toBe(0)
    const cmd = /`(petal [^`]*)`/.exec(list.stdout)?.[1]
    expect(cmd).toBe(`petal --dir '${dir}' keygen`)
    runPrinted(cmd ?? '', home)
    const again = await petal(['--dir', dir, '--json', 'keys', 'list'], { env: { HOME: home } })
    expect(JSON.parse(again.stdout)).toHaveLength(1)
    expect(existsSync(join(home, '.petal'))).toBe(false)
  }, 60_000)

  it('keys generate --purpose encrypt\'s `petal keys export ID -o recipient.pem`', async () => {
    const home = tmpDir()
    const dir = join(tmpDir(), 'enc node')
    const made = await petal(['--dir', dir, 'keys', 'generate', '--purpose', 'encrypt', '--plain'], { env: { HOME: home } })
    expect(made.code, made.stderr).toBe(0)
    const cmd = /encrypt for you: (petal .*)$/m.exec(made.stdout)?.[1]
    expect(cmd).toMatch(new RegExp(`^petal --dir '${dir}' keys export [0-9a-f]{12} -o recipient\\.pem$`))
    const work = tmpDir()
    runPrinted(cmd ?? '', home, work)
    expect(readFileSync(join(work, 'recipient.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/)
    expect(existsSync(join(home, '.petal'))).toBe(false)
  }, 60_000)

  it('prove -o: its `petal verify-proof FILE` with the file quoted', async () => {
    const home = tmpDir()
    const dir = join(tmpDir(), 'node')
    const env = { env: { HOME: home } }
    expect((await petal(['--dir', dir, 'init'], env)).code).toBe(0)
    const rows = join(tmpDir(), 'rows.csv')
    writeFileSync(rows, 'a,b\n1,2\n')
    const appended = await petal(['--dir', dir, 'append', 'readings', rows], env)
    expect((await petal(['--dir', dir, 'seal'], env)).code).toBe(0)
    const work = tmpDir()
    const made = await petal(['--dir', dir, 'prove', '--receipt', appended.stdout.trim(), '-o', 'my proof.json'], { ...env, cwd: work })
    expect(made.code, made.stderr).toBe(0)
    // Where SIGNATORY.pem comes from (user52): this node's key is the signatory's, exported here.
    const exported = /^SIGNATORY\.pem: this node's key is a signatory's; `(petal [^`]*)` writes it$/m.exec(made.stdout)?.[1]
    expect(exported).toMatch(new RegExp(`^petal --dir ${dir} keys export [0-9a-f]{12} -o SIGNATORY\\.pem$`))
    runPrinted(exported ?? '', home, work)
    const cmd = /check it anywhere with: (petal .*)$/m.exec(made.stdout)?.[1]
    expect(cmd).toBe('petal verify-proof \'my proof.json\' --trust SIGNATORY.pem')
    expect(runPrinted(cmd ?? '', home, work)).toContain('VERIFIED: 1 row proven')
  }, 120_000)

  it('prove on a reader\'s node (no signatory key) says whose key SIGNATORY.pem is and where it is exported; verify-proof without --trust says so too', async () => {
    const home = tmpDir()
    const signatory = join(tmpDir(), 'signatory node')
    const env = { env: { HOME: home } }
    expect((await petal(['--dir', signatory, 'init'], env)).code).toBe(0)
    const rows = join(tmpDir(), 'rows.csv')
    writeFileSync(rows, 'a,b\n1,2\n')
    expect((await petal(['--dir', signatory, 'append', 'readings', rows], env)).code).toBe(0)
    expect((await petal(['--dir', signatory, 'seal'], env)).code).toBe(0)
    // A reader's copy of the chain: the same blocks and checkpoints, no keystore.
    const reader = join(tmpDir(), 'reader')
    cpSync(signatory, reader, { recursive: true })
    rmSync(join(reader, 'keystore'), { recursive: true })
    const work = tmpDir()
    const made = await petal(['--dir', reader, 'prove', '--height', '1', '--table', 'readings', '--rowid', '1', '-o', 'proof.json'], { ...env, cwd: work })
    expect(made.code, made.stderr).toBe(0)
    const theirs = /^SIGNATORY\.pem: the signatory's public key \(1:[0-9a-f]{12}…\), as its operator writes it with `(petal keys export [0-9a-f]{12} -o SIGNATORY\.pem)` on their node$/m.exec(made.stdout)?.[1]
    expect(theirs, made.stdout).toBeDefined()
    // On their node: the signatory's directory is theirs ($PETAL_DIR there).
    runPrinted(theirs ?? '', home, work, signatory)
    expect(runPrinted('petal verify-proof proof.json --trust SIGNATORY.pem', home, work)).toContain('VERIFIED: 1 row proven')
    // verify-proof without --trust: its hint's command, KEY_ID filled in, on their node.
    const bare = await petal(['verify-proof', join(work, 'proof.json')], env)
    expect(bare.code).toBe(2)
    const hinted = /`(petal keys export KEY_ID -o signatory\.pem)` on their node/.exec(bare.stderr)?.[1]
    expect(hinted, bare.stderr).toBeDefined()
    const id = /keys export ([0-9a-f]{12})/.exec(theirs ?? '')?.[1] ?? ''
    runPrinted((hinted ?? '').replace('KEY_ID', id), home, work, signatory)
    expect(runPrinted('petal verify-proof proof.json --trust signatory.pem', home, work)).toContain('VERIFIED: 1 row proven')
  }, 120_000)
})
