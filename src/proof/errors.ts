import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

export const PROOF_ERROR_CODES = [
  /** a row, table or block asked for is not there */
  'PROOF_ROW_NOT_FOUND',
  'PROOF_TABLE_NOT_FOUND',
  /** the chain tree's node store lacks a node a proof needs (tree smaller than asked) */
  'PROOF_NODE_MISSING',
  /** the node store, the checkpoint and the block disagree: building would give an unsound proof */
  'PROOF_TREE_MISMATCH',
  'PROOF_CHECKPOINT_MISMATCH',
  /** verify-proof: the proof is not sound under the given trust (details.reason says why) */
  'PROOF_REJECTED',
  /** verify-proof: a proof or trust file that cannot be read or understood */
  'PROOF_FILE_INVALID',
  /** no stored signed checkpoint covers the block (or none is final, when finality is asked) */
  'PROOF_NO_CHECKPOINT',
  /** the row named by a receipt is not in a canonical block yet */
  'PROOF_ROW_PENDING',
  /** query --prove: the answer is not whole rows of one table */
  'PROOF_QUERY_NOT_PROVABLE',
  /** the data directory's `witnesses` file holds a line that is not a witness's verifier key */
  'PROOF_WITNESSES_INVALID',
  /** the data directory's `witnesses` file cannot be read (not a regular file, its permissions, the disk) */
  'PROOF_WITNESSES_UNREADABLE',
  /** `petal witnesses add|remove`: the `witnesses` link leads into a directory that does not exist */
  'PROOF_WITNESSES_LINK_NOWHERE',
  /** `petal witnesses add`: the `witnesses` file lists that witness's name already */
  'PROOF_WITNESS_LISTED',
  /** `petal witnesses remove`: the `witnesses` file lists no witness of that name */
  'PROOF_WITNESS_NOT_LISTED',
  /** `petal witnesses reset`: this chain still contains the last tree the witness cosigned (or it cosigned none) */
  'PROOF_WITNESS_NOT_STUCK',
  /** `petal witnesses reset`: the key named is the one that cosigned the tree this chain left */
  'PROOF_WITNESS_SAME_KEY',
  /** the data directory's witness-resets.json (the record of `petal witnesses reset`) cannot be read */
  'PROOF_WITNESS_RESETS_INVALID',
  /** the data directory's witness-cosigned.json (the last tree each witness key cosigned) cannot be read */
  'PROOF_WITNESS_COSIGNED_INVALID'
] as const

export type ProofErrorCode = typeof PROOF_ERROR_CODES[number]

type None = Record<never, never>

/** `details` of each code. */
export interface ProofErrorDetails {
  PROOF_ROW_NOT_FOUND: { table?: string }
  PROOF_TABLE_NOT_FOUND: None
  PROOF_NODE_MISSING: { level: number, index: number, size: number }
  PROOF_TREE_MISMATCH: None
  PROOF_CHECKPOINT_MISMATCH: None
  /** `reason`: the verifier's rejection code (docs/proofs.md) */
  PROOF_REJECTED: { reason?: string }
  PROOF_FILE_INVALID: None
  /** A consistency proof's size not kept (`size`): the largest kept below it and the latest kept, if any. */
  PROOF_NO_CHECKPOINT: { height?: number, final?: boolean, size?: number, below?: number, latest?: number }
  PROOF_ROW_PENDING: { receipt: string }
  PROOF_QUERY_NOT_PROVABLE: None
  PROOF_WITNESSES_INVALID: None
  /** `systemCode`: the operating system's error (EACCES, EIO, …), absent for a file that is no regular file */
  PROOF_WITNESSES_UNREADABLE: { path: string, systemCode?: string }
  /** `target`: the file the link names */
  PROOF_WITNESSES_LINK_NOWHERE: { path: string, target: string }
  PROOF_WITNESS_LISTED: None
  PROOF_WITNESS_NOT_LISTED: None
  PROOF_WITNESS_NOT_STUCK: None
  PROOF_WITNESS_SAME_KEY: None
  PROOF_WITNESS_RESETS_INVALID: None
  PROOF_WITNESS_COSIGNED_INVALID: None
}

export class ProofError<C extends ProofErrorCode = ProofErrorCode> extends PetalError<C, ProofErrorDetails[C]> {
  static readonly codes = PROOF_ERROR_CODES
}

