/**
 * A stage3 as the tools tree portage runs from (GentooInstaller=emerge without a Gentoo host or
 * ToolsTree=). The release mirror's `latest-stage3-<arch>-<variant>.txt` is clear-signed: only
 * the text gpgv verified against GentooKeyring= is parsed. The tarball it names is downloaded
 * with its `.DIGESTS` (clear-signed too) and checked against its SHA512 and BLAKE2B, then
 * unpacked once into the cache under its SHA512: every preset and build after that reuses the
 * same tree, read-only.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { run } from '../../exec';
import { clearsignedText } from './binpkg';
import { fetchTo, gentooMirror, mirrorCache, mirrorKeyring, publishTree } from './mirror';
import { gentooArch } from './native';
import { verifyClearsigned } from './openpgp';
import { gentooProfile } from './profile';

export interface Stage3 {
  /** The tarball's name (stage3-amd64-systemd-20261101T000000Z.tar.xz). */
  name: string;
  sha512: string;
  /** The unpacked tree. */
  tree: string;
}

/** The verified text of a clear-signed file (or, with RepositoryKeyCheck=no, its unverified text). */
async function signedText(ctx: BuildContext, file: string, what: string): Promise<string> {
  const keyring = mirrorKeyring(ctx, what);
  if (!keyring) return clearsignedText(fs.readFileSync(file, 'utf8'));
  return verifyClearsigned(file, keyring, what).catch((e: Error) => {
    throw new BuildError(e.message, ctx.preset.name);
  });
}

/** The stage3 tarball the verified `latest-*.txt` names: its path under autobuilds/ and size. */
export function parseLatest(text: string, arch: string, variant: string, source: string): { path: string; size: number } {
  const re = new RegExp(`^(\\S*stage3-${arch}-${variant}-[0-9TZ]+\\.tar\\.(?:xz|bz2|zst|gz))\\s+(\\d+)$`);
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = re.exec(t);
    if (m && !m[1].split('/').includes('..') && !m[1].startsWith('/')) return { path: m[1], size: Number(m[2]) };
  }
  throw new BuildError(`${source} names no stage3-${arch}-${variant} tarball`);
}

/** The hex digest a Gentoo DIGESTS file gives `name` under `# <HASH> HASH`. */
export function digestFor(text: string, hash: string, name: string): string | null {
  let current = '';
  for (const line of text.split('\n')) {
    const h = /^#\s*(\S+)\s+HASH/.exec(line.trim());
    if (h) current = h[1].toUpperCase();
    else if (current === hash) {
      const m = /^([0-9a-fA-F]+)\s+\*?(\S+)$/.exec(line.trim());
      if (m && path.basename(m[2]) === name) return m[1].toLowerCase();
    }
  }
  return null;
}

/** Downloads (once), verifies and unpacks the stage3 for the preset's profile. */
export async function stage3Tree(ctx: BuildContext): Promise<Stage3> {
  const profile = gentooProfile(ctx); // before anything is downloaded
  const arch = gentooArch(ctx);
  const base = `${gentooMirror(ctx)}/releases/${arch}/autobuilds`;
  const cache = mirrorCache(ctx, 'gentoo-stage3');
  const latestName = `latest-stage3-${arch}-${profile.variant}.txt`;
  const latestFile = path.join(ctx.work, latestName);
  await fetchTo(ctx, `${base}/${latestName}`, latestFile);
  const latest = parseLatest(await signedText(ctx, latestFile, `${base}/${latestName}`), arch, profile.variant, `${base}/${latestName}`);
  const name = path.basename(latest.path);
  const tarball = path.join(cache, name);
  const digestsFile = path.join(ctx.work, `${name}.DIGESTS`);
  await fetchTo(ctx, `${base}/${latest.path}.DIGESTS`, digestsFile);
  const digests = await signedText(ctx, digestsFile, `${name}.DIGESTS`);
  const sha512 = digestFor(digests, 'SHA512', name);
  const blake2b = digestFor(digests, 'BLAKE2B', name);
  if (!sha512) throw new BuildError(`${name}.DIGESTS has no SHA512 for ${name}`, ctx.preset.name);

  const tree = path.join(cache, `tree-${sha512.slice(0, 32)}`);
  if (fs.existsSync(path.join(tree, '.kiln-stage3'))) return { name, sha512, tree };

  const check = async (file: string) => {
    const h512 = createHash('sha512');
    const hb2 = createHash('blake2b512');
    for await (const c of fs.createReadStream(file)) {
      h512.update(c as Buffer);
      hb2.update(c as Buffer);
    }
    return h512.digest('hex') === sha512 && (!blake2b || hb2.digest('hex') === blake2b);
  };
  if (!(fs.existsSync(tarball) && (await check(tarball)))) {
    ctx.log(`Downloading ${name}`);
    await fetchTo(ctx, `${base}/${latest.path}`, tarball);
    if (fs.statSync(tarball).size !== latest.size || !(await check(tarball))) {
      fs.rmSync(tarball, { force: true });
      throw new BuildError(`${base}/${latest.path} does not match its signed DIGESTS (damaged or tampered with): refusing it`, ctx.preset.name);
    }
  }
  const tmp = `${tree}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    // GNU tar refuses members with ".." and strips leading "/"; ownership is the tarball's.
    await run(ctx, 'tar', ['-xpf', tarball, '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', tmp], { step: `unpacking ${name}` });
    fs.writeFileSync(path.join(tmp, '.kiln-stage3'), `${name}\nsha512 ${sha512}\n`);
    publishTree(tmp, tree, '.kiln-stage3');
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { name, sha512, tree };
}
