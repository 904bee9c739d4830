/**
 * Gentoo from binary packages only, on any host. GentooInstaller=native (the default) installs
 * with kiln's own installer (native.ts: no portage, no stage3); GentooInstaller=emerge runs
 * portage (emerge.ts) from the host (a Gentoo host, never modified), ToolsTree=, or a stage3
 * kiln downloads and verifies (stage3.ts). Either way only what Packages= asks for and its
 * runtime dependencies are installed, never a profile's whole @system.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LockedPackage } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import * as img from '../../image-fs';
import type { Installer } from '../index';
import { binreposConf, emergeTools, installEmerge, writePortageConfig } from './emerge';
import { binhosts, fetchIndexes, installNative, resolveNative } from './native';
import { parseAtom, atomMatches } from './atom';
import { gentooProfile } from './profile';
import { readVdb, unmergePackage, VDB } from './vdb';

/** The config a finished image keeps for running emerge in it (CleanPackageMetadata=). */
export function writeImagePortageConfig(ctx: BuildContext): void {
  const files: Record<string, string> = { 'etc/portage/binrepos.conf/kiln.conf': binreposConf(ctx) };
  // Replaces the emerge run's make.conf (its PKGDIR was scratch space), not one of the user's.
  // Paths resolved inside the image (image-fs.ts): a link of the image never leads them onto the host.
  if (!img.exists(ctx.root, 'etc/portage/make.conf') || img.readFile(ctx.root, 'etc/portage/make.conf').startsWith('# Written by kiln')) {
    img.remove(ctx.root, 'etc/portage/profile/packages');
    files['etc/portage/make.conf'] = '# Written by kiln. Binary packages come from the binhosts in binrepos.conf/.\nFEATURES="getbinpkg"\n';
  }
  writePortageConfig(ctx.root, { files, profileLink: `../../var/db/repos/gentoo/profiles/${gentooProfile(ctx).path}` });
}

async function install(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  gentooProfile(ctx); // checked before anything is downloaded
  if (cfg(ctx, 'GentooInstaller') === 'emerge') {
    await installEmerge(ctx, packages, locked);
  } else {
    const pkgs = locked ?? (await resolveNative(ctx, packages, readVdb(ctx.root)));
    await installNative(ctx, packages, pkgs);
  }
  writeImagePortageConfig(ctx);
}

function md5File(file: string): string {
  return createHash('md5').update(fs.readFileSync(file)).digest('hex');
}

export const portage: Installer = {
  sources: binhosts,

  async resolve(ctx, names, installed) {
    gentooProfile(ctx);
    // A base preset's locked packages, as the binhost describes them (slots, USE, dependencies).
    const index = installed.locked.length ? await fetchIndexes(ctx) : [];
    const locked = installed.locked.map((l) => {
      const e = index.find((p) => `${p.category}/${p.pn}` === l.name && p.version === l.version && (l['build-id'] === undefined || p.buildId === l['build-id']));
      if (!e) throw new BuildError(`base package ${l.name}-${l.version} is not in the binhosts any more: lock the base preset again`, ctx.preset.name);
      return e;
    });
    // Other base trees: what their vdb records.
    return resolveNative(ctx, names, [...locked, ...installed.trees.flatMap((tree) => readVdb(tree))]);
  },

  // The emerge path's stage3 and repository snapshot, pinned by kiln lock (and so Nx inputs).
  async tools(ctx) {
    return cfg(ctx, 'GentooInstaller') === 'emerge' ? (await emergeTools(ctx)).tools : [];
  },

  bootstrap: install,
  install,

  async append(ctx, missing, manual) {
    await installNative(ctx, manual, missing);
  },

  async remove(ctx, packages) {
    const installed = readVdb(ctx.root);
    for (const spec of packages) {
      const atom = parseAtom(spec);
      const hits = installed.filter((p) => atomMatches(atom, p));
      if (!hits.length) ctx.log(`RemovePackages=${spec}: not installed`);
      for (const p of hits) {
        ctx.log(`Unmerging ${p.cpv}`);
        unmergePackage(ctx.root, p.category, p.pf, md5File);
      }
    }
  },

  async cleanMetadata(ctx, always) {
    const portage = img.exists(ctx.root, 'usr/bin/emerge');
    const drop = (rel: string) => img.remove(ctx.root, rel);
    if (always || !portage) {
      drop('etc/portage');
      drop('var/cache/edb');
      drop('var/cache/binpkgs');
    }
    // The vdb is the image's record of what it has: only CleanPackageMetadata=yes removes it.
    if (always) {
      drop(VDB);
      drop('var/lib/portage');
    }
  },
};
