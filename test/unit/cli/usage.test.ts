import { beforeAll, describe, expect, it } from 'vitest'
import { extendChain, newTestChain } from '../../helpers/chain.js'
import { petalInProcess } from '../../helpers/cli.js'
import { intOption, secondsOption } from '../../../src/cli/args.js'

let dir: string

beforeAll(async () => {
  const t = await newTestChain()
  await extendChain(t.chain, t.key, 2)
  t.chain.close()
  dir = t.dir
})

/** Every `petal …` command a hint names, run with --help: it must exist (a hint must be true). */
async function checkHintCommands (hint: string): Promise<string> {
  let help = ''
  for (const [, cmd] of hint.matchAll(/`petal ([^`]*)`/g)) {
    const args = (cmd as string).split(' ').filter(a => a !== '--help')
    const r = await petalInProcess([...args, '--help'])
    expect(r.code, `hint command \`petal ${cmd as string}\` exists`).toBe(0)
    help += r.stdout
  }
  return help
}

describe('usage errors: numbers and ranges', () => {
  // Each option that takes a number, with values it must refuse (exit 2, [USAGE], a hint).
  const cases: Array<{ args: string[], bad: string[] }> = [
    { args: ['blocks', '--from'], bad: ['99999999999999999999', '9007199254740992', '-1', '0x10', '1e3', '1.5', ' 5', '', '+3', '٣'] },
    { args: ['blocks', '-n'], bad: ['0', '-5', '99999999999999999999', 'ten'] },
    { args: ['query', 'SELECT 1', '--per-block', '--from'], bad: ['99999999999999999999', '-1', '2.0', '1e2'] },
    { args: ['query', 'SELECT 1', '--per-block', '--to'], bad: ['99999999999999999999', '-1', '0b1'] },
    { args: ['query', 'SELECT 1', '--max-rows'], bad: ['99999999999999999999', '-1', '1.5', 'Infinity'] },
    { args: ['query', 'SELECT 1', '--timeout'], bad: ['-1', '1e3', '86401', 'NaN', '.5'] },
    { args: ['signers', '--height'], bad: ['99999999999999999999', '-1', '1.0', '0x1'] },
    { args: ['verify', '--workers'], bad: ['0', '65', '-1', '1.5', '99999999999999999999'] },
    { args: ['verify-proof', 'proof.json', '--trust', 'key.pem', '--min-signatures'], bad: ['101', '-1', '1.5', '99999999999999999999', 'two'] },
    { args: ['run', '--seal-every'], bad: ['-1', '1e3', '86401', 'soon'] },
    { args: ['run', '--seal-rows'], bad: ['0', '-1', '1.5', '99999999999999999999'] },
    { args: ['run', '--seal-bytes'], bad: ['0', '-1', '16XB', 'lots', '99999999999999999999'] },
    { args: ['append', 't', '--max-rows'], bad: ['0', '-3', '1.5'] }
  ]
  for (const c of cases) {
    it(`${c.args.filter(a => !a.includes(' ')).join(' ')} refuses ${c.bad.map(b => JSON.stringify(b)).join(', ')}`, async () => {
      for (const v of c.bad) {
        const r = await petalInProcess(['--dir', dir, ...c.args, v])
        expect(r.code, `${c.args.join(' ')} ${JSON.stringify(v)}: ${r.stderr}${r.stdout}`).toBe(2)
        expect(r.stderr).toMatch(/\[USAGE\]\n {2}hint: \S/)
        expect(r.stdout).toBe('')
      }
    })
  }

  it('refuses a range that is empty by construction, or starts above the tip (tip is 2)', async () => {
    for (const [args, pattern] of [
      [['query', '--per-block', '--from', '5', '--to', '2', 'SELECT 1'], /--from 5 is above --to 2/],
      [['query', '--per-block', '--from', '3', 'SELECT 1'], /--from 3 is above the tip, which is at height 2/],
      [['blocks', '--from', '3'], /--from 3 is above the tip, which is at height 2/],
      [['blocks', '--asc', '--from', '99999'], /above the tip/]
    ] as Array<[string[], RegExp]>) {
      const r = await petalInProcess(['--dir', dir, ...args])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(pattern)
      expect(r.stderr).toMatch(/\[USAGE\]\n {2}hint: \S/)
    }
  })

  it('still accepts what is valid: the tip, --to above the tip, 0 where it means something', async () => {
    const ok = [
      ['blocks', '--from', '2', '-n', '1'],
      ['blocks', '--asc', '--from', '0'],
      ['query', '--per-block', '--from', '2', '--to', '99', '--max-rows', '0', 'SELECT COUNT(*) FROM _meta'],
      ['query', '--timeout', '0', 'SELECT 1'],
      ['signers', '--height', '0'],
      ['verify', '--workers', '2']
    ]
    for (const args of ok) {
      const r = await petalInProcess(['--dir', dir, ...args])
      // --max-rows 0 with one row is QUERY_TOO_MANY_ROWS (exit 8): the value itself was accepted.
      expect(r.code === 0 || (args.includes('--max-rows') && r.code === 8), `${args.join(' ')}: ${r.stderr}`).toBe(true)
    }
  })

  it('parses what the sweep relies on: a positive timeout never rounds to "no limit"', () => {
    expect(secondsOption('--timeout', 86_400)('0.0001')).toBe(1)
    expect(secondsOption('--timeout', 86_400)('0')).toBe(0)
    expect(secondsOption('--timeout', 86_400)('2.5')).toBe(2500)
    expect(intOption('--workers', { min: 1, max: 64 })('064')).toBe(64)
  })
})

