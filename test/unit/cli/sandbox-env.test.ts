import { afterEach, describe, expect, it } from 'vitest'
import { sandboxEnv } from '../../../src/cli/sandbox-env.js'

describe('the query sandbox\'s environment', () => {
  const saved = { ca: process.env.NODE_EXTRA_CA_CERTS, tz: process.env.TZ }
  afterEach(() => {
    for (const [k, v] of [['NODE_EXTRA_CA_CERTS', saved.ca], ['TZ', saved.tz]] as const) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })

  it('is this process\'s less the certificate bundle Node would parse at start, and leaves this process\'s alone', () => {
    process.env.NODE_EXTRA_CA_CERTS = '/etc/ssl/certs/ca-certificates.crt'
    process.env.TZ = 'Europe/Paris'
    const env = sandboxEnv()
    expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined()
    expect(env.TZ).toBe('Europe/Paris')
    expect(env.PATH).toBe(process.env.PATH)
    expect(process.env.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/certs/ca-certificates.crt')
  })
})
