import type { Command } from 'commander'
import type { NetworkOptions } from '../../network/index.js'
import type { SigningKey } from '../../crypto/index.js'
import { isPetalError } from '../../util/index.js'
import type { CliContext } from '../context.js'
import { short, UsageError } from '../output.js'

export interface NetworkFlags { listen: string[], announce: string[], bootstrap: string[], dht: boolean }

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** --listen, --announce, --bootstrap (repeatable) and --no-dht, shared by run and pull. */
export function addNetworkOptions (cmd: Command, listenDefault = 'default /ip4/0.0.0.0/tcp/2017'): Command {
  return cmd
    .option('--listen <multiaddr>', `listen on this address (repeatable; ${listenDefault})`, collect, [])
    .option('--announce <multiaddr>', 'advertise this address to peers instead of the listen addresses (repeatable)', collect, [])
    .option('--bootstrap <multiaddr>', 'dial this peer, …/p2p/<peer id> (repeatable; added to chainparams bootstrap_peers)', collect, [])
    .option('--no-dht', 'do not search the DHT for more peers')
}

/** Check the flags' multiaddrs (a usage error, not a network one) and turn them into options. */
export async function networkOptions (f: NetworkFlags & { pullFrom?: string }, defaultListen?: string[]): Promise<Partial<NetworkOptions>> {
  // Loaded on use: libp2p takes ~0.4 s to load, and commands that do not network should not pay it.
  const { NetworkError, parseMultiaddr } = await import('../../network/index.js')
  const check = (list: string[], flag: string, needPeer: boolean): void => {
    for (const a of list) {
      try {
        parseMultiaddr(a, needPeer)
      } catch (err) {
        if (err instanceof NetworkError) throw new UsageError(`${flag}: ${err.message}`, err.hint ?? 'give a multiaddr, e.g. /ip4/192.0.2.1/tcp/4001/p2p/PEER_ID')
        throw err
      }
    }
  }
  if (f.pullFrom !== undefined) check([f.pullFrom], 'the address to pull from', true)
  check(f.listen, '--listen', false)
  check(f.announce, '--announce', false)
  check(f.bootstrap, '--bootstrap', true)
  const o: Partial<NetworkOptions> = { announce: f.announce, bootstrap: f.bootstrap }
  if (f.listen.length > 0) o.listen = f.listen
  else if (defaultListen !== undefined) o.listen = defaultListen
  if (!f.dht) o.discovery = false
  return o
}

/**
 * The key a node signs re-sealed orphans with: --key, else the keystore's default if there is
 * one. An encrypted default key without a passphrase makes the node a follower (with a warning);
 * an explicitly chosen key must load.
 */
export function nodeSigningKey (ctx: CliContext): SigningKey | undefined {
  if (ctx.opts.key === undefined && ctx.keystore().list().length === 0) return undefined
  try {
    return ctx.loadKey()
  } catch (err) {
    if (ctx.opts.key === undefined && isPetalError(err) && err.code === 'PASSPHRASE_REQUIRED') {
      ctx.out.note('your default key is encrypted and no passphrase was given: running as a follower (set PETAL_PASSPHRASE or --passphrase-file to sign)')
      return undefined
    }
    throw err
  }
}

export function roleLine (role: string, key: SigningKey | undefined): string {
  return role === 'signatory' ? `signatory (key ${short(key?.id ?? '')})` : key !== undefined ? `follower (key ${short(key.id)} is not a signatory)` : 'follower'
}
