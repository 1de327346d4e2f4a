import { spawnSync } from 'node:child_process'

// A process of a user who cannot write what this one made: as root (which ignores the write bits)
// the user `nobody`; otherwise this user, with the write bits taken away by the test.
export const asRoot = process.getuid?.() === 0
export const otherUserCanRun = !asRoot || spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--version']).status === 0

/**
 * Run `code` (an ES module) as that user with node's options `nodeOptions` and `args`
 * (process.argv[1]…); its stdout, trimmed. Code that imports the suite's bundles of src modules
 * (src-entry.ts's srcEntry or entryOf) takes loaderFor's options: none with the bundler, so its
 * process neither registers tsx nor compiles the modules' graph again.
 */
export function runAsOtherUserWith (nodeOptions: string[], code: string, ...args: string[]): { stdout: string, stderr: string } {
  const argv = [process.execPath, ...nodeOptions, '--input-type=module', '-e', code, ...args]
  const r = spawnSync(asRoot ? 'runuser' : process.execPath, asRoot ? ['-u', 'nobody', '--', ...argv] : argv.slice(1), { encoding: 'utf8' })
  return { stdout: r.stdout.trim(), stderr: r.stderr }
}
