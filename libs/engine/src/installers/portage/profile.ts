/**
 * The Gentoo profile of an image and the stage3 variant it implies. The profile is
 * PortageProfile= (default: the systemd profile of Release= for the architecture), unless a
 * sandbox tree carries an `etc/portage/make.profile` symlink, which wins as portage's own
 * configuration would. It is checked before anything is downloaded: a profile that no stage3 is
 * built for is an error listing the ones that are.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { gentooArch } from './native';

/** Stage3 variants by profile suffix under default/linux/<arch>/<release> (Gentoo's autobuilds). */
const VARIANTS: Record<string, Record<string, string>> = {
  amd64: {
    '': 'openrc', systemd: 'systemd', 'desktop/systemd': 'desktop-systemd', 'desktop': 'desktop-openrc',
    'no-multilib/systemd': 'nomultilib-systemd', 'no-multilib': 'nomultilib-openrc', 'llvm/systemd': 'llvm-systemd',
    llvm: 'llvm-openrc', 'hardened/systemd': 'hardened-systemd', hardened: 'hardened-openrc', musl: 'musl',
    'x32/systemd': 'x32-systemd', x32: 'x32-openrc',
  },
  arm64: { '': 'openrc', systemd: 'systemd', 'desktop/systemd': 'desktop-systemd', 'llvm/systemd': 'llvm-systemd', musl: 'musl' },
};

export interface GentooProfile {
  /** The profile path under the repository's profiles/ (default/linux/amd64/23.0/systemd). */
  path: string;
  /** The stage3 variant built with it (systemd, desktop-systemd, ...). */
  variant: string;
}

/** A make.profile symlink in the sandbox trees (the last laid wins, as in mkosi's sandbox): the profile it points at. */
function sandboxProfile(ctx: BuildContext): string | null {
  if (!ctx.sandboxTree) return null;
  const link = path.join(ctx.sandboxTree, 'etc/portage/make.profile');
  if (!fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) return null;
  const m = /(?:^|\/)profiles\/(.+?)\/?$/.exec(fs.readlinkSync(link));
  if (!m) throw new BuildError(`SandboxTrees=: etc/portage/make.profile points at ${fs.readlinkSync(link)}, not into a repository's profiles/ directory`, ctx.preset.name);
  return m[1];
}

export function gentooProfile(ctx: BuildContext): GentooProfile {
  const arch = gentooArch(ctx);
  const release = cfg(ctx, 'Release');
  const chosen = sandboxProfile(ctx) ?? cfg(ctx, 'PortageProfile') ?? `default/linux/${arch}/${release}/systemd`;
  const base = `default/linux/${arch}/${release}`;
  const variants = VARIANTS[arch] ?? {};
  const known = Object.keys(variants).map((s) => (s ? `${base}/${s}` : base));
  const suffix = chosen === base ? '' : chosen.startsWith(`${base}/`) ? chosen.slice(base.length + 1) : null;
  const variant = suffix === null ? undefined : variants[suffix];
  if (!variant) {
    throw new BuildError(
      `profile ${chosen} has no stage3 for Architecture=${cfg(ctx, 'Architecture')} and Release=${release}` +
        (known.length ? `; profiles with one: ${known.join(', ')}` : ` (kiln knows stage3 variants for ${Object.keys(VARIANTS).join(', ')} only)`) +
        '. Set PortageProfile= to one of them.',
      ctx.preset.name,
    );
  }
  return { path: chosen, variant };
}
