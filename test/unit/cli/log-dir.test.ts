import { describe, expect, it } from 'vitest'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { CliContext } from '../../../src/cli/context.js'
import { hintDirOf } from '../../../src/util/index.js'

// A log line of a command (`petal run`'s among them) whose hint names a `petal …` command names
// the user's --dir in it, as the command's errors do (hint-dir): run as printed, it acts on that
// directory, not on $PETAL_DIR or ~/.petal.
function logged (dir: string | undefined): string {
  let err = ''
  const ctx = new CliContext(dir === undefined ? {} : { dir }, { stdout: () => {}, stderr: s => { err += s }, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
  ctx.logger.warn('mirror sync stopped: chain.db is damaged, see `petal status`', { code: 'INDEX_CORRUPT', hint: 'rebuild it with `petal reindex`', peers: 2 })
  return err
}

describe('log lines name the user\'s --dir in their commands', () => {
  it('puts --dir, quoted for the shell, into the message and the hint', () => {
    const line = logged('/data/my node')
    expect(line).toContain("see `petal --dir '/data/my node' status`")
    expect(line).toContain("rebuild it with `petal --dir '/data/my node' reindex`")
    expect(line).toContain('peers=2')
  })

  it('leaves them as they are without --dir', () => {
    const line = logged(undefined)
    expect(line).toContain('see `petal status`')
    expect(line).toContain('rebuild it with `petal reindex`')
  })

  it('the HTTP API names the node\'s directory unless it is ~/.petal', () => {
    expect(hintDirOf(join(homedir(), '.petal'))).toBe(undefined)
    expect(hintDirOf('/srv/petal')).toBe('/srv/petal')
  })
})
