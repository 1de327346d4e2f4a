import { existsSync } from 'node:fs'
import type { FastifyReply } from 'fastify'
import type { BlockRecord } from '../../storage/index.js'
import { Ingest, IngestError } from '../../ingest/index.js'
import { quote, said } from '../../util/index.js'
import { checkpointForHeight, findCheckpoint, proveConsistency, proveRows, ProofError, type BundleDocument, type StoredCheckpoint } from '../../proof/index.js'
import { boolField, field, intField, type RouteSpec, type Schema } from '../route.js'
import { errorResponse, HASH } from '../schemas.js'
import type { ApiContext } from '../types.js'
import { blockOf } from './blocks.js'

// Proofs and checkpoints (docs/proofs.md): the same documents `petal prove` writes, which
// `petal verify-proof` and the explorer's in-browser verifier check.

const ROWID: Schema = { type: 'string', pattern: '^-?[0-9]{1,19}$' }
const FINAL: Schema = { type: 'boolean', default: false, description: 'prove against a final checkpoint (every block in it at least max_reorg_depth below its signer\'s tip)' }

const BUNDLE: Schema = {
  type: 'object',
  description: 'a proof bundle document, version 1 (docs/proofs.md "Proof documents"): one block, one table, the rows, their paths, the block\'s path in the chain tree and the signed checkpoint',
  required: ['petal_proof', 'type', 'chain_id', 'checkpoint', 'blocks'],
  properties: {
    petal_proof: { type: 'integer', const: 1 },
    type: { type: 'string', const: 'bundle' },
    chain_id: HASH,
    checkpoint: { type: 'string', description: 'the C2SP signed note' },
    blocks: { type: 'array', items: { type: 'object' } }
  }
}

const CHECKPOINT: Schema = {
  type: 'object',
  required: ['note', 'size', 'root', 'tip', 'final'],
  properties: {
    note: { type: 'string', description: 'the C2SP signed note (checkpoint text and signature lines)' },
    size: { type: 'integer', description: 'tree size: the checkpoint covers heights 0 … size − 1' },
    root: HASH,
    tip: { type: 'integer', description: 'the signer\'s canonical tip when it signed' },
    final: { type: 'boolean', description: 'every block in it was at least max_reorg_depth below the signer\'s tip' },
    current_tip: { type: 'integer', description: 'this node\'s tip now' },
    source: { type: 'string', description: '"self" when this node signed it' }
  }
}

const PROOF_ERRORS = {
  400: errorResponse('bad parameters'),
  404: errorResponse('no such block (API_BLOCK_NOT_FOUND), table (PROOF_TABLE_NOT_FOUND) or row (PROOF_ROW_NOT_FOUND)'),
  409: errorResponse('no signed checkpoint of the current chain covers the block (PROOF_NO_CHECKPOINT), or the block is on a side branch (PROOF_CHECKPOINT_MISMATCH)'),
  503: errorResponse('the block file or the chain tree is missing or damaged on this node')
}

async function sendJson (reply: FastifyReply, value: unknown): Promise<unknown> {
  return await reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(JSON.stringify(value) + '\n')
}

async function proveOne (ctx: ApiContext, b: BlockRecord, table: string, rowid: string, final: boolean): Promise<BundleDocument> {
  if (!b.canonical) {
    throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `block ${b.hash} is on a side branch: no checkpoint of the chain covers it`, { hint: 'prove rows of canonical blocks (give a height)' })
  }
  return await proveRows(ctx.chain, { height: b.height, table, rows: [{ rowid: BigInt(rowid) }], final, chunkPool: ctx.chunkPool, noCheckpointHint: ctx.noCheckpointHint })
}

function checkpointJson (ctx: ApiContext, c: StoredCheckpoint): Record<string, unknown> {
  return { note: c.note, size: c.size, root: c.root, tip: c.tip, final: c.checkpoint.final, current_tip: ctx.chain.tip().height, source: c.source }
}

const rowProofResponses = (what: string): RouteSpec['responses'] => ({ 200: { description: what, content: { 'application/json': BUNDLE } }, ...PROOF_ERRORS })

const latestCheckpoint = (operationId: string, path: string): RouteSpec => ({
  method: 'GET',
  path,
  operationId,
  summary: 'The latest signed checkpoint of the chain tree this node keeps',
  description: 'The largest stored checkpoint of the current canonical chain (with final=true, the largest final one). Save `note` to trust it later (`petal verify-proof --trust FILE`).',
  access: 'read',
  query: { type: 'object', additionalProperties: false, properties: { final: FINAL } },
  responses: {
    200: { description: 'the checkpoint', content: { 'application/json': CHECKPOINT } },
    400: errorResponse('bad parameters'),
    409: errorResponse('this node keeps no signed checkpoint of the current chain (PROOF_NO_CHECKPOINT)')
  },
  handler: async (req, reply, ctx) => {
    const final = boolField(req.query, 'final') === true
    const c = ctx.chain.index.readTransaction(() => findCheckpoint(ctx.chain, { final }) ?? checkpointForHeight(ctx.chain, 0, final, ctx.noCheckpointHint))
    return await sendJson(reply, checkpointJson(ctx, c))
  }
})

