import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { NetworkError } from './errors.js'

/** Parse and check a multiaddr given by a user (flags, chainparams); `needPeerId` for dial targets. */
export function parseMultiaddr (text: string, needPeerId = false): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch {
    throw new NetworkError('BAD_MULTIADDR', `not a multiaddr: ${JSON.stringify(text)}`, { hint: 'e.g. /ip4/192.0.2.7/tcp/2017/p2p/12D3KooW…' })
  }
  if (needPeerId && addrPeerId(ma) === undefined) {
    throw new NetworkError('BAD_MULTIADDR', `${text} does not end with /p2p/<peer id>`, { hint: 'copy the full address a running node prints, e.g. /ip4/192.0.2.7/tcp/2017/p2p/12D3KooW…' })
  }
  return ma
}

/** The peer id a multiaddr names (its last /p2p/ component), if any. */
export function addrPeerId (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}


/** A dial target given by a user: a multiaddr ending in /p2p/<peer id>, and that peer id. */
export function parseDialAddress (text: string): { ma: Multiaddr, peer: string } {
  const ma = parseMultiaddr(text, true)
  const peer = addrPeerId(ma)
  if (peer === undefined) throw new NetworkError('BAD_MULTIADDR', `${text} does not end with /p2p/<peer id>`)
  return { ma, peer }
}
