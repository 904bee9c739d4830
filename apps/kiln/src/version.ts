import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** kiln's own version, as `kiln --version` prints it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const version: string = require('../package.json').version;

/**
 * What identifies the code that builds an image: the version and a hash of the engine's and the
 * CLI's compiled code. It is part of every preset's cache key, so a new release, or a local change
 * to the engine in kiln's own repository, rebuilds (the version alone would miss the latter).
 */
export function buildIdentity(): string {
  const hash = createHash('sha256');
  const engine = path.dirname(require.resolve('@kiln/engine'));
  for (const dir of [engine, __dirname]) {
    for (const file of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).sort()) {
      hash.update(`${file}\0`).update(fs.readFileSync(path.join(dir, file))).update('\0');
    }
  }
  return `${version}+${hash.digest('hex').slice(0, 16)}`;
}
