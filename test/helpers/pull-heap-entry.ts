// What pull-heap.test.ts's children import, in one bundle (src-entry.ts's entryOf): withPullHeap
// is given a HeapGrowth of util's, and two bundles would be two copies of util.
export { withPullHeap } from '../../src/node/pull-heap.js'
export { HeapGrowth } from '../../src/util/index.js'
