import { quorumFor, type KeyState } from '../../chain/index.js'
import { nextSealMs } from '../../ingest/index.js'
import type { RouteSpec } from '../route.js'
import { HASH, KEY_ID } from '../schemas.js'
import type { ApiContext } from '../types.js'

export const API_VERSION = 'v1'

function ingestStatus (ctx: ApiContext): Record<string, unknown> | null {
  if (ctx.ingest === undefined) return null
  const s = ctx.ingest.stats()
  const policy = ctx.node?.sealPolicy?.()
  return {
    pending_rows: s.pendingRows,
    pending_bytes: s.pendingBytes,
    claimed_rows: s.claimedRows,
    oldest_pending_ms: s.oldestPendingMs ?? null,
    seal_policy: policy === undefined ? null : { every_ms: policy.everyMs, rows: policy.rows ?? null, bytes: policy.bytes ?? null },
    next_seal_ms: policy === undefined ? null : nextSealMs(policy, { rows: s.pendingRows, bytes: s.pendingBytes, oldestMs: s.oldestPendingMs }) ?? null,
    sealed_rows: s.sealed,
    last_seal: s.lastSeal === undefined ? null : { height: s.lastSeal.height, hash: s.lastSeal.hash, rows: s.lastSeal.rows, latency_ms: s.lastSeal.latencyMs }
  }
}

/** The key the node seals with and its standing at the tip; null: it was started without one (api54). */
function signingKey (id: string | undefined, keys: KeyState): Record<string, unknown> | null {
  return id === undefined ? null : { id, active: keys.isActive(id), added_at: keys.get(id)?.addedAt ?? null, revoked_at: keys.get(id)?.revokedAt ?? null }
}

function status (ctx: ApiContext): Record<string, unknown> {
  return ctx.chain.index.readTransaction(() => {
    const chain = ctx.chain
    const tip = chain.tip()
    const counts = chain.index.countBlocks()
    const keys = chain.keysAt(tip)
    const p = chain.params
    const n = ctx.node
    return {
      chain_id: chain.chainId,
      description: p.description,
      creator: p.creator,
      tip: { height: tip.height, hash: tip.hash, timestamp: tip.timestamp, signer: tip.signer },
      blocks: counts.canonical,
      side_blocks: counts.side,
      signatories: { active: keys.activeCount, total: keys.all().length },
      consensus: {
        quorum_rule: p.quorumRule,
        // What a key operation in the next block needs: the rule at that height over today's signatories.
        key_op_quorum: quorumFor(p.quorumRule, tip.height + 1, keys.activeCount),
        max_block_bytes: p.maxBlockBytes,
        max_reorg_depth: p.maxReorgDepth
      },
      node: n === undefined
        ? null
        : { peer_id: n.peerId, role: n.role(), signing_key: signingKey(n.signingKey?.(), keys), peers: n.peers().length, sync: n.sync(), listen: n.listen() },
      ingest: ingestStatus(ctx),
      api: { version: API_VERSION, writes: ctx.ingest !== undefined, exposed: ctx.access.expose, public_read: !ctx.access.expose || ctx.access.publicRead }
    }
  })
}

