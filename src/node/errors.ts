import { PetalError } from '../util/index.js'

export type NodeErrorCode = 'NO_SIGNING_KEY' | 'ALREADY_RUNNING'

export class NodeError extends PetalError<NodeErrorCode> {}
