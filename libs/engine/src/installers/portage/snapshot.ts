/**
 * The Gentoo repository emerge reads its profile from. A stage3 ships without one (users run
 * emerge-webrsync), so when the tools tree has none, kiln does what emerge-webrsync does:
 * Mirror=/snapshots/gentoo-<PortageSnapshot=>.tar.xz with its detached `.gpgsig`, verified with
 * gpgv against GentooKeyring= (Gentoo's release keys sign the snapshots too). Only what a
 * binary-package install reads is unpacked: profiles/ and metadata/ (layout.conf, the
 * timestamp), without the ebuilds and the metadata caches, and cached under the tarball's
 * SHA-512, which kiln.lock records: a locked build whose snapshot is cached downloads nothing,
 * and a `latest` that has not moved costs one small download (its signature).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LockedToolSchema, type LockedTool } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { run } from '../../exec';
import { writeFileAtomic } from '../../fsutil';
import { fetchTo, fileDigests, gentooMirror, mirrorCache, mirrorKeyring, publishTree } from './mirror';
import { verifyDetached } from './openpgp';

/** A snapshot as a lock records it (LockedTool), and where its profiles are unpacked. */
export interface RepoSnapshot extends LockedTool {
  /** The unpacked repository (profiles/, metadata/). */
  tree: string;
}

const MARKER = '.kiln-snapshot';
/** What a binary-package install reads of the repository: profiles/ and metadata/ without the big caches. */
const MEMBERS = ['*/profiles', '*/metadata'];
const SKIP = ['*/metadata/md5-cache', '*/metadata/glsa', '*/metadata/news'].map((p) => `--exclude=${p}`);

/**
 * The repository snapshot for an emerge run: the one `locked` names (kiln.lock; no download
 * once it is cached), else Mirror=/snapshots/gentoo-<PortageSnapshot=>.tar.xz.
 */
export async function repoSnapshot(ctx: BuildContext, locked?: LockedTool): Promise<RepoSnapshot> {
  const cache = mirrorCache(ctx, 'gentoo-repo');
  const treeOf = (sha512: string) => path.join(cache, `repo-${sha512.slice(0, 32)}`);
  if (locked && fs.existsSync(path.join(treeOf(locked.sha512), MARKER))) return { ...locked, tree: treeOf(locked.sha512) };

  const which = cfg(ctx, 'PortageSnapshot');
  const rel = locked?.path ?? `snapshots/gentoo-${which}.tar.xz`;
  const name = path.basename(rel);
  const url = `${gentooMirror(ctx)}/${rel}`;
  const sig = path.join(ctx.work, `${name}.gpgsig`);
  await fetchTo(ctx, `${url}.gpgsig`, sig, locked ? 'kiln.lock names a snapshot the mirror no longer has: run kiln lock' : which === 'latest' ? 'is Mirror= a Gentoo mirror?' : `PortageSnapshot=${which}: the mirror has no snapshot of that date`);
  const keyring = mirrorKeyring(ctx, url);
  // The signature names one tarball: with the keyring, it finds the tree verified before
  // (never one verified by other keys, or not at all) without downloading the tarball again.
  const seen = path.join(cache, `sig-${createHash('sha256').update(fs.readFileSync(sig)).update(keyring ? fs.readFileSync(keyring) : 'unverified').digest('hex').slice(0, 32)}`);
  const known = readSeen(seen);
  if (!locked && known && fs.existsSync(path.join(treeOf(known.sha512), MARKER))) return { ...known, tree: treeOf(known.sha512) };

  const tarball = path.join(ctx.work, name);
  ctx.log(`Downloading ${url}`);
  await fetchTo(ctx, url, tarball);
  try {
    if (keyring) {
      await verifyDetached(sig, tarball, keyring, url).catch((e: Error) => {
        throw new BuildError(e.message, ctx.preset.name);
      });
    }
    const got: LockedTool = { name, path: rel, size: fs.statSync(tarball).size, sha512: (await fileDigests(tarball)).sha512 };
    if (locked && (got.sha512 !== locked.sha512 || got.size !== locked.size)) {
      throw new BuildError(`${url} is not the snapshot kiln.lock names (a "latest" moves on; pin PortageSnapshot= to a date): run kiln lock`, ctx.preset.name);
    }
    const tree = treeOf(got.sha512);
    if (!fs.existsSync(path.join(tree, MARKER))) await unpack(ctx, tarball, tree, url);
    writeFileAtomic(seen, JSON.stringify(got));
    return { ...got, tree };
  } finally {
    fs.rmSync(tarball, { force: true });
  }
}

/** What an earlier build recorded for a signature; null when absent or unreadable (then it is redone). */
function readSeen(file: string): LockedTool | null {
  try {
    return LockedToolSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return null;
  }
}

async function unpack(ctx: BuildContext, tarball: string, tree: string, url: string): Promise<void> {
  const tmp = `${tree}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    // The top directory's name varies (gentoo-20261101/, gentoo/): strip it. GNU tar refuses
    // members with ".."; --no-wildcards-match-slash keeps "*" to that one top directory.
    await run(ctx, 'tar', ['-xJf', tarball, '-C', tmp, '--strip-components=1', '--no-same-owner', '--wildcards', '--no-wildcards-match-slash', ...SKIP, ...MEMBERS], {
      step: `unpacking the profiles of ${path.basename(tarball)}`,
    });
    if (!fs.existsSync(path.join(tmp, 'profiles/repo_name'))) throw new BuildError(`${url} has no profiles/repo_name: not a Gentoo repository snapshot`, ctx.preset.name);
    fs.writeFileSync(path.join(tmp, MARKER), `${path.basename(tarball)}\n`);
    publishTree(tmp, tree, MARKER);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
