import { expect, it } from 'vitest'
import { petalInProcess } from '../../helpers/cli.js'
import { aliceOrphan } from '../../helpers/orphan.js'
import { whileServing } from '../../helpers/serve.js'

// `petal block` and GET /api/v1/blocks/{ref} did not show a block's `_meta` Description, and so not
// the re-seal mark a re-seal carries there (`re-seal of <origin>`, session 48): which block a
// re-seal copies was readable only with sqlite3 on the file (reseal49).

it('a re-seal shows whose content it copies, in `petal block` (text and --json) and GET /api/v1/blocks/{ref}; a plain block shows none', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)
  const r = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'reseal', m])).stdout) as { hash: string }

  const text = await petalInProcess(['--dir', dir, 'block', r.hash])
  expect(text.code, text.stderr).toBe(0)
  expect(text.stdout).toContain(`  re-seal of ${m} (the block first published with this content)\n`)
  expect(text.stdout).not.toContain('description')
  const json = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'block', r.hash])).stdout) as Record<string, unknown>
  expect(json).toMatchObject({ hash: r.hash, description: `re-seal of ${m}`, reseal_of: m })
  // The orphan itself (a first publication) has neither.
  const plain = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'block', m])).stdout) as Record<string, unknown>
  expect([plain.description, plain.reseal_of]).toEqual([undefined, undefined])
  expect((await petalInProcess(['--dir', dir, 'block', m])).stdout).not.toContain('re-seal of')

  await whileServing(dir, async url => {
    const api = await (await fetch(new URL(`api/v1/blocks/${r.hash}`, url))).json() as Record<string, unknown>
    expect(api).toMatchObject({ hash: r.hash, description: `re-seal of ${m}`, reseal_of: m })
    const orphan = await (await fetch(new URL(`api/v1/blocks/${m}`, url))).json() as Record<string, unknown>
    expect([orphan.description, orphan.reseal_of]).toEqual([undefined, undefined])
  })
}, 60_000)

it('a genesis\'s Description is shown as its text, and names no origin', async () => {
  const { dir } = await aliceOrphan(petalInProcess)
  const g = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'block', '0'])).stdout) as Record<string, unknown>
  expect([g.description, g.reseal_of]).toEqual(['test chain', undefined])
  expect((await petalInProcess(['--dir', dir, 'block', '0'])).stdout).toContain('\n  description test chain\n')
}, 60_000)
