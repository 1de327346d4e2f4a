export * from './plan.js'
export * from './node-store.js'
export * from './prove.js'
