import { chmodSync, readFileSync } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { isNotFound, writeFileAtomic } from '../util/index.js'
import { NetworkError } from './errors.js'
import { checkDataFile } from '../storage/index.js'

/** The node's libp2p identity: an Ed25519 key kept in `node.key` (mode 0600), created on first use. */
export async function loadOrCreateNodeKey (path: string): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    checkDataFile(path, 'node identity')
    bytes = readFileSync(path)
  } catch (err) {
    if (!isNotFound(err)) throw err
    const key = await generateKeyPair('Ed25519')
    writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
    chmodSync(path, 0o600)
    return key
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new NetworkError('NODE_KEY_INVALID', `${path} is not a libp2p private key`, { hint: 'remove it to generate a new node identity (the peer id will change)', cause: err })
  }
}

/** The peer id (`12D3KooW…`) of a node key. */
export function peerIdOf (key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}
