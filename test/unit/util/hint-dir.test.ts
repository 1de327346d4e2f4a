import { describe, expect, it } from 'vitest'
import { hintWithDir } from '../../../src/util/hint-dir.js'

// hints32: a hint's command, run as printed, must act on the --dir the user gave (the e2e side,
// with each command run: test/e2e/hints.test.ts).
describe('hintWithDir', () => {
  it('puts the user\'s --dir into each `petal …` command for this data directory', () => {
    expect(hintWithDir('rebuild it with `petal reindex`', '/data/a')).toBe('rebuild it with `petal --dir /data/a reindex`')
    expect(hintWithDir('`npx petal status` or `petal verify --repair`', 'rel/b')).toBe('`npx petal --dir rel/b status` or `petal --dir rel/b verify --repair`')
  })

  it('quotes a directory the shell would split or expand', () => {
    expect(hintWithDir('`petal status`', '/my dir/x')).toBe('`petal --dir \'/my dir/x\' status`')
    expect(hintWithDir('`petal status`', '~/d')).toBe('`petal --dir \'~/d\' status`')
    expect(hintWithDir('`petal status`', 'it\'s')).toBe('`petal --dir \'it\'\\\'\'s\' status`')
  })

  it('leaves alone: no --dir given, a command naming its directory, --help, and what others run on their nodes', () => {
    const hint = 'run `petal reindex`'
    expect(hintWithDir(hint, undefined)).toBe(hint)
    for (const h of [
      '`petal --dir /x verify` checks it',
      '`petal adopt-daisy /d --dir NEW` makes a chain',
      'see `petal --help`',
      'the signatories run `petal signkey PUBKEY --op add -o e1.json`, one seals them with `petal signimportblock --keyops e1.json`',
      'a signatory writes it with `petal keys export`',
      '`petal verify-proof FILE`',
      'see `petal peers` on another node'
    ]) expect(hintWithDir(h, '/data/a')).toBe(h)
  })
})
