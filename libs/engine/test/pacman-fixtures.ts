/**
 * The Arch fixtures (tools/pacman-fixtures) built once per machine and kept under the user's
 * cache, ~/.cache/kiln/test-fixtures/pacman-<hash of their sources, pacman's version and the host's
 * busybox>: makepkg takes a minute or more, so suites share one build. Safe with concurrent jest
 * workers: the first takes an exclusive lock and builds into a directory of its own, renamed into
 * place only when whole; the others wait on the lock and find it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { takeLock } from '../src/locks';
import { cacheRoot } from './test-cache';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const fx = require('../../../tools/pacman-fixtures/build.js');

export interface PacmanManifest {
  keys: { gnupghome: string; test: { fingerprint: string; gpg: string }; other: { fingerprint: string; gpg: string } };
  mirror: string;
  repositories: string[];
  sandboxTree: string;
  keyrings: string;
  packages: { repo: string; name: string; version: string; arch: string; file: string; csize: number; sha256: string }[];
  bad: Record<string, { mirror: string; what: string }>;
}

let memo: Promise<{ dir: string; manifest: PacmanManifest }> | undefined;

/** The fixtures' directory and manifest, built on first use on this machine. */
export function pacmanFixtures(): Promise<{ dir: string; manifest: PacmanManifest }> {
  memo ??= findOrBuild();
  return memo;
}

async function findOrBuild(): Promise<{ dir: string; manifest: PacmanManifest }> {
  const base = path.join(cacheRoot(), 'test-fixtures');
  const dir = path.join(base, `pacman-${fx.sourcesHash()}`);
  const manifest = path.join(dir, 'manifest.json');
  const found = () => ({ dir, manifest: JSON.parse(fs.readFileSync(manifest, 'utf8')) as PacmanManifest });
  if (fs.existsSync(manifest)) return found();
  fs.mkdirSync(base, { recursive: true });
  const lock = await takeLock(`${dir}.lock`, 'exclusive', { doing: 'building the pacman fixtures', removeOnRelease: true });
  try {
    if (fs.existsSync(manifest)) return found();
    const work = fs.mkdtempSync(path.join(base, 'pacman-build-'));
    try {
      await fx.build(work);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(work, dir);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
  return found();
}
