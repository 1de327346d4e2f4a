import { PetalError } from '../util/index.js'

export type NodeErrorCode = 'NO_SIGNING_KEY'

export class NodeError extends PetalError<NodeErrorCode> {}