describe('usage errors from commander, in Petal\'s format', () => {
  const cases: Array<{ args: string[], message: RegExp, suggestion?: string }> = [
    { args: ['qurey'], message: /unknown command 'qurey'/, suggestion: '`petal query`' },
    { args: ['keys', 'lst'], message: /unknown command 'lst'/, suggestion: '`petal keys list`' },
    { args: ['verify', '--deeep'], message: /unknown option '--deeep'/, suggestion: '--deep' },
    { args: ['--dri', 'x', 'status'], message: /unknown option '--dri'/, suggestion: '--dir' },
    { args: ['verify', '--bogus'], message: /unknown option '--bogus'/ },
    { args: ['block'], message: /missing required argument 'ref'/ },
    { args: ['block', '1', '2'], message: /too many arguments for 'block'/ },
    { args: ['signkey', 'abc'], message: /required option '--op <op>' not specified/ },
    { args: ['query', 'SELECT 1', '--format'], message: /option '-f, --format <format>' argument missing/ },
    { args: ['keys'], message: /petal keys needs a command/ },
    { args: [], message: /petal needs a command/ }
  ]
  for (const c of cases) {
    it(`petal ${c.args.join(' ')}: [USAGE], exit 2, a true hint${c.suggestion !== undefined ? ' with "did you mean"' : ''}, JSON with --json`, async () => {
      const r = await petalInProcess(['--dir', dir, ...c.args])
      expect(r.code).toBe(2)
      const line = /^petal: error: (.*) \[USAGE\]\n {2}hint: (.*)$/m.exec(r.stderr)
      expect(line, r.stderr).not.toBeNull()
      const [, message, hint] = line as unknown as [string, string, string]
      expect(message).toMatch(c.message)
      expect(message).not.toMatch(/Did you mean|\n/)
      if (c.suggestion !== undefined) expect(hint).toContain(`did you mean ${c.suggestion}?`)
      const help = await checkHintCommands(hint)
      if (c.suggestion?.startsWith('--') === true) expect(help).toContain(c.suggestion)

      const j = await petalInProcess(['--json', '--dir', dir, ...c.args])
      expect(j.code).toBe(2)
      const doc = JSON.parse(j.stdout.trim().split('\n').at(-1) as string) as { error: { code: string, message: string, hint: string } }
      expect(doc.error).toMatchObject({ code: 'USAGE', message, hint })
    })
  }
})

describe('environment variables', () => {
  // PETAL_SYNCFS: a value other than the known ones silently meant "auto" (a typo such as
  // PETAL_SYNCFS=off left syncfs on); like PETAL_LOG_LEVEL, it is refused with a true hint.
  it('PETAL_SYNCFS: an unknown value is a usage error (exit 2) whose hint names the values it takes', async () => {
    for (const v of ['off', 'on', 'true', '2', ' 1', 'yes', '0 ']) {
      const r = await petalInProcess(['--dir', dir, 'status'], { env: { PETAL_SYNCFS: v } })
      expect(r.code, `PETAL_SYNCFS=${JSON.stringify(v)}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain('PETAL_SYNCFS')
      const hint = /\n {2}hint: (.*)\n/.exec(r.stderr)?.[1] ?? ''
      for (const ok of ['0', '1', 'auto']) expect(hint).toContain(`PETAL_SYNCFS=${ok}`)
      expect(r.stdout).toBe('')
    }
  })

  it('PETAL_SYNCFS: 0, 1, auto, empty and unset are taken', async () => {
    for (const v of ['0', '1', 'auto', '', undefined]) {
      const r = await petalInProcess(['--dir', dir, 'status'], { env: { PETAL_SYNCFS: v } })
      expect(r.code, `PETAL_SYNCFS=${JSON.stringify(v)}: ${r.stderr}`).toBe(0)
    }
  })
})
