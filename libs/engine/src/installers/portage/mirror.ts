/**
 * Gentoo's release mirror (Mirror=, default distfiles.gentoo.org), as the emerge path uses it:
 * stage3 tarballs under releases/ (stage3.ts) and repository snapshots under snapshots/
 * (snapshot.ts). Both are verified against GentooKeyring= (Gentoo's release keys sign both)
 * and unpacked once into kiln's cache, where every later build reuses them read-only.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { distributionFacts } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { userCacheDir } from '../../fsutil';
import { fetchToFile } from './fetch';

export function gentooMirror(ctx: BuildContext): string {
  return (cfg(ctx, 'Mirror') ?? (distributionFacts('gentoo')!.mirror as string)).replace(/\/+$/, '');
}

/** A cache directory for mirror downloads: under PackageCacheDirectory= if set, else the user's cache. */
export function mirrorCache(ctx: BuildContext, name: string): string {
  const dir = cfg(ctx, 'PackageCacheDirectory') ? path.join(ctx.packageCache, name) : userCacheDir(ctx.env, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Downloads `url` to `file` through a temporary name: `file` exists only once complete. */
export async function fetchTo(ctx: BuildContext, url: string, file: string, missing?: string): Promise<void> {
  const tmp = `${file}.${process.pid}.part`;
  try {
    await fetchToFile(ctx, url, tmp, { missing });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The keyring mirror downloads are verified with; null with RepositoryKeyCheck=no (said in the
 * log). Without GentooKeyring= a verified download is impossible, which is an error.
 */
export function mirrorKeyring(ctx: BuildContext, what: string): string | null {
  if (!cfg(ctx, 'RepositoryKeyCheck')) {
    ctx.log(`Not verifying ${what} (RepositoryKeyCheck=no)`);
    return null;
  }
  const keyring = cfg(ctx, 'GentooKeyring');
  if (!keyring) {
    throw new BuildError(
      `${what} must be verified: set GentooKeyring= to Gentoo's release keys (/usr/share/openpgp-keys/gentoo-release.asc; release key fingerprint 13EBBDBEDE7A12775DFDB1BABB572E0E2D182910), or use ToolsTree=`,
      ctx.preset.name,
    );
  }
  return keyring;
}

/** Moves a finished unpack into place; a concurrent build that got there first wins. */
export function publishTree(tmp: string, tree: string, marker: string): void {
  try {
    fs.renameSync(tmp, tree);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(tree, marker))) throw e;
  }
}

/** A downloaded file's SHA-512 and BLAKE2B (the digests Gentoo publishes), in one read. */
export async function fileDigests(file: string): Promise<{ sha512: string; blake2b: string }> {
  const sha512 = createHash('sha512');
  const blake2b = createHash('blake2b512');
  for await (const c of fs.createReadStream(file)) {
    sha512.update(c as Buffer);
    blake2b.update(c as Buffer);
  }
  return { sha512: sha512.digest('hex'), blake2b: blake2b.digest('hex') };
}
