import { describe, expect, it } from 'vitest'
import { systemFailure } from '../../../src/storage/index.js'

// A read SQLite could not make is met by commands that only read (status, query, verify): their
// hint must not say "SQLite rolled the change back", a change they never made (mend35).
describe('systemFailure: a failed read under SQLite', () => {
  for (const code of ['SQLITE_IOERR_CORRUPTFS', 'SQLITE_IOERR_READ', 'SQLITE_IOERR_SHORT_READ']) {
    it(`${code} is IO_ERROR with a hint that fits a read`, () => {
      const e = systemFailure(Object.assign(new Error('disk I/O error'), { code }))
      expect(e?.code).toBe('IO_ERROR')
      expect(e?.hint).toMatch(/^check the disk \(dmesg, fsck\), then run the command again: a read that fails changes nothing/)
      expect(e?.hint).not.toMatch(/rolled (the|its) change back/)
    })
  }

  it('another I/O error under SQLite says the rollback only of a command that was writing', () => {
    expect(systemFailure(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_LOCK' }))?.hint).toBe('check the disk (dmesg, fsck), then run the command again; if the command was writing, SQLite rolled its change back')
  })
})
