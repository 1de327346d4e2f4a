// The environment a user's command starts with. bench/run.ts sets NODE_OPTIONS for the suites'
// own heaps; a V8 flag there makes V8 refuse Node's embedded code cache, so every built-in module
// a child loads would compile from source (docs/performance/query.md, "Session 11: `petal query`"): a
// cost no user pays, and one that grows with what a command loads. Every timed child process (a
// Petal command or its reference) starts with this environment instead.
const { NODE_OPTIONS: _benchHeap, ...env } = process.env

export const userEnv: NodeJS.ProcessEnv = env
