import type { ResponseSpec, Schema } from './route.js'

/** Schemas shared by several routes (docs/api.md describes each field). */

export const HASH: Schema = { type: 'string', pattern: '^[0-9a-f]{64}$' }
export const KEY_ID: Schema = { type: 'string', description: 'key id: "1:" + hex sha256 of the public key (SPKI DER)' }

export const ERROR: Schema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', description: 'stable error code (docs/api.md, "Errors")' },
        message: { type: 'string' },
        hint: { type: 'string', description: 'what to do about it, when there is something to do' },
        details: { type: 'object', description: 'facts about the error, by code' }
      }
    }
  }
}

export function errorResponse (description: string): ResponseSpec {
  return { description, content: { 'application/json': ERROR } }
}

export const BLOCK_HEADER_PROPS: Record<string, Schema> = {
  height: { type: 'integer', minimum: 0 },
  hash: HASH,
  parent: { type: 'string', description: 'hash of the parent block (genesis: 1000…0001)' },
  canonical: { type: 'boolean', description: 'on the canonical chain (false: a side branch)' },
  version: { type: 'integer', description: 'block format version (1: Daisy, 2: Petal)' },
  timestamp: { type: 'string', description: 'RFC 3339, as the block says' },
  signer: KEY_ID,
  size: { type: 'integer', description: 'bytes of the block file' },
  rows_root: { type: 'string', description: 'Merkle root over the table roots' },
  seal: { type: 'string', description: 'hex DER ECDSA signature over the block hash and RowsRoot' },
  prev_sig: { type: 'string', description: 'hex DER signature of the previous block hash (_meta.PreviousBlockHashSignature)' }
}

export const BLOCK_SUMMARY: Schema = {
  type: 'object',
  required: ['height', 'hash', 'parent', 'canonical', 'timestamp', 'signer', 'size', 'table_count', 'row_count', 'key_op_count'],
  properties: {
    ...BLOCK_HEADER_PROPS,
    table_count: { type: 'integer' },
    row_count: { type: 'integer', description: 'rows in the block\'s user tables, all together' },
    key_op_count: { type: 'integer' }
  }
}

export const TABLE: Schema = {
  type: 'object',
  required: ['name', 'sql', 'rows', 'root'],
  properties: {
    name: { type: 'string' },
    sql: { type: 'string', description: 'the CREATE TABLE statement in the block' },
    rows: { type: 'integer' },
    root: { type: 'string', description: 'RFC 6962 Merkle root of the table\'s rows' },
    rows_url: { type: 'string' }
  }
}

export const KEY_OP: Schema = {
  type: 'object',
  required: ['op', 'key_id', 'public_key', 'endorsed_by'],
  properties: {
    op: { type: 'string', enum: ['add', 'revoke'] },
    key_id: KEY_ID,
    public_key: { type: 'string', description: 'hex SPKI DER' },
    endorsed_by: { type: 'array', items: KEY_ID }
  }
}

export const BLOCK: Schema = {
  type: 'object',
  required: ['height', 'hash', 'parent', 'canonical', 'timestamp', 'signer', 'size', 'rows_root', 'seal', 'row_count', 'tables', 'key_ops', 'file_url'],
  properties: {
    ...BLOCK_HEADER_PROPS,
    signer_public_key: { type: 'string', description: 'hex SPKI DER of the signer (absent if unknown)' },
    description: { type: 'string', description: 'the block\'s `_meta` Description, free text the seal covers (absent when it has none)' },
    reseal_of: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'a re-seal\'s origin, named by the re-seal mark in its Description (`re-seal of <hash>`): the block first published with its content (docs/consensus.md)' },
    row_count: { type: 'integer', description: 'rows in the block\'s user tables, all together' },
    tables: { type: 'array', items: TABLE },
    key_ops: { type: 'array', items: KEY_OP },
    file_url: { type: 'string' }
  }
}

export const BLOCK_REF_PARAMS: Schema = {
  type: 'object',
  required: ['ref'],
  properties: { ref: { type: 'string', description: 'a height, a full block hash, or at least 8 hex digits of one', pattern: '^([0-9]{1,15}|[0-9a-f]{8,64})$' } }
}
