import type { ConnectionEncrypter, SecuredConnection } from '@libp2p/interface'
import { useCorkedWrites } from './corked-writes.js'
import { useLeanEncrypt } from './lean-encrypt.js'
import { useLeanDecrypt } from './lean-noise.js'

/**
 * A connection encrypter factory (`noise()`) that also trims the cost of every byte the
 * connection carries, where libp2p has no option for it: the TCP connection it secures writes each
 * send in one system call (corked-writes.ts), and the secured connection decrypts without noise's
 * extra copy (lean-noise.ts), in place when `inPlace` (the factory's noise uses noise-crypto.ts's
 * native cipher), and then also encrypts each send's messages into one buffer (lean-encrypt.ts).
 * Each applies only to the libp2p shapes it knows and leaves any other connection as it is.
 */
export function leanTransport<C, X> (factory: (components: C) => ConnectionEncrypter<X>, inPlace = false): (components: C) => ConnectionEncrypter<X> {
  return (components: C) => {
    const enc = factory(components)
    const lean = (s: SecuredConnection<X>): SecuredConnection<X> => {
      useLeanDecrypt(s.connection, inPlace)
      if (inPlace) useLeanEncrypt(s.connection)
      return s
    }
    const inbound = enc.secureInbound.bind(enc)
    const outbound = enc.secureOutbound.bind(enc)
    enc.secureInbound = async (connection, options) => { useCorkedWrites(connection); return lean(await inbound(connection, options)) }
    enc.secureOutbound = async (connection, options) => { useCorkedWrites(connection); return lean(await outbound(connection, options)) }
    return enc
  }
}
