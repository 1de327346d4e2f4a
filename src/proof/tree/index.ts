export type { NodeId } from './plan.js'
export { missingNode, MemoryNodeStore, type NodeReader, type NodeStore } from './node-store.js'
export { inclusionProof, consistencyProof, treeRoot, PathCollector } from './prove.js'
