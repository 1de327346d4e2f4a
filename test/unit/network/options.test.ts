import { describe, expect, it } from 'vitest'
import { DEFAULT_NETWORK_OPTIONS, withDefaults } from '../../../src/network/index.js'

describe('network options', () => {
  it('treat an explicit undefined as "use the default" (pull --follow without --listen)', () => {
    const o = withDefaults({ listen: undefined, announce: undefined, bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/x'] })
    expect(o.listen).toEqual(DEFAULT_NETWORK_OPTIONS.listen)
    expect(o.announce).toEqual(DEFAULT_NETWORK_OPTIONS.announce)
    expect(o.bootstrap).toEqual(['/ip4/127.0.0.1/tcp/1/p2p/x'])
    expect(withDefaults({ listen: [] }).listen).toEqual([])
  })
})