export const proofRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/blocks/{ref}/tables/{table}/rows/{rowid}/proof',
  operationId: 'getRowProof',
  summary: 'A proof that one row is in the chain, checkable offline (`petal verify-proof`) and in the browser',
  description: 'The row of that rowid in a canonical block (ref: height or hash), proven against the latest signed checkpoint that covers the block.',
  access: 'read',
  params: { type: 'object', required: ['ref', 'table', 'rowid'], properties: { ref: { type: 'string', pattern: '^([0-9]{1,15}|[0-9a-f]{8,64})$' }, table: { type: 'string', minLength: 1, maxLength: 1000 }, rowid: ROWID } },
  query: { type: 'object', additionalProperties: false, properties: { final: FINAL } },
  responses: rowProofResponses('the proof bundle'),
  handler: async (req, reply, ctx) => {
    const b = ctx.chain.index.readTransaction(() => blockOf(ctx, field(req.params, 'ref')))
    return await sendJson(reply, await proveOne(ctx, b, field(req.params, 'table') ?? '', field(req.params, 'rowid') ?? '', boolField(req.query, 'final') === true))
  }
}, {
  method: 'GET',
  path: '/api/v1/proofs/row',
  operationId: 'getRowProofByQuery',
  summary: 'The same proof as /blocks/{ref}/tables/{table}/rows/{rowid}/proof, by query parameters',
  access: 'read',
  query: { type: 'object', additionalProperties: false, required: ['height', 'table', 'rowid'], properties: { height: { type: 'integer', minimum: 0, maximum: 1e15 }, table: { type: 'string', minLength: 1, maxLength: 1000 }, rowid: ROWID, final: FINAL } },
  responses: rowProofResponses('the proof bundle'),
  handler: async (req, reply, ctx) => {
    const b = ctx.chain.index.readTransaction(() => blockOf(ctx, String(intField(req.query, 'height') ?? '')))
    return await sendJson(reply, await proveOne(ctx, b, field(req.query, 'table') ?? '', field(req.query, 'rowid') ?? '', boolField(req.query, 'final') === true))
  }
}, {
  method: 'GET',
  path: '/api/v1/receipts/{id}/proof',
  operationId: 'getReceiptProof',
  summary: 'The proof of the row a receipt names, once it is sealed',
  description: 'A receipt of POST /records or `petal append`. Before the row is in a canonical block: 409 PROOF_ROW_PENDING.',
  access: 'read',
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } },
  query: { type: 'object', additionalProperties: false, properties: { final: FINAL } },
  responses: { ...rowProofResponses('the proof bundle'), 409: errorResponse('the row is not sealed yet (PROOF_ROW_PENDING), or no checkpoint covers it yet (PROOF_NO_CHECKPOINT)') },
  handler: async (req, reply, ctx) => {
    const id = field(req.params, 'id') ?? ''
    const unknown = (): IngestError => new IngestError('INGEST_UNKNOWN_RECEIPT', said`no receipt ${quote(JSON.stringify(id))} on this node`, { hint: 'a receipt is answered by the node that issued it', details: { receipt: id }, quoted: { details: ['receipt'] } })
    if (!existsSync(ctx.chain.dir.pendingDb)) throw unknown()
    const ingest = Ingest.open({ chain: ctx.chain, readonly: true, logger: ctx.logger })
    let r
    try {
      r = ingest.receipt(id)
    } finally {
      await ingest.close()
    }
    if (r === undefined) throw unknown()
    const pending = (): ProofError => new ProofError('PROOF_ROW_PENDING', `receipt ${id}: its row is not sealed into a block yet`, { hint: 'ask again after the next seal (GET /api/v1/events sends `sealed`)', details: { receipt: id } })
    const sealed = r.sealed
    if (sealed === undefined) throw pending()
    // The receipt's own block, not whatever is at its height: a reorg after the receipt was read
    // (the reader's close above yields) put another block there, maybe with a row of that table
    // and rowid, whose proof this was (review45). Checked again after the proof, which yields too.
    const b = ctx.chain.index.byHash(sealed.blockHash)
    if (b?.canonical !== true) throw pending()
    const bundle = await proveOne(ctx, b, sealed.table, sealed.rowid, boolField(req.query, 'final') === true)
    if (bundle.blocks[0]?.hash !== sealed.blockHash) throw pending()
    return await sendJson(reply, bundle)
  }
}, {
  method: 'GET',
  path: '/api/v1/proofs/consistency',
  operationId: 'getConsistencyProof',
  summary: 'A proof that the chain of the checkpoint of size `to` extends that of size `from`',
  description: 'Both are stored checkpoints of the current chain (GET /api/v1/checkpoints/latest gives the latest size).',
  access: 'read',
  query: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: { type: 'integer', minimum: 1, maximum: 1e15 }, to: { type: 'integer', minimum: 1, maximum: 1e15 } } },
  responses: {
    200: { description: 'the consistency proof document', content: { 'application/json': { type: 'object', required: ['petal_proof', 'type', 'chain_id', 'from', 'to', 'path'] } } },
    400: errorResponse('bad parameters'),
    409: errorResponse('no stored checkpoint of that size (PROOF_NO_CHECKPOINT), or from > to (PROOF_CHECKPOINT_MISMATCH)')
  },
  handler: async (req, reply, ctx) => {
    const doc = ctx.chain.index.readTransaction(() => proveConsistency(ctx.chain, intField(req.query, 'from') ?? 0, intField(req.query, 'to') ?? 0))
    return await sendJson(reply, doc)
  }
}, latestCheckpoint('getLatestCheckpoint', '/api/v1/checkpoints/latest'), latestCheckpoint('getCheckpoint', '/api/v1/checkpoint')]
