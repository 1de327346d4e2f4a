import type { Command } from 'commander'
import { ApiError, DEFAULT_HTTP_ADDRESS, parseHttpAddress, type AccessPolicy, type HttpAddress } from '../../api/index.js'
import { UsageError } from '../output.js'

export interface HttpFlags { http: string, httpExpose?: boolean, publicRead?: boolean }

const DEFAULT = `${DEFAULT_HTTP_ADDRESS.host}:${DEFAULT_HTTP_ADDRESS.port}`

/** --http, --http-expose, --public-read, shared by run and serve. */
export function addHttpOptions (cmd: Command): Command {
  return cmd
    .option('--http <host:port>', `serve the HTTP API and explorer here (port 0: a free one; off: not at all)`, DEFAULT)
    .option('--http-expose', 'allow --http on an address other machines can reach (reads then need a token unless --public-read)')
    .option('--public-read', 'with --http-expose: reads need no token (writes always do)')
}

/** The API's address and access policy, or undefined for `--http off`. */
export function httpOptions (f: HttpFlags): { address: HttpAddress, access: AccessPolicy } | undefined {
  if (f.publicRead === true && f.httpExpose !== true) throw new UsageError('--public-read applies with --http-expose', 'on loopback, reads need no token anyway')
  if (f.http === 'off') return undefined
  try {
    return { address: parseHttpAddress(f.http), access: { expose: f.httpExpose === true, publicRead: f.publicRead === true } }
  } catch (err) {
    if (err instanceof ApiError) throw new UsageError(err.message, err.hint ?? 'give HOST:PORT (e.g. 127.0.0.1:2018), a bare PORT, or off')
    throw err
  }
}
