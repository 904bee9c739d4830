/**
 * The Gentoo repository emerge reads its profile from. A stage3 ships without one (users run
 * emerge-webrsync), so when the tools tree has none, kiln does what emerge-webrsync does:
 * Mirror=/snapshots/gentoo-<PortageSnapshot=>.tar.xz with its detached `.gpgsig`, verified with
 * gpgv against GentooKeyring= (Gentoo's release keys sign the snapshots too). Only what a
 * binary-package install reads is unpacked: profiles/ and metadata/ (layout.conf, the
 * timestamp), without the ebuilds and the metadata caches. The tree is cached under the
 * signature's digest (which names exactly one tarball) and the keyring's: a `latest` that has not
 * moved costs one small download.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { run } from '../../exec';
import { fetchTo, gentooMirror, mirrorCache, mirrorKeyring, publishTree } from './mirror';
import { verifyDetached } from './openpgp';

export interface RepoSnapshot {
  /** gentoo-20261101.tar.xz, gentoo-latest.tar.xz */
  name: string;
  /** The unpacked repository (profiles/, metadata/). */
  tree: string;
}

const MARKER = '.kiln-snapshot';
/** What a binary-package install reads of the repository: profiles/ and metadata/ without the big caches. */
const MEMBERS = ['*/profiles', '*/metadata'];
const SKIP = ['*/metadata/md5-cache', '*/metadata/glsa', '*/metadata/news'].map((p) => `--exclude=${p}`);

export async function repoSnapshot(ctx: BuildContext): Promise<RepoSnapshot> {
  const which = cfg<string>(ctx, 'PortageSnapshot');
  const name = `gentoo-${which}.tar.xz`;
  const url = `${gentooMirror(ctx)}/snapshots/${name}`;
  const sig = path.join(ctx.work, `${name}.gpgsig`);
  await fetchTo(ctx, `${url}.gpgsig`, sig, which === 'latest' ? 'is Mirror= a Gentoo mirror?' : `PortageSnapshot=${which}: the mirror has no snapshot of that date`);
  const keyring = mirrorKeyring(ctx, url);
  // The signature names one tarball; with the keyring in the key, a tree verified by other keys
  // (or not at all) is never taken for this one.
  const id = createHash('sha256').update(fs.readFileSync(sig)).update(keyring ? fs.readFileSync(keyring) : 'unverified').digest('hex');
  const tree = path.join(mirrorCache(ctx, 'gentoo-repo'), `repo-${id.slice(0, 32)}`);
  if (fs.existsSync(path.join(tree, MARKER))) return { name, tree };

  const tarball = path.join(ctx.work, name);
  ctx.log(`Downloading ${url}`);
  await fetchTo(ctx, url, tarball);
  if (keyring) {
    await verifyDetached(sig, tarball, keyring, url).catch((e: Error) => {
      throw new BuildError(e.message, ctx.preset.name);
    });
  }
  const tmp = `${tree}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    // The top directory's name varies (gentoo-20261101/, gentoo/): strip it. GNU tar refuses
    // members with ".."; --no-wildcards-match-slash keeps "*" to that one top directory.
    await run(ctx, 'tar', ['-xJf', tarball, '-C', tmp, '--strip-components=1', '--no-same-owner', '--wildcards', '--no-wildcards-match-slash', ...SKIP, ...MEMBERS], {
      step: `unpacking the profiles of ${name}`,
    });
    if (!fs.existsSync(path.join(tmp, 'profiles/repo_name'))) throw new BuildError(`${url} has no profiles/repo_name: not a Gentoo repository snapshot`, ctx.preset.name);
    fs.writeFileSync(path.join(tmp, MARKER), `${name}\n`);
    publishTree(tmp, tree, MARKER);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    fs.rmSync(tarball, { force: true });
  }
  return { name, tree };
}
