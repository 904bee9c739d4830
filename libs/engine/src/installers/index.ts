/**
 * A distribution installs packages into an image. Each lives in its own module; apt (Debian,
 * Ubuntu) and Gentoo (binary packages, natively or with portage) so far. Later: dnf, pacman, zypper.
 */
import type { LockedPackage, LockedTool } from '@kiln/config';
import { BuildError } from '../errors';
import type { BuildContext } from '../context';
import { debian } from './debian';
import { gentoo } from './gentoo';

export interface Distribution {
  /** The repository URL a lock records (Mirror=, or the distribution's default). */
  mirror(ctx: BuildContext): string;
  /**
   * The exact packages that installing `names` adds on top of `installed` (locked packages of a
   * base) and `installedStatus` (the package database of a base that is not a locked preset),
   * with the distribution's essential set when `essential` (a fresh root).
   */
  resolve(ctx: BuildContext, names: string[], installed: LockedPackage[], essential: boolean, installedStatus?: string): Promise<LockedPackage[]>;
  /** What a build runs from that a lock pins too (Gentoo's stage3 and repository snapshot); none when absent. */
  tools?(ctx: BuildContext): Promise<LockedTool[]>;
  /**
   * Installs the essential set plus `packages` into an empty (or skeleton-only) root; with
   * `locked`, exactly those versions, checked against the repositories before and the image after.
   */
  bootstrap(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void>;
  /** Installs `packages` into a root that already holds an image (base trees, build overlays); `locked` as above. */
  install(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void>;
  /**
   * Installs exactly `missing` (locked packages) into a cached layer that has the rest of the lock
   * (Incremental=yes). `manual` are the packages the config names: they are marked as installed by
   * request, the others as dependencies, as a build from scratch marks them.
   */
  append(ctx: BuildContext, missing: LockedPackage[], manual: string[]): Promise<void>;
  /** Removes `packages` and what only they needed. */
  remove(ctx: BuildContext, packages: string[]): Promise<void>;
  /**
   * Deletes the package manager's caches, and its databases when `always` or when the tool that
   * uses them is not in the image (CleanPackageMetadata=auto).
   */
  cleanMetadata(ctx: BuildContext, always: boolean): Promise<void>;
}

const DISTRIBUTIONS: Record<string, Distribution> = { debian, ubuntu: debian, kali: debian, gentoo };

export function distributionOf(ctx: BuildContext): Distribution {
  const name = ctx.preset.config.Distribution as string;
  const d = DISTRIBUTIONS[name];
  if (!d) {
    throw new BuildError(`Distribution=${name} cannot be built yet (supported: ${Object.keys(DISTRIBUTIONS).join(', ')})`, ctx.preset.name);
  }
  return d;
}
