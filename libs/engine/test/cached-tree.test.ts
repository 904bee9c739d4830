/**
 * The shared test trees' cache (cached-tree.ts), with a tree that builds in seconds (a directory
 * image of a small base tree, no packages) in a cache of the test's own: several callers at once
 * (as jest workers or CI runs on one machine: each takes the flock on its own descriptor, as
 * separate processes do) get one build and one tree, nothing half-built is left beside it, and a
 * different configuration is a different tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findOrBuild, type CachedTree } from './cached-tree';
import { removeTempDirs, tempDir } from './kiln';

jest.setTimeout(300_000);
afterAll(removeTempDirs);

describe('cached test trees', () => {
  let cache: string;
  let seed: string;
  const saved = process.env.XDG_CACHE_HOME;

  beforeAll(() => {
    cache = tempDir('kiln-cached-tree-');
    process.env.XDG_CACHE_HOME = cache;
    seed = tempDir('kiln-cached-seed-');
    fs.mkdirSync(path.join(seed, 'usr/lib'), { recursive: true });
    fs.writeFileSync(path.join(seed, 'usr/lib/os-release'), 'ID=debian\n');
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  });

  const tree = (epoch: number, count: { builds: number }): CachedTree => ({
    kind: 'test-cached',
    config: `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=directory\nOutput=t\n[Content]\nSourceDateEpoch=${epoch}\nBaseTrees=${seed}\n`,
    marker: 'usr/lib/os-release',
    onBuild: () => count.builds++,
  });

  it('is built once when three callers ask at once, renamed into place whole, and found afterwards', async () => {
    const count = { builds: 0 };
    const roots = await Promise.all([0, 1, 2].map(() => findOrBuild(tree(1700000000, count))));
    expect(count.builds).toBe(1);
    expect(new Set(roots).size).toBe(1);
    expect(fs.readFileSync(path.join(roots[0], 'usr/lib/os-release'), 'utf8')).toBe('ID=debian\n');
    expect(fs.existsSync(`${roots[0]}.tar.zst`)).toBe(true);
    // The key's directory alone: no build directory, no lock file.
    const kind = path.join(cache, 'kiln', 'test-cached');
    expect(fs.readdirSync(kind)).toEqual([path.relative(kind, roots[0]).split(path.sep)[0]]);
    expect(await findOrBuild(tree(1700000000, count))).toBe(roots[0]);
    expect(count.builds).toBe(1);
  });

  it('is another tree for another configuration', async () => {
    const count = { builds: 0 };
    const a = await findOrBuild(tree(1700000000, count));
    const b = await findOrBuild(tree(1700000001, count));
    expect(b).not.toBe(a);
    expect(count.builds).toBe(1);
  });
});
