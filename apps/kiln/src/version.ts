import { createHash } from 'node:crypto';
import * as path from 'node:path';
// The deep imports keep kiln-digest from loading the whole config reader (zod, smol-toml).
import { digestCacheDir } from '@kiln/config/dist/facts';
import { inputEntries } from '@kiln/config/dist/input-digest';

/** kiln's own version, as `kiln --version` prints it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const version: string = require('../package.json').version;

/**
 * What identifies the code that builds an image: the version and a hash of the engine's and the
 * CLI's compiled code. It is part of every preset's cache key, so a new release, or a local change
 * to the engine in kiln's own repository, rebuilds (the version alone would miss the latter).
 * The fingerprint computes it on every `nx run`: file contents are hashed once and found again by
 * their stat signature (input-digest's cache).
 */
export function buildIdentity(): string {
  const hash = createHash('sha256');
  const engine = path.dirname(require.resolve('@kiln/engine'));
  for (const dir of [engine, __dirname]) {
    const cacheFile = path.join(digestCacheDir(), `identity-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.json`);
    for (const e of inputEntries([dir], { root: dir, cacheFile, modes: 'exact' })) {
      if (e.type === 'file' && e.path.endsWith('.js')) hash.update(`${e.path}\0${e.sha256}\0`);
    }
  }
  return `${version}+${hash.digest('hex').slice(0, 16)}`;
}
