import type { CommandModule } from '../program.js'

/**
 * Every command module, in the order `petal --help` lists them, with the top-level command names
 * it registers. A module is imported only when its command runs (or for help and usage errors,
 * which need them all): a command loads nothing it does not use, so `petal status` never loads
 * libp2p or the HTTP server. test/unit/cli/lazy-commands.test.ts checks the names against what
 * each module registers.
 */
export const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[], load: () => Promise<CommandModule> }> = [
  { names: ['init'], load: async () => await import('./init.js') },
  { names: ['newchain'], load: async () => await import('./newchain.js') },
  { names: ['run'], load: async () => await import('./run.js') },
  { names: ['serve'], load: async () => await import('./serve.js') },
  { names: ['pull'], load: async () => await import('./pull.js') },
  { names: ['peers'], load: async () => await import('./peers.js') },
  { names: ['status'], load: async () => await import('./status.js') },
  { names: ['blocks', 'block'], load: async () => await import('./blocks.js') },
  { names: ['query'], load: async () => await import('./query.js') },
  { names: ['export'], load: async () => await import('./export.js') },
  { names: ['signimportblock'], load: async () => await import('./signimportblock.js') },
  { names: ['rewrap'], load: async () => await import('./rewrap.js') },
  { names: ['append', 'seal', 'receipt'], load: async () => await import('./ingest.js') },
  { names: ['import'], load: async () => await import('./import.js') },
  { names: ['reseal', 'orphans'], load: async () => await import('./reseal.js') },
  { names: ['verify'], load: async () => await import('./verify.js') },
  { names: ['prove'], load: async () => await import('./prove.js') },
  { names: ['verify-proof'], load: async () => await import('./verify-proof.js') },
  { names: ['checkpoint'], load: async () => await import('./checkpoint.js') },
  { names: ['witnesses'], load: async () => await import('./witnesses.js') },
  { names: ['reindex'], load: async () => await import('./reindex.js') },
  { names: ['signers'], load: async () => await import('./signers.js') },
  { names: ['mykeys', 'keygen', 'keys'], load: async () => await import('./keys.js') },
  { names: ['signkey'], load: async () => await import('./signkey.js') },
  { names: ['tokens'], load: async () => await import('./tokens.js') },
  { names: ['adopt-daisy'], load: async () => await import('./adopt-daisy.js') }
]

/**
 * The modules to load for `name`: its own module, none for `petal --version` (no command word),
 * or every module when no module owns it (help, a typo: commander lists or suggests commands).
 */
export async function loadCommands (name: string | undefined, versionOnly = false): Promise<CommandModule[]> {
  if (name === undefined && versionOnly) return []
  const own = COMMAND_MODULES.find(m => name !== undefined && m.names.includes(name))
  return await Promise.all((own === undefined ? COMMAND_MODULES : [own]).map(async m => await m.load()))
}
