/**
 * An installer puts a package manager's packages into an image: one folder each, apt (Debian,
 * Ubuntu, Kali), portage (Gentoo: natively or with emerge), dnf (Fedora, CentOS Stream,
 * AlmaLinux, Rocky Linux), zypper (openSUSE) and pacman (Arch). Which distribution uses which installer, and everything else kiln knows of a
 * distribution (releases, architecture names, mirrors, version order), is @kiln/config's
 * distribution facts (libs/config/src/distributions/); the tools an installer runs are named in
 * @kiln/config's tools-identity.ts, which the Nx fingerprint reads without loading the engine.
 */
import { buildable, DISTRIBUTION_FACTS, packageManagerOf, type LockedPackage, type LockedTool, type PackageManager } from '@kiln/config';
import { BuildError } from '../errors';
import { cfg, type BuildContext } from '../context';
import { apt } from './apt/debian';
import { pacmanInstaller } from './pacman';
import { portage } from './portage';
import { dnfInstaller } from './dnf';
import { zypperInstaller } from './zypper';

/** What is installed already when resolving: locked packages of base presets, and other base trees. */
export interface Installed {
  /** The locks of the presets whose images this one starts from. */
  locked: LockedPackage[];
  /** Base trees that are not a locked preset's output: the installer reads their package databases itself. */
  trees: string[];
}

export interface Installer {
  /**
   * Where the packages come from, as a lock records it (request.mirror) and a layer is keyed:
   * Mirror= or the distribution's default for apt, the binhosts in order for portage.
   */
  sources(ctx: BuildContext): string[];
  /**
   * The exact packages that installing `names` adds on top of `installed`, with the essential set
   * when `essential` (a fresh root).
   */
  resolve(ctx: BuildContext, names: string[], installed: Installed, essential: boolean): Promise<LockedPackage[]>;
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

/** The installers there are, by package manager. */
export const INSTALLERS: Partial<Record<PackageManager, Installer>> = { apt, portage, dnf: dnfInstaller, zypper: zypperInstaller, pacman: pacmanInstaller };

/** The installer of the preset's distribution, or a BuildError naming those that can be built. */
export function installerOf(ctx: BuildContext): Installer {
  const name = cfg(ctx, 'Distribution');
  const pm = packageManagerOf(name);
  const installer = pm && buildable(name) ? INSTALLERS[pm] : undefined;
  if (!installer) {
    const supported = Object.keys(DISTRIBUTION_FACTS).filter((d) => buildable(d) && INSTALLERS[packageManagerOf(d)!]);
    throw new BuildError(`Distribution=${name} cannot be built yet (supported: ${supported.join(', ')})`, ctx.preset.name);
  }
  return installer;
}