export function proofErrorDocs (): Readonly<Record<ProofErrorCode, CodeDoc>> {
  return {
    PROOF_ROW_NOT_FOUND: { meaning: 'the table has no row at that rowid or index', hint: 'check the rowid: `petal query --per-block --from H --to H "SELECT rowid FROM TABLE"` lists those of the block at height H' },
    PROOF_TABLE_NOT_FOUND: { meaning: 'the block has no table of that name', hint: 'check the table name: `petal block H` lists the tables of the block at height H' },
    PROOF_NODE_MISSING: { meaning: 'the chain tree lacks a node the proof needs (it is smaller than asked)', hint: 'the index\'s chain tree is incomplete: rebuild it with `petal reindex`' },
    PROOF_TREE_MISMATCH: { meaning: 'the chain tree, the checkpoint and the block disagree: a proof built now would be unsound', hint: 'run `petal verify --deep`' },
    PROOF_CHECKPOINT_MISMATCH: { meaning: 'the checkpoint does not cover the block, belongs to another chain or branch, or is not a checkpoint', hint: 'give a checkpoint of this chain\'s current branch that covers the block: `petal checkpoint --list` shows the stored ones, `petal checkpoint -o FILE` writes the latest' },
    PROOF_REJECTED: { meaning: 'verify-proof: the proof does not hold under the given trust (details.reason says why)', hint: 'do not rely on this proof: it or its checkpoint was altered, or it belongs to another chain' },
    PROOF_FILE_INVALID: { meaning: 'verify-proof: a proof, trust or witness file that cannot be read or understood', hint: 'give --trust the signatories\' public keys as `petal keys export` writes them, or a checkpoint file (`petal checkpoint -o FILE`); give --witness a verifier key as `petal checkpoint --witness-vkey NAME` prints it' },
    PROOF_NO_CHECKPOINT: { meaning: 'no signed checkpoint of the current chain covers the block (or none is final, when a final one is asked for)', hint: 'only a signatory\'s key signs checkpoints: a signatory signs the tip\'s with `petal checkpoint --sign`; a reader pulls again from a signatory\'s node, which sends its own (`petal pull MULTIADDR`)' },
    PROOF_ROW_PENDING: { meaning: 'the receipt\'s row is not sealed into a canonical block yet, so there is nothing to prove', hint: 'wait for the next seal (`petal receipt ID` tells when), then ask again' },
    PROOF_QUERY_NOT_PROVABLE: { meaning: 'query --prove: the answer is not whole rows of one table with their height', hint: 'prove whole rows of one table: SELECT * FROM t WHERE …' },
    PROOF_WITNESSES_INVALID: { meaning: 'a line of the data directory\'s `witnesses` file is not a witness\'s verifier key', hint: 'each line of DIR/witnesses is a witness\'s verifier key, as its operator prints it with `petal checkpoint --witness-vkey NAME` on their node (text after # is a comment): correct or remove the line the message names' },
    PROOF_WITNESSES_UNREADABLE: { meaning: 'the data directory\'s `witnesses` file cannot be read: it is a directory or another non-regular file, this user may not read it (or search its directory), or the disk failed', hint: 'the message says which; a node that read the file before keeps the witnesses it listed then until the file can be read again' },
    PROOF_WITNESSES_LINK_NOWHERE: { meaning: '`petal witnesses add|remove`: the data directory\'s `witnesses` is a symbolic link to a file whose directory does not exist (a share not mounted, a mistyped target); nothing was written', hint: 'mount or make the directory the message names, or point the link at the list (`ln -sfn FILE DIR/witnesses`), then edit again' },
    PROOF_WITNESS_LISTED: { meaning: '`petal witnesses add`: the data directory\'s `witnesses` file lists a witness of that name already (one key a name)', hint: '`petal witnesses list` shows its key; to replace it, `petal witnesses remove NAME` first' },
    PROOF_WITNESS_NOT_LISTED: { meaning: '`petal witnesses remove`: the data directory\'s `witnesses` file lists no witness of that name', hint: '`petal witnesses list` shows the listed witnesses' },
    PROOF_WITNESS_NOT_STUCK: { meaning: '`petal witnesses reset`: this node\'s chain still contains the last checkpoint its witness cosigned, or may hold it again (that size is not final at its tip yet), or it cosigned none: nothing stops it cosigning; nothing was changed', hint: 'nothing to do: the witness cosigns the next final checkpoint that extends it; reset only when its log, at a checkpoint final at its tip, says its chain no longer contains that tree (`petal witnesses list` shows its key and any earlier reset)' },
    PROOF_WITNESS_SAME_KEY: { meaning: '`petal witnesses reset`: the key named cosigned a checkpoint this chain left (the one chain.db names, or found by its cosignature line in a note kept); cosigning this chain with it would vouch for two histories; nothing was changed', hint: 'make a new key with `petal keygen` (it prints its id), then `petal witnesses reset --key NEWID`, and run the witness with `--key NEWID`' },
    PROOF_WITNESS_RESETS_INVALID: { meaning: 'the data directory\'s witness-resets.json (the record of `petal witnesses reset`, beside chain.db, which may be rebuilt) is not a regular file or not such a record, or this user may not read it: which witness keys are retired is unknown, so a witness there cosigns nothing', hint: 'one this user may not read is intact: let it read it (the message gives the `chmod a+r`); else put the file back from a backup, or move it aside (`mv DIR/witness-resets.json DIR/witness-resets.json.bad`) and run no key it retired as a witness again (`petal witnesses list` shows the resets chain.db records)' },
    PROOF_WITNESS_COSIGNED_INVALID: { meaning: 'the data directory\'s witness-cosigned.json (the last tree each witness key cosigned, beside chain.db, which may be rebuilt) is not a regular file or not such a record, or this user may not read it: what the witness\'s key cosigned is unknown, so a witness there cosigns nothing', hint: 'one this user may not read is intact: let it read it (the message gives the `chmod a+r`); else put the file back from a backup, or move it aside (`mv DIR/witness-cosigned.json DIR/witness-cosigned.json.bad`): the witness then extends only chain.db\'s record (`witness_last_cosigned`), which a chain.db rebuilt since its last cosignature lacks; when unsure, make a new key (`petal keygen`) and run the witness with `--key NEWID`' }
  }
}

registerErrorClass(ProofError, 'a row proof or checkpoint could not be built, or does not hold', proofErrorDocs)
