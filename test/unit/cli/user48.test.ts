import { Command } from 'commander'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { COMMAND_MODULES } from '../../../src/cli/commands/index.js'
import { newProgram, type Action } from '../../../src/cli/program.js'
import { petalInProcess, initInProcess } from '../../helpers/cli.js'
import { whileServing } from '../../helpers/serve.js'

// Session 48's follow-ups a user meets in the CLI's words (user48).

let work: string
let signatory: string

beforeAll(async () => { ({ work, dir: signatory } = await initInProcess('signatory')) }, 60_000)

it('`petal --json --version` prints JSON (it printed the bare number)', async () => {
  for (const args of [['--json', '--version'], ['--version', '--json'], ['--json', '-V'], ['--dir', work, '--json', '--version']]) {
    const r = await petalInProcess(args)
    expect(r.code, args.join(' ')).toBe(0)
    expect(JSON.parse(r.stdout), args.join(' ')).toEqual({ version: '0.1.0' })
  }
  // Without --json, the number as before.
  expect((await petalInProcess(['--version'])).stdout).toBe('0.1.0\n')
})

it('no option\'s help ends with commander\'s "(default: [])" (docs47)', async () => {
  const program = newProgram({ stdout: () => {}, stderr: () => {} })
  const noAction: Action = () => async () => {}
  for (const m of COMMAND_MODULES) (await m.load()).register(program, noAction)
  const all: Command[] = [program]
  const walk = (c: Command): void => { for (const s of c.commands) { all.push(s); walk(s) } }
  walk(program)
  const repeatable = all.flatMap(c => c.options.filter(o => Array.isArray(o.defaultValue)).map(o => ({ c, o })))
  expect(repeatable.length).toBeGreaterThanOrEqual(10)
  for (const c of all) expect(c.helpInformation(), c.name()).not.toContain('[]')
  // The rest of a repeatable option's description stays.
  const run = all.find(c => c.name() === 'run')
  expect(run?.helpInformation().replace(/\s+/g, ' ')).toContain('--bootstrap <multiaddr> dial this peer, …/p2p/<peer id> (repeatable; added to chainparams bootstrap_peers)')
  // And a real default is still shown.
  expect(all.find(c => c.name() === 'serve')?.helpInformation().replace(/\s+/g, ' ')).toContain('(default: "127.0.0.1:2018")')
})

/** The hint of serve's refusal of a one-row write to `readings`. */
async function refusedWrite (url: string): Promise<string> {
  const res = await fetch(new URL('api/v1/records/readings', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"v":1}]' })
  const body = await res.json() as { error: { code: string, hint: string } }
  expect(res.status).toBe(409)
  expect(body.error.code).toBe('API_READ_ONLY')
  return body.error.hint
}

describe('serve\'s API_READ_ONLY hint fits the directory (it suggested `petal run` on a mirror without a key)', () => {
  it('a mirror without a key: read-only, and how to become a signatory, each command run as printed', async () => {
    const mirror = join(work, 'mirror')
    cpSync(join(signatory, 'chainparams.json'), join(mirror, 'chainparams.json'))
    cpSync(join(signatory, '0000'), join(mirror, '0000'), { recursive: true })
    expect((await petalInProcess(['--dir', mirror, 'reindex'])).code).toBe(0)
    await whileServing(mirror, async url => {
      const hint = await refusedWrite(url)
      expect(hint).toContain('read-only mirror')
      expect(hint).toContain(`\`petal --dir ${mirror} keygen\``)
      // The hint's keygen, run as printed, makes the key; its mykeys prints it; then the hint names it.
      expect((await petalInProcess(['--dir', mirror, 'keygen'])).code).toBe(0)
      const keys = await petalInProcess(['--dir', mirror, '--json', 'mykeys'])
      expect(keys.code).toBe(0)
      const after = await refusedWrite(url)
      expect(after).toMatch(/this directory's key 1:[0-9a-f]{12,}… is not an active signatory at height 0/)
      expect(after).not.toContain('read-only mirror')
      // review49: the commands "on their node", run there as printed (a chain of one signatory: its
      // quorum is one endorsement), add the key. The hint ended at `signkey`, which only prints one.
      const pub = (JSON.parse(keys.stdout) as Array<{ id: string, public_key: string }>)[0]
      for (const h of [hint, after]) {
        const commands = [...h.matchAll(/`petal ([^`]*)` on their node/g)].map(m => m[1] as string)
        expect(commands, h).toEqual(['signkey PUBKEY --op add -o e1.json', 'signimportblock --keyops e1.json --keyops e2.json …'])
      }
      const signkey = /`petal (signkey [^`]*)` on their node/.exec(after)?.[1] as string
      const endorsed = await petalInProcess(['--dir', signatory, ...signkey.replace('PUBKEY', pub?.public_key ?? '?').replace('e1.json', join(work, 'e1.json')).split(' ')])
      expect(endorsed.code, endorsed.stderr).toBe(0)
      const sealed = await petalInProcess(['--dir', signatory, 'signimportblock', '--keyops', join(work, 'e1.json')])
      expect(sealed.code, sealed.stderr).toBe(0)
      const signers = await petalInProcess(['--dir', signatory, '--json', 'signers'])
      expect(signers.stdout).toContain(pub?.id ?? '?')
    })
  }, 120_000)

  it('a signatory\'s directory: serve only reads; run a node, or append and seal here', async () => {
    await whileServing(signatory, async url => {
      const hint = await refusedWrite(url)
      expect(hint).toMatch(/key 1:[0-9a-f]{12,}… is a signatory/)
      expect(hint).toContain(`\`petal --dir ${signatory} run\``)
      expect(hint).toContain(`\`petal --dir ${signatory} append TABLE FILE\``)
      // A receipt is not this server's either, and its hint says who has it.
      const res = await fetch(new URL('api/v1/receipts/abcdefgh-1', url))
      expect(res.status).toBe(409)
      expect(((await res.json()) as { error: { hint: string } }).error.hint).toContain('the node that acknowledged its row')
    })
  }, 120_000)
})
