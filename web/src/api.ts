// The JSON API, as the explorer reads it. A read token (needed only on a node exposed without
// --public-read) lives in this module's memory for the tab's life: never in storage, never in a URL.
import { parseLossless, type Lossless } from './json.js'

let token: string | undefined

export function setToken (t: string | undefined): void { token = t === '' ? undefined : t }
export function hasToken (): boolean { return token !== undefined }

/** An API error, with the code, message and hint the node sent. */
export class ApiFailure extends Error {
  constructor (readonly status: number, readonly code: string, message: string, readonly hint?: string, readonly details?: Record<string, unknown>) {
    super(message)
  }
}

function headers (extra: Record<string, string> = {}): Record<string, string> {
  return token === undefined ? extra : { ...extra, Authorization: `Bearer ${token}` }
}

/** The error of a failed response: the API's `{error: {code, message, hint}}`, or what the status says. */
export async function failureOf (r: Response): Promise<ApiFailure> {
  const text = await r.text().catch(() => '')
  try {
    const j: unknown = JSON.parse(text)
    if (typeof j === 'object' && j !== null && 'error' in j) {
      const e: unknown = j.error
      if (typeof e === 'object' && e !== null && 'code' in e && 'message' in e) {
        const hint = 'hint' in e && typeof e.hint === 'string' ? e.hint : undefined
        const details = 'details' in e && typeof e.details === 'object' && e.details !== null ? e.details as Record<string, unknown> : undefined
        return new ApiFailure(r.status, String(e.code), String(e.message), hint, details)
      }
    }
  } catch {}
  return new ApiFailure(r.status, `HTTP_${r.status}`, `${r.status} ${r.statusText}`)
}

async function send (path: string, init: RequestInit = {}): Promise<Response> {
  let r: Response
  try {
    r = await fetch(path, { ...init, headers: headers(init.headers as Record<string, string> | undefined) })
  } catch (err) {
    if (init.signal?.aborted === true) throw err
    throw new ApiFailure(0, 'NETWORK', 'the node did not answer', 'is it still running? (`petal run` or `petal serve`)')
  }
  if (!r.ok) throw await failureOf(r)
  return r
}

/** GET a JSON document (heights, counts and hashes only: JSON.parse is exact for them). */
export async function getJson<T> (path: string, signal?: AbortSignal): Promise<T> {
  const r = await send(path, { signal })
  return await r.json() as T
}

/** GET a document holding values from blocks, numbers kept exact. */
export async function getLossless (path: string, signal?: AbortSignal): Promise<Lossless> {
  const r = await send(path, { signal })
  return parseLossless(await r.text())
}

export async function getText (path: string, signal?: AbortSignal): Promise<string> {
  return await (await send(path, { signal })).text()
}

/** POST JSON, answer as a Response (the caller reads it in the format it asked for). */
export async function postJson (path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return await send(path, { method: 'POST', body: JSON.stringify(body), signal, headers: { 'Content-Type': 'application/json' } })
}

// The shapes of the API documents the pages read (docs/api.md).
export interface Status {
  chain_id: string
  description: string
  tip: { height: number, hash: string, timestamp: string, signer: string }
  blocks: number
  side_blocks: number
  signatories: { active: number, total: number }
  consensus: { quorum_rule: string, key_op_quorum: number, max_block_bytes: number, max_reorg_depth: number }
  /** signing_key: absent from a node older than session 54 */
  node: null | { peer_id: string, role: string, signing_key?: null | { id: string, active: boolean, added_at: number | null, revoked_at: number | null }, peers: number, sync: { state: string, height: number, target?: number }, listen: string[] }
  ingest: IngestStatus | null
}
/** Rows waiting to be sealed by the node (GET /api/v1/status `ingest`; docs/api.md). */
export interface IngestStatus {
  pending_rows: number
  pending_bytes: number
  /** Of pending_rows, those a seal has claimed and not ended (absent from a node older than session 54). */
  claimed_rows?: number
  oldest_pending_ms: number | null
  seal_policy: null | { every_ms: number, rows: number | null, bytes: number | null }
  next_seal_ms: number | null
  sealed_rows: number
  last_seal: null | { height: number, hash: string, rows: number, latency_ms: number }
}
export interface BlockSummary { height: number, hash: string, parent: string, timestamp: string, signer: string, size: number, table_count: number, row_count: number, key_op_count: number }
export interface BlockList { blocks: BlockSummary[], next_before: number | null }
export interface Block extends BlockSummary {
  version: number
  canonical: boolean
  rows_root: string
  seal: string
  prev_sig?: string
  signer_public_key?: string
  /** `_meta` Description, whole (a re-seal's mark included). */
  description?: string
  /** The origin a re-seal's mark names: the block first published with this content. */
  reseal_of?: string
  tables: Array<{ name: string, sql: string, rows: number, root: string, rows_url: string }>
  key_ops: Array<{ op: string, key_id: string, public_key: string, endorsed_by: string[] }>
  file_url: string
}
/** `peers` (at the tip, active keys only): the peers this node knows whose status proved they hold the key. */
export interface SignatoryPeer { id: string, addrs: string[], connected: boolean, last_seen: string | null }
export interface Signers { height: number, active: number, signers: Array<{ id: string, public_key: string, added_at: number, revoked_at: number | null, active: boolean, peers?: SignatoryPeer[] }> }
export interface Peers { network: boolean, peers: Array<{ id: string, addr: string, direction: string, tip_height?: number }> }
export interface Activity { from: number, to: number, bucket_seconds: number, buckets: Array<{ start: number, blocks: number, rows: number }>, total_blocks: number, total_rows: number }

/** The hash a `tip` event of GET /api/v1/events names (undefined when its data is not that shape). */
export function tipHash (e: Event): string | undefined {
  try {
    const d: unknown = JSON.parse((e as MessageEvent<string>).data)
    return typeof d === 'object' && d !== null && typeof (d as { hash?: unknown }).hash === 'string' ? (d as { hash: string }).hash : undefined
  } catch { return undefined }
}
