/**
 * A stage3 as the tools tree portage runs from (GentooInstaller=emerge without a Gentoo host or
 * ToolsTree=). The release mirror's `latest-stage3-<arch>-<variant>.txt` is clear-signed: only
 * the text gpgv verified against GentooKeyring= is parsed. The tarball it names is downloaded
 * with its `.DIGESTS` (clear-signed too) and checked against its SHA512 and BLAKE2B, then
 * unpacked once into the cache under its SHA512: every preset and build after that reuses the
 * same tree, read-only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LockedTool } from '@kiln/config';
import type { BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { run } from '../../exec';
import { clearsignedText } from './binpkg';
import { fetchTo, fileDigests, gentooMirror, mirrorCache, mirrorKeyring, publishTree } from './mirror';
import { gentooArch } from './native';
import { verifyClearsigned } from './openpgp';
import { gentooProfile } from './profile';

/** A stage3 as a lock records it (LockedTool), and where it is unpacked. */
export interface Stage3 extends LockedTool {
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

/** The stage3 a build wants: from the verified latest-*.txt and DIGESTS, or from the lock. */
interface Wanted {
  name: string;
  /** Relative to Mirror=. */
  path: string;
  size: number;
  sha512: string;
  blake2b: string | null;
  /** What the bytes must match, for the error when they do not. */
  source: string;
}

async function latestStage3(ctx: BuildContext, autobuilds: string): Promise<Wanted> {
  const profile = gentooProfile(ctx);
  const arch = gentooArch(ctx);
  const base = `${gentooMirror(ctx)}/${autobuilds}`;
  const latestName = `latest-stage3-${arch}-${profile.variant}.txt`;
  const latestFile = path.join(ctx.work, latestName);
  await fetchTo(ctx, `${base}/${latestName}`, latestFile);
  const latest = parseLatest(await signedText(ctx, latestFile, `${base}/${latestName}`), arch, profile.variant, `${base}/${latestName}`);
  const name = path.basename(latest.path);
  const digestsFile = path.join(ctx.work, `${name}.DIGESTS`);
  await fetchTo(ctx, `${base}/${latest.path}.DIGESTS`, digestsFile);
  const digests = await signedText(ctx, digestsFile, `${name}.DIGESTS`);
  const sha512 = digestFor(digests, 'SHA512', name);
  if (!sha512) throw new BuildError(`${name}.DIGESTS has no SHA512 for ${name}`, ctx.preset.name);
  return { name, path: `${autobuilds}/${latest.path}`, size: latest.size, sha512, blake2b: digestFor(digests, 'BLAKE2B', name), source: 'its signed DIGESTS' };
}

/**
 * Downloads (once), verifies and unpacks the stage3 for the preset's profile: the one `locked`
 * names (kiln.lock; no download at all once it is cached), else the mirror's latest.
 */
export async function stage3Tree(ctx: BuildContext, locked?: LockedTool): Promise<Stage3> {
  gentooProfile(ctx); // checked before anything is downloaded
  const autobuilds = `releases/${gentooArch(ctx)}/autobuilds`;
  let want: Wanted;
  if (locked) {
    if (!locked.path.startsWith(`${autobuilds}/`)) throw new BuildError(`kiln.lock's stage3 ${locked.path} is not under ${autobuilds}/ (Architecture= changed?): run kiln lock`, ctx.preset.name);
    want = { ...locked, blake2b: null, source: 'kiln.lock' };
  } else {
    want = await latestStage3(ctx, autobuilds);
  }
  const { name, sha512 } = want;
  const cache = mirrorCache(ctx, 'gentoo-stage3');
  const tree = path.join(cache, `tree-${sha512.slice(0, 32)}`);
  const result = { name, path: want.path, size: want.size, sha512, tree };
  if (fs.existsSync(path.join(tree, '.kiln-stage3'))) return result;

  const tarball = path.join(cache, name);
  const matches = async (file: string) => {
    const d = await fileDigests(file);
    return d.sha512 === sha512 && (!want.blake2b || d.blake2b === want.blake2b);
  };
  if (!(fs.existsSync(tarball) && (await matches(tarball)))) {
    const url = `${gentooMirror(ctx)}/${want.path}`;
    ctx.log(`Downloading ${name}`);
    await fetchTo(ctx, url, tarball);
    if (fs.statSync(tarball).size !== want.size || !(await matches(tarball))) {
      fs.rmSync(tarball, { force: true });
      throw new BuildError(`${url} does not match ${want.source} (damaged or tampered with): refusing it`, ctx.preset.name);
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
  return result;
}