export const statusRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/status',
  operationId: 'getStatus',
  summary: 'The chain and this node: tip, block counts, signatories, consensus, peers and sync',
  access: 'read',
  responses: {
    200: {
      description: 'status',
      content: {
        'application/json': {
          type: 'object',
          required: ['chain_id', 'tip', 'blocks', 'side_blocks', 'signatories', 'consensus', 'node', 'ingest', 'api'],
          properties: {
            chain_id: HASH,
            description: { type: 'string' },
            creator: { type: 'string' },
            tip: { type: 'object', required: ['height', 'hash', 'timestamp', 'signer'], properties: { height: { type: 'integer' }, hash: HASH, timestamp: { type: 'string' }, signer: KEY_ID } },
            blocks: { type: 'integer', description: 'canonical blocks, genesis included' },
            side_blocks: { type: 'integer' },
            signatories: { type: 'object', properties: { active: { type: 'integer' }, total: { type: 'integer' } } },
            consensus: {
              type: 'object',
              required: ['quorum_rule', 'key_op_quorum', 'max_block_bytes', 'max_reorg_depth'],
              properties: {
                quorum_rule: { type: 'string', enum: ['daisy', 'daisy-capped', 'majority'] },
                key_op_quorum: { type: 'integer', minimum: 1, description: 'endorsements by distinct active signatories that a key operation in the next block needs' },
                max_block_bytes: { type: 'integer' },
                max_reorg_depth: { type: 'integer' }
              }
            },
            node: {
              description: 'null under `petal serve` (no network)',
              oneOf: [
                { type: 'null' },
                {
                  type: 'object',
                  required: ['peer_id', 'role', 'signing_key', 'peers', 'sync'],
                  properties: {
                    peer_id: { type: 'string' },
                    role: { type: 'string', enum: ['signatory', 'follower'] },
                    signing_key: {
                      description: 'the key this node seals with, and whether it is an active signatory at the tip (`added_at`: the height of the block that added it, null when none has; `revoked_at`: the height that revoked it, null when none has); null when the node was started without a key (a follower that seals nothing)',
                      oneOf: [
                        { type: 'null' },
                        { type: 'object', required: ['id', 'active', 'added_at', 'revoked_at'], properties: { id: KEY_ID, active: { type: 'boolean' }, added_at: { type: ['integer', 'null'] }, revoked_at: { type: ['integer', 'null'] } } }
                      ]
                    },
                    peers: { type: 'integer' },
                    sync: { type: 'object', properties: { state: { type: 'string', enum: ['idle', 'syncing'] }, height: { type: 'integer' }, target: { type: 'integer' } } },
                    listen: { type: 'array', items: { type: 'string' } }
                  }
                }
              ]
            },
            ingest: {
              description: 'rows waiting to be sealed by this node; null without record ingestion (petal serve)',
              oneOf: [
                { type: 'null' },
                {
                  type: 'object',
                  required: ['pending_rows', 'pending_bytes', 'claimed_rows', 'sealed_rows', 'last_seal'],
                  properties: {
                    pending_rows: { type: 'integer', description: 'rows acknowledged and in no canonical block, claimed ones included (as their receipts say: pending)' },
                    pending_bytes: { type: 'integer' },
                    claimed_rows: { type: 'integer', description: 'of `pending_rows`, those a seal has claimed and not ended: a seal at work now, or one stopped part-way whose rows the next seal takes' },
                    oldest_pending_ms: { type: ['integer', 'number', 'null'] },
                    seal_policy: {
                      description: 'when this node seals: once the oldest pending row is `every_ms` old, or `rows` / `bytes` are pending; null when it does not seal (no key loaded)',
                      oneOf: [{ type: 'null' }, { type: 'object', properties: { every_ms: { type: 'integer' }, rows: { type: ['integer', 'null'] }, bytes: { type: ['integer', 'null'] } } }]
                    },
                    next_seal_ms: { type: ['integer', 'number', 'null'], description: 'in how many ms the seal loop seals what is pending (0: due now); null when nothing is pending or this node does not seal' },
                    sealed_rows: { type: 'integer', description: 'rows this node sealed since it started' },
                    last_seal: { oneOf: [{ type: 'null' }, { type: 'object', properties: { height: { type: 'integer' }, hash: HASH, rows: { type: 'integer' }, latency_ms: { type: 'number' } } }] }
                  }
                }
              ]
            },
            api: { type: 'object', properties: { version: { type: 'string' }, writes: { type: 'boolean' }, exposed: { type: 'boolean' }, public_read: { type: 'boolean' } } }
          }
        }
      }
    }
  },
  handler: async (_req, _reply, ctx) => status(ctx)
}]
