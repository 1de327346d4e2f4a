import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { COMMAND_MODULES, loadCommands } from '../../../src/cli/commands/index.js'
import { DAISY_COMMANDS } from '../../../src/cli/context.js'
import { commandName, newProgram, type Action } from '../../../src/cli/program.js'
import { petalInProcess } from '../../helpers/cli.js'

const noAction: Action = () => async () => {}


describe('lazily loaded command modules', () => {
  it('each module registers exactly the command names the registry lists for it', async () => {
    const seen = new Set<string>()
    for (const m of COMMAND_MODULES) {
      const program = new Command('petal')
      ;(await m.load()).register(program, noAction)
      const names = program.commands.map(c => c.name())
      expect(names.sort(), `module of ${m.names.join(', ')}`).toEqual([...m.names].sort())
      for (const n of names) {
        expect(seen.has(n), `${n} is registered by one module only`).toBe(false)
        seen.add(n)
      }
    }
  })

  it('the module of each command that reads a Daisy directory gives refreshDaisy (verify refreshes for itself); the others do not', async () => {
    // context.ts runs it before the command: a Daisy command without it would fail on a Daisy directory.
    for (const m of COMMAND_MODULES) {
      const daisy = m.names.some(n => DAISY_COMMANDS.has(n) && n !== 'verify')
      expect(typeof (await m.load()).refreshDaisy, m.names.join(', ')).toBe(daisy ? 'function' : 'undefined')
    }
  })

  it('finds the command word after global options and their values', () => {
    const p = newProgram({ stdout: () => {}, stderr: () => {} })
    expect(commandName(p, ['status'])).toBe('status')
    expect(commandName(p, ['--dir', 'status', 'blocks', '-n', '3'])).toBe('blocks')
    expect(commandName(p, ['-d', 'x', '--json', '-k', 'mykeys', '--log-level', 'debug', 'mykeys'])).toBe('mykeys')
    expect(commandName(p, ['--dir=x', '--passphrase-file', 'f', 'query', 'SELECT 1'])).toBe('query')
    expect(commandName(p, ['--help'])).toBeUndefined()
    expect(commandName(p, ['--json', '--', 'status'])).toBeUndefined()
  })

  it('--version needs no command module; a command named after it still runs', async () => {
    expect(await loadCommands(undefined, true)).toEqual([])
    expect(await loadCommands('status', true)).toHaveLength(1)
    const v = await petalInProcess(['--version'])
    expect(v.code).toBe(0)
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('help and unknown commands still see every command', async () => {
    const help = await petalInProcess(['--help'])
    expect(help.code).toBe(0)
    for (const m of COMMAND_MODULES) for (const n of m.names) expect(help.stdout).toMatch(new RegExp(`^  ${n}\\b`, 'm'))
    const typo = await petalInProcess(['--dir', '/nonexistent', 'stauts'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('`petal status`')
    const sub = await petalInProcess(['keys', 'lst'])
    expect(sub.code).toBe(2)
    expect(sub.stderr).toContain('`petal keys list`')
  })
})
