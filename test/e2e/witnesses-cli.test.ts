import { afterAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, hintOf, petal } from '../helpers/cli.js'
import { spawnNode, type RunningNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const nodes: RunningNode[] = []
afterAll(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

/** Run `cmd` as a user types it, `petal` being the built CLI, with `env`. */
function typed (cmd: string, env: Record<string, string>): void {
  execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${cmd}`], { env: { ...process.env, ...env }, stdio: 'ignore' })
}

// `petal witnesses list | add | remove` (docs/cli.md): the data directory's `witnesses` file,
// whose witnesses' cosignatures a node keeps (docs/proofs.md, "Which cosignatures a node keeps").
describe('petal witnesses', () => {
  it('lists the witness whose `run --witness` printed the command, run as printed on another node; refuses a listed and an unlisted name with true hints', async () => {
    const home = tmpDir()
    const root = tmpDir()
    const [wDir, rDir] = [join(root, 'witness node'), join(root, 'reader')]
    const env = { HOME: home, PETAL_DIR: '' }
    for (const d of [wDir, rDir]) expect((await petal(['--dir', d, 'init'], { env })).code).toBe(0)

    // The witness's node says how to be listed; its operator's command, run on the reader's node.
    const w = await spawnNode(['--dir', wDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', 'off', '--witness', 'example.org/w'], env)
    nodes.push(w)
    const cmd = await waitFor(() => /`(petal witnesses add [^`]+)` on their node/.exec(w.stderr())?.[1], { what: 'run --witness to print how to be listed' })
    await w.stop()
    const vkey = (await petal(['--dir', wDir, 'checkpoint', '--witness-vkey', 'example.org/w'], { env })).stdout.trim()
    expect(cmd).toBe(`petal witnesses add ${vkey}`)
    writeFileSync(join(rDir, 'witnesses'), '# witnesses we trust\n')
    typed(cmd, { ...env, PETAL_DIR: rDir })
    const list = await petal(['--dir', rDir, '--json', 'witnesses', 'list'], { env })
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual({ witnesses: [{ name: 'example.org/w', key_id: vkey.split('+')[1], vkey, line: 2 }], own: null, resets: [] })
    expect(readFileSync(join(rDir, 'witnesses'), 'utf8')).toBe(`# witnesses we trust\n${vkey}\n`)

    // Listed already: a coded refusal whose hint, run as printed, shows it.
    const again = await petal(['--dir', rDir, 'witnesses', 'add', vkey], { env })
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('[PROOF_WITNESS_LISTED]')
    expect(hintOf(again.stderr)).toBe(`nothing to do: \`petal --dir ${rDir} witnesses list\` shows it`)
    typed(`petal --dir ${rDir} witnesses list`, env)
    const shown = await petal(['--dir', rDir, 'witnesses', 'list'], { env })
    expect(shown.stdout).toMatch(/^NAME +KEY ID +LINE\nexample\.org\/w +[0-9a-f]{8} +2\n$/)

    // Not a key: a usage error, nothing written.
    const bad = await petal(['--dir', rDir, 'witnesses', 'add', vkey.slice(0, 50)], { env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('not a witness\'s verifier key')

    const removed = await petal(['--dir', rDir, '--json', 'witnesses', 'remove', 'example.org/w'], { env })
    expect(JSON.parse(removed.stdout)).toMatchObject({ removed: [{ name: 'example.org/w', line: 2 }] })
    expect(readFileSync(join(rDir, 'witnesses'), 'utf8')).toBe('# witnesses we trust\n')
    const gone = await petal(['--dir', rDir, 'witnesses', 'remove', 'example.org/w'], { env })
    expect(gone.code).toBe(2)
    expect(gone.stderr).toContain('[PROOF_WITNESS_NOT_LISTED]')

    // A malformed file: refused, naming the line; the hint's command is the witness operator's, run
    // on their node (no --dir of this one), and prints the key to put there.
    writeFileSync(join(rDir, 'witnesses'), 'example.org/w+0000\n')
    const broken = await petal(['--dir', rDir, 'witnesses', 'list'], { env })
    expect(broken.code).toBe(4)
    expect(broken.stderr).toContain('[PROOF_WITNESSES_INVALID]')
    const hint = hintOf(broken.stderr)
    expect(hint).toContain('with `petal checkpoint --witness-vkey NAME` on their node')
    expect((await petal(['--dir', wDir, 'checkpoint', '--witness-vkey', 'example.org/w'], { env })).stdout.trim()).toBe(vkey)
  }, 120_000)

  it('run --witness with an encrypted key and no passphrase: the passphrase is asked for, not a new key', async () => {
    // It ran as a follower ("your default key is encrypted…") and then stopped with "--witness
    // needs a key to cosign with", hint "create one with `petal keygen`", though the key was there.
    const home = tmpDir()
    const dir = join(tmpDir(), 'w')
    const env = { HOME: home, PETAL_DIR: '' }
    expect((await petal(['--dir', dir, 'init'], { env })).code).toBe(0)
    expect((await petal(['--dir', dir, 'keygen', '--default'], { env: { ...env, PETAL_PASSPHRASE: 'secret' } })).code).toBe(0)
    const r = await petal(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', 'off', '--witness', 'example.org/w'], { env })
    expect(r.code).toBe(5)
    expect(r.stderr).toContain('[PASSPHRASE_REQUIRED]')
    expect(hintOf(r.stderr)).toBe('give the passphrase with --passphrase-file FILE or the PETAL_PASSPHRASE environment variable')
  }, 60_000)

  it('an empty list names the witness\'s own `run --witness` without this directory\'s --dir', async () => {
    // With --dir it read `petal --dir THIS run --witness`: run here, that prints this node's own
    // key as a witness, not the witness's to list (review52).
    const dir = join(tmpDir(), 'reader')
    const env = { HOME: tmpDir(), PETAL_DIR: '' }
    expect((await petal(['--dir', dir, 'init'], { env })).code).toBe(0)
    const r = await petal(['--dir', dir, 'witnesses', 'list'], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`\`petal --dir ${dir} witnesses add VKEY\``)
    expect(r.stdout).toContain('as `petal run --witness` on their node prints it')
  }, 60_000)
})
