import { hintOf, type PetalError } from '../util/index.js'
import { notSignatoryHint, readOnlyHint, type SignatoryPeer } from './signatory-peers.js'
import { DAISY_NO_CHECKPOINT } from '../proof/index.js'

/**
 * An error's hint as an HTTP client is told it (docs/api.md, "Errors"): in the API's terms (an
 * endpoint, a body field, a header) where the error's own hint, written for the CLI, sends the
 * caller to a `petal` command that has an HTTP equivalent. A client of the API may have no shell on
 * the node's machine (session 51: `POST /query` with an empty statement was told to run
 * `petal query "SELECT COUNT(*) FROM _blocks"`). What only the node's operator can do (sign a
 * checkpoint, add a key, repair a block file) keeps its command: there is no request for it.
 * Each rule returns undefined to keep the error's own hint (one that already speaks of the
 * request, such as an export's list of the chain's tables).
 */
const RULES: Readonly<Record<string, (err: PetalError, hint: string | undefined, known: HintFacts) => string | undefined>> = {
  QUERY_EMPTY: () => 'send one SELECT statement in the body\'s "sql" field, e.g. POST /api/v1/query {"sql": "SELECT COUNT(*) FROM _blocks"}',
  QUERY_UNKNOWN_TABLE: (err, hint) => {
    if (!mentionsPetal(hint)) return undefined
    const table = /^no such table: (?:\w+\.)?(.+?)(?: \(in .*)?$/.exec(err.message)?.[1]?.toLowerCase()
    if (table === '_keys' || table === '_meta') {
      return `${table} is inside each block, not in the query mirror: send "per_block": true with the statement to POST /api/v1/query; GET /api/v1/signers lists the signatories at the tip`
    }
    return 'no block has a table of that name; POST /api/v1/query {"sql": "SELECT DISTINCT name FROM _tables"} lists them'
  },
  QUERY_UNKNOWN_COLUMN: (_err, hint) => mentionsPetal(hint)
    ? 'POST /api/v1/query {"sql": "SELECT name FROM pragma_table_info(\'TABLE\')"} lists a table\'s columns'
    : undefined,
  QUERY_TABLE_TOO_WIDE: (_err, hint) => mentionsPetal(hint)
    ? 'query it block by block: POST /api/v1/query with "per_block": true (and "format": "ndjson", since its blocks differ in their columns)'
    : undefined,
  QUERY_TIMEOUT: (_err, hint) => hint?.includes('--timeout') === true
    ? 'narrow it (WHERE, LIMIT, fewer blocks), or raise the body\'s "timeout_ms" (its most is in /api/v1/openapi.json)'
    : undefined,
  QUERY_TOO_MANY_ROWS: (_err, hint) => hint?.includes('--max-rows') === true
    ? 'add a LIMIT or a WHERE clause, or raise the body\'s "max_rows"'
    : undefined,
  PROOF_NO_CHECKPOINT: (err, hint) => consistencySizes(err.details) ?? operatorOnly(hint, err.details),
  // "write to a signatory node": which one, as far as this node knows (user52).
  INGEST_NOT_SIGNATORY: (_err, hint, known) => notSignatoryHint(known.signatoryPeers?.() ?? [], hint),
  INGEST_NO_KEY: (_err, hint, known) => notSignatoryHint(known.signatoryPeers?.() ?? [], hint),
  API_READ_ONLY: (err, hint, known) => err.message.includes('does not take writes') ? readOnlyHint(known.signatoryPeers?.() ?? [], hint) : undefined,
  PROOF_CHECKPOINT_MISMATCH: (err) => err.hint === undefined
    ? 'GET /api/v1/checkpoints/latest gives this node\'s latest checkpoint of the chain\'s current branch'
    : undefined
}

/** What the server knows that a hint may name (http-errors.ts's ErrorAudience carries it). */
export interface HintFacts {
  signatoryPeers?: () => SignatoryPeer[]
}

/** The hint an HTTP client is given for `err`: its rule's, else the error's own (hintOf). */
export function apiHintOf (err: PetalError, known: HintFacts = {}): string | undefined {
  const hint = hintOf(err)
  return RULES[err.code]?.(err, hint, known) ?? hint
}

function mentionsPetal (hint: string | undefined): boolean {
  return hint !== undefined && /\bpetal /.test(hint)
}

/**
 * No stored checkpoint covers the block a row proof (or the latest checkpoint) was asked for: only
 * the node's operator can get one (pull, connect the node, sign), on its machine. Said so, with what
 * the client can do meanwhile: until session 56 the operator's command alone (`petal pull …`), as if
 * the client could run it. A hint that names no command (a final proof asked too early) is kept.
 */
function operatorOnly (hint: string | undefined, d: { height?: unknown }): string | undefined {
  if (!mentionsPetal(hint) || hint === undefined) return undefined
  // A served Daisy directory (no-checkpoint.ts's `daisy` audience): Daisy signs none, so asking
  // again never helps; its hint says so and what its operator can do (adopt it).
  if (hint.startsWith(DAISY_NO_CHECKPOINT)) return `no request gets one: ${hint}`
  // Height 0: no checkpoint at all (GET /checkpoints/latest itself); else a lower block's rows may be provable.
  const lower = typeof d.height === 'number' && d.height > 0 ? '; GET /api/v1/checkpoints/latest gives the size the latest it keeps covers, whose rows are provable now' : ''
  return `no request makes this node get a checkpoint that covers it: ask again later (a running node keeps those its signatories sign; a directory served without a node, only once its operator acts${lower}). What the node's operator can do, on its machine: ${hint.replace('leave out --final', 'leave out final=true')}`
}

/**
 * A consistency proof's size this node keeps no checkpoint of: the sizes it keeps nearest, which a
 * client can give (it cannot list them as `petal checkpoint --list` does). Not every size up to the
 * latest is kept: a node that pulled keeps the checkpoints it was sent (review52).
 */
function consistencySizes (d: { size?: unknown, below?: unknown, latest?: unknown, answers?: unknown }): string | undefined {
  const { size, latest, answers } = d
  if (typeof size !== 'number') return undefined
  if (typeof latest !== 'number') return 'this node keeps no signed checkpoint of the current chain yet: GET /api/v1/checkpoints/latest gives the latest once it keeps one'
  const a = answers as { from?: unknown, to?: unknown } | undefined
  if (typeof a?.from !== 'number' || typeof a.to !== 'number') return `this node keeps checkpoints of some sizes only, not ${size}: GET /api/v1/checkpoints/latest gives its latest (size ${latest})`
  return `this node keeps checkpoints of some sizes only (those of the tips its signatories signed at, and those sent to it), not ${size}: the nearest it keeps answer, GET /api/v1/proofs/consistency?from=${a.from}&to=${a.to} (GET /api/v1/checkpoints/latest gives its latest, size ${latest})`
}
